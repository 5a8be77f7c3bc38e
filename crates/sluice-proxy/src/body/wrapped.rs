//! A response body transformed on its way to the client — compressed (`compress`), or
//! copied into the cache (`cache::fill`) — around another body. It counts the bytes it
//! sends and writes the access-log line when it ends, as `UpstreamBody` does for the
//! bodies it carries.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::body::BoxError;
use crate::handler::accesslog::{AccessLog, Entry};

pub struct Wrapped {
    body: Pin<Box<dyn Body<Data = Bytes, Error = BoxError>>>,
    bytes: u64,
    log: Option<(Arc<AccessLog>, Box<Entry>, Instant)>,
}

impl Wrapped {
    pub fn new(body: impl Body<Data = Bytes, Error = BoxError> + 'static) -> Self {
        Wrapped { body: Box::pin(body), bytes: 0, log: None }
    }

    pub fn set_log(&mut self, log: Arc<AccessLog>, entry: Box<Entry>, started: Instant) {
        self.log = Some((log, entry, started));
    }

    fn end(&mut self) {
        if let Some((log, mut e, started)) = self.log.take() {
            e.bytes = self.bytes;
            e.total_ns = started.elapsed().as_nanos() as u64;
            log.log(*e);
        }
    }

    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let r = ready!(self.body.as_mut().poll_frame(cx));
        match &r {
            Some(Ok(f)) => self.bytes += f.data_ref().map_or(0, |d| d.len() as u64),
            _ => self.end(),
        }
        Poll::Ready(r)
    }

    pub fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    pub fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Wrapped {
    fn drop(&mut self) {
        self.end();
    }
}
