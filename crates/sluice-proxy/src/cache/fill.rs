//! Filling the cache: one request upstream per key while others wait (coalescing, NGINX's
//! `proxy_cache_lock`), and `FillBody`, which stores an answer while it streams to the
//! client. A fill whose client goes away finishes in the background, so those waiting on it
//! still get it; an answer over `max_object_size` streams through uncached.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use tokio::sync::watch;

use crate::cache::entry::{Canon, Entry};
use crate::cache::store::{CacheStore, FillGuard, Key};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a request waits for another's fill of the same key before going upstream
/// itself (NGINX's `proxy_cache_lock_timeout` default).
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Waits until the fill ends (its guard dropped) or `LOCK_WAIT` passes.
pub async fn wait(mut rx: watch::Receiver<()>) {
    let _ = tokio::time::timeout(LOCK_WAIT, rx.changed()).await;
}

/// What a finished fill stores.
pub struct Pending {
    pub store: Arc<CacheStore>,
    pub key: Key,
    pub request: http::Request<()>,
    pub policy: http_cache_semantics::CachePolicy,
    pub head: http::response::Parts,
    pub route: sluice_config::RouteCache,
    pub guard: Option<FillGuard>,
}

impl Pending {
    fn store(self, body: Bytes) {
        let entry = Entry::new(self.policy, &self.head, body, &self.route, std::time::SystemTime::now());
        let canon = Canon { method: self.request.method(), headers: self.request.headers() };
        self.store.insert(self.key, Arc::new(entry), &canon);
    }
}

/// A response body on its way to the client, copied into the store as it goes.
pub struct FillBody<B: Body<Data = Bytes, Error = BoxError> + 'static> {
    inner: Option<Pin<Box<B>>>,
    buf: BytesMut,
    fill: Option<Box<Pending>>,
}

impl<B: Body<Data = Bytes, Error = BoxError> + 'static> FillBody<B> {
    pub fn new(inner: B, fill: Pending) -> Self {
        FillBody { inner: Some(Box::pin(inner)), buf: BytesMut::new(), fill: Some(Box::new(fill)) }
    }

    /// Takes a frame into the copy; gives up storing past `max_object_size`.
    fn keep(&mut self, f: &Frame<Bytes>) {
        let Some(fill) = &self.fill else { return };
        match f.data_ref() {
            Some(d) if (self.buf.len() + d.len()) as u64 <= fill.store.config.max_object_size => {
                self.buf.extend_from_slice(d)
            }
            // Too large, or trailers (not stored): the answer streams through uncached.
            _ => self.fill = None,
        }
    }

    fn finish(&mut self) {
        if let Some(fill) = self.fill.take() {
            fill.store(std::mem::take(&mut self.buf).freeze());
        }
    }
}

impl<B: Body<Data = Bytes, Error = BoxError> + 'static> Body for FillBody<B> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let me = self.get_mut();
        let Some(inner) = me.inner.as_mut() else { return Poll::Ready(None) };
        match ready!(inner.as_mut().poll_frame(cx)) {
            Some(Ok(f)) => {
                me.keep(&f);
                Poll::Ready(Some(Ok(f)))
            }
            Some(Err(e)) => {
                me.fill = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                me.finish();
                me.inner = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map_or(http_body::SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<B: Body<Data = Bytes, Error = BoxError> + 'static> Drop for FillBody<B> {
    fn drop(&mut self) {
        // The client left mid-answer: read the rest in the background and store it, so
        // requests waiting on this fill still get it.
        if let (Some(inner), Some(fill)) = (self.inner.take(), self.fill.take()) {
            let mut rest = FillBody { inner: Some(inner), buf: std::mem::take(&mut self.buf), fill: Some(fill) };
            tokio::task::spawn_local(async move {
                while let Some(f) = std::future::poll_fn(|cx| Pin::new(&mut rest).poll_frame(cx)).await {
                    if f.is_err() {
                        break;
                    }
                }
            });
        }
    }
}
