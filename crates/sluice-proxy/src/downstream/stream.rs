//! The client connection's byte streams: `Prefixed` replays bytes read before the
//! connection was handed over (after a PROXY header) ahead of the socket — below TLS, so a
//! ClientHello that arrived with the PROXY header is not lost — and `Tracked` reports the
//! (decrypted) bytes read to the connection state for the header and idle timeouts.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::downstream::state::ConnState;

/// A stream (TCP by default) with bytes already read put back in front.
pub struct Prefixed<IO = TcpStream> {
    io: IO,
    prefix: Vec<u8>,
    at: usize,
}

impl<IO> Prefixed<IO> {
    pub fn new(io: IO, prefix: Vec<u8>) -> Self {
        Prefixed { io, prefix, at: 0 }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = (self.prefix.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

macro_rules! delegate_write {
    () => {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            self.io.is_write_vectored()
        }
    };
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    delegate_write!();
}

/// The client stream, reporting reads to the connection state.
pub struct Tracked<IO> {
    io: IO,
    state: Arc<ConnState>,
}

impl<IO> Tracked<IO> {
    pub fn new(io: IO, state: Arc<ConnState>) -> Self {
        Tracked { io, state }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.state.on_read(&buf.filled()[before..]);
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    delegate_write!();
}
