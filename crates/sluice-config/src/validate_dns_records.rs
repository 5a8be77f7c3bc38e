//! A DNS record's data: A/AAAA targets answered by health (policy, cluster, region,
//! weight, priority, `min_healthy`) or static addresses; CNAME and TXT values.

use std::net::IpAddr;

use sluice_core::gslb::Policy;

use super::{name, Ctx};
use crate::checker::V;
use crate::dns_file::*;
use crate::dns_model::*;

const POLICIES: &str = "weighted, failover, geo, latency or all_healthy";

pub fn addresses(v: &mut V, r: &FileRecord, path: &str, kind: RecordKind, ctx: &Ctx) -> Option<RecordData> {
    if !r.targets.is_empty() && !r.values.is_empty() {
        v.err(
            r.name.span(),
            path,
            "a record has either targets or values, not both",
            Some("targets are answered by health; values always"),
        );
        return None;
    }
    if r.targets.is_empty() {
        if r.values.is_empty() {
            v.err(r.name.span(), path, "an A/AAAA record needs targets or values", None);
            return None;
        }
        let addrs = r.values.iter().filter_map(|a| addr(v, a, &format!("{path}.values"), kind)).collect();
        return Some(RecordData::Addrs(addrs));
    }
    let policy = match r.policy.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "all_healthy")) => Policy::AllHealthy,
        Some((_, "weighted")) => Policy::Weighted,
        Some((_, "failover")) => Policy::Failover,
        Some((_, "geo")) => Policy::Geo,
        Some((_, "latency")) => Policy::Latency,
        Some((p, other)) => {
            v.err(p.span(), &format!("{path}.policy"), format!("unknown policy `{other}`"), Some(POLICIES));
            return None;
        }
    };
    let targets: Vec<TargetConfig> = r
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| target(v, t, &format!("{path}.targets[{i}]"), kind, ctx))
        .collect();
    (targets.len() == r.targets.len()).then_some(RecordData::Gslb { policy, targets })
}

fn addr(v: &mut V, a: &crate::file::S<String>, path: &str, kind: RecordKind) -> Option<IpAddr> {
    let Ok(ip) = a.get_ref().parse::<IpAddr>() else {
        v.err(a.span(), path, format!("`{}` is not an IP address", a.get_ref()), None);
        return None;
    };
    if ip.is_ipv4() != (kind == RecordKind::A) {
        let want = if kind == RecordKind::A {
            "an A record takes IPv4 addresses"
        } else {
            "an AAAA record takes IPv6 addresses"
        };
        v.err(a.span(), path, format!("`{ip}`: {want}"), None);
        return None;
    }
    Some(ip)
}

fn target(v: &mut V, t: &FileTarget, path: &str, kind: RecordKind, ctx: &Ctx) -> Option<TargetConfig> {
    let addr = addr(v, &t.addr, &format!("{path}.addr"), kind);
    if !ctx.clusters.contains(t.cluster.get_ref()) {
        let msg = format!("unknown cluster `{}`", t.cluster.get_ref());
        v.err(
            t.cluster.span(),
            &format!("{path}.cluster"),
            msg,
            Some("a target names a [clusters.NAME] whose health it follows"),
        );
        return None;
    }
    if let Some(r) = &t.region {
        if !ctx.regions.contains(r.get_ref()) {
            let hint = format!("declared in [dns.regions]: {}", ctx.regions.join(", "));
            v.err(r.span(), &format!("{path}.region"), format!("unknown region `{}`", r.get_ref()), Some(&hint));
            return None;
        }
    }
    Some(TargetConfig {
        addr: addr?,
        cluster: t.cluster.get_ref().clone(),
        region: t.region.as_ref().map(|r| r.get_ref().clone()),
        weight: v.int(&t.weight, &format!("{path}.weight"), 0, 10_000, 1) as u32,
        priority: v.int(&t.priority, &format!("{path}.priority"), 0, 255, 0) as u32,
        min_healthy: v.int(&t.min_healthy, &format!("{path}.min_healthy"), 1, 100_000, 1) as u32,
    })
}

pub fn static_data(v: &mut V, r: &FileRecord, path: &str, kind: RecordKind) -> Option<RecordData> {
    if !r.targets.is_empty() || r.policy.is_some() {
        v.err(r.name.span(), path, "CNAME and TXT records are static: `values`, no targets or policy", None);
        return None;
    }
    match kind {
        RecordKind::Cname => {
            let [one] = r.values.as_slice() else {
                v.err(
                    r.name.span(),
                    &format!("{path}.values"),
                    "a CNAME has exactly one value",
                    Some("values = [\"www.example.test\"]"),
                );
                return None;
            };
            Some(RecordData::Cname(name(v, one, &format!("{path}.values"))?))
        }
        _ => {
            if r.values.is_empty() {
                v.err(r.name.span(), &format!("{path}.values"), "a TXT record needs values", None);
                return None;
            }
            Some(RecordData::Txt(r.values.iter().map(|s| s.get_ref().clone()).collect()))
        }
    }
}
