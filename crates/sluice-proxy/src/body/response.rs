//! The response body on its way to the client: a fixed body sluice made, or an upstream
//! body streamed through with an idle timeout, the guards that must live exactly as long
//! as the response (endpoint in-flight count, connection activity, bulkhead slot, the
//! upstream connection's return to the pool), and the access-log line completed at its end.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body::{Body, Frame, SizeHint};
use sluice_core::endpoint::InFlight;
use tokio::time::Instant;

use crate::body::{poll_idle, BoxError, IdleTimer};
use crate::downstream::state::ActiveGuard;
use crate::h1::client::UpIncoming;
use crate::h1::codec::raw::RawFields;
use crate::handler::accesslog::{AccessLog, Entry};
use crate::handler::errors::ProxyError;
use crate::metrics::ListenerMetrics;
use crate::upstream::pool::PoolReturn;

/// What a finished response releases: the endpoint's in-flight slot, the client
/// connection's activity mark, and (for HTTP/1.1) the upstream connection to the pool —
/// the last only when the body was read to the end.
pub struct ResponseEnd {
    pub _in_flight: InFlight,
    pub _active: ActiveGuard,
    /// Boxed: only hyper's client path has one, and it would double every response's size.
    pub pool_return: Option<Box<PoolReturn>>,
    /// The cluster bulkhead slot, held until the response is done.
    pub _permit: Option<crate::runtime::cluster_state::BulkheadPermit>,
    /// When the request started, and where its total duration is recorded.
    pub timing: (Instant, Arc<ListenerMetrics>),
}

impl ResponseEnd {
    fn finish(mut self, completed: bool) {
        self.timing.1.duration.observe_ns(self.timing.0.elapsed().as_nanos() as u64);
        if let (true, Some(r)) = (completed, self.pool_return.take()) {
            r.checkin();
        }
    }
}

/// Body of a response sent to the client.
pub enum ProxyBody {
    Full(Option<Bytes>),
    Upstream(UpstreamBody),
    /// Compressed, or copied into the cache, on the way (`body::wrapped`).
    Wrapped(Box<crate::body::wrapped::Wrapped>),
}

impl ProxyBody {
    pub fn full(b: Bytes) -> Self {
        ProxyBody::Full(Some(b))
    }

    /// The upstream's fields still in wire form (`h1::raw`): they are not in the
    /// response's header map, and whoever writes the head must write these too.
    pub fn raw_fields(&self) -> Option<&RawFields> {
        match self {
            ProxyBody::Upstream(u) => raw_of(&u.inner).as_ref(),
            ProxyBody::Full(_) | ProxyBody::Wrapped(_) => None,
        }
    }

    /// Takes the wire-form fields out (to put them in a header map).
    pub fn take_raw_fields(&mut self) -> Option<RawFields> {
        match self {
            ProxyBody::Upstream(u) => take_raw(&mut u.inner),
            ProxyBody::Full(_) | ProxyBody::Wrapped(_) => None,
        }
    }
}

fn raw_of(b: &UpIncoming) -> &Option<RawFields> {
    match b {
        http_body_util::Either::Right(own) => &own.raw,
        http_body_util::Either::Left(_) => &None,
    }
}

/// The wire-form fields of an upstream body, taken out.
pub fn take_raw(b: &mut UpIncoming) -> Option<RawFields> {
    match b {
        http_body_util::Either::Right(own) => own.raw.take(),
        http_body_util::Either::Left(_) => None,
    }
}

/// An upstream response body in flight to the client.
pub struct UpstreamBody {
    inner: UpIncoming,
    idle: IdleTimer,
    on_end: Option<ResponseEnd>,
    bytes: u64,
    /// The access-log line, completed (bytes, total time) and sent when the body ends.
    log: Option<(Arc<AccessLog>, Box<Entry>)>,
}

impl UpstreamBody {
    pub fn new(inner: UpIncoming, idle: Duration, on_end: ResponseEnd) -> Self {
        UpstreamBody { inner, idle: IdleTimer::new(idle), on_end: Some(on_end), bytes: 0, log: None }
    }

    pub fn set_log(&mut self, log: Arc<AccessLog>, entry: Box<Entry>) {
        self.log = Some((log, entry));
    }

    fn end(&mut self, completed: bool) {
        if let Some(f) = self.on_end.take() {
            let started = f.timing.0;
            f.finish(completed);
            if let Some((log, mut e)) = self.log.take() {
                e.bytes = self.bytes;
                e.total_ns = started.elapsed().as_nanos() as u64;
                log.log(*e);
            }
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        let done = self.inner.is_end_stream();
        self.end(done);
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ProxyBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Upstream(u) => {
                let r = ready!(poll_idle(&mut u.inner, &mut u.idle, cx));
                if let Some(Ok(f)) = &r {
                    u.bytes += f.data_ref().map_or(0, |d| d.len() as u64);
                }
                match &r {
                    None => u.end(true),
                    Some(Err(_)) => u.end(false),
                    Some(Ok(_)) if u.inner.is_end_stream() => u.end(true),
                    Some(Ok(_)) => {}
                }
                Poll::Ready(r)
            }
            ProxyBody::Wrapped(w) => w.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(b) => b.is_none(),
            ProxyBody::Upstream(u) => u.inner.is_end_stream(),
            ProxyBody::Wrapped(w) => w.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ProxyBody::Upstream(u) => u.inner.size_hint(),
            ProxyBody::Wrapped(w) => w.size_hint(),
        }
    }
}

/// The answers sluice makes itself for a `ProxyError`.
impl ProxyError {
    /// The response sluice sends: status, `text/plain` body "<code> <reason>\n".
    pub fn response(self) -> Response<ProxyBody> {
        let status = self.status();
        let body = format!("{} {}\n", status.as_u16(), self.reason());
        let mut resp = Response::new(ProxyBody::full(Bytes::from(body)));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        h.insert("x-sluice-error", HeaderValue::from_static(self.code()));
        if let ProxyError::RateLimited(secs) = self {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self == ProxyError::Overloaded {
            h.insert(header::RETRY_AFTER, HeaderValue::from(1));
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }

    /// The gRPC status for a gRPC request (Envoy's HTTP-to-gRPC mapping, with timeouts as
    /// DEADLINE_EXCEEDED and rate limits as RESOURCE_EXHAUSTED).
    pub fn grpc_status(self) -> u8 {
        match self {
            ProxyError::BadRequest(_) => 13,                                  // INTERNAL
            ProxyError::NoRoute => 12,                                        // UNIMPLEMENTED
            ProxyError::RateLimited(_) | ProxyError::BodyTooLarge => 8,       // RESOURCE_EXHAUSTED
            ProxyError::HeadersTooLarge | ProxyError::TooManyHeaders => 8,    // RESOURCE_EXHAUSTED
            ProxyError::ClientBodyTimeout | ProxyError::ResponseTimeout => 4, // DEADLINE_EXCEEDED
            _ => 14,                                                          // UNAVAILABLE
        }
    }

    /// A trailers-only gRPC answer: HTTP 200, `grpc-status` and `grpc-message`, no body —
    /// what a gRPC client expects instead of an HTTP error page.
    pub fn grpc_response(self) -> Response<ProxyBody> {
        let mut resp = Response::new(ProxyBody::Full(None));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        h.insert("grpc-status", HeaderValue::from(u16::from(self.grpc_status())));
        h.insert("grpc-message", HeaderValue::from_static(self.reason()));
        h.insert("x-sluice-error", HeaderValue::from_static(self.code()));
        if let ProxyError::RateLimited(secs) = self {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
