//! The HTTP/3 and protocol-mix families of `/metrics`: requests by protocol (h1, h2, h3)
//! per listener, and QUIC's own counters (connections, handshake time and failures, Retry
//! packets, refusals, 0-RTT requests and 425s, migrations).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use sluice_proxy::metrics::{ListenerMetrics, QuicMetrics};

use super::encode::{counter, hist};

type Listeners = [(String, Arc<ListenerMetrics>)];

/// Requests per protocol: h2 and h3 are counted where they arrive; HTTP/1.x is the rest of
/// the listener's answered requests.
pub fn protocol_mix(m: &ListenerMetrics) -> [(&'static str, u64); 3] {
    let total: u64 = m.responses.nonzero().map(|(_, n)| n).sum();
    let (h2, h3) = (m.h2_requests.load(Relaxed), m.h3.requests.load(Relaxed));
    [("h1", total.saturating_sub(h2 + h3)), ("h2", h2), ("h3", h3)]
}

pub fn encode(e: &mut DescriptorEncoder, ls: &Listeners) -> Result<(), std::fmt::Error> {
    let mix = ls.iter().flat_map(|(n, m)| {
        protocol_mix(m).map(|(p, v)| (vec![("listener", n.clone()), ("protocol", p.to_string())], v))
    });
    counter(e, "requests_by_protocol", "Requests by listener and protocol (h1, h2, h3)", mix)?;
    let q = |f: fn(&QuicMetrics) -> &AtomicU64| {
        ls.iter().map(move |(n, m)| (vec![("listener", n.clone())], f(&m.h3).load(Relaxed))).collect::<Vec<_>>()
    };
    counter(e, "h3_requests", "HTTP/3 requests", q(|m| &m.requests))?;
    counter(e, "h3_connections", "QUIC connections established", q(|m| &m.connections))?;
    hist(
        e,
        "h3_handshake_seconds",
        "QUIC handshake time",
        ls.iter().map(|(n, m)| (vec![("listener", n.clone())], &m.h3.handshake)),
    )?;
    counter(e, "h3_handshake_failures", "QUIC handshakes that failed or timed out", q(|m| &m.handshake_failed))?;
    counter(e, "h3_retries", "QUIC Retry packets sent (address validation)", q(|m| &m.retries))?;
    counter(e, "h3_refused", "QUIC connections refused by connection limits", q(|m| &m.refused))?;
    counter(e, "h3_early_requests", "HTTP/3 requests served from 0-RTT early data", q(|m| &m.early_requests))?;
    counter(e, "h3_too_early", "HTTP/3 requests in 0-RTT answered 425 Too Early", q(|m| &m.too_early))?;
    counter(e, "h3_migrations", "QUIC connections whose client address changed", q(|m| &m.migrations))
}
