//! Envoy static configs (YAML, yaml-rust2): `static_resources.listeners` with an
//! `http_connection_manager` (virtual hosts → routes by prefix, path, regex and headers) or
//! a `tcp_proxy`, and `clusters` (lb_policy, STATIC / STRICT_DNS endpoints, connect_timeout,
//! circuit_breakers, outlier_detection, health_checks). YAML nodes carry no line numbers;
//! a part's line is found by its key in the text.

use yaml_rust2::{Yaml, YamlLoader};

use super::haproxy::inline;
use super::out::{q, set, Doc, Listener, Route};

fn s(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map_or(&[], Vec::as_slice)
}

/// The first line of `text` holding `needle` after line `from` (1-based; 0 if none).
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines().enumerate().skip(from.saturating_sub(1)).find(|(_, l)| l.contains(needle)).map_or(0, |(i, _)| i + 1)
}

/// Envoy durations (`0.5s`, `10s`, `1.5m`) as sluice's.
fn dur(y: &Yaml) -> Option<String> {
    let v = s(y)?;
    let (n, unit) = v.split_at(v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?);
    let secs: f64 = n.parse().ok()?;
    Some(match unit {
        "s" if secs.fract() != 0.0 || secs < 1.0 => format!("{}ms", (secs * 1000.0).round() as u64),
        "s" | "ms" | "m" | "h" => v.clone(),
        _ => return None,
    })
}

pub fn import(text: &str, d: &mut Doc) -> Result<(), String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let root = docs.first().ok_or("empty YAML")?;
    let sr = &root["static_resources"];
    if sr.is_badvalue() {
        return Err("no static_resources (only static Envoy configs are imported)".into());
    }
    for l in list(&sr["listeners"]) {
        listener(text, l, d);
    }
    let from = line_of(text, "clusters:", 1);
    for c in list(&sr["clusters"]) {
        cluster(text, c, from, d);
    }
    Ok(())
}

fn listener(text: &str, l: &Yaml, d: &mut Doc) {
    let name = s(&l["name"]).unwrap_or_else(|| format!("listener{}", d.listeners.len() + 1));
    let n = line_of(text, &format!("name: {name}"), 1);
    let sa = &l["address"]["socket_address"];
    let bind = format!(
        "{}:{}",
        s(&sa["address"]).unwrap_or_else(|| "0.0.0.0".into()),
        s(&sa["port_value"]).unwrap_or_else(|| "80".into())
    );
    let mut out = Listener { name, line: n, bind, protocol: "http", ..Default::default() };
    for chain in list(&l["filter_chains"]) {
        if !chain["transport_socket"].is_badvalue() {
            d.warn(n, "transport_socket", "TLS not translated: add [listeners.X.tls] certs");
        }
        for f in list(&chain["filters"]) {
            let fname = s(&f["name"]).unwrap_or_default();
            let cfg = &f["typed_config"];
            if fname.ends_with("http_connection_manager") {
                hcm(text, cfg, &mut out, d);
            } else if fname.ends_with("tcp_proxy") {
                out.protocol = "tcp";
                if let Some(c) = s(&cfg["cluster"]) {
                    set(&mut out.keys, line_of(text, "cluster:", n), "cluster", q(&c));
                }
            } else {
                d.warn(line_of(text, &fname, n), &fname, "filter not translated");
            }
        }
    }
    d.listeners.push(out);
}

fn hcm(text: &str, cfg: &Yaml, l: &mut Listener, d: &mut Doc) {
    if let Some(m) = s(&cfg["http2_protocol_options"]["max_concurrent_streams"]) {
        set(
            &mut l.keys,
            line_of(text, "max_concurrent_streams", l.line),
            "limits",
            format!("{{ max_concurrent_streams = {m} }}"),
        );
    }
    for vh in list(&cfg["route_config"]["virtual_hosts"]) {
        let domains: Vec<String> = list(&vh["domains"]).iter().filter_map(s).filter(|h| h != "*").collect();
        let vn = line_of(text, "domains:", l.line);
        if domains.len() > 1 {
            d.warn(vn, "domains", "several domains: one route set per domain would be needed; the first is used");
        }
        for r in list(&vh["routes"]) {
            let m = &r["match"];
            let (key, val) = if let Some(p) = s(&m["prefix"]) {
                ("path_prefix", p)
            } else if let Some(p) = s(&m["path"]) {
                ("path", p)
            } else if let Some(p) = s(&m["safe_regex"]["regex"]) {
                ("path_regex", p)
            } else {
                ("path_prefix", "/".to_string())
            };
            let n = line_of(text, &format!("{}: {val}", key.trim_start_matches("path_")), vn)
                .max(line_of(text, "match:", vn));
            let mut route = Route { line: n, keys: Vec::new() };
            if let Some(h) = domains.first() {
                route.keys.push((vn, "host".into(), q(h)));
            }
            if !(key == "path_prefix" && val == "/") {
                route.keys.push((n, key.into(), q(&val)));
            }
            let hs: Vec<(String, String)> = list(&m["headers"])
                .iter()
                .filter_map(|h| {
                    Some((q(&s(&h["name"])?), q(&s(&h["string_match"]["exact"]).or_else(|| s(&h["exact_match"]))?)))
                })
                .collect();
            if !hs.is_empty() {
                route.keys.push((n, "headers".into(), inline(&hs)));
            }
            match (s(&r["route"]["cluster"]), &r["direct_response"]) {
                (Some(c), _) => set(&mut route.keys, n, "cluster", q(&c)),
                (None, dr) if !dr.is_badvalue() => {
                    let status = s(&dr["status"]).unwrap_or_else(|| "200".into());
                    let body = s(&dr["body"]["inline_string"]).unwrap_or_default();
                    set(&mut route.keys, n, "respond", format!("{{ status = {status}, body = {} }}", q(&body)));
                }
                _ => {
                    d.warn(n, "route", "no cluster (weighted_clusters and redirects are not translated): skipped");
                    continue;
                }
            }
            if let Some(t) = dur(&r["route"]["timeout"]) {
                set(&mut route.keys, n, "timeout", q(&t));
            }
            l.routes.push(route);
        }
    }
}

fn cluster(text: &str, c: &Yaml, from: usize, d: &mut Doc) {
    let name = s(&c["name"]).unwrap_or_default();
    let n = line_of(text, &format!("name: {name}"), from);
    let mut warns = Vec::new();
    let kind = s(&c["type"]).unwrap_or_else(|| "STATIC".into());
    let out = d.cluster(&name);
    out.line = n;
    if let Some(t) = dur(&c["connect_timeout"]) {
        set(&mut out.keys, line_of(text, "connect_timeout", n), "timeouts", format!("{{ connect = {} }}", q(&t)));
    }
    let lb = match s(&c["lb_policy"]).as_deref() {
        None | Some("ROUND_ROBIN") => None,
        Some("LEAST_REQUEST") => Some("least_request"),
        Some("RING_HASH") => Some("ring_hash"),
        Some("MAGLEV") => Some("maglev"),
        Some("RANDOM") => Some("random"),
        Some(other) => {
            warns.push((n, format!("lb_policy {other}"), "not translated"));
            None
        }
    };
    if let Some(b) = lb {
        set(&mut out.keys, line_of(text, "lb_policy", n), "balance", q(b));
    }
    if let Some(t) = list(&c["circuit_breakers"]["thresholds"]).first() {
        let pairs: Vec<(String, String)> = [
            ("max_requests", "max_requests"),
            ("max_pending_requests", "max_pending"),
            ("max_connections", "max_connections"),
            ("max_retries", "max_retries"),
        ]
        .iter()
        .filter_map(|(e, k)| Some((k.to_string(), s(&t[*e])?)))
        .collect();
        set(&mut out.keys, line_of(text, "circuit_breakers", n), "limits", inline(&pairs));
    }
    let od = &c["outlier_detection"];
    if !od.is_badvalue() {
        let mut pairs = Vec::new();
        for (e, k, is_dur) in [
            ("consecutive_5xx", "consecutive_5xx", false),
            ("consecutive_gateway_failure", "consecutive_gateway_failures", false),
            ("interval", "interval", true),
            ("base_ejection_time", "base_ejection_time", true),
            ("max_ejection_percent", "max_ejection_percent", false),
        ] {
            let v = if is_dur { dur(&od[e]).map(|v| q(&v)) } else { s(&od[e]) };
            if let Some(v) = v {
                pairs.push((k.to_string(), v));
            }
        }
        set(&mut out.keys, line_of(text, "outlier_detection", n), "outlier", inline(&pairs));
    }
    if let Some(h) = list(&c["health_checks"]).first() {
        let mut pairs = match s(&h["http_health_check"]["path"]) {
            Some(p) => vec![("kind".to_string(), q("http")), ("path".to_string(), q(&p))],
            None => vec![("kind".to_string(), q("tcp"))],
        };
        for (e, k) in [("interval", "interval"), ("timeout", "timeout")] {
            if let Some(v) = dur(&h[e]) {
                pairs.push((k.to_string(), q(&v)));
            }
        }
        for (e, k) in [("healthy_threshold", "rise"), ("unhealthy_threshold", "fall")] {
            if let Some(v) = s(&h[e]) {
                pairs.push((k.to_string(), v));
            }
        }
        set(&mut out.keys, line_of(text, "health_checks", n), "health", inline(&pairs));
    }
    for group in list(&c["load_assignment"]["endpoints"]) {
        for e in list(&group["lb_endpoints"]) {
            let sa = &e["endpoint"]["address"]["socket_address"];
            let (Some(a), Some(p)) = (s(&sa["address"]), s(&sa["port_value"])) else { continue };
            let ln = line_of(text, &a, n);
            let addr = q(&format!("{a}:{p}"));
            let ep = match s(&e["load_balancing_weight"]) {
                Some(w) => format!("{{ addr = {addr}, weight = {w} }}"),
                None => addr,
            };
            out.endpoints.push((ln, ep));
        }
    }
    if kind == "STRICT_DNS" || kind == "LOGICAL_DNS" {
        let names = out.endpoints.iter().any(|(_, e)| e.chars().any(|c| c.is_ascii_alphabetic() && c != 'e'));
        if names {
            set(&mut out.keys, line_of(text, "type:", n), "discovery", "{}".into());
        } else {
            warns.push((
                line_of(text, "type:", n),
                format!("type: {kind}"),
                "the endpoints are addresses: resolved once, kept as they are",
            ));
        }
    }
    for (n, what, why) in warns {
        d.warn(n, &what, why);
    }
}
