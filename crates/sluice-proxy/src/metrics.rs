//! Golden-signal metrics (appendix C) with a lock-free hot path: every counter and
//! histogram is a plain atomic held by the snapshot objects that record into it. The
//! handles live in a store keyed by listener / route / cluster name, so they survive
//! reloads; `/metrics` walks the store and encodes OpenMetrics text with prometheus-client.
//! Labels are bounded: names from the config, status codes, and fixed reasons.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::registry::Registry;

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

    fn encode(&self, mut e: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut acc = 0;
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                acc += c.load(Relaxed);
                (*b, acc)
            })
            .collect();
        e.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum_ns.load(Relaxed) as f64 / 1e9,
            acc,
            &buckets,
            None,
        )
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

    fn nonzero(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
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
    listeners: Mutex<BTreeMap<String, Arc<ListenerMetrics>>>,
    routes: Mutex<BTreeMap<(String, usize), Arc<RouteMetrics>>>,
    clusters: Mutex<BTreeMap<String, Arc<ClusterMetrics>>>,
    gates: Mutex<BTreeMap<String, Arc<crate::runtime::gate::Gate>>>,
    tls: Mutex<BTreeMap<String, Arc<crate::downstream::tls_sessions::TlsSessions>>>,
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

    /// The OpenMetrics text of everything recorded so far.
    pub fn render(self: &Arc<Self>) -> String {
        let mut reg = Registry::with_prefix("sluice");
        reg.register_collector(Box::new(Collector(Arc::clone(self))));
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

#[derive(Debug)]
struct Collector(Arc<Store>);

type Labels = Vec<(&'static str, String)>;

fn class(code: u16) -> String {
    format!("{}xx", code / 100)
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ls: Vec<(String, Arc<ListenerMetrics>)> =
            lock(&self.0.listeners).iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect();
        let rs: Vec<((String, usize), Arc<RouteMetrics>)> =
            lock(&self.0.routes).iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect();
        let cs: Vec<(String, Arc<ClusterMetrics>)> =
            lock(&self.0.clusters).iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect();
        let l = |n: &str| vec![("listener", n.to_string())];
        let c = |n: &str| vec![("cluster", n.to_string())];
        gauge(
            &mut e,
            "connections_active",
            "Open client connections",
            ls.iter().map(|(n, m)| (l(n), m.connections_active.load(Relaxed) as f64)),
        )?;
        counter(
            &mut e,
            "connections",
            "Accepted client connections",
            ls.iter().map(|(n, m)| (l(n), m.connections.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "accept_errors",
            "Failed accepts",
            ls.iter().map(|(n, m)| (l(n), m.accept_errors.load(Relaxed))),
        )?;
        let statuses = |labels: Labels, s: &Statuses| -> Vec<(Labels, u64)> {
            s.nonzero()
                .map(|(code, n)| {
                    let mut x = labels.clone();
                    x.push(("code", code.to_string()));
                    x.push(("class", class(code)));
                    (x, n)
                })
                .collect()
        };
        counter(
            &mut e,
            "listener_responses",
            "Responses by listener and status",
            ls.iter().flat_map(|(n, m)| statuses(l(n), &m.responses)),
        )?;
        counter(
            &mut e,
            "route_responses",
            "Responses by route (listener, index) and status",
            rs.iter().flat_map(|((n, i), m)| {
                statuses(vec![("listener", n.clone()), ("route", i.to_string())], &m.responses)
            }),
        )?;
        counter(
            &mut e,
            "cluster_responses",
            "Upstream responses relayed, by cluster and status",
            cs.iter().flat_map(|(n, m)| statuses(c(n), &m.responses)),
        )?;
        route_policy(&mut e, &rs)?;
        hist(
            &mut e,
            "request_duration_seconds",
            "Total request time, first byte in to last byte out",
            ls.iter().map(|(n, m)| (l(n), &m.duration)),
        )?;
        hist(&mut e, "ttfb_seconds", "Time to the response head", ls.iter().map(|(n, m)| (l(n), &m.ttfb)))?;
        hist(&mut e, "tls_handshake_seconds", "TLS handshake time", ls.iter().map(|(n, m)| (l(n), &m.tls_handshake)))?;
        counter(
            &mut e,
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            ls.iter().map(|(n, m)| (l(n), m.tls_failed.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "listener_rate_limited",
            "Requests refused by the listener's rate limit (429)",
            ls.iter().map(|(n, m)| (l(n), m.limit.rate_limited.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "listener_rate_limit_store_errors",
            "Shared listener rate-limit checks answered by the fallback because the store failed",
            ls.iter().map(|(n, m)| (l(n), m.limit.store_errors.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "h2_glitches",
            "HTTP/2 protocol glitches (premature resets, empty DATA, tiny CONTINUATION, control floods)",
            ls.iter().map(|(n, m)| (l(n), m.h2_glitches.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "h2_glitch_closes",
            "HTTP/2 connections closed with GOAWAY(ENHANCE_YOUR_CALM) past h2_max_glitches",
            ls.iter().map(|(n, m)| (l(n), m.h2_calm_closes.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "upgrades",
            "Upgraded connections (WebSocket)",
            ls.iter().map(|(n, m)| (l(n), m.upgrades.load(Relaxed))),
        )?;
        gauge(
            &mut e,
            "tunnels_active",
            "Upgraded connections open now",
            ls.iter().map(|(n, m)| (l(n), m.tunnels_active.load(Relaxed) as f64)),
        )?;
        counter(
            &mut e,
            "tls_resumptions",
            "TLS handshakes that resumed a session (ticket or cache)",
            ls.iter().map(|(n, m)| (l(n), m.tls_resumed.load(Relaxed))),
        )?;
        hist(
            &mut e,
            "upstream_connect_seconds",
            "Upstream connect time",
            cs.iter().map(|(n, m)| (c(n), &m.upstream_connect)),
        )?;
        hist(
            &mut e,
            "upstream_ttfb_seconds",
            "Upstream time to response head, per try",
            cs.iter().map(|(n, m)| (c(n), &m.upstream_ttfb)),
        )?;
        hist(&mut e, "queue_wait_seconds", "Wait for a bulkhead slot", cs.iter().map(|(n, m)| (c(n), &m.queue_wait)))?;
        let cc = |f: fn(&ClusterMetrics) -> &AtomicU64| {
            cs.iter().map(move |(n, m)| (c(n), f(m).load(Relaxed))).collect::<Vec<_>>()
        };
        counter(&mut e, "upstream_connections_created", "New upstream connections", cc(|m| &m.connections_created))?;
        counter(
            &mut e,
            "upstream_connections_reused",
            "Requests on a pooled upstream connection",
            cc(|m| &m.connections_reused),
        )?;
        counter(&mut e, "retries", "Retries sent", cc(|m| &m.retries))?;
        counter(
            &mut e,
            "retry_overflow",
            "Retries refused by the retry budget or max_retries",
            cc(|m| &m.retry_overflow),
        )?;
        counter(&mut e, "outlier_ejections", "Outlier ejections", cc(|m| &m.ejections))?;
        counter(&mut e, "breaker_opens", "Error-rate breaker openings", cc(|m| &m.breaker_opens))?;
        let shed = cs.iter().flat_map(|(n, m)| {
            [("max_requests", m.shed_limit.load(Relaxed)), ("breaker_open", m.shed_breaker.load(Relaxed))]
                .map(|(r, v)| (vec![("cluster", n.clone()), ("reason", r.to_string())], v))
        });
        counter(&mut e, "shed", "Requests refused by a circuit breaker", shed)?;
        let health = cs.iter().flat_map(|(n, m)| {
            [("pass", m.health_ok.load(Relaxed)), ("fail", m.health_failed.load(Relaxed))]
                .map(|(r, v)| (vec![("cluster", n.clone()), ("result", r.to_string())], v))
        });
        counter(&mut e, "health_checks", "Active health check results", health)?;
        counter(
            &mut e,
            "access_log_dropped",
            "Access-log lines dropped (writer behind)",
            [(Vec::new(), self.0.log_dropped.load(Relaxed))],
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[path = "metrics_encode.rs"]
mod encode;
use encode::{counter, gauge, hist, route_policy};

#[cfg(test)]
#[path = "metrics_test.rs"]
mod tests;
