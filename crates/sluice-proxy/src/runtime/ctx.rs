//! What a worker's tasks share, one level below the worker loop that builds them:
//! `WorkerCtx` (the worker's snapshot cache, upstream pool, RNG, rate-limit store
//! connections, access log) and `ListenerCtx` (one listener as the worker sees it, with
//! its hyper HTTP/2 builder). Connection and request code reads these; only
//! `runtime::worker` creates them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;
use hyper::server::conn::http2;
use hyper_util::rt::TokioTimer;
use sluice_config::{ListenerConfig, ListenerProtocol};

use crate::handler::accesslog::AccessLog;
use crate::metrics::ListenerMetrics;
use crate::runtime::exec::LocalExec;
use crate::runtime::rng::WorkerRng;
use crate::runtime::snapshot::{ListenerRt, Snapshot};
use crate::upstream::pool::Pool;

pub struct WorkerCtx {
    /// The worker's index (0..workers): its QUIC connection IDs carry it.
    pub id: usize,
    pub access_log: Option<Arc<AccessLog>>,
    /// Shadow copies in flight on this worker.
    pub mirrors: Cell<u32>,
    shared: Arc<ArcSwap<Snapshot>>,
    /// The worker's own handle on the current snapshot: an `Rc` clone per request is a
    /// plain increment, where an `Arc` clone would be an atomic on a shared cache line.
    #[allow(clippy::redundant_allocation)]
    cached: RefCell<Rc<Arc<Snapshot>>>,
    pub pool: Rc<Pool>,
    pub rng: WorkerRng,
    /// Connections to shared rate-limit stores.
    pub stores: crate::handler::ratelimit::Stores,
}

impl WorkerCtx {
    /// The current snapshot; a cheap `Rc` clone unless a reload swapped it.
    #[allow(clippy::redundant_allocation)]
    pub fn snapshot(&self) -> Rc<Arc<Snapshot>> {
        let cur = self.shared.load();
        let mut cached = self.cached.borrow_mut();
        if !Arc::ptr_eq(&cur, &cached) {
            *cached = Rc::new(Arc::clone(&cur));
        }
        Rc::clone(&cached)
    }
}

/// One listener as seen by one worker: its name (to find it in the snapshot) and the
/// hyper connection builder configured from its limits.
pub struct ListenerCtx {
    pub name: String,
    pub protocol: ListenerProtocol,
    pub builder: http2::Builder<LocalExec>,
    pub worker: Rc<WorkerCtx>,
    pub metrics: Arc<ListenerMetrics>,
    pub gate: Arc<crate::runtime::gate::Gate>,
    pub overload: Arc<crate::runtime::overload::Overload>,
    pub limits: sluice_config::ListenerLimits,
    /// `Alt-Svc` for TCP responses when the listener also serves HTTP/3: its max age,
    /// and the header built once for the port connections arrive on.
    alt_svc_max_age: Option<u64>,
    alt_svc: std::cell::OnceCell<HeaderValue>,
}

/// hyper serves only HTTP/2 (HTTP/1.1 is `h1`'s own server), so its builder is the h2 one:
/// no HTTP/1 settings, and no second sniff of the preface `downstream::conn` already read.
fn builder(l: &ListenerConfig) -> http2::Builder<LocalExec> {
    let mut b = http2::Builder::new(LocalExec);
    let lim = &l.limits;
    b.timer(TokioTimer::new())
        .max_concurrent_streams(lim.max_concurrent_streams)
        .max_header_list_size(lim.max_header_bytes.saturating_mul(2).min(u32::MAX as usize) as u32)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        // RFC 8441: WebSocket over HTTP/2 (extended CONNECT), bridged to HTTP/1.1 upstream.
        .enable_connect_protocol();
    b
}

impl WorkerCtx {
    pub fn new(shared: Arc<ArcSwap<Snapshot>>, access_log: Option<Arc<AccessLog>>, id: usize) -> Self {
        WorkerCtx {
            id,
            access_log,
            mirrors: Cell::new(0),
            cached: RefCell::new(Rc::new(shared.load_full())),
            shared,
            pool: Rc::new(Pool::default()),
            rng: WorkerRng::new(id as u64 + 1),
            stores: Default::default(),
        }
    }
}

impl ListenerCtx {
    pub fn new(name: &str, lc: &ListenerRt, worker: Rc<WorkerCtx>) -> Self {
        ListenerCtx {
            name: name.to_string(),
            protocol: lc.config.protocol,
            builder: builder(&lc.config),
            worker,
            metrics: Arc::clone(&lc.metrics),
            gate: Arc::clone(&lc.gate),
            overload: Arc::clone(&lc.overload),
            limits: lc.config.limits,
            alt_svc_max_age: lc.quic.as_ref().and(lc.config.http3.as_ref()).map(|h| h.alt_svc_max_age.as_secs()),
            alt_svc: std::cell::OnceCell::new(),
        }
    }

    /// `Alt-Svc: h3=":PORT"; ma=SECONDS` for a response on a TCP connection that reached
    /// `port`, when the listener serves HTTP/3 there (RFC 7838).
    pub fn alt_svc(&self, port: u16) -> Option<&HeaderValue> {
        let ma = self.alt_svc_max_age?;
        Some(self.alt_svc.get_or_init(|| {
            HeaderValue::from_str(&format!("h3=\":{port}\"; ma={ma}")).unwrap_or(HeaderValue::from_static("clear"))
        }))
    }
}
