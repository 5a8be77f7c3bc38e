//! The `/status` view of DNS: every record with its targets' health and latency and the
//! answer a query would get now (per region for `geo`; for `weighted`, the healthy set
//! one answer is drawn from). The dashboard draws it.

use serde_json::{json, Value};
use sluice_core::gslb::{self, Client, Policy};
use sluice_core::net::Cidr;
use sluice_proxy::runtime::snapshot::Snapshot;

use super::facts;
use super::zones::{EntryData, Target, Zones};

pub fn status(zones: &Zones, snap: &Snapshot, addr: std::net::SocketAddr, leaving: &[Cidr]) -> Value {
    let mut records = Vec::new();
    for z in &zones.zones {
        for e in z.entries() {
            let name =
                if e.config.name.is_empty() { z.origin.clone() } else { format!("{}.{}", e.config.name, z.origin) };
            let mut r = json!({ "name": name, "type": e.rtype.to_string(), "ttl": e.ttl });
            match &e.data {
                EntryData::Static(rd) => {
                    r["policy"] = json!("static");
                    r["answer"] = json!(rd.iter().map(ToString::to_string).collect::<Vec<_>>());
                }
                EntryData::Gslb { policy, targets } => gslb_view(zones, snap, leaving, (*policy, targets), &mut r),
            }
            records.push(r);
        }
    }
    json!({ "bind": addr.to_string(), "records": records })
}

fn gslb_view(zones: &Zones, snap: &Snapshot, leaving: &[Cidr], (policy, targets): (Policy, &[Target]), r: &mut Value) {
    let views = facts::views(snap, targets, leaving);
    let shown: Vec<Value> = targets
        .iter()
        .zip(&views)
        .map(|(t, v)| {
            json!({
                "addr": t.addr.to_string(), "cluster": t.cluster, "healthy": v.healthy,
                "region": t.region.map(|i| zones.regions.name(i).to_string()),
                "weight": t.weight, "priority": t.priority,
                "latency_ms": v.latency_ns.map(|n| n as f64 / 1e6),
            })
        })
        .collect();
    let pick = |p: Policy, c: Client<'_>| {
        let a = gslb::answer(p, &views, c, 0);
        (a.picks.iter().map(|&i| targets[i].addr.to_string()).collect::<Vec<_>>(), a.fail_open)
    };
    let shown_policy = if policy == Policy::Weighted { Policy::AllHealthy } else { policy };
    let (answer, fail_open) = pick(shown_policy, Client::default());
    r["policy"] = json!(policy.as_str());
    r["targets"] = json!(shown);
    r["answer"] = json!(answer);
    r["fail_open"] = json!(fail_open);
    if policy == Policy::Geo {
        let by_region: serde_json::Map<String, Value> = (0..zones.regions.len() as u16)
            .map(|i| {
                let c = Client { region: Some(i), nearest: &zones.nearest[usize::from(i)] };
                (zones.regions.name(i).to_string(), json!(pick(Policy::Geo, c).0))
            })
            .collect();
        r["by_region"] = Value::Object(by_region);
    }
}
