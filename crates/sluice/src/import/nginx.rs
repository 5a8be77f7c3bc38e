//! NGINX configs: a tokenizer of its small grammar (words, quoted strings, `;`, blocks,
//! comments) into a tree of directives with lines, then `upstream` blocks into clusters and
//! `server` blocks into listeners whose `location`s become routes — in NGINX's order of
//! precedence: exact (`=`), then `^~` prefixes (longest first), regexes in file order, then
//! plain prefixes (longest first).

use std::collections::HashMap;

use super::haproxy::inline;
use super::out::{q, set, Doc, Listener, Route};

pub struct Dir {
    pub n: usize,
    pub w: Vec<String>,
    pub block: Option<Vec<Dir>>,
}

fn tokens(text: &str) -> Result<Vec<(usize, String, bool)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            ';' | '{' | '}' => out.push((line, c.to_string(), true)),
            '"' | '\'' => {
                let (start, mut s) = (line, String::new());
                loop {
                    match chars.next() {
                        None => return Err(format!("line {start}: unterminated string")),
                        Some('\\') => s.push(chars.next().map_or('\\', |e| if e == 'n' { '\n' } else { e })),
                        Some(e) if e == c => break,
                        Some(e) => {
                            line += usize::from(e == '\n');
                            s.push(e);
                        }
                    }
                }
                out.push((start, s, false));
            }
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, ';' | '{' | '}') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push((line, s, false));
            }
        }
    }
    Ok(out)
}

fn parse(toks: &[(usize, String, bool)], i: &mut usize) -> Result<Vec<Dir>, String> {
    let mut out = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut at = 0;
    while *i < toks.len() {
        let (n, t, punct) = &toks[*i];
        *i += 1;
        match (punct, t.as_str()) {
            (true, ";") => out.push(Dir { n: at, w: std::mem::take(&mut cur), block: None }),
            (true, "{") => {
                let inner = parse(toks, i)?;
                out.push(Dir { n: at, w: std::mem::take(&mut cur), block: Some(inner) });
            }
            (true, _) => return Ok(out),
            _ => {
                if cur.is_empty() {
                    at = *n;
                }
                cur.push(t.clone());
            }
        }
    }
    if !cur.is_empty() {
        return Err(format!("line {at}: `{}` has no `;`", cur.join(" ")));
    }
    Ok(out)
}

pub fn import(text: &str, d: &mut Doc) -> Result<(), String> {
    let toks = tokens(text)?;
    let tree = parse(&toks, &mut 0)?;
    let http = tree.iter().find(|x| x.w.first().is_some_and(|w| w == "http")).and_then(|x| x.block.as_ref());
    let body: &[Dir] = http.map_or(&tree, |b| b);
    let zones: HashMap<String, (String, String)> = body
        .iter()
        .filter(|x| x.w.first().is_some_and(|w| w == "limit_req_zone"))
        .filter_map(|x| {
            let arg = |k: &str| x.w.iter().find_map(|a| a.strip_prefix(k)).map(str::to_string);
            Some((
                arg("zone=")?.split(':').next()?.to_string(),
                (arg("rate=")?, x.w.get(1).cloned().unwrap_or_default()),
            ))
        })
        .collect();
    for x in body {
        match (x.w.first().map(String::as_str), &x.block) {
            (Some("upstream"), Some(b)) => upstream(x.w.get(1).cloned().unwrap_or_default(), x.n, b, d),
            (Some("server"), Some(b)) => server(x.n, b, &zones, d),
            (
                Some(
                    "limit_req_zone" | "include" | "default_type" | "sendfile" | "keepalive_timeout" | "access_log"
                    | "error_log" | "log_format" | "gzip",
                ),
                _,
            ) => {}
            (Some(k), _) => d.warn(x.n, k, "not translated"),
            (None, _) => {}
        }
    }
    Ok(())
}

fn upstream(name: String, n: usize, b: &[Dir], d: &mut Doc) {
    let mut warns = Vec::new();
    let c = d.cluster(&name);
    c.line = n;
    for x in b {
        let w = &x.w;
        match w[0].as_str() {
            "server" if w.len() >= 2 => {
                let (mut weight, mut backup) = (None, false);
                for o in &w[2..] {
                    if let Some(v) = o.strip_prefix("weight=") {
                        weight = Some(v.to_string());
                    } else if o == "backup" {
                        backup = true;
                    } else if o == "down" {
                        weight = Some("0".into());
                    } else if let Some(v) = o.strip_prefix("max_fails=") {
                        let fail = w.iter().find_map(|o| o.strip_prefix("fail_timeout=")).unwrap_or("10s");
                        set(
                            &mut c.keys,
                            x.n,
                            "outlier",
                            format!(
                                "{{ consecutive_gateway_failures = {v}, base_ejection_time = {} }}",
                                q(&super::haproxy::duration(fail).unwrap_or_else(|| "10s".into()))
                            ),
                        );
                    } else if !o.starts_with("fail_timeout=") {
                        warns.push((x.n, format!("server {o}"), "server parameter not translated"));
                    }
                }
                let addr = q(&w[1]);
                let ep = match (weight, backup) {
                    (None, false) => addr,
                    (wt, b) => format!(
                        "{{ addr = {addr}{}{} }}",
                        wt.map_or(String::new(), |w| format!(", weight = {w}")),
                        if b { ", backup = true" } else { "" }
                    ),
                };
                c.endpoints.push((x.n, ep));
            }
            "keepalive" => set(&mut c.keys, x.n, "pool", format!("{{ max_idle = {} }}", w.get(1).map_or("32", |v| v))),
            "least_conn" => set(&mut c.keys, x.n, "balance", q("least_conn")),
            "ip_hash" => set(&mut c.keys, x.n, "balance", q("source_ip")),
            "random" => set(&mut c.keys, x.n, "balance", q("p2c")),
            "hash" if w.len() >= 2 => {
                set(&mut c.keys, x.n, "balance", q("ring_hash"));
                let key = match w[1].as_str() {
                    "$request_uri" | "$uri" => "path".to_string(),
                    "$remote_addr" | "$binary_remote_addr" => "source_ip".to_string(),
                    v if v.starts_with("$http_") => {
                        format!("header:{}", v.trim_start_matches("$http_").replace('_', "-"))
                    }
                    v if v.starts_with("$cookie_") => format!("cookie:{}", v.trim_start_matches("$cookie_")),
                    v if v.starts_with("$arg_") => format!("query:{}", v.trim_start_matches("$arg_")),
                    v => {
                        warns.push((x.n, format!("hash {v}"), "hash key not translated: hashing the client address"));
                        "source_ip".to_string()
                    }
                };
                set(&mut c.keys, x.n, "hash_key", q(&key));
            }
            "zone" => {}
            k => warns.push((x.n, k.to_string(), "upstream directive not translated")),
        }
    }
    for (n, what, why) in warns {
        d.warn(n, &what, why);
    }
}

/// One `location`: its kind (0 exact, 1 `^~`, 2 regex, 3 prefix), path and route.
struct Loc {
    kind: u8,
    path: String,
    route: Route,
}

fn server(n: usize, b: &[Dir], zones: &HashMap<String, (String, String)>, d: &mut Doc) {
    let idx = d.listeners.len();
    let mut l = Listener {
        name: format!("server{}", idx + 1),
        line: n,
        protocol: "http",
        bind: "0.0.0.0:80".into(),
        ..Default::default()
    };
    let mut locs: Vec<Loc> = Vec::new();
    let mut server_edits = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for x in b {
        let w = &x.w;
        match w[0].as_str() {
            "listen" if w.len() >= 2 => {
                let a = &w[1];
                l.bind = if a.contains(':') { a.replace('*', "0.0.0.0") } else { format!("0.0.0.0:{a}") };
                if w.iter().any(|o| o == "proxy_protocol") {
                    set(&mut l.keys, x.n, "proxy_protocol", q("accept"));
                }
                if w.iter().any(|o| o == "http2") {
                    set(&mut l.tls, x.n, "alpn", "[\"h2\", \"http/1.1\"]".into());
                }
            }
            "http2" => set(&mut l.tls, x.n, "alpn", "[\"h2\", \"http/1.1\"]".into()),
            "server_name" => hosts = w[1..].iter().filter(|h| *h != "_").cloned().collect(),
            "ssl_certificate" if w.len() >= 2 => {
                let key = b
                    .iter()
                    .find(|y| y.w[0] == "ssl_certificate_key")
                    .and_then(|y| y.w.get(1))
                    .cloned()
                    .unwrap_or_else(|| w[1].clone());
                set(&mut l.tls, x.n, "certs", format!("[{{ cert = {}, key = {} }}]", q(&w[1]), q(&key)));
            }
            "ssl_certificate_key"
            | "ssl_protocols"
            | "ssl_ciphers"
            | "ssl_session_cache"
            | "ssl_session_timeout"
            | "access_log"
            | "root"
            | "index" => {}
            "location" if w.len() >= 2 => {
                if let Some(loc) = location(w, x.n, x.block.as_deref().unwrap_or(&[]), zones, d) {
                    locs.push(loc);
                }
            }
            _ => server_edits.push(x),
        }
    }
    if l.tls.iter().any(|(_, k, _)| k == "alpn") && l.tls.iter().all(|(_, k, _)| k != "certs") {
        l.tls.clear();
    }
    for x in server_edits {
        let mut dummy = Route::default();
        if !directive(&mut dummy, x, zones, d) {
            d.warn(x.n, &x.w[0], "not translated");
        } else {
            for loc in &mut locs {
                for (ln, k, v) in &dummy.keys {
                    if loc.route.keys.iter().all(|(_, k2, _)| k2 != k) {
                        loc.route.keys.push((*ln, k.clone(), v.clone()));
                    }
                }
            }
        }
    }
    locs.sort_by(|a, b| {
        a.kind.cmp(&b.kind).then_with(|| {
            if a.kind == 1 || a.kind == 3 {
                b.path.len().cmp(&a.path.len())
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    for mut loc in locs {
        if hosts.len() == 1 {
            loc.route.keys.insert(0, (n, "host".into(), q(&hosts[0])));
        }
        l.routes.push(loc.route);
    }
    if hosts.len() > 1 {
        d.warn(n, "server_name", "several names: routes match any host (add `host` per route to split them)");
    }
    d.listeners.push(l);
}

fn location(w: &[String], n: usize, b: &[Dir], zones: &HashMap<String, (String, String)>, d: &mut Doc) -> Option<Loc> {
    let (kind, path, key) = match (w[1].as_str(), w.get(2)) {
        ("=", Some(p)) => (0, p.clone(), "path"),
        ("^~", Some(p)) => (1, p.clone(), "path_prefix"),
        ("~", Some(p)) => (2, p.clone(), "path_regex"),
        ("~*", Some(p)) => (2, format!("(?i){p}"), "path_regex"),
        (p, None) => (3, p.to_string(), "path_prefix"),
        (other, _) => {
            d.warn(n, &format!("location {other}"), "not translated");
            return None;
        }
    };
    let mut route = Route { line: n, keys: Vec::new() };
    if !(kind == 3 && path == "/") {
        route.keys.push((n, key.into(), q(&path)));
    }
    for x in b {
        if !directive(&mut route, x, zones, d) {
            d.warn(x.n, &x.w[0], "not translated");
        }
    }
    if route.keys.iter().all(|(_, k, _)| k != "cluster" && k != "respond") {
        d.warn(n, &format!("location {path}"), "no proxy_pass or return: route skipped");
        return None;
    }
    Some(Loc { kind, path, route })
}

/// One directive inside a `server` or `location`; false when it is not translated.
fn directive(r: &mut Route, x: &Dir, zones: &HashMap<String, (String, String)>, d: &mut Doc) -> bool {
    let w = &x.w;
    let arg = |i: usize| w.get(i).cloned().unwrap_or_default();
    match w[0].as_str() {
        "proxy_pass" => {
            let target = arg(1);
            let name = target.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
            if target.starts_with("https://") {
                d.warn(x.n, "proxy_pass https://", "set protocol = \"https\" on the cluster");
            }
            let cluster = if d.clusters.iter().any(|c| c.name == name) {
                name.to_string()
            } else {
                let c = d.cluster(name);
                c.line = x.n;
                c.endpoints.push((x.n, q(name)));
                name.to_string()
            };
            set(&mut r.keys, x.n, "cluster", q(&cluster));
        }
        "return" => {
            let (status, body) = (arg(1), arg(2));
            set(&mut r.keys, x.n, "respond", format!("{{ status = {status}, body = {} }}", q(&body)));
        }
        "proxy_read_timeout" => {
            set(&mut r.keys, x.n, "timeout", q(&super::haproxy::duration(&arg(1)).unwrap_or(arg(1))))
        }
        "proxy_set_header" => match (arg(1).to_ascii_lowercase().as_str(), arg(2).as_str()) {
            // What sluice does anyway: Host kept, X-Forwarded-* set, hop-by-hop removed.
            ("host", "$host" | "$http_host")
            | ("x-forwarded-for", "$proxy_add_x_forwarded_for")
            | ("x-real-ip", "$remote_addr") => {}
            ("connection", "") | ("x-forwarded-proto", "$scheme") => {}
            (_, v) if v.contains('$') => {
                d.warn(x.n, &format!("proxy_set_header {}", arg(1)), "value with variables not translated")
            }
            _ => {
                let mut t: Vec<(String, String)> = r
                    .keys
                    .iter()
                    .find(|(_, k, _)| k == "add_request_headers")
                    .map(|(_, _, v)| super::haproxy::parse_inline(v))
                    .unwrap_or_default();
                t.push((q(&arg(1)), q(&arg(2))));
                set(&mut r.keys, x.n, "add_request_headers", inline(&t));
            }
        },
        "limit_req" => {
            let zone = w.iter().find_map(|a| a.strip_prefix("zone=")).unwrap_or("");
            let burst = w.iter().find_map(|a| a.strip_prefix("burst=")).unwrap_or("1");
            let Some((rate, key)) = zones.get(zone) else { return false };
            let rate = rate.replace("r/s", "/s").replace("r/m", "/m");
            let key = if key.contains("remote_addr") { "source_ip" } else { "route" };
            set(
                &mut r.keys,
                x.n,
                "rate_limit",
                format!("{{ key = {}, rate = {}, burst = {burst} }}", q(key), q(&rate)),
            );
        }
        "proxy_http_version"
        | "proxy_buffering"
        | "proxy_redirect"
        | "proxy_connect_timeout"
        | "proxy_send_timeout" => {}
        _ => return false,
    }
    true
}
