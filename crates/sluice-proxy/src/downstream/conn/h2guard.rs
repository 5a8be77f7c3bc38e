//! HTTP/2 abuse guard for client connections served by hyper (the glitch score itself,
//! `Calm`, is connection state: `downstream::ctx`). `Guarded` wraps the
//! decrypted client stream under hyper, finds frame boundaries both ways
//! (`sluice_core::h2glitch`), counts frame glitches, and once the score is over
//! `h2_max_glitches` writes GOAWAY(ENHANCE_YOUR_CALM) at the next frame boundary and
//! fails the stream, which ends hyper's connection. hyper exposes no way to send that
//! error code itself; the wrapper never splits a frame hyper is writing.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use sluice_core::h2glitch::{self, FrameGlitches, Scanner};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::downstream::state::ConnState;
use crate::metrics::ListenerMetrics;

/// Counts a client reset of a stream already being forwarded: armed when an HTTP/2 request
/// starts, disarmed when its response head is ready; hyper drops the handler's future
/// (and this with it) when the client resets the stream before that.
pub struct PrematureReset<'a>(Option<(&'a ConnState, &'a ListenerMetrics)>);

impl<'a> PrematureReset<'a> {
    pub fn arm(state: &'a ConnState, metrics: &'a ListenerMetrics) -> Self {
        PrematureReset(state.is_h2().then_some((state, metrics)))
    }

    pub fn disarm(mut self) {
        if let Some((state, _)) = self.0.take() {
            state.calm.answered();
        }
    }
}

impl Drop for PrematureReset<'_> {
    fn drop(&mut self) {
        if let Some((state, metrics)) = self.0.take() {
            state.calm.add(1, metrics);
        }
    }
}

/// The client stream under hyper's HTTP/2 server, with frame accounting both ways.
pub struct Guarded<IO> {
    io: IO,
    state: Arc<ConnState>,
    metrics: Arc<ListenerMetrics>,
    rx: Scanner,
    tx: Scanner,
    frames: FrameGlitches,
    /// Once tripped: the GOAWAY frame and how much of it is written.
    goaway: Option<([u8; 17], usize)>,
}

impl<IO> Guarded<IO> {
    pub fn new(io: IO, state: Arc<ConnState>, metrics: Arc<ListenerMetrics>) -> Self {
        let (rx, tx) = (Scanner::client(), Scanner::server());
        Guarded { io, state, metrics, rx, tx, frames: FrameGlitches::default(), goaway: None }
    }
}

fn calmed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "HTTP/2 glitch limit: GOAWAY(ENHANCE_YOUR_CALM)")
}

impl<IO: AsyncWrite + Unpin> Guarded<IO> {
    /// Once tripped and between frames: writes the GOAWAY, then fails every call.
    fn poll_goaway(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let last = self.frames.last_stream;
        let (frame, at) = self.goaway.get_or_insert_with(|| (h2glitch::goaway_calm(last), 0));
        while *at < frame.len() {
            match ready!(Pin::new(&mut self.io).poll_write(cx, &frame[*at..])) {
                Ok(0) | Err(_) => {
                    *at = frame.len();
                    return Poll::Ready(calmed());
                }
                Ok(n) => *at += n,
            }
        }
        let _ = ready!(Pin::new(&mut self.io).poll_flush(cx));
        Poll::Ready(calmed())
    }

    fn must_leave(&self) -> bool {
        self.state.calm.is_tripped() && self.tx.at_boundary()
    }

    /// How much of `len` bytes may be written now: once tripped, only to the end of the
    /// frame in progress.
    fn allowed(&self, len: usize) -> usize {
        match (self.state.calm.is_tripped(), self.tx.to_boundary()) {
            (true, Some(n)) => len.min(n),
            _ => len,
        }
    }

    fn sent(&mut self, bytes: &[u8]) {
        let frames = &mut self.frames;
        self.tx.feed(bytes, |h| frames.outgoing(&h));
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = &mut *self;
        if me.must_leave() {
            return me.poll_goaway(cx).map(Err);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut me.io).poll_read(cx, buf))?;
        let mut glitches = 0;
        let frames = &mut me.frames;
        me.rx.feed(&buf.filled()[before..], |h| glitches += frames.incoming(&h));
        if glitches > 0 && me.state.calm.add(glitches, &me.metrics) && me.tx.at_boundary() {
            buf.set_filled(before);
            return me.poll_goaway(cx).map(Err);
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.must_leave() {
            return me.poll_goaway(cx).map(Err);
        }
        let k = me.allowed(buf.len());
        let n = ready!(Pin::new(&mut me.io).poll_write(cx, &buf[..k]))?;
        me.sent(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.state.calm.is_tripped() {
            // Rare: one slice at a time, so the frame boundary is never passed.
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            return Pin::new(me).poll_write(cx, first);
        }
        let n = ready!(Pin::new(&mut me.io).poll_write_vectored(cx, bufs))?;
        let mut left = n;
        for b in bufs {
            let k = left.min(b.len());
            me.sent(&b[..k]);
            left -= k;
            if left == 0 {
                break;
            }
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
