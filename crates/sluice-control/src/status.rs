//! The `/status` document: listeners and their routes, clusters with their breaker and
//! connections, every endpoint's state, load and counters, and the last reload.

use serde_json::{json, Value};
use sluice_config::RouteTarget;

use crate::reload::ReloadStatus;
use sluice_proxy::runtime::snapshot::Snapshot;

pub fn status(snap: &Snapshot, reload: &ReloadStatus) -> Value {
    let listeners: Vec<Value> = snap
        .listeners
        .iter()
        .map(|l| {
            let routes: Vec<Value> = l
                .routes
                .iter()
                .map(|r| match &r.config.target {
                    RouteTarget::Cluster(c) => json!({ "cluster": c }),
                    RouteTarget::Respond { status, .. } => json!({ "respond": status }),
                    RouteTarget::Split(s) => json!({ "split": s.iter().map(|(c, w)| json!({"cluster": c, "weight": w})).collect::<Vec<_>>() }),
                })
                .collect();
            let mix: serde_json::Map<String, Value> =
                crate::metrics::quic::protocol_mix(&l.metrics).iter().map(|(p, n)| (p.to_string(), json!(n))).collect();
            json!({
                "name": l.config.name, "bind": l.config.bind.to_string(), "routes": routes,
                "http3": l.quic.is_some(), "protocols": mix,
            })
        })
        .collect();
    let mut clusters = serde_json::Map::new();
    for (name, c) in &snap.clusters {
        let eps: Vec<Value> = c
            .balancer
            .endpoints()
            .iter()
            .map(|e| {
                let pct = e.recent.percentiles(sluice_proxy::runtime::clock::now_ns(), 10_000_000_000);
                json!({
                    "addr": e.addr.to_string(), "state": e.health().as_str(), "weight": e.weight(),
                    "backup": e.backup, "in_flight": e.in_flight(), "requests": e.requests(), "failures": e.failures(),
                    "p50_ms": pct.map(|p| p.0 as f64 / 1e6), "p95_ms": pct.map(|p| p.1 as f64 / 1e6), "p99_ms": pct.map(|p| p.2 as f64 / 1e6),
                    "error_rate": if e.requests() == 0 { 0.0 } else { e.failures() as f64 / e.requests() as f64 },
                    "checks_ok": e.checks_ok(), "health_changes": e.health_changes(), "ejections": e.ejections(), "ewma_ms": e.ewma.estimate(sluice_proxy::runtime::clock::now_ns(), &c.config.balance_options.ewma) / 1e6,
                })
            })
            .collect();
        clusters.insert(name.clone(), json!({ "balance": c.config.balance.name(), "open_connections": c.conn_limit.open(), "breaker": format!("{:?}", c.state.breaker.state()), "endpoints": eps }));
    }
    let reload = json!({ "count": reload.count, "ok": reload.ok, "message": reload.message });
    json!({
        "now_ms": sluice_proxy::runtime::clock::now_ns() / 1_000_000, "listeners": listeners, "clusters": clusters,
        "reload": reload, "caches": crate::caches::view(snap), "certificates": crate::acme::view(snap),
    })
}
