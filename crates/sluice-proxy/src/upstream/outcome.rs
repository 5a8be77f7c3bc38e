//! The one feedback path from a try to the endpoint state for L4 and L7 alike: outlier
//! detection counts the outcome and ejects when its policy says so, and every ejection is
//! counted (`outlier_ejections`) and logged the same way whichever path caused it.

use std::sync::atomic::Ordering::Relaxed;

use sluice_core::outlier::{self, Outcome};
use sluice_core::EndpointState;

use crate::runtime::snapshot::ClusterRt;

/// Feeds one outcome (at `now`, clock ns) to the cluster's outlier detection, if it has one.
pub fn feed_outlier(cluster: &ClusterRt, ep: &EndpointState, o: Outcome, now: u64) {
    let Some(policy) = cluster.config.outlier.as_ref() else {
        return;
    };
    if outlier::record(ep, o, policy) {
        if let Some(until) = outlier::try_eject(ep, cluster.balancer.endpoints(), now, policy) {
            cluster.metrics.ejections.fetch_add(1, Relaxed);
            tracing::warn!(cluster = %cluster.config.name, endpoint = %ep.addr, ejections = ep.ejections(),
                for_ms = (until - now) / 1_000_000, "outlier ejected");
        }
    }
}
