//! `[anycast]` → `AnycastConfig`: the speaker, AS numbers, and every route's prefix (a
//! network address, host bits zero), cluster, thresholds (`min_healthy` below
//! `degraded_below`), prepends and communities, each error at its span.

use std::time::Duration;

use crate::anycast_file::*;
use crate::anycast_model::*;
use crate::checker::V;
use crate::file::S;

const DEFAULT_HOLD: Duration = Duration::from_secs(2);

pub fn anycast(v: &mut V, a: &FileAnycast, clusters: &[String]) -> Option<AnycastConfig> {
    let speaker = match a.speaker.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "exabgp")) => Speaker::ExaBgp,
        Some((s, other)) => {
            v.err(s.span(), "anycast.speaker", format!("unknown speaker `{other}`"), Some("exabgp"));
            Speaker::ExaBgp
        }
    };
    let local_as = v.int(&Some(a.local_as.clone()), "anycast.local_as", 1, i64::from(u32::MAX), 1) as u32;
    let withdraw_delay = v.timeout(&a.withdraw_delay, "anycast.withdraw_delay", Duration::from_secs(5));
    let hold = v.timeout(&a.hold, "anycast.hold", DEFAULT_HOLD);
    let next_hop = match &a.next_hop {
        None => "self".to_string(),
        Some(n) if n.get_ref() == "self" || n.get_ref().parse::<std::net::IpAddr>().is_ok() => n.get_ref().clone(),
        Some(n) => {
            v.err(
                n.span(),
                "anycast.next_hop",
                format!("`{}` is not an address", n.get_ref()),
                Some("\"self\" or an IP"),
            );
            return None;
        }
    };
    let mut routes = Vec::new();
    for (i, r) in a.routes.iter().enumerate() {
        if let Some(route) = route(v, r, &format!("anycast.routes[{i}]"), clusters, hold) {
            routes.push(route);
        }
    }
    Some(AnycastConfig { speaker, local_as, withdraw_delay, next_hop, routes })
}

fn route(v: &mut V, r: &FileAnycastRoute, path: &str, clusters: &[String], hold: Duration) -> Option<AnycastRoute> {
    let prefix = prefix(v, &r.prefix, &format!("{path}.prefix"));
    if !clusters.contains(r.cluster.get_ref()) {
        let msg = format!("unknown cluster `{}`", r.cluster.get_ref());
        v.err(
            r.cluster.span(),
            &format!("{path}.cluster"),
            msg,
            Some("a route follows the health of a [clusters.NAME]"),
        );
    }
    let min_healthy = v.int(&r.min_healthy, &format!("{path}.min_healthy"), 1, 100_000, 1) as u32;
    let degraded_below = r.degraded_below.as_ref().map(|d| {
        let n = v.int(&r.degraded_below, &format!("{path}.degraded_below"), 1, 100_000, 1) as u32;
        if n <= min_healthy {
            let msg = format!("degraded_below ({n}) must be above min_healthy ({min_healthy})");
            v.err(
                d.span(),
                &format!("{path}.degraded_below"),
                msg,
                Some("withdrawn below min_healthy, degraded between the two"),
            );
        }
        n
    });
    let as_path_prepend = v.int(&r.as_path_prepend, &format!("{path}.as_path_prepend"), 0, 10, 0) as u32;
    let communities = r.communities.iter().filter_map(|c| community(v, c, &format!("{path}.communities"))).collect();
    let hold = v.timeout(&r.hold, &format!("{path}.hold"), hold);
    Some(AnycastRoute {
        prefix: prefix?,
        cluster: r.cluster.get_ref().clone(),
        min_healthy,
        degraded_below,
        as_path_prepend,
        communities,
        hold,
    })
}

fn prefix(v: &mut V, p: &S<String>, path: &str) -> Option<sluice_core::net::Cidr> {
    let hint = Some("a network like \"203.0.113.10/32\" or \"2001:db8::/48\"");
    let Some((_, len)) = p.get_ref().split_once('/') else {
        v.err(p.span(), path, format!("`{}` has no prefix length", p.get_ref()), hint);
        return None;
    };
    match p.get_ref().parse::<sluice_core::net::Cidr>() {
        Ok(c) if c.network() == c.first_address() => Some(c),
        Ok(c) => {
            let msg = format!("`{}` has host bits set (the network is {}/{len})", p.get_ref(), c.first_address());
            v.err(p.span(), path, msg, hint);
            None
        }
        Err(e) => {
            v.err(p.span(), path, format!("{e}"), hint);
            None
        }
    }
}

fn community(v: &mut V, c: &S<String>, path: &str) -> Option<(u16, u16)> {
    let parsed = c.get_ref().split_once(':').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    if parsed.is_none() {
        let msg = format!("`{}` is not a community", c.get_ref());
        v.err(c.span(), path, msg, Some("AS:VALUE with both parts 0..=65535, like \"65000:100\""));
    }
    parsed
}
