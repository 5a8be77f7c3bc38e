//! Cluster validation: upstream protocol, endpoint list (addresses, weights
//! that do not sum to 0, no duplicates), upstream timeouts and the keep-alive pool.

use crate::checker::V;
use crate::discovery::{Named, NamedEndpoint};
use crate::file::*;
use crate::model::*;

pub fn cluster(v: &mut V, name: &S<String>, c: &FileCluster) -> Option<ClusterConfig> {
    let path = format!("clusters.{}", name.get_ref());
    let bal = crate::validate_balance::balance(v, c, &path);
    let send_proxy_protocol = match c.send_proxy_protocol.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None => None,
        Some((_, "v1")) => Some(ProxyProtocolVersion::V1),
        Some((_, "v2")) => Some(ProxyProtocolVersion::V2),
        Some((s, other)) => {
            v.err(
                s.span(),
                &format!("{path}.send_proxy_protocol"),
                format!("unknown version `{other}`"),
                Some("v1 or v2"),
            );
            None
        }
    };
    let (protocol, tls) = match c.protocol.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "http1" | "http")) => (UpstreamProtocol::Http1, false),
        Some((_, "h2c")) => (UpstreamProtocol::H2, false),
        Some((_, "https")) => (UpstreamProtocol::Http1, true),
        Some((_, "h2")) => (UpstreamProtocol::H2, true),
        Some((p, other)) => {
            v.err(
                p.span(),
                &format!("{path}.protocol"),
                format!("unknown upstream protocol `{other}`"),
                Some("one of: http1, h2c, https, h2"),
            );
            (UpstreamProtocol::Http1, false)
        }
    };
    if let (Some(t), false) = (&c.tls, tls) {
        let hint = Some("protocol = \"https\" (HTTP/1.1 over TLS) or \"h2\" (HTTP/2 over TLS)");
        v.err(t.span(), &format!("{path}.tls"), "tls settings on a clear-text cluster", hint);
    }
    let tls = if tls { crate::validate_tls::upstream_tls(v, c.tls.as_ref(), &path) } else { None };
    let (endpoints, names) = endpoints(v, c, &path);
    let discovery = crate::discovery::discovery(v, names, c.discovery.as_ref(), &path);
    let d = ClusterTimeouts::default();
    let timeouts = match &c.timeouts {
        None => d,
        Some(t) => ClusterTimeouts {
            connect: v.timeout(&t.connect, &format!("{path}.timeouts.connect"), d.connect),
            response: v.timeout(&t.response, &format!("{path}.timeouts.response"), d.response),
        },
    };
    let pool = pool(v, c.pool.as_ref(), &path);
    let health = c.health.as_ref().and_then(|h| crate::validate_resilience::health(v, h, &path));
    let outlier = c.outlier.as_ref().map(|o| crate::validate_resilience::outlier(v, o, &path));
    let retries = c.retries.as_ref().map(|r| crate::validate_resilience::retries(v, r, &path));
    let breaker = c.breaker.as_ref().map(|b| crate::validate_resilience::breaker(v, b, &path));
    let limits = c.limits.as_ref().map(|l| crate::validate_resilience::limits(v, l, &path)).unwrap_or_default();
    Some(ClusterConfig {
        name: name.get_ref().clone(),
        send_proxy_protocol,
        balance: bal.balance,
        hash_key: bal.hash_key,
        balance_options: bal.options,
        sticky: bal.sticky,
        protocol,
        endpoints,
        timeouts,
        pool,
        health,
        outlier,
        retries,
        limits,
        breaker,
        tls,
        discovery,
        resolved: Vec::new(),
    })
}

fn endpoints(v: &mut V, c: &FileCluster, path: &str) -> (Vec<EndpointConfig>, Vec<NamedEndpoint>) {
    let mut out: Vec<EndpointConfig> = Vec::new();
    let mut names = Vec::new();
    for (i, e) in c.endpoints.get_ref().iter().enumerate() {
        let p = format!("{path}.endpoints[{i}]");
        let (addr, srv, weight, backup) = match e.get_ref() {
            FileEndpoint::Addr(a) => (Some(a.as_str()), None, 1, false),
            FileEndpoint::Full(f) => {
                (f.addr.as_deref(), f.srv.as_deref(), f.weight.unwrap_or(1), f.backup.unwrap_or(false))
            }
        };
        let named = match (addr, srv) {
            (Some(_), Some(_)) | (None, None) => {
                v.err(
                    e.span(),
                    &p,
                    "give `addr` or `srv`",
                    Some("{ addr = \"10.0.0.1:8080\" } or { srv = \"_http._tcp.app.svc\" }"),
                );
                continue;
            }
            (None, Some(s)) if crate::discovery::is_dns_name(s) => Some(Named::Srv(s.to_ascii_lowercase())),
            (None, Some(s)) => {
                v.err(e.span(), &format!("{p}.srv"), format!("`{s}` is not a DNS name"), None);
                continue;
            }
            (Some(a), None) if a.parse::<std::net::SocketAddr>().is_err() => match crate::discovery::host_port(a) {
                Some((name, port)) => Some(Named::Host { name, port }),
                None => {
                    let hint = Some(
                        "an IP and a port, like \"10.0.0.1:8080\", or a DNS name and a port, like \"app.svc:8080\"",
                    );
                    v.err(e.span(), &p, format!("`{a}` is not a socket address"), hint);
                    continue;
                }
            },
            (Some(_), None) => None,
        };
        if !(0..=1_000_000).contains(&weight) {
            v.err(
                e.span(),
                &format!("{p}.weight"),
                format!("weight {weight} is out of range"),
                Some("must be 0..=1000000"),
            );
            continue;
        }
        if let Some(what) = named {
            names.push(NamedEndpoint { what, weight: weight as u32, backup });
            continue;
        }
        let Some(Ok(addr)) = addr.map(str::parse) else { continue };
        if out.iter().any(|o| o.addr == addr) {
            v.err(e.span(), &p, format!("endpoint {addr} is listed twice"), None);
            continue;
        }
        out.push(EndpointConfig { addr, weight: weight as u32, backup });
    }
    let primaries = out.iter().filter(|e| !e.backup);
    if !out.is_empty() && primaries.clone().count() > 0 && primaries.map(|e| e.weight).sum::<u32>() == 0 {
        v.err(
            c.endpoints.span(),
            &format!("{path}.endpoints"),
            "endpoint weights sum to 0",
            Some("give at least one endpoint a weight above 0"),
        );
    }
    (out, names)
}

fn pool(v: &mut V, p: Option<&FilePool>, path: &str) -> PoolConfig {
    let d = PoolConfig::default();
    let Some(p) = p else { return d };
    PoolConfig {
        max_idle: v.int(&p.max_idle, &format!("{path}.pool.max_idle"), 0, 100_000, d.max_idle as i64) as usize,
        idle_timeout: v.timeout(&p.idle_timeout, &format!("{path}.pool.idle_timeout"), d.idle_timeout),
        max_requests: v.int(&p.max_requests, &format!("{path}.pool.max_requests"), 0, i64::MAX, 0) as u64,
    }
}
