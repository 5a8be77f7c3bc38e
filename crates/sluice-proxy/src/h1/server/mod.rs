//! The server side of sluice's HTTP/1.1: `serve` runs one client connection, `recv`
//! holds request bodies as the handler reads them, `write` encodes responses, and an upgraded connection
//! (WebSocket) is handed to the tunnel as `Upgraded`.

mod recv;
mod serve;
mod write;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

pub use recv::{read_unbuffered, ClientBody, Reader};
pub use serve::serve;

/// A client connection handed over after a `101 Switching Protocols` (WebSocket): the
/// bytes the client sent after its request first, then the socket.
pub struct Upgraded {
    reader: Reader,
    writer: Box<dyn AsyncWrite + Send + Unpin>,
}

/// Put in an upgrade request's extensions; the tunnel takes the connection from it.
#[derive(Clone)]
pub struct H1Upgrade(Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>);

impl H1Upgrade {
    pub fn take(&self) -> Option<oneshot::Receiver<Upgraded>> {
        self.0.lock().ok()?.take()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let ahead = &mut self.reader.buf;
        if !ahead.is_empty() {
            let n = ahead.len().min(buf.remaining());
            buf.put_slice(&ahead[..n]);
            ahead.advance(n);
            if ahead.is_empty() {
                *ahead = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.reader.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}
