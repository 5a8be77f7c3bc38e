//! sluice's own HTTP/1.1 server side (HTTP/2 stays with hyper). Why not hyper's: hyper
//! keeps an 8 KiB read buffer, an 8 KiB write buffer and a box the size of the handler's
//! future for as long as a connection lives; here an idle keep-alive connection holds no
//! buffer at all (HAProxy and NGINX do the same), and a request's head is parsed in place.
//! `head` parses, `decode`/`recv` read bodies, `write` encodes responses, `serve` runs the
//! connection. `client`/`resp` are the upstream side's fast path (bodyless requests to
//! plain HTTP/1.1 upstreams); everything else upstream uses hyper's client.

pub mod client;
mod decode;
mod head;
mod names;
pub mod raw;
mod recv;
mod resp;
mod serve;
mod write;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

pub use head::HeadLimits;
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

/// Reads `data` as pipelined requests (heads, then bodies) the way the server does and
/// returns how many were complete; also as an upstream response head. For fuzzing:
/// whatever the bytes, it returns (no panic, no endless loop: every step consumes input
/// or stops).
pub fn read_requests(data: &[u8]) -> usize {
    let _ = resp::parse_response(&mut BytesMut::from(data), false, false);
    let _ = resp::parse_response(&mut BytesMut::from(data), false, true);
    let lim = HeadLimits { max_bytes: 8192, max_headers: 100 };
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    while let Ok(Some(h)) = head::parse(&mut buf, lim) {
        let mut body = decode::Decoder::new(h.framing);
        loop {
            let before = buf.len();
            match body.decode(&mut buf) {
                Ok(decode::Decoded::Data(_)) => assert!(buf.len() < before, "data consumes input"),
                Ok(decode::Decoded::Trailers(_) | decode::Decoded::End) => break,
                Ok(decode::Decoded::NeedMore) | Err(_) => return n,
            }
        }
        n += 1;
    }
    n
}
