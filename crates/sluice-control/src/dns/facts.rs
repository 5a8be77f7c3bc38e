//! What a DNS answer needs to know of each target's cluster, read from the shared
//! endpoint state through the current snapshot: how many endpoints are in rotation
//! (health checks, ejection, drain and weight all count — the same test the balancers
//! use) and its latency (the smoothed health-check round trip, else peak-EWMA). While the
//! instance leaves, targets at its own addresses count as unhealthy.

use sluice_core::gslb::TargetView;
use sluice_core::net::Cidr;
use sluice_proxy::runtime::clock;
use sluice_proxy::runtime::snapshot::Snapshot;

use super::zones::Target;

/// A cluster's endpoints in rotation now, and its lowest measured latency among them.
pub fn cluster(snap: &Snapshot, name: &str) -> (u32, Option<u64>) {
    let Some(c) = snap.clusters.get(name) else { return (0, None) };
    let now = clock::now_ns();
    let mut best: Option<u64> = None;
    for e in c.balancer.endpoints().iter().filter(|e| e.is_available()) {
        let lat = e
            .check_rtt_ns()
            .or_else(|| e.ewma.observed().then(|| e.ewma.estimate(now, &c.config.balance_options.ewma) as u64));
        if let Some(l) = lat {
            best = Some(best.map_or(l, |b| b.min(l)));
        }
    }
    (c.balancer.in_rotation(), best)
}

/// The view of each target the answer policy decides on; `leaving` holds this instance's
/// own addresses while it stops (empty otherwise).
pub fn views(snap: &Snapshot, targets: &[Target], leaving: &[Cidr]) -> Vec<TargetView> {
    targets
        .iter()
        .map(|t| {
            let (up, latency_ns) = cluster(snap, &t.cluster);
            TargetView {
                healthy: up >= t.min_healthy && !leaving.iter().any(|c| c.contains(t.addr)),
                region: t.region,
                weight: t.weight,
                priority: t.priority,
                latency_ns,
            }
        })
        .collect()
}
