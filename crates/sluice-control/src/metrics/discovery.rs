//! DNS service discovery as OpenMetrics: resolutions by result, set changes, and the
//! endpoints each cluster's names resolve to now.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::encode::{counter, gauge};
use crate::discovery::DiscoveryStats;

#[derive(Debug)]
pub(super) struct DiscoveryCollector(pub Arc<DiscoveryStats>);

impl prometheus_client::collector::Collector for DiscoveryCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let all = self.0.all();
        let rows = all.iter().flat_map(|(n, c)| {
            let failed = c.failures.load(Relaxed);
            [("ok", c.resolutions.load(Relaxed).saturating_sub(failed)), ("failed", failed)]
                .map(|(r, v)| (vec![("cluster", n.clone()), ("result", r.to_string())], v))
        });
        counter(&mut e, "discovery_resolutions", "Resolutions of a cluster's named endpoints, by result", rows)?;
        let l = |n: &str| vec![("cluster", n.to_string())];
        counter(
            &mut e,
            "discovery_changes",
            "Times a cluster's discovered endpoint set changed",
            all.iter().map(|(n, c)| (l(n), c.changes.load(Relaxed))),
        )?;
        gauge(
            &mut e,
            "discovery_endpoints",
            "Endpoints a cluster's names resolve to now",
            all.iter().map(|(n, c)| (l(n), c.endpoints.load(Relaxed) as f64)),
        )
    }
}
