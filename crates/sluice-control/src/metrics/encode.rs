//! OpenMetrics encoding helpers for `metrics/mod.rs`: counter, gauge and histogram
//! families from (labels, value) rows, and the per-route policy counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use sluice_proxy::metrics::{Hist, RouteMetrics};

/// A metric family's labels, in order.
pub(super) type Labels = Vec<(&'static str, String)>;

/// Rate-limit and mirroring counters per route.
pub(super) fn route_policy(
    e: &mut DescriptorEncoder,
    rs: &[((String, usize), Arc<RouteMetrics>)],
) -> Result<(), std::fmt::Error> {
    let rc = |f: fn(&RouteMetrics) -> &AtomicU64| {
        rs.iter().map(move |((n, i), m)| (vec![("listener", n.clone()), ("route", i.to_string())], f(m).load(Relaxed)))
    };
    counter(
        e,
        "route_rate_limited",
        "Requests refused by the route's rate limit (429)",
        rc(|m| &m.limit.rate_limited),
    )?;
    counter(
        e,
        "route_rate_limit_store_errors",
        "Shared rate-limit checks answered by the fallback because the store failed",
        rc(|m| &m.limit.store_errors),
    )?;
    counter(e, "route_mirrored", "Shadow copies sent", rc(|m| &m.mirrored))?;
    counter(
        e,
        "route_mirror_dropped",
        "Shadow copies dropped (in-flight cap, body over the limit)",
        rc(|m| &m.mirror_dropped),
    )
}

pub(super) fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

pub(super) fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

pub(super) fn hist<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, &'a Hist)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in rows {
        m.encode_family(&labels)?.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            h.sum_secs(),
            h.count(),
            &h.cumulative(),
            None,
        )?;
    }
    Ok(())
}
