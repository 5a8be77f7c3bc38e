//! Body types of the data path. `ProxyBody` is what clients receive: a fixed body sluice
//! made, or an upstream body streamed through with an idle timeout and the guards that
//! must live exactly as long as the response (endpoint in-flight count, connection
//! activity, and the upstream connection's return to the pool). `RequestBody` is what
//! upstreams receive: the client's body with the size limit and idle timeout applied.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sluice_core::endpoint::InFlight;
use tokio::time::{Instant, Sleep};

use std::sync::Arc;

use crate::downstream::ctx::ActiveGuard;
use crate::h1::client::UpIncoming;
use crate::h1::raw::RawFields;
use crate::h1::ClientBody;
use crate::handler::accesslog::{AccessLog, Entry};
use crate::handler::mirror::BodyTee;
use crate::metrics::ListenerMetrics;
use crate::upstream::pool::PoolReturn;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The client sent more body bytes than `max_body_bytes`.
#[derive(Debug)]
pub struct BodyTooLarge;

/// No body bytes moved for longer than the body idle timeout.
#[derive(Debug)]
pub struct BodyIdle;

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body exceeds the limit")
    }
}
impl StdError for BodyTooLarge {}

impl fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body idle timeout")
    }
}
impl StdError for BodyIdle {}

/// The client's request body broke its framing (chunked grammar, RFC 9112 §7.1): a 400.
#[derive(Debug)]
pub struct BadFraming(pub &'static str);

impl fmt::Display for BadFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
impl StdError for BadFraming {}

/// A lazily armed idle timer: no allocation unless a poll actually has to wait.
pub struct IdleTimer {
    dur: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    pub fn new(dur: Duration) -> Self {
        IdleTimer { dur, sleep: None }
    }

    /// Called when the inner body made progress: push the deadline out.
    fn progress(&mut self) {
        if let Some(s) = self.sleep.as_mut() {
            s.as_mut().reset(Instant::now() + self.dur);
        }
    }

    /// Called when the inner body is pending: has the deadline passed?
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let dur = self.dur;
        let s = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(dur)));
        s.as_mut().poll(cx).is_ready()
    }
}

use std::future::Future;

/// Polls `inner` with the idle timer around it.
fn poll_idle<B>(
    inner: &mut B,
    idle: &mut IdleTimer,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    match Pin::new(inner).poll_frame(cx) {
        Poll::Ready(r) => {
            idle.progress();
            Poll::Ready(r.map(|r| r.map_err(Into::into)))
        }
        Poll::Pending if idle.expired(cx) => Poll::Ready(Some(Err(Box::new(BodyIdle)))),
        Poll::Pending => Poll::Pending,
    }
}

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
            ProxyBody::Full(_) => None,
        }
    }

    /// Takes the wire-form fields out (to put them in a header map).
    pub fn take_raw_fields(&mut self) -> Option<RawFields> {
        match self {
            ProxyBody::Upstream(u) => take_raw(&mut u.inner),
            ProxyBody::Full(_) => None,
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
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(b) => b.is_none(),
            ProxyBody::Upstream(u) => u.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ProxyBody::Upstream(u) => u.inner.size_hint(),
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

/// Does this error (or anything it wraps) say the request body was too large?
pub fn is_body_too_large(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTooLarge>() {
            return true;
        }
        cur = err.source();
    }
    false
}
