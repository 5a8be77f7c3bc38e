//! Golden-signal metrics (appendix C) with a lock-free hot path: every counter and
//! histogram is a plain atomic held by the snapshot objects that record into it. The
//! handles live in a store keyed by listener / route / cluster name, so they survive
//! reloads; the control plane's `/metrics` (sluice-control) walks the store and encodes it.
//! Labels are bounded: names from the config, status codes, and fixed reasons.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Latency bucket bounds in seconds (0.5 ms .. 30 s).
const BOUNDS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, f64::INFINITY];

/// A histogram of durations: atomic bucket counts and sum, no lock.
#[derive(Debug, Default)]
pub struct Hist {
    counts: [AtomicU64; BOUNDS.len()],
    sum_ns: AtomicU64,
}

impl Hist {
    pub fn observe_ns(&self, ns: u64) {
        let s = ns as f64 / 1e9;
        let i = BOUNDS.iter().position(|b| s <= *b).unwrap_or(BOUNDS.len() - 1);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Cumulative bucket counts by upper bound (seconds), as OpenMetrics wants them.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        BOUNDS
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                acc += c.load(Relaxed);
                (*b, acc)
            })
            .collect()
    }

    /// The sum of everything observed, in seconds.
    pub fn sum_secs(&self) -> f64 {
        self.sum_ns.load(Relaxed) as f64 / 1e9
    }
}

/// Responses by status code (100..=599), one atomic each.
#[derive(Debug)]
pub struct Statuses(Box<[AtomicU64]>);

impl Default for Statuses {
    fn default() -> Self {
        Statuses((0..600).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Statuses {
    pub fn inc(&self, code: u16) {
        if let Some(c) = self.0.get(usize::from(code)) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub fn get(&self, code: u16) -> u64 {
        self.0.get(usize::from(code)).map_or(0, |c| c.load(Relaxed))
    }

    /// The codes seen at least once, with their counts.
    pub fn nonzero(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.0.iter().enumerate().map(|(i, c)| (i as u16, c.load(Relaxed))).filter(|(_, n)| *n > 0)
    }
}

#[derive(Debug, Default)]
pub struct ListenerMetrics {
    pub connections_active: AtomicI64,
    /// TCP listeners: bytes relayed client→upstream and back.
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Connections refused by `max_connections`, `max_connections_per_ip`,
    /// `accept_rate_per_ip` (UDP: new flows over the table size count as `max_connections`).
    pub connections_refused: AtomicU64,
    pub refused_per_ip: AtomicU64,
    pub refused_rate: AtomicU64,
    pub connections: AtomicU64,
    pub accept_errors: AtomicU64,
    pub responses: Statuses,
    pub duration: Hist,
    pub ttfb: Hist,
    /// TLS handshakes: time to complete, failures, and how many resumed a session.
    pub tls_handshake: Hist,
    pub tls_failed: AtomicU64,
    pub tls_resumed: AtomicU64,
    /// Upgraded connections (WebSocket): started, and open now.
    pub upgrades: AtomicU64,
    pub tunnels_active: AtomicI64,
    /// HTTP/2 protocol glitches counted (`h2_max_glitches`), and the connections closed
    /// with GOAWAY(ENHANCE_YOUR_CALM) for them.
    pub h2_glitches: AtomicU64,
    pub h2_calm_closes: AtomicU64,
    /// The listener's own rate limit.
    pub limit: Arc<LimitCounters>,
    /// Requests that came over HTTP/2 (HTTP/1.x is the rest of `responses`).
    pub h2_requests: AtomicU64,
    pub h3: QuicMetrics,
}

/// HTTP/3 on a listener: connections and their handshakes, the address-validation and
/// 0-RTT decisions, and clients that moved to a new address.
#[derive(Debug, Default)]
pub struct QuicMetrics {
    pub requests: AtomicU64,
    pub connections: AtomicU64,
    pub handshake: Hist,
    pub handshake_failed: AtomicU64,
    /// Retry packets sent (address validation before any state is kept).
    pub retries: AtomicU64,
    /// New connections refused by the listener's connection limits.
    pub refused: AtomicU64,
    /// Requests served from 0-RTT early data, and unsafe ones answered 425 Too Early.
    pub early_requests: AtomicU64,
    pub too_early: AtomicU64,
    /// Connections whose client address changed (migration, NAT rebinding).
    pub migrations: AtomicU64,
}

/// A rate limit's counters: refusals, and shared-limit checks decided by the fallback
/// because the store failed.
#[derive(Debug, Default)]
pub struct LimitCounters {
    pub rate_limited: AtomicU64,
    pub store_errors: AtomicU64,
}

#[derive(Debug, Default)]
pub struct RouteMetrics {
    pub responses: Statuses,
    pub limit: Arc<LimitCounters>,
    /// Shadow copies sent, and dropped (body over the limit, or too many in flight).
    pub mirrored: AtomicU64,
    pub mirror_dropped: AtomicU64,
}

#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub responses: Statuses,
    pub upstream_connect: Hist,
    pub upstream_ttfb: Hist,
    pub queue_wait: Hist,
    pub connections_created: AtomicU64,
    pub connections_reused: AtomicU64,
    pub retries: AtomicU64,
    /// Retries the policy wanted but the retry budget (or `max_retries`) refused.
    pub retry_overflow: AtomicU64,
    pub ejections: AtomicU64,
    pub breaker_opens: AtomicU64,
    pub shed_limit: AtomicU64,
    pub shed_breaker: AtomicU64,
    pub health_ok: AtomicU64,
    pub health_failed: AtomicU64,
}

/// Metric handles by name, kept across reloads.
#[derive(Debug, Default)]
pub struct Store {
    /// Access-log lines dropped because the writer fell behind.
    pub log_dropped: Arc<AtomicU64>,
    /// Certificates and challenge answers from `[acme]` (kept across reloads).
    pub acme: Arc<crate::downstream::acme::AcmeStore>,
    /// The overload manager's level and the process-wide connection count.
    pub overload: Arc<crate::runtime::overload::Overload>,
    listeners: Mutex<BTreeMap<String, Arc<ListenerMetrics>>>,
    routes: Mutex<BTreeMap<(String, usize), Arc<RouteMetrics>>>,
    clusters: Mutex<BTreeMap<String, Arc<ClusterMetrics>>>,
    gates: Mutex<BTreeMap<String, Arc<crate::runtime::gate::Gate>>>,
    tls: Mutex<BTreeMap<String, Arc<crate::downstream::tls_sessions::TlsSessions>>>,
    quic: Mutex<BTreeMap<String, Arc<crate::downstream::h3::config::QuicKeys>>>,
    caches: Mutex<BTreeMap<String, Arc<crate::cache::CacheStore>>>,
    cluster_states: Mutex<BTreeMap<String, Arc<crate::runtime::cluster_state::ClusterState>>>,
}

fn get<K: Ord + Clone, V: Default>(m: &Mutex<BTreeMap<K, Arc<V>>>, k: &K) -> Arc<V> {
    let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(g.entry(k.clone()).or_default())
}

impl Store {
    pub fn listener(&self, name: &str) -> Arc<ListenerMetrics> {
        get(&self.listeners, &name.to_string())
    }
    pub fn route(&self, listener: &str, index: usize) -> Arc<RouteMetrics> {
        get(&self.routes, &(listener.to_string(), index))
    }
    pub fn cluster(&self, name: &str) -> Arc<ClusterMetrics> {
        get(&self.clusters, &name.to_string())
    }
    /// A listener's connection-limit state (kept across reloads like the metrics).
    pub fn gate(&self, listener: &str) -> Arc<crate::runtime::gate::Gate> {
        get(&self.gates, &listener.to_string())
    }
    /// A cluster's breaker, retry budget, bulkhead and connection count (kept across reloads).
    pub fn cluster_state(&self, name: &str) -> Arc<crate::runtime::cluster_state::ClusterState> {
        get(&self.cluster_states, &name.to_string())
    }
    /// A listener's TLS ticket keys and session cache (kept across reloads).
    pub fn tls_sessions(&self, listener: &str) -> Arc<crate::downstream::tls_sessions::TlsSessions> {
        get(&self.tls, &listener.to_string())
    }

    /// A listener's QUIC token key (kept across reloads, shared by its workers).
    pub fn quic_keys(&self, listener: &str) -> Arc<crate::downstream::h3::config::QuicKeys> {
        get(&self.quic, &listener.to_string())
    }

    /// A cache store by name: the one kept from before the reload while its sizes stay
    /// (its entries and counters survive), a new empty one otherwise.
    pub fn cache_store(&self, cfg: &sluice_config::CacheConfig) -> Arc<crate::cache::CacheStore> {
        let mut g = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        match g.get(&cfg.name) {
            Some(s) if s.config == *cfg => Arc::clone(s),
            _ => {
                let s = Arc::new(crate::cache::CacheStore::new(cfg.clone()));
                g.insert(cfg.name.clone(), Arc::clone(&s));
                s
            }
        }
    }

    /// Every cache store, by name.
    pub fn caches(&self) -> Vec<(String, Arc<crate::cache::CacheStore>)> {
        entries(&self.caches)
    }

    /// Every listener's handles, by name (a copy of the map: the lock is held only to copy).
    pub fn listeners(&self) -> Vec<(String, Arc<ListenerMetrics>)> {
        entries(&self.listeners)
    }
    /// Every route's handles, by (listener, index).
    pub fn routes(&self) -> Vec<((String, usize), Arc<RouteMetrics>)> {
        entries(&self.routes)
    }
    /// Every cluster's handles, by name.
    pub fn clusters(&self) -> Vec<(String, Arc<ClusterMetrics>)> {
        entries(&self.clusters)
    }
}

fn entries<K: Clone, V>(m: &Mutex<BTreeMap<K, Arc<V>>>) -> Vec<(K, Arc<V>)> {
    let g = m.lock().unwrap_or_else(|p| p.into_inner());
    g.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
}

#[cfg(test)]
#[path = "metrics_test.rs"]
mod tests;
