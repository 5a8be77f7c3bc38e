//! One HTTP/1.1 client connection on sluice's own server: wait for a request without
//! holding a buffer, read and parse its head (header timeout from its first byte), hand it
//! to the proxy handler, write the answer, and go round again while keep-alive, the drain
//! and the body's framing allow. Malformed heads get 400/414/431/505 with
//! `x-sluice-error` and a closed connection; a connection is closed gracefully (FIN, then
//! a short read-and-discard so an unread upload doesn't turn the answer into a reset).

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{Method, Request, Response, StatusCode};
use sluice_config::ListenerTimeouts;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, watch, Notify};
use tokio::time::{Instant, Sleep};

use super::recv::{poll_read_unbuffered, read_unbuffered};
use super::recv::{ClientBody, Reader, RecvBody, Returned};
use super::write::{encode_head, gather, send, Out, ReqFacts, COALESCE};
use super::{H1Upgrade, Upgraded};
use crate::body::response::ProxyBody;
use crate::downstream::ctx::ConnCtx;
use crate::downstream::service::Handler;
use crate::h1::codec::decode::Decoder;
use crate::h1::codec::head::{self, Framing, Head, HeadError, HeadLimits};
use crate::handler::errors::ProxyError;
use crate::io::outbox::Outbox;

/// How long a closing connection reads and discards what the client still sends.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// Before a read: what the flusher could not write of the last answer is finished first
/// (`Pending` meanwhile); a failed send is the read's error.
fn drive<W: AsyncWrite + Unpin>(ob: Option<&Outbox>, w: &mut W, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    ob.map_or(Poll::Ready(Ok(())), |o| o.poll_drive(cx, w))
}

/// What happens to the connection after an exchange.
enum Next {
    KeepAlive,
    Close,
    Upgraded,
}

struct Conn<W, H> {
    ctx: Rc<ConnCtx>,
    /// The request handler (a zero-sized generic: `downstream::service`).
    handler: H,
    /// `None` while a request body holds the read side.
    reader: Option<Reader>,
    w: Option<W>,
    timeouts: ListenerTimeouts,
    lim: HeadLimits,
    shutdown: watch::Receiver<bool>,
    /// The response head (and small bodies) on its way out; released while idle.
    out: Vec<u8>,
    /// Whether closing reads and discards what the client still sends (`close`).
    linger: bool,
    /// A plain TCP client's responses go out through the worker's flusher (`outbox`);
    /// `None` for TLS.
    outbox: Option<Rc<Outbox>>,
}

impl<W, H> Drop for Conn<W, H> {
    fn drop(&mut self) {
        // Before the socket closes: the flusher must not write to its descriptor.
        if let Some(o) = &self.outbox {
            o.close();
        }
    }
}

/// Serves HTTP/1.1 requests on the connection until it closes; `fd`: the socket `w`
/// writes to, when it is plain TCP.
pub async fn serve<W: AsyncWrite + Unpin + Send + 'static, H: Handler>(
    (ctx, handler): (Rc<ConnCtx>, H),
    (reader, w, fd): (Reader, W, Option<RawFd>),
    lim: HeadLimits,
    shutdown: watch::Receiver<bool>,
) {
    let timeouts = ctx.timeouts;
    // Created once: each `changed()` future takes a lock on the watch all workers share.
    let mut stop_rx = shutdown.clone();
    let stop = stop_rx.changed();
    tokio::pin!(stop);
    let outbox = fd.map(|fd| Outbox::new(fd, crate::io::batch::Side::Client));
    let (reader, w) = (Some(reader), Some(w));
    let mut c = Conn { ctx, handler, reader, w, timeouts, lim, shutdown, out: Vec::new(), linger: true, outbox };
    // One timer per connection, pushed out lazily: most requests never touch it.
    let timer = tokio::time::sleep(timeouts.header);
    tokio::pin!(timer);
    let mut deadline = Instant::now() + timeouts.header;
    loop {
        let head = match c.next_head(timer.as_mut(), stop.as_mut(), deadline).await {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                c.refuse(e).await;
                break;
            }
        };
        match c.exchange(head).await {
            Next::KeepAlive => deadline = Instant::now() + timeouts.idle,
            Next::Close => break,
            Next::Upgraded => return,
        }
    }
    c.close().await;
}

/// Waits for `fut` until `deadline`, with the connection's lazily reset timer.
async fn before<F: Future>(mut timer: Pin<&mut Sleep>, deadline: Instant, fut: F) -> Option<F::Output> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            r = fut.as_mut() => return Some(r),
            _ = timer.as_mut() => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static, H: Handler> Conn<W, H> {
    /// The next request head; `Ok(None)` when the client left, a timeout fired or the
    /// worker is draining. `idle_until` bounds the wait for its first byte.
    async fn next_head<S: Future>(
        &mut self,
        mut timer: Pin<&mut Sleep>,
        mut stop: Pin<&mut S>,
        idle_until: Instant,
    ) -> Result<Option<Head>, HeadError> {
        let (Some(r), Some(w)) = (self.reader.as_mut(), self.w.as_mut()) else { return Ok(None) };
        let ob = self.outbox.as_deref();
        let mut deadline = idle_until;
        let mut started = false;
        loop {
            if !r.buf.is_empty() {
                // Before a head is taken, the last answer is out: the handler may write
                // (`100 Continue`, a tunnel, a refusal). Only pipelined requests find it
                // still queued.
                if let Some(o) = ob.filter(|o| !o.is_idle()) {
                    if o.flushed(w).await.is_err() {
                        return Ok(None);
                    }
                }
                if let Some(h) = head::parse(&mut r.buf, self.lim)? {
                    return Ok(Some(h));
                }
                if !started && !r.buf.is_empty() {
                    started = true;
                    deadline = deadline.min(Instant::now() + self.timeouts.header);
                }
            }
            let n = if r.buf.is_empty() {
                if *self.shutdown.borrow() {
                    return Ok(None);
                }
                r.buf = BytesMut::new();
                self.out = Vec::new();
                let read = async {
                    tokio::select! {
                        n = poll_fn(|cx| {
                            ready!(drive(ob, w, cx))?;
                            poll_read_unbuffered(&mut r.io, &mut r.buf, cx)
                        }) => n,
                        // Fires once: the loop ends after it.
                        _ = stop.as_mut() => Ok(0),
                    }
                };
                before(timer.as_mut(), deadline, read).await
            } else {
                let fill = poll_fn(|cx| {
                    ready!(drive(ob, w, cx))?;
                    r.poll_fill(cx)
                });
                before(timer.as_mut(), deadline, fill).await
            };
            match n {
                Some(Ok(n)) if n > 0 => {}
                _ => return Ok(None),
            }
        }
    }

    async fn exchange(&mut self, head: Head) -> Next {
        let Head { parts, framing, keep_alive, expect_continue } = head;
        let facts = ReqFacts { head: parts.method == Method::HEAD, version: parts.version, keep_alive };
        let bodyless = framing == Framing::None;
        let (mut home, mut cont) = (None, None);
        let body = match (framing, self.reader.take()) {
            (Framing::None, r) => {
                self.reader = r;
                ClientBody::Empty
            }
            (_, None) => return Next::Close,
            (f, Some(reader)) => {
                let (tx, rx) = oneshot::channel();
                home = Some(rx);
                cont = expect_continue.then(|| Arc::new(Notify::new()));
                ClientBody::H1(Box::new(RecvBody::new(reader, Decoder::new(f), tx, cont.clone())))
            }
        };
        let mut req = Request::from_parts(parts, body);
        let mut upgrade = None;
        if home.is_none() && crate::handler::upgrade::wants_upgrade(&req) {
            let (tx, rx) = oneshot::channel();
            upgrade = Some(tx);
            req.extensions_mut().insert(H1Upgrade(Arc::new(Mutex::new(Some(rx)))));
        }
        // Boxed: the handler's future is large (~4.7 KB) and must not sit in every idle
        // connection. A pool of warm boxes measured no faster (bench/ab.sh).
        let mut fut = crate::runtime::exec::in_box(|| self.handler.clone().handle(Rc::clone(&self.ctx), req));
        let resp = match cont {
            None => fut.await,
            Some(c) => tokio::select! {
                r = fut.as_mut() => r,
                _ = c.notified() => {
                    if let Some(w) = self.w.as_mut() {
                        let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
                    }
                    fut.await
                }
            },
        };
        let Ok(resp) = resp;
        let next = self.respond(resp, facts, home, upgrade).await;
        // The client said it would close, sent no body and nothing of its is left unread:
        // nothing can turn the answer into a reset, so the socket closes at once (NGINX
        // does the same).
        if !keep_alive && bodyless && self.reader.as_ref().is_some_and(|r| r.buf.is_empty()) {
            self.linger = false;
        }
        next
    }

    async fn respond(
        &mut self,
        resp: Response<ProxyBody>,
        mut facts: ReqFacts,
        home: Option<oneshot::Receiver<Returned>>,
        upgrade: Option<oneshot::Sender<Upgraded>>,
    ) -> Next {
        let (mut parts, mut body) = resp.into_parts();
        let mut pending = None;
        if let Some(mut rx) = home {
            match rx.try_recv() {
                Ok(r) => {
                    facts.keep_alive &= r.finished;
                    self.reader = Some(r.reader);
                }
                Err(oneshot::error::TryRecvError::Empty) => pending = Some(rx),
                Err(_) => facts.keep_alive = false,
            }
        }
        facts.keep_alive &= !*self.shutdown.borrow();
        let hint = http_body::Body::size_hint(&body).exact();
        let fields = (&mut parts.headers, body.raw_fields());
        let (framing, keep) = encode_head(parts.status, fields, hint, facts, &mut self.out);
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(tx) = upgrade {
                return self.hand_over(tx).await;
            }
        }
        if self.w.is_none() {
            return Next::Close;
        }
        let mut sent = 0;
        // The outbox is empty here (`next_head` saw to it); else the old way, behind it.
        let whole = match (self.outbox.as_deref().filter(|o| o.is_idle()), framing) {
            (Some(_), Out::None) => Some(true),
            (Some(_), Out::Length(n)) if n <= COALESCE as u64 => gather(&mut self.out, &mut body, framing, &mut sent),
            _ => None,
        };
        let complete = match (whole, &self.outbox) {
            (Some(complete), Some(o)) => {
                // Empty (the last answer is out): the buffers trade places.
                std::mem::swap(&mut *o.buf(), &mut self.out);
                o.send();
                complete
            }
            _ => {
                // Boxed: a cold wait that would otherwise widen every `respond` future.
                if Box::pin(self.outbox_out()).await.is_err() {
                    return Next::Close;
                }
                let Some(w) = self.w.as_mut() else { return Next::Close };
                crate::io::batch::before_send(crate::io::batch::Side::Client).await;
                send(w, &mut self.out, &mut body, framing, sent).await.unwrap_or(false)
            }
        };
        drop(body);
        if !complete || !keep {
            return Next::Close;
        }
        if let Some(rx) = pending {
            match tokio::time::timeout(self.timeouts.body, rx).await {
                Ok(Ok(r)) if r.finished => self.reader = Some(r.reader),
                Ok(Ok(r)) => {
                    self.reader = Some(r.reader);
                    return Next::Close;
                }
                _ => return Next::Close,
            }
        }
        Next::KeepAlive
    }

    /// Waits until what the outbox holds is on the wire (at once when it is empty).
    async fn outbox_out(&mut self) -> io::Result<()> {
        match (self.outbox.as_deref(), self.w.as_mut()) {
            (Some(o), Some(w)) => o.flushed(w).await,
            _ => Ok(()),
        }
    }

    /// Writes the 101 head and gives the connection to the tunnel.
    async fn hand_over(&mut self, tx: oneshot::Sender<Upgraded>) -> Next {
        if self.outbox_out().await.is_err() {
            return Next::Close;
        }
        let (Some(mut w), Some(reader)) = (self.w.take(), self.reader.take()) else { return Next::Close };
        if w.write_all(&self.out).await.is_err() || w.flush().await.is_err() {
            return Next::Close;
        }
        let _ = tx.send(Upgraded { reader, writer: Box::new(w) });
        Next::Upgraded
    }

    /// Answers a head that could not be parsed, then the connection closes.
    async fn refuse(&mut self, e: HeadError) {
        let err = match e {
            HeadError::Bad(why) => ProxyError::BadRequest(why),
            HeadError::TooLarge => ProxyError::HeadersTooLarge,
            HeadError::UriTooLong => ProxyError::UriTooLong,
            HeadError::TooManyHeaders => ProxyError::TooManyHeaders,
            HeadError::Version => ProxyError::VersionNotSupported,
        };
        tracing::debug!(peer = %self.ctx.client, error = err.code(), "malformed request head");
        let resp = err.response();
        self.ctx.listener.metrics.responses.inc(resp.status().as_u16());
        let facts = ReqFacts { head: false, version: http::Version::HTTP_11, keep_alive: false };
        let _ = self.respond(resp, facts, None, None).await;
    }

    /// FIN, then read and drop what the client still sends for a moment, so the answer
    /// isn't lost to a reset when unread request bytes remain (unless `linger` is off).
    async fn close(&mut self) {
        let _ = self.outbox_out().await;
        if let Some(o) = &self.outbox {
            o.close();
        }
        let Some(mut w) = self.w.take() else { return };
        let _ = tokio::time::timeout(LINGER, w.shutdown()).await;
        let Some(mut r) = self.reader.take().filter(|_| self.linger) else { return };
        let linger = async {
            let mut seen = 0;
            while seen < LINGER_BYTES {
                r.buf.clear();
                match read_unbuffered(&mut r.io, &mut r.buf).await {
                    Ok(n) if n > 0 => seen += n,
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, linger).await;
    }
}
