//! HAProxy backends (and the backend half of `listen`): balance, servers and
//! server-templates, health checks, timeouts, stickiness, PROXY protocol to servers.

use super::haproxy::{duration, inline, Line};
use super::out::{q, set, Doc};

/// `balance` as sluice's (balance, hash_key).
fn balance(w: &[String]) -> Option<(&'static str, Option<String>)> {
    let algo = w.get(1)?.as_str();
    Some(match algo {
        "roundrobin" | "static-rr" => ("round_robin", None),
        "leastconn" => ("least_conn", None),
        "source" => ("source_ip", None),
        "random" => ("random", None),
        "uri" => ("ring_hash", Some("path".into())),
        _ if algo.starts_with("hdr(") => {
            ("ring_hash", Some(format!("header:{}", algo.trim_start_matches("hdr(").trim_end_matches(')'))))
        }
        "url_param" => ("ring_hash", Some(format!("query:{}", w.get(2)?))),
        _ => return None,
    })
}

#[derive(Default)]
struct Check {
    any: bool,
    inter: Option<String>,
    rise: Option<String>,
    fall: Option<String>,
}

pub fn backend(name: &str, head: &Line, lines: &[Line], mode: &str, d: &mut Doc) {
    let mut check = Check::default();
    let mut httpchk: Option<(String, usize)> = None;
    let mut expect: Option<String> = None;
    let c = d.cluster(name);
    c.line = head.n;
    let mut warns: Vec<(usize, String, &'static str)> = Vec::new();
    let mut timeouts: Vec<(String, String)> = Vec::new();
    for x in lines {
        let w = &x.w;
        match w[0].as_str() {
            "balance" => match balance(w) {
                Some((b, key)) => {
                    set(&mut c.keys, x.n, "balance", q(b));
                    if let Some(k) = key {
                        set(&mut c.keys, x.n, "hash_key", q(&k));
                    }
                    if w.iter().any(|a| a == "use_domain_only") {
                        warns.push((x.n, "balance hdr use_domain_only".into(), "hashes the whole header value"));
                    }
                }
                None => warns.push((x.n, w.join(" "), "balance algorithm not translated")),
            },
            "server" | "server-template" | "default-server" => {
                let (ep, opts) = server(w, x.n, &mut warns);
                for (k, v) in opts {
                    match k.as_str() {
                        "check" => check.any = true,
                        "inter" => check.inter = Some(v),
                        "rise" => check.rise = Some(v),
                        "fall" => check.fall = Some(v),
                        "send_proxy_protocol" | "protocol" => set(&mut c.keys, x.n, &k, v),
                        "discovery" => set(&mut c.keys, x.n, "discovery", v),
                        _ => {}
                    }
                }
                if let Some(ep) = ep {
                    c.endpoints.push((x.n, ep));
                }
            }
            "option" if w.get(1).is_some_and(|o| o == "httpchk") => {
                let path = w.iter().skip(2).find(|a| a.starts_with('/')).cloned().unwrap_or_else(|| "/".into());
                httpchk = Some((path, x.n));
            }
            "http-check" if w.get(1).is_some_and(|o| o == "expect") && w.get(2).is_some_and(|o| o == "status") => {
                expect = w.get(3).cloned();
            }
            "timeout" => match (w.get(1).map(String::as_str), w.get(2).and_then(|v| duration(v))) {
                (Some("server"), Some(v)) => timeouts.push(("response".into(), q(&v))),
                (Some("connect"), Some(v)) => timeouts.push(("connect".into(), q(&v))),
                _ => {}
            },
            "cookie" if w.len() >= 2 => set(&mut c.keys, x.n, "sticky", format!("{{ cookie = {} }}", q(&w[1]))),
            "stick" if w.get(1).is_some_and(|a| a == "on") && w.get(2).is_some_and(|a| a == "src") => {
                set(&mut c.keys, x.n, "balance", q("source_ip"));
                warns.push((
                    x.n,
                    "stick on src".into(),
                    "translated as balance = \"source_ip\" (a hash, no stick table)",
                ));
            }
            "mode" | "acl" | "use_backend" | "default_backend" | "bind" | "http-request" | "option" | "stick-table"
            | "maxconn" | "hash-type" | "http-reuse" | "log" => {}
            other => warns.push((x.n, other.to_string(), "backend directive not translated")),
        }
    }
    if !timeouts.is_empty() {
        timeouts.dedup_by(|a, b| a.0 == b.0);
        set(&mut c.keys, head.n, "timeouts", inline(&timeouts));
    }
    let _ = mode; // the listener's mode decides HTTP or TCP; clusters are the same either way
    if check.any {
        let mut h = match &httpchk {
            Some((path, _)) => vec![("kind".to_string(), q("http")), ("path".to_string(), q(path))],
            None => vec![("kind".to_string(), q("tcp"))],
        };
        for (k, v) in [
            ("interval", check.inter.as_ref().and_then(|v| duration(v)).map(|v| q(&v))),
            ("rise", check.rise.clone()),
            ("fall", check.fall.clone()),
        ] {
            if let Some(v) = v {
                h.push((k.to_string(), v));
            }
        }
        if let (Some(s), true) = (&expect, httpchk.is_some()) {
            h.push(("expect_status".into(), format!("[{s}]")));
        }
        set(&mut c.keys, httpchk.as_ref().map_or(head.n, |h| h.1), "health", inline(&h));
    }
    for (n, what, why) in warns {
        d.warn(n, &what, why);
    }
}

/// A `server` line's endpoint and the options the cluster takes from it.
fn server(
    w: &[String],
    n: usize,
    warns: &mut Vec<(usize, String, &'static str)>,
) -> (Option<String>, Vec<(String, String)>) {
    let mut opts = Vec::new();
    let (ep, rest) = match w[0].as_str() {
        "default-server" => (None, &w[1..]),
        "server-template" if w.len() >= 4 => {
            // `server-template app 3 app%.svc:8080`: HAProxy fills 3 slots from one name's
            // records; sluice resolves the name and keeps every record (up to max_endpoints).
            let fqdn = w[3].replace('%', "");
            opts.push(("discovery".into(), format!("{{ max_endpoints = {} }}", w[2].trim_start_matches("1-"))));
            if w[3].contains('%') {
                warns.push((n, format!("server-template {}", w[3]), "`%` dropped from the name: resolved as one name"));
            }
            (Some(q(&fqdn)), &w[4..])
        }
        _ if w.len() >= 3 => (Some(w[2].clone()), &w[3..]),
        _ => return (None, opts),
    };
    let (mut weight, mut backup) = (None, false);
    let mut i = 0;
    while i < rest.len() {
        let next = rest.get(i + 1).cloned();
        match rest[i].as_str() {
            "check" => opts.push(("check".into(), String::new())),
            "backup" => backup = true,
            "disabled" => weight = Some("0".to_string()),
            "weight" | "inter" | "rise" | "fall" | "maxconn" | "port" | "slowstart" => {
                match rest[i].as_str() {
                    "weight" => weight = next.clone(),
                    "maxconn" => warns.push((
                        n,
                        "server maxconn".into(),
                        "per-server limit: use the cluster's limits.max_requests",
                    )),
                    k @ ("inter" | "rise" | "fall") => opts.push((k.into(), next.clone().unwrap_or_default())),
                    k => warns.push((n, format!("server {k}"), "server option not translated")),
                }
                i += 1;
            }
            "send-proxy" => opts.push(("send_proxy_protocol".into(), q("v1"))),
            "send-proxy-v2" => opts.push(("send_proxy_protocol".into(), q("v2"))),
            "ssl" => opts.push(("protocol".into(), q("https"))),
            "verify" | "ca-file" | "sni" | "resolvers" | "init-addr" | "resolve-prefer" => i += 1,
            other => warns.push((n, format!("server {other}"), "server option not translated")),
        }
        i += 1;
    }
    let ep = ep.map(|e| {
        let addr = if e.starts_with('"') { e } else { q(&e) };
        match (weight, backup) {
            (None, false) => addr,
            (w, b) => format!(
                "{{ addr = {addr}{}{} }}",
                w.map_or(String::new(), |w| format!(", weight = {w}")),
                if b { ", backup = true" } else { "" }
            ),
        }
    });
    (ep, opts)
}
