//! Request bodies as the handler sees them. `ClientBody` is either hyper's (HTTP/2) or
//! `RecvBody`, the HTTP/1.1 server's: while a body is read the connection's read side
//! (socket half + buffer) lives inside it, and goes back to the connection when the body
//! ends or is dropped — unfinished, in which case the connection closes after the
//! response, since the next request's start is unknown.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{oneshot, Notify};

use crate::body::BoxError;
use crate::h1::codec::decode::{Decoded, Decoder};

/// Bytes asked of the socket per read while a request is read.
const READ_CHUNK: usize = 8 * 1024;

/// The read side of a client connection: the socket's read half and the bytes read ahead.
pub struct Reader {
    pub io: Box<dyn AsyncRead + Send + Unpin>,
    pub buf: BytesMut,
}

impl Reader {
    /// Reads more into `buf`; `Ok(0)` at end of stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }
}

/// The read side coming back from a body, and whether the body was read to its end.
pub struct Returned {
    pub reader: Reader,
    pub finished: bool,
}

/// An HTTP/1.1 request body being read off the client connection.
pub struct RecvBody {
    reader: Option<Reader>,
    decoder: Decoder,
    home: Option<oneshot::Sender<Returned>>,
    /// `Expect: 100-continue`: asks the connection for the interim answer before the first read.
    cont: Option<Arc<Notify>>,
}

impl RecvBody {
    pub fn new(reader: Reader, decoder: Decoder, home: oneshot::Sender<Returned>, cont: Option<Arc<Notify>>) -> Self {
        RecvBody { reader: Some(reader), decoder, home: Some(home), cont }
    }

    fn go_home(&mut self) {
        if let (Some(reader), Some(home)) = (self.reader.take(), self.home.take()) {
            let _ = home.send(Returned { reader, finished: self.decoder.is_done() });
        }
    }

    fn fail(&mut self, e: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.go_home();
        Poll::Ready(Some(Err(e)))
    }
}

impl Drop for RecvBody {
    fn drop(&mut self) {
        self.go_home();
    }
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(r) = this.reader.as_mut() else { return Poll::Ready(None) };
            let step = match this.decoder.decode(&mut r.buf) {
                Ok(s) => s,
                Err(e) => return this.fail(Box::new(crate::body::BadFraming(e))),
            };
            let frame = match step {
                Decoded::Data(b) => Frame::data(b),
                Decoded::Trailers(t) => Frame::trailers(t),
                Decoded::End => {
                    this.go_home();
                    return Poll::Ready(None);
                }
                Decoded::NeedMore => {
                    if let Some(c) = this.cont.take() {
                        c.notify_one();
                    }
                    match ready!(r.poll_fill(cx)) {
                        Ok(0) => return this.fail("client closed the connection inside the request body".into()),
                        Ok(_) => continue,
                        Err(e) => return this.fail(e.into()),
                    }
                }
            };
            if this.decoder.is_done() {
                this.go_home();
            }
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// A client's request body, whichever server read the request.
pub enum ClientBody {
    Empty,
    Hyper(Incoming),
    /// Boxed: the request travels through several layers of the handler's future, and
    /// most requests have no body.
    H1(Box<RecvBody>),
    /// Any other protocol's body (HTTP/3), behind one indirection.
    Boxed(http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ClientBody::Empty => Poll::Ready(None),
            ClientBody::Hyper(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ClientBody::H1(b) => Pin::new(&mut **b).poll_frame(cx),
            ClientBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Empty => true,
            ClientBody::Hyper(b) => b.is_end_stream(),
            ClientBody::H1(b) => b.is_end_stream(),
            ClientBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Empty => SizeHint::with_exact(0),
            ClientBody::Hyper(b) => b.size_hint(),
            ClientBody::H1(b) => b.size_hint(),
            ClientBody::Boxed(b) => b.size_hint(),
        }
    }
}

/// Reads what the socket has into `buf` through a stack buffer, so a connection waiting
/// for its next request holds no heap buffer. `Ok(0)` at end of stream.
pub async fn read_unbuffered<R: AsyncRead + Unpin + ?Sized>(io: &mut R, buf: &mut BytesMut) -> io::Result<usize> {
    poll_fn(|cx| poll_read_unbuffered(io, buf, cx)).await
}

pub fn poll_read_unbuffered<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    // Uninitialized: zeroing 4 KiB per read costs more than the read's bookkeeping.
    let mut tmp = [MaybeUninit::<u8>::uninit(); 4096];
    let mut rb = ReadBuf::uninit(&mut tmp);
    match Pin::new(&mut *io).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => {
            buf.extend_from_slice(rb.filled());
            Poll::Ready(Ok(rb.filled().len()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}
