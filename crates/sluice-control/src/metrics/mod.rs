//! `/metrics`: OpenMetrics text of the data plane's metric store
//! (`sluice_proxy::metrics::Store`), encoded with prometheus-client. The data plane only
//! counts (plain atomics); naming, labels and help text live here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use sluice_proxy::metrics::{ClusterMetrics, Statuses, Store};

use crate::dns::stats::DnsStats;

mod cache;
mod certs;
mod discovery;
mod dns;
mod encode;
mod overload;
pub mod quic;
use encode::{counter, gauge, hist, route_policy, Labels};

/// The OpenMetrics text of everything recorded so far.
pub fn render(
    store: &Arc<Store>,
    dns: &Arc<DnsStats>,
    disc: &Arc<crate::discovery::DiscoveryStats>,
    snap: Option<Arc<sluice_proxy::Snapshot>>,
) -> String {
    let mut reg = Registry::with_prefix("sluice");
    if let Some(snap) = snap {
        reg.register_collector(Box::new(certs::CertCollector(snap)));
    }
    reg.register_collector(Box::new(Collector(Arc::clone(store))));
    reg.register_collector(Box::new(dns::DnsCollector(Arc::clone(dns))));
    reg.register_collector(Box::new(discovery::DiscoveryCollector(Arc::clone(disc))));
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}

#[derive(Debug)]
struct Collector(Arc<Store>);

fn class(code: u16) -> String {
    format!("{}xx", code / 100)
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ls = self.0.listeners();
        let rs = self.0.routes();
        let cs = self.0.clusters();
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
        quic::encode(&mut e, &ls)?;
        cache::encode(&mut e, &self.0.caches())?;
        overload::encode(&mut e, &self.0.overload)?;
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

#[cfg(test)]
mod tests;
