//! Unit tests of the `/metrics` encoder.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use sluice_proxy::metrics::Store;

use super::render;

#[test]
fn renders_counts_statuses_and_cumulative_buckets() {
    let s = Arc::new(Store::default());
    let l = s.listener("web");
    l.connections.fetch_add(3, Relaxed);
    l.responses.inc(200);
    l.responses.inc(200);
    l.responses.inc(503);
    l.duration.observe_ns(2_000_000);
    l.duration.observe_ns(200_000_000);
    s.cluster("api").retries.fetch_add(1, Relaxed);
    let t = render(&s, &Default::default(), &Default::default(), None);
    assert!(t.contains("sluice_connections_total{listener=\"web\"} 3"), "{t}");
    assert!(t.contains("sluice_listener_responses_total{listener=\"web\",code=\"200\",class=\"2xx\"} 2"), "{t}");
    assert!(t.contains("sluice_listener_responses_total{listener=\"web\",code=\"503\",class=\"5xx\"} 1"), "{t}");
    assert!(
        t.contains("sluice_request_duration_seconds_bucket{le=\"0.0025\",listener=\"web\"} 1")
            || t.contains("sluice_request_duration_seconds_bucket{listener=\"web\",le=\"0.0025\"} 1"),
        "{t}"
    );
    assert!(t.contains("sluice_request_duration_seconds_count{listener=\"web\"} 2"), "{t}");
    assert!(t.contains("sluice_retries_total{cluster=\"api\"} 1"), "{t}");
    assert!(t.ends_with("# EOF\n"));
}
