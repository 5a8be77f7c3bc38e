//! A client connection's shared state, below everything that reads it (the protocol
//! servers, the stream wrappers, the handler, response bodies): `ConnState` (requests in
//! flight, timing for the header and idle timeouts, whether it speaks h2, the HTTP/2
//! glitch score `Calm`) and the `ActiveGuard` a request holds until its response ends.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use sluice_core::h2glitch;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::ListenerMetrics;

/// What the connection task and the request handler share about one connection. Atomics
/// (uncontended: one worker thread) so the client stream is `Send`, which hyper needs to
/// hand an upgraded (WebSocket) connection over.
pub struct ConnState {
    /// Times below are nanoseconds since `origin` (tokio time, so tests can pause it).
    pub(crate) origin: Instant,
    pub(crate) in_flight: AtomicU32,
    pub(crate) last_done: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) h2: AtomicBool,
    /// Set by the handler when the connection must close after the current response.
    pub close_requested: Notify,
    /// HTTP/2 glitch score (`h2guard`).
    pub calm: Calm,
}

/// Marks one request in flight on the connection until dropped (with the response body).
pub struct ActiveGuard(Arc<ConnState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
        self.0.last_done.store(self.0.since_origin(Instant::now()), Relaxed);
    }
}

impl ConnState {
    pub fn new() -> Self {
        ConnState {
            origin: Instant::now(),
            in_flight: AtomicU32::new(0),
            last_done: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            close_requested: Notify::new(),
            calm: Calm::new(sluice_config::ListenerLimits::default().h2_max_glitches),
        }
    }

    pub(crate) fn since_origin(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    pub(crate) fn at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    /// Called by the handler when a request arrives; returns its guard and ordinal (1-based).
    pub fn begin_request(self: &Arc<Self>) -> (ActiveGuard, u64) {
        self.in_flight.fetch_add(1, Relaxed);
        let n = self.requests.fetch_add(1, Relaxed) + 1;
        (ActiveGuard(Arc::clone(self)), n)
    }

    /// Marks a connection that multiplexes requests (HTTP/3): it is treated as HTTP/2 is
    /// (stream counting, glitch budget, header map only).
    pub fn set_multiplexed(&self) {
        self.h2.store(true, Relaxed);
    }

    /// Whether requests are multiplexed on this connection (HTTP/2 or HTTP/3).
    pub fn is_h2(&self) -> bool {
        self.h2.load(Relaxed)
    }

    /// Bytes the client sent (decrypted), seen by `stream::Tracked` on hyper's h2 path:
    /// the preface marks the connection as h2 (until then the header timeout applies).
    pub(crate) fn on_read(&self, data: &[u8]) {
        if self.requests.load(Relaxed) == 0 && data.starts_with(b"PRI * HTTP/2.0") {
            self.h2.store(true, Relaxed);
        }
    }
}

/// One connection's glitch score against its listener's `h2_max_glitches`.
pub struct Calm {
    score: AtomicU32,
    max: u32,
    tripped: AtomicBool,
    /// Wakes the connection task when a stream trips the limit, so the GOAWAY goes out.
    pub tripped_now: Notify,
}

impl Calm {
    pub fn new(max: u32) -> Self {
        Calm { score: AtomicU32::new(0), max, tripped: AtomicBool::new(false), tripped_now: Notify::new() }
    }

    /// Adds `n` glitches; true once the connection is over its budget (for good).
    pub fn add(&self, n: u32, metrics: &ListenerMetrics) -> bool {
        metrics.h2_glitches.fetch_add(u64::from(n), Relaxed);
        let before = self.score.fetch_update(Relaxed, Relaxed, |s| Some(h2glitch::score_after_glitches(s, n)));
        let score = h2glitch::score_after_glitches(before.unwrap_or(0), n);
        if h2glitch::over_budget(score, self.max) && !self.tripped.swap(true, Relaxed) {
            metrics.h2_calm_closes.fetch_add(1, Relaxed);
            self.tripped_now.notify_one();
        }
        self.is_tripped()
    }

    /// A stream answered normally forgives half a glitch.
    pub fn answered(&self) {
        let _ = self.score.fetch_update(Relaxed, Relaxed, |s| (s > 0).then(|| h2glitch::score_after_answer(s)));
    }

    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Relaxed)
    }
}
