//! File -> Config: applies defaults and checks everything a typo could break, collecting
//! every problem (with its span) instead of stopping at the first. Listener and top-level
//! checks live here; routes and clusters have their own modules.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::checker::V;
use crate::diag::Sink;
use crate::file::*;
use crate::model::*;

pub fn validate(fc: FileConfig, sink: &mut Sink<'_>, base: std::path::PathBuf) -> Option<Config> {
    let mut v = V { sink, base };
    let cluster_names: Vec<String> = fc.clusters.keys().map(|k| k.get_ref().clone()).collect();
    let default_workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let workers = v.int(&fc.workers, "workers", 1, 1024, default_workers) as usize;
    let drain_timeout = v.timeout(&fc.drain_timeout, "drain_timeout", DEFAULT_DRAIN_TIMEOUT);
    let admin = fc.admin.as_ref().and_then(|a| admin(&mut v, a));
    let access_log = fc.access_log.as_ref().and_then(|a| access_log(&mut v, a));
    let mut listeners = Vec::new();
    let mut binds: Vec<(SocketAddr, String)> = admin.iter().map(|a| (a.bind, "admin".to_string())).collect();
    let mut in_file_order: Vec<_> = fc.listeners.iter().collect();
    in_file_order.sort_by_key(|(name, _)| name.span().start);
    for (name, fl) in in_file_order {
        let path = format!("listeners.{}", name.get_ref());
        if let Some(l) = listener(&mut v, name.get_ref(), fl, &path, &cluster_names) {
            check_bind_clash(&mut v, &mut binds, l.bind, fl, &path);
            listeners.push(l);
        }
    }
    let mut clusters = BTreeMap::new();
    for (name, fcl) in &fc.clusters {
        if let Some(c) = crate::validate_cluster::cluster(&mut v, name, fcl) {
            clusters.insert(name.get_ref().clone(), c);
        }
    }
    let dns = fc.dns.as_ref().and_then(|d| crate::validate_dns::dns(&mut v, d, &cluster_names));
    if let (Some(d), Some(fd)) = (&dns, &fc.dns) {
        let clash = binds.iter().find(|(b, _)| {
            b.port() == d.bind.port()
                && d.bind.port() != 0
                && (b.ip() == d.bind.ip() || b.ip().is_unspecified() || d.bind.ip().is_unspecified())
        });
        if let Some((_, other)) = clash {
            v.err(
                fd.bind.span(),
                "dns.bind",
                format!("address {} is already used by {other} (TCP)", d.bind),
                Some("the DNS server needs its own address"),
            );
        }
    }
    let anycast = fc.anycast.as_ref().and_then(|a| crate::validate_anycast::anycast(&mut v, a, &cluster_names));
    let caches: BTreeMap<String, crate::cache::CacheConfig> = fc
        .caches
        .iter()
        .map(|(n, c)| (n.get_ref().clone(), crate::cache::cache_store(&mut v, n.get_ref(), c)))
        .collect();
    route_caches_exist(&mut v, &fc, &caches);
    let acme = fc.acme.as_ref().and_then(|a| crate::validate_acme::acme(&mut v, a));
    crate::validate_acme::uses(&mut v, &fc, acme.as_ref(), &listeners);
    let overload = crate::overload::overload(&mut v, fc.overload.as_ref());
    Some(Config {
        workers,
        drain_timeout,
        admin,
        access_log,
        listeners,
        clusters,
        dns,
        anycast,
        caches,
        acme,
        overload,
    })
}

fn access_log(v: &mut V, a: &FileAccessLog) -> Option<AccessLogConfig> {
    let format = match a.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
        None | Some((_, "json")) => AccessLogFormat::Json,
        Some((_, "combined")) => AccessLogFormat::Combined,
        Some((f, other)) => {
            v.err(f.span(), "access_log.format", format!("unknown format `{other}`"), Some("json or combined"));
            return None;
        }
    };
    let buffer = v.int(&a.buffer, "access_log.buffer", 16, 10_000_000, 65_536) as usize;
    Some(AccessLogConfig { path: a.path.get_ref().into(), format, buffer })
}

fn admin(v: &mut V, a: &FileAdmin) -> Option<AdminConfig> {
    let bind = v.addr(&a.bind, "admin.bind")?;
    if !bind.ip().is_loopback() && a.token.is_none() {
        v.err(
            a.bind.span(),
            "admin.bind",
            "a non-loopback admin bind needs a token",
            Some("add token = \"...\" or bind to 127.0.0.1"),
        );
    }
    Some(AdminConfig { bind, token: a.token.as_ref().map(|t| t.get_ref().clone()) })
}

/// Every route `cache.store` names a `[caches.NAME]`, and only cluster routes use one.
fn route_caches_exist(v: &mut V, fc: &FileConfig, caches: &BTreeMap<String, crate::cache::CacheConfig>) {
    for (name, fl) in &fc.listeners {
        for (i, r) in fl.routes.iter().enumerate() {
            let Some(c) = &r.cache else { continue };
            let path = format!("listeners.{}.routes[{i}].cache", name.get_ref());
            let store = c.get_ref().store.get_ref();
            if !caches.contains_key(store) {
                let hint = format!("define it: [caches.{store}] max_size = \"256MiB\"");
                v.err(
                    c.get_ref().store.span(),
                    &format!("{path}.store"),
                    format!("no cache named `{store}`"),
                    Some(&hint),
                );
            }
            if r.respond.is_some() {
                v.err(c.span(), &path, "a respond route has nothing to cache", None);
            }
        }
    }
}

fn check_bind_clash(v: &mut V, binds: &mut Vec<(SocketAddr, String)>, bind: SocketAddr, fl: &FileListener, path: &str) {
    let clash = binds.iter().find(|(b, _)| {
        b.port() == bind.port()
            && bind.port() != 0
            && (b.ip() == bind.ip() || b.ip().is_unspecified() || bind.ip().is_unspecified())
    });
    if let Some((_, other)) = clash {
        let msg = format!("address {bind} is already used by {other}");
        v.err(fl.bind.span(), &format!("{path}.bind"), msg, Some("each listener needs its own address"));
    }
    binds.push((bind, path.to_string()));
}

fn listener(v: &mut V, name: &str, fl: &FileListener, path: &str, clusters: &[String]) -> Option<ListenerConfig> {
    let bind = v.addr(&fl.bind, &format!("{path}.bind"));
    let protocol = match fl.protocol.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "http")) => ListenerProtocol::Http,
        Some((_, "tcp")) => ListenerProtocol::Tcp,
        Some((_, "udp")) => ListenerProtocol::Udp,
        Some((p, other)) => {
            let hint = "one of: http, tcp, udp";
            v.err(p.span(), &format!("{path}.protocol"), format!("unsupported protocol `{other}`"), Some(hint));
            ListenerProtocol::Http
        }
    };
    let cluster = listener_cluster(v, fl, path, protocol, clusters);
    let proxy_protocol = match &fl.proxy_protocol {
        None => false,
        Some(p) if p.get_ref() == "accept" => true,
        Some(p) => {
            v.err(
                p.span(),
                &format!("{path}.proxy_protocol"),
                format!("unknown value `{}`", p.get_ref()),
                Some("\"accept\""),
            );
            false
        }
    };
    let splice = match fl.relay.as_ref().map(|r| (r, r.get_ref().as_str())) {
        None | Some((_, "copy")) => false,
        Some((_, "splice")) => true,
        Some((r, other)) => {
            v.err(r.span(), &format!("{path}.relay"), format!("unknown relay `{other}`"), Some("copy or splice"));
            false
        }
    };
    let trusted_proxies = trusted(v, fl, path);
    let tls = fl.tls.as_ref().and_then(|t| crate::validate_tls::tls(v, t, &format!("{path}.tls")));
    let rate_limit =
        fl.rate_limit.as_ref().and_then(|l| crate::validate_route::rate_limit(v, l, &format!("{path}.rate_limit")));
    if let (Some(l), ListenerProtocol::Tcp | ListenerProtocol::Udp) = (&fl.rate_limit, protocol) {
        let hint = Some("for connections use limits.accept_rate_per_ip and limits.max_connections_per_ip");
        v.err(l.span(), &format!("{path}.rate_limit"), "rate_limit is for http listeners", hint);
    }
    if let (Some(t), ListenerProtocol::Tcp | ListenerProtocol::Udp) = (&fl.tls, protocol) {
        let hint = Some("TLS termination is for http listeners; tcp listeners pass TLS through by SNI routes");
        v.err(t.span(), &format!("{path}.tls"), "tls on a tcp or udp listener", hint);
    }
    let mtls = fl.tls.as_ref().is_some_and(|t| t.get_ref().client_ca.is_some());
    let http3 =
        fl.http3.as_ref().and_then(|h| crate::http3::http3(v, h, &format!("{path}.http3"), (fl.tls.is_some(), mtls)));
    let timeouts = listener_timeouts(v, fl.timeouts.as_ref(), path);
    let limits = listener_limits(v, fl.limits.as_ref(), path);
    let routes = fl
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| crate::validate_route::route(v, r, &format!("{path}.routes[{i}]"), clusters))
        .collect();
    Some(ListenerConfig {
        name: name.to_string(),
        bind: bind?,
        protocol,
        trusted_proxies,
        forwarded: fl.forwarded.unwrap_or(false),
        x_forwarded: fl.x_forwarded.unwrap_or(true),
        proxy_protocol,
        cluster,
        splice,
        timeouts,
        limits,
        rate_limit,
        tls,
        http3,
        routes,
    })
}

/// Routes of a TCP listener match on `sni` only (TLS passthrough) and name a cluster; an
/// HTTP listener's routes never use `sni`.
fn sni_routes_only(v: &mut V, fl: &FileListener, path: &str) {
    for (i, r) in fl.routes.iter().enumerate() {
        let http_field = r.host.as_ref().or(r.path.as_ref()).or(r.path_prefix.as_ref()).or(r.path_regex.as_ref());
        if let Some(f) = http_field.or(r.split.as_ref().map(|_| &r.cluster).and_then(|c| c.as_ref())) {
            v.err(f.span(), &format!("{path}.routes[{i}]"), "tcp routes match `sni` only and name one `cluster`", None);
        }
    }
}

/// A `tcp` listener names its cluster; an `http` one routes instead.
fn listener_cluster(
    v: &mut V,
    fl: &FileListener,
    path: &str,
    protocol: ListenerProtocol,
    clusters: &[String],
) -> Option<String> {
    match (protocol, &fl.cluster) {
        (ListenerProtocol::Tcp, None) if !fl.routes.is_empty() => {
            sni_routes_only(v, fl, path);
            None
        }
        (ListenerProtocol::Tcp | ListenerProtocol::Udp, None) => {
            v.err(fl.bind.span(), path, "a tcp or udp listener needs `cluster`", Some("cluster = \"...\""));
            None
        }
        (ListenerProtocol::Tcp | ListenerProtocol::Udp, Some(c)) if !clusters.contains(c.get_ref()) => {
            v.err(c.span(), &format!("{path}.cluster"), format!("cluster `{}` is not defined", c.get_ref()), None);
            None
        }
        (ListenerProtocol::Tcp | ListenerProtocol::Udp, Some(c)) => {
            sni_routes_only(v, fl, path);
            Some(c.get_ref().clone())
        }
        (ListenerProtocol::Http, Some(c)) => {
            v.err(
                c.span(),
                &format!("{path}.cluster"),
                "an http listener routes with [[routes]]",
                Some("or set protocol = \"tcp\""),
            );
            None
        }
        (ListenerProtocol::Http, None) => {
            for (i, r) in fl.routes.iter().enumerate() {
                if let Some(s) = &r.sni {
                    v.err(
                        s.span(),
                        &format!("{path}.routes[{i}].sni"),
                        "`sni` routes belong on a tcp listener",
                        Some("TLS passthrough: protocol = \"tcp\""),
                    );
                }
            }
            None
        }
    }
}

fn trusted(v: &mut V, fl: &FileListener, path: &str) -> Vec<sluice_core::net::Cidr> {
    let mut out = Vec::new();
    for t in fl.trusted_proxies.iter().flatten() {
        match t.get_ref().parse() {
            Ok(c) => out.push(c),
            Err(e) => {
                v.err(t.span(), &format!("{path}.trusted_proxies"), format!("{e}"), Some("CIDR like \"10.0.0.0/8\""))
            }
        }
    }
    out
}

fn listener_timeouts(v: &mut V, t: Option<&FileListenerTimeouts>, path: &str) -> ListenerTimeouts {
    let d = ListenerTimeouts::default();
    let Some(t) = t else { return d };
    ListenerTimeouts {
        header: v.timeout(&t.header, &format!("{path}.timeouts.header"), d.header),
        idle: v.timeout(&t.idle, &format!("{path}.timeouts.idle"), d.idle),
        body: v.timeout(&t.body, &format!("{path}.timeouts.body"), d.body),
        tunnel: v.timeout(&t.tunnel, &format!("{path}.timeouts.tunnel"), d.tunnel),
    }
}

fn listener_limits(v: &mut V, l: Option<&FileListenerLimits>, path: &str) -> ListenerLimits {
    let d = ListenerLimits::default();
    let Some(l) = l else { return d };
    let p = |f: &str| format!("{path}.limits.{f}");
    let header_bytes = v.size(&l.max_header_bytes, &p("max_header_bytes"), d.max_header_bytes as u64);
    ListenerLimits {
        max_header_bytes: header_bytes.min(16 << 20) as usize,
        max_header_count: v.int(&l.max_header_count, &p("max_header_count"), 1, 10_000, d.max_header_count as i64)
            as usize,
        max_body_bytes: v.size(&l.max_body_bytes, &p("max_body_bytes"), d.max_body_bytes),
        max_requests_per_connection: v.int(
            &l.max_requests_per_connection,
            &p("max_requests_per_connection"),
            0,
            i64::MAX,
            0,
        ) as u64,
        max_connections: v.int(&l.max_connections, &p("max_connections"), 0, 10_000_000, 0) as u32,
        accept_rate_per_ip: l.accept_rate_per_ip.as_ref().and_then(|r| {
            match sluice_core::bucket::parse_rate(r.get_ref()) {
                Ok(x) => Some(x),
                Err(e) => {
                    v.err(r.span(), &p("accept_rate_per_ip"), e, Some("like \"50/s\" or \"600/m\""));
                    None
                }
            }
        }),
        max_connections_per_ip: v.int(&l.max_connections_per_ip, &p("max_connections_per_ip"), 0, 10_000_000, 0) as u32,
        max_concurrent_streams: v.int(
            &l.max_concurrent_streams,
            &p("max_concurrent_streams"),
            1,
            1 << 20,
            d.max_concurrent_streams as i64,
        ) as u32,
        h2_max_glitches: v.int(&l.h2_max_glitches, &p("h2_max_glitches"), 0, 1 << 20, d.h2_max_glitches as i64) as u32,
    }
}
