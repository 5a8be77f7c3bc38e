//! The request body on its way upstream: the client's body (HTTP/1.1 or h2) with the
//! listener's size limit and idle timeout applied, a copy teed off for a shadow mirror, or
//! a body held whole (the mirrored copy itself).

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::body::{poll_idle, BodyTooLarge, BoxError, IdleTimer};
use crate::h1::ClientBody;

/// Keeps a copy of the body bytes that pass through, up to a limit, for the mirror.
pub struct BodyTee {
    pub buf: BytesMut,
    pub limit: usize,
    pub tx: Option<oneshot::Sender<Bytes>>,
}

impl BodyTee {
    /// Copies a chunk; past the limit the copy is abandoned (the mirror sees no body).
    pub fn push(&mut self, chunk: &[u8]) {
        if self.buf.len() + chunk.len() > self.limit {
            self.tx = None;
        } else if self.tx.is_some() {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The body ended: the copy goes to the mirror.
    pub fn finish(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(std::mem::take(&mut self.buf).freeze());
        }
    }
}

/// A request body on its way upstream, with the size limit and idle timeout applied.
/// `None` is the empty body of most requests: the request is moved through several layers
/// of the handler, so what a body needs lives in a box only when there is one.
pub struct RequestBody(Option<Box<Streamed>>);

struct Streamed {
    inner: Option<ClientBody>,
    /// A body held whole (a mirrored copy).
    once: Option<Bytes>,
    seen: u64,
    limit: u64,
    idle: IdleTimer,
    tee: Option<Box<BodyTee>>,
}

impl RequestBody {
    pub fn new(inner: ClientBody, limit: u64, idle: Duration) -> Self {
        RequestBody(Some(Box::new(Streamed {
            inner: Some(inner),
            once: None,
            seen: 0,
            limit,
            idle: IdleTimer::new(idle),
            tee: None,
        })))
    }

    pub fn empty() -> Self {
        RequestBody(None)
    }

    pub fn full(b: Bytes) -> Self {
        RequestBody(Some(Box::new(Streamed { once: Some(b).filter(|b| !b.is_empty()), ..Streamed::empty() })))
    }

    /// Copies the body as it streams (shadow mirroring).
    pub fn set_tee(&mut self, tee: BodyTee) {
        self.0.get_or_insert_with(|| Box::new(Streamed::empty())).tee = Some(Box::new(tee));
    }
}

impl Streamed {
    fn empty() -> Self {
        Streamed { inner: None, once: None, seen: 0, limit: 0, idle: IdleTimer::new(Duration::MAX), tee: None }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut().0.as_deref_mut() {
            None => Poll::Ready(None),
            Some(s) => s.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(|s| s.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.0.as_ref().map_or(SizeHint::with_exact(0), |s| s.size_hint())
    }
}

impl Streamed {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(this.once.take().map(|b| Ok(Frame::data(b))));
        };
        let r = ready!(poll_idle(inner, &mut this.idle, cx));
        if let Some(Ok(f)) = &r {
            if let Some(d) = f.data_ref() {
                this.seen += d.len() as u64;
                if this.seen > this.limit {
                    this.inner = None;
                    this.tee = None;
                    return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                }
                if let Some(t) = this.tee.as_mut() {
                    t.push(d);
                }
            }
        }
        if let Some(t) = this.tee.as_mut() {
            match &r {
                None => t.finish(),
                Some(Ok(_)) if inner.is_end_stream() => t.finish(),
                Some(Err(_)) => this.tee = None,
                Some(Ok(_)) => {}
            }
        }
        Poll::Ready(r)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().map_or(self.once.is_none(), |b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.inner, &self.once) {
            (Some(b), _) => b.size_hint(),
            (None, once) => SizeHint::with_exact(once.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
