//! A connection's outgoing message written by the worker's flusher (`batch`) instead of by
//! the connection's task. The task encodes the message into the outbox, queues it and goes
//! straight on to wait for the next thing it reads; the flusher sends every message queued
//! in the round in one burst. Parking the task until the flusher ran and polling it again
//! to write cost a second poll of its whole future per message.
//! When the flusher can't write it all (the peer's window is full) or the send fails, it
//! wakes the owner, whose `poll_drive` (called before each read) finishes the write through
//! its own stream or reports the error. The owner closes the outbox before its socket
//! closes, so the flusher never writes to a descriptor that may have been reused.

use std::cell::{Cell, RefCell, RefMut};
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tokio::io::AsyncWrite;

use crate::io::batch::{self, Side};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing waiting.
    Idle,
    /// Queued for this round's flusher.
    Queued,
    /// What is left in the buffer is the owner's to write (`sent_any`: bytes already left).
    Stalled { sent_any: bool },
    /// The send failed.
    Failed { sent_any: bool },
    /// The owner and its socket are gone.
    Closed,
}

/// One connection's queued bytes (see the module note).
pub struct Outbox {
    fd: RawFd,
    side: Side,
    buf: RefCell<Vec<u8>>,
    state: Cell<State>,
    waker: RefCell<Option<Waker>>,
    /// Wake the owner when the flusher wrote everything (it waits for that).
    wake_on_done: Cell<bool>,
}

impl Outbox {
    pub fn new(fd: RawFd, side: Side) -> Rc<Outbox> {
        Rc::new(Outbox {
            fd,
            side,
            buf: RefCell::new(Vec::new()),
            state: Cell::new(State::Idle),
            waker: RefCell::new(None),
            wake_on_done: Cell::new(false),
        })
    }

    /// The buffer to encode the next message into (appended to what is still waiting).
    pub fn buf(&self) -> RefMut<'_, Vec<u8>> {
        self.buf.borrow_mut()
    }

    /// Hands the buffer to this round's flusher; without one on this thread, the owner's
    /// next `poll_drive` writes it.
    pub fn send(self: &Rc<Self>) {
        if self.state.get() != State::Idle || self.buf.borrow().is_empty() {
            return;
        }
        let queued = batch::queue(Rc::clone(self), self.side);
        self.state.set(if queued { State::Queued } else { State::Stalled { sent_any: false } });
    }

    /// Whether no byte of what was handed over has left (the message can go elsewhere).
    pub fn unsent(&self) -> bool {
        matches!(
            self.state.get(),
            State::Queued | State::Stalled { sent_any: false } | State::Failed { sent_any: false }
        )
    }

    /// Whether the outbox holds nothing.
    pub fn is_idle(&self) -> bool {
        self.state.get() == State::Idle
    }

    /// The owner's part, called before it reads: `Ready(Ok)` when nothing is left for it
    /// to do (empty, or queued for the flusher), `Pending` while it writes what the flusher
    /// could not, an error when the send failed.
    pub fn poll_drive<W: AsyncWrite + Unpin>(&self, cx: &mut Context<'_>, w: &mut W) -> Poll<io::Result<()>> {
        match self.state.get() {
            State::Idle => Poll::Ready(Ok(())),
            State::Queued => {
                self.remember(cx);
                Poll::Ready(Ok(()))
            }
            State::Stalled { .. } => self.poll_write_rest(cx, w),
            State::Failed { .. } | State::Closed => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    /// Like `poll_drive`, but also waits for the flusher: `Ready(Ok)` once every byte left.
    pub fn poll_flushed<W: AsyncWrite + Unpin>(&self, cx: &mut Context<'_>, w: &mut W) -> Poll<io::Result<()>> {
        if self.state.get() == State::Queued {
            self.remember(cx);
            self.wake_on_done.set(true);
            return Poll::Pending;
        }
        self.poll_drive(cx, w)
    }

    /// Waits until every byte left (see `poll_flushed`).
    pub async fn flushed<W: AsyncWrite + Unpin>(&self, w: &mut W) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flushed(cx, w)).await
    }

    /// The owner is going away: the flusher must not touch its socket any more.
    pub fn close(&self) {
        self.state.set(State::Closed);
        self.buf.borrow_mut().clear();
        self.waker.borrow_mut().take();
    }

    fn remember(&self, cx: &mut Context<'_>) {
        let mut w = self.waker.borrow_mut();
        if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *w = Some(cx.waker().clone());
        }
    }

    fn poll_write_rest<W: AsyncWrite + Unpin>(&self, cx: &mut Context<'_>, w: &mut W) -> Poll<io::Result<()>> {
        let mut buf = self.buf.borrow_mut();
        while !buf.is_empty() {
            match Pin::new(&mut *w).poll_write(cx, &buf[..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(self.fail(io::ErrorKind::WriteZero.into()))),
                Poll::Ready(Ok(n)) => {
                    buf.drain(..n);
                    self.state.set(State::Stalled { sent_any: true });
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.fail(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.emptied(&mut buf);
        drop(buf);
        self.idle();
        Poll::Ready(Ok(()))
    }

    /// Everything left: a client connection goes idle now and keeps no buffer (its next
    /// answer brings one); an upstream one keeps it for the next request.
    fn emptied(&self, buf: &mut Vec<u8>) {
        if self.side == Side::Client {
            *buf = Vec::new();
        } else {
            buf.clear();
        }
    }

    /// Idle again: an upstream connection's next user may be another task, so the waker
    /// of the last one is not kept (it would hold that task's memory).
    fn idle(&self) {
        self.state.set(State::Idle);
        if self.side == Side::Upstream {
            self.waker.borrow_mut().take();
        }
    }

    fn fail(&self, e: io::Error) -> io::Error {
        let sent_any = !self.unsent();
        self.state.set(State::Failed { sent_any });
        e
    }

    /// The flusher's part: one non-blocking send of what is queued.
    pub(crate) fn flush_now(&self) {
        if self.state.get() != State::Queued {
            return;
        }
        let mut buf = self.buf.borrow_mut();
        let sent = loop {
            // SAFETY: `fd` is the owner's open socket: the owner closes the outbox (state
            // `Closed`, checked above) before the socket can close; `buf` is a live slice.
            let n =
                unsafe { libc::send(self.fd, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            if n >= 0 {
                break Ok(n as usize);
            }
            let kind = io::Error::last_os_error().kind();
            if kind != io::ErrorKind::Interrupted {
                break Err(kind);
            }
        };
        let state = match sent {
            Ok(n) if n == buf.len() => {
                self.emptied(&mut buf);
                State::Idle
            }
            Ok(n) => {
                buf.drain(..n);
                State::Stalled { sent_any: n > 0 }
            }
            Err(io::ErrorKind::WouldBlock) => State::Stalled { sent_any: false },
            Err(_) => State::Failed { sent_any: false },
        };
        drop(buf);
        self.state.set(state);
        let waited = self.wake_on_done.take();
        if state != State::Idle || waited {
            if let Some(w) = self.waker.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
        if state == State::Idle {
            self.idle();
        }
    }

    /// The flusher went away with this outbox queued: the owner writes it.
    pub(crate) fn orphan(&self) {
        if self.state.get() == State::Queued {
            self.state.set(State::Stalled { sent_any: false });
            self.wake_on_done.set(false);
            if let Some(w) = self.waker.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

#[cfg(test)]
#[path = "outbox_test.rs"]
mod tests;
