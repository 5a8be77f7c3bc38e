//! The monitor over a real snapshot: states follow the endpoints in rotation after the hold,
//! the view's version moves only on a change, and stopping withdraws at once.

use std::sync::Arc;

use serde_json::Value;
use sluice_proxy::metrics::Store;
use sluice_proxy::runtime::snapshot::{EndpointRegistry, Snapshot};

use super::Monitor;

const S: u64 = 1_000_000_000;

fn snapshot() -> Snapshot {
    let text = "[clusters.edge]\nendpoints = [\"127.0.0.1:9001\", \"127.0.0.1:9002\"]\n[anycast]\nlocal_as = 65000\n\
                [[anycast.routes]]\nprefix = \"203.0.113.10/32\"\ncluster = \"edge\"\nmin_healthy = 1\ndegraded_below = 2\n\
                as_path_prepend = 2\ncommunities = [\"65000:100\"]\n";
    let cfg = sluice_config::parse(text, "t.toml").unwrap();
    Snapshot::build(cfg, &mut EndpointRegistry::new(), &Arc::new(Store::default()))
}

fn route(m: &Monitor) -> (u64, Value) {
    let v = m.view();
    (v["version"].as_u64().unwrap(), v["routes"][0].clone())
}

#[test]
fn routes_follow_the_cluster_after_the_hold_and_withdraw_at_once_on_stop() {
    let snap = snapshot();
    let eps = snap.clusters["edge"].balancer.endpoints().to_vec();
    let m = Monitor::default();
    m.tick(&snap, 0);
    let (v1, r) = route(&m);
    assert_eq!(r["state"], "withdrawn", "not announced before the hold");
    m.tick(&snap, S);
    assert_eq!(route(&m).0, v1, "no change, same version");
    m.tick(&snap, 2 * S);
    let (v2, r) = route(&m);
    assert_eq!((r["state"].as_str(), v2), (Some("announced"), v1 + 1));
    eps[1].set_checks_ok(false);
    m.tick(&snap, 3 * S);
    assert_eq!(route(&m).1["state"], "announced", "degraded only after the hold");
    m.tick(&snap, 5 * S);
    let r = route(&m).1;
    assert_eq!(r["state"], "degraded");
    assert_eq!(r["as_path"], serde_json::json!([65000, 65000, 65000]));
    assert_eq!(r["communities"], serde_json::json!(["65000:100"]));
    eps[0].set_checks_ok(false);
    m.tick(&snap, 6 * S);
    m.tick(&snap, 8 * S);
    assert_eq!(route(&m).1["state"], "withdrawn");
    eps[0].set_checks_ok(true);
    eps[1].set_checks_ok(true);
    m.tick(&snap, 9 * S);
    m.tick(&snap, 11 * S);
    assert_eq!(route(&m).1["state"], "announced");
    m.stop_announcing();
    m.tick(&snap, 11 * S + 1);
    let v = m.view();
    assert_eq!((v["stopping"].as_bool(), v["routes"][0]["state"].as_str()), (Some(true), Some("withdrawn")));
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_returns_when_the_version_moves() {
    let snap = snapshot();
    let m = Arc::new(Monitor::default());
    m.tick(&snap, 0);
    let seen = route(&m).0;
    let waiter = {
        let m = Arc::clone(&m);
        tokio::spawn(async move { m.changed_since(seen, std::time::Duration::from_secs(20)).await })
    };
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!waiter.is_finished());
    m.tick(&snap, 2 * S);
    let v = waiter.await.unwrap();
    assert_eq!(v["version"].as_u64(), Some(seen + 1));
    let timed_out = m.changed_since(seen + 1, std::time::Duration::from_secs(20)).await;
    assert_eq!(timed_out["version"].as_u64(), Some(seen + 1), "no change: the same view after the wait");
}
