//! HAProxy configs: a line tokenizer (sections, words, quotes, comments — the grammar is
//! line-based; the `haproxy-config` crate's parsed lines carry no position, and every
//! translated part must cite its line) and the translation of frontends, backends, listen
//! sections and defaults into listeners, routes and clusters.

use std::collections::HashMap;

use super::out::{q, set, Doc, Listener, Route};

/// One directive: its line and words (quotes removed).
#[derive(Clone)]
pub struct Line {
    pub n: usize,
    pub w: Vec<String>,
}

/// Splits a line into words: `#` starts a comment outside quotes; `"..."`, `'...'` and
/// backslash escapes as HAProxy reads them.
pub fn words(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut esc, mut any) = (Vec::new(), String::new(), None, false, false);
    for c in s.chars() {
        match (esc, quote, c) {
            (true, _, _) => {
                cur.push(c);
                esc = false;
            }
            (false, _, '\\') => esc = true,
            (false, Some(qc), _) if c == qc => quote = None,
            (false, Some(_), _) => cur.push(c),
            (false, None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (false, None, '#') => break,
            (false, None, c) if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (false, None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

/// Sections: (keyword line, lines inside).
fn sections(text: &str) -> Vec<(Line, Vec<Line>)> {
    const HEADS: &[&str] = &[
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "resolvers",
        "userlist",
        "peers",
        "mailers",
        "cache",
        "program",
        "http-errors",
        "ring",
    ];
    let mut out: Vec<(Line, Vec<Line>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let w = words(raw);
        let Some(first) = w.first().cloned() else { continue };
        let line = Line { n: i + 1, w };
        let head = HEADS.contains(&first.as_str());
        if head && (!raw.starts_with([' ', '\t']) || out.is_empty()) {
            out.push((line, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line);
        }
    }
    out
}

/// An HAProxy duration (`500` = ms, `5s`, `1m`, `1d`) as a sluice one.
pub fn duration(s: &str) -> Option<String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "" | "ms" => format!("{n}ms"),
        "us" => format!("{n}us"),
        "s" | "m" | "h" => format!("{n}{unit}"),
        "d" => format!("{}h", n * 24),
        _ => return None,
    })
}

/// What `defaults` carries into the proxies after it.
#[derive(Default, Clone)]
struct Defaults {
    mode: Option<String>,
    lines: Vec<Line>,
}

/// A frontend's routing, resolved once every section is read.
#[derive(Default)]
struct Front {
    acls: HashMap<String, Vec<(usize, String, String)>>,
    uses: Vec<(usize, String, Vec<String>)>,
    default: Option<(usize, String)>,
    /// `http-request return/deny` rules with their conditions.
    answers: Vec<(usize, u16, String, Vec<String>)>,
    edits: Vec<(usize, String, String)>,
}

pub fn import(text: &str, d: &mut Doc) -> Result<(), String> {
    let secs = sections(text);
    if secs.is_empty() && text.lines().any(|l| !words(l).is_empty()) {
        return Err("no HAProxy section (global, defaults, frontend, backend, listen)".into());
    }
    let mut defaults = Defaults::default();
    for (head, lines) in secs {
        let kind = head.w[0].as_str();
        let name = head.w.get(1).cloned().unwrap_or_default();
        match kind {
            "global" => global(&lines, d),
            "defaults" => {
                defaults = Defaults { mode: mode_of(&lines), lines: lines.clone() };
            }
            "frontend" | "listen" | "backend" => {
                let http_rules = lines.iter().any(|l| l.w[0].starts_with("http-") || l.w.iter().any(|w| w == "alpn"));
                let all: Vec<Line> = defaults.lines.iter().cloned().chain(lines).collect();
                // An HTTP rule in a frontend without `mode` only works in HTTP mode.
                let implied = http_rules.then(|| "http".to_string());
                let mode = mode_of(&all).or(implied).or(defaults.mode.clone()).unwrap_or_else(|| "tcp".into());
                if kind != "backend" {
                    frontend(&name, &head, &all, &mode, kind == "listen", d);
                }
                if kind != "frontend" {
                    super::haproxy_backend::backend(&name, &head, &all, &mode, d);
                }
            }
            other => d.warn(head.n, other, "section not translated (sluice has no equivalent)"),
        }
    }
    Ok(())
}

fn mode_of(lines: &[Line]) -> Option<String> {
    lines.iter().rev().find(|l| l.w[0] == "mode").and_then(|l| l.w.get(1).cloned())
}

fn global(lines: &[Line], d: &mut Doc) {
    for l in lines {
        match (l.w[0].as_str(), l.w.get(1).and_then(|v| v.parse::<usize>().ok())) {
            ("nbthread", Some(n)) => d.workers = Some((n, n.to_string())),
            ("maxconn", _) => d.warn(l.n, "maxconn", "process-wide limit: set limits.max_connections per listener"),
            ("daemon" | "log" | "chroot" | "user" | "group" | "pidfile" | "stats" | "master-worker", _) => {}
            (k, _) => d.warn(l.n, k, "global setting not translated"),
        }
    }
}

fn frontend(name: &str, head: &Line, lines: &[Line], mode: &str, listen: bool, d: &mut Doc) {
    let mut l = Listener {
        name: name.to_string(),
        line: head.n,
        protocol: if mode == "http" { "http" } else { "tcp" },
        bind: "0.0.0.0:80".into(),
        ..Default::default()
    };
    let mut f = Front::default();
    if listen {
        f.default = Some((head.n, name.to_string()));
        if let Some(addr) = head.w.get(2) {
            l.bind = bind_addr(addr);
        }
    }
    let mut bound = listen && head.w.len() > 2;
    for x in lines {
        let w = &x.w;
        match w[0].as_str() {
            "bind" if bound => d.warn(x.n, "bind", "only the first bind is translated (one address per listener)"),
            "bind" => {
                bound = true;
                bind(&mut l, x, d);
            }
            "mode" | "balance" | "server" | "server-template" | "default-server" | "http-check" | "cookie"
            | "stick" | "stick-table" | "hash-type" | "http-reuse" => {}
            "option" => front_option(&mut l, x, d),
            "timeout" => front_timeout(&mut l, x, d),
            "acl" if w.len() >= 3 => {
                let e = f.acls.entry(w[1].clone()).or_default();
                e.push((x.n, w[2].clone(), w[3..].join(" ")));
            }
            "use_backend" if w.len() >= 2 => f.uses.push((x.n, w[1].clone(), cond(&w[2..]))),
            "default_backend" if w.len() >= 2 => f.default = Some((x.n, w[1].clone())),
            "http-request" => http_request(&mut f, x, d),
            "maxconn" => {
                set(&mut l.keys, x.n, "limits", format!("{{ max_connections = {} }}", w.get(1).map_or("0", |v| v)))
            }
            _ => {}
        }
    }
    routes(&mut l, f, d);
    d.listeners.push(l);
}

/// The words after `if` (or `unless`, negated) of a rule.
fn cond(w: &[String]) -> Vec<String> {
    match w.first().map(String::as_str) {
        Some("if") => w[1..].to_vec(),
        Some("unless") => std::iter::once("!".to_string()).chain(w[1..].iter().cloned()).collect(),
        _ => Vec::new(),
    }
}

/// `:443`, `*:443`, `0.0.0.0:443`, `[::]:443`, `10.0.0.1:80` as a sluice bind.
fn bind_addr(a: &str) -> String {
    match a.rsplit_once(':') {
        Some(("" | "*", port)) => format!("0.0.0.0:{port}"),
        Some(_) => a.to_string(),
        None => format!("0.0.0.0:{a}"),
    }
}

fn bind(l: &mut Listener, x: &Line, d: &mut Doc) {
    let w = &x.w;
    l.bind = w.get(1).map_or_else(|| "0.0.0.0:80".into(), |a| bind_addr(a));
    let mut i = 2;
    while i < w.len() {
        let next = w.get(i + 1).cloned().unwrap_or_default();
        match w[i].as_str() {
            "ssl" => {}
            "crt" => {
                // HAProxy's crt is one PEM with the chain and the key.
                set(&mut l.tls, x.n, "certs", format!("[{{ cert = {}, key = {} }}]", q(&next), q(&next)));
                i += 1;
            }
            "alpn" => {
                let list: Vec<String> = next.split(',').map(q).collect();
                set(&mut l.tls, x.n, "alpn", format!("[{}]", list.join(", ")));
                i += 1;
            }
            "accept-proxy" => {
                set(&mut l.keys, x.n, "proxy_protocol", q("accept"));
                set(&mut l.keys, x.n, "trusted_proxies", "[\"0.0.0.0/0\", \"::/0\"]".into());
                d.warn(
                    x.n,
                    "accept-proxy",
                    "PROXY headers accepted from any peer, as HAProxy does: narrow trusted_proxies",
                );
            }
            other => d.warn(x.n, &format!("bind {other}"), "bind option not translated"),
        }
        i += 1;
    }
    if w.iter().any(|o| o == "ssl") && l.tls.iter().all(|(_, k, _)| k != "certs") {
        d.warn(x.n, "bind ssl", "no crt given: add [listeners.X.tls] certs");
    }
}

fn front_option(l: &mut Listener, x: &Line, d: &mut Doc) {
    match x.w.get(1).map(String::as_str) {
        Some("forwardfor") => set(&mut l.keys, x.n, "x_forwarded", "true".into()),
        Some("httplog" | "tcplog" | "dontlognull" | "http-server-close" | "http-keep-alive" | "redispatch") => {}
        Some("httpchk" | "tcp-check") => {}
        Some(o) => d.warn(x.n, &format!("option {o}"), "not translated"),
        None => {}
    }
}

fn front_timeout(l: &mut Listener, x: &Line, d: &mut Doc) {
    let (Some(kind), Some(v)) = (x.w.get(1), x.w.get(2).and_then(|v| duration(v))) else { return };
    let key = match kind.as_str() {
        "client" | "http-keep-alive" => "idle",
        "http-request" => "header",
        "tunnel" => "tunnel",
        "server" | "connect" | "queue" | "check" => return,
        other => {
            d.warn(x.n, &format!("timeout {other}"), "no sluice equivalent");
            return;
        }
    };
    let mut t: Vec<(String, String)> =
        l.keys.iter().find(|(_, k, _)| k == "timeouts").map(|(_, _, v)| parse_inline(v)).unwrap_or_default();
    t.retain(|(k, _)| k != key);
    t.push((key.to_string(), q(&v)));
    set(&mut l.keys, x.n, "timeouts", inline(&t));
}

/// `{ a = 1, b = "x" }` from pairs, and back (for tables built up line by line).
pub fn inline(pairs: &[(String, String)]) -> String {
    format!("{{ {} }}", pairs.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "))
}

pub fn parse_inline(s: &str) -> Vec<(String, String)> {
    s.trim_matches(|c| c == '{' || c == '}' || c == ' ')
        .split(", ")
        .filter_map(|kv| kv.split_once(" = ").map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn http_request(f: &mut Front, x: &Line, d: &mut Doc) {
    let w = &x.w;
    match w.get(1).map(String::as_str) {
        Some("set-header" | "add-header") if w.len() >= 4 && !w[3].contains("%[") => {
            f.edits.push((x.n, w[2].clone(), w[3].clone()))
        }
        Some("del-header") if w.len() >= 3 => f.edits.push((x.n, w[2].clone(), String::new())),
        Some("return") => {
            let arg = |k: &str| w.iter().position(|a| a == k).and_then(|i| w.get(i + 1)).cloned();
            let status = arg("status").and_then(|s| s.parse().ok()).unwrap_or(200);
            let body = arg("string").or_else(|| arg("lf-string")).unwrap_or_default();
            let at = w.iter().position(|a| a == "if" || a == "unless").unwrap_or(w.len());
            f.answers.push((x.n, status, body, cond(&w[at..])));
        }
        Some("deny") => {
            let status =
                w.iter().position(|a| a == "deny_status").and_then(|i| w.get(i + 1)?.parse().ok()).unwrap_or(403);
            let at = w.iter().position(|a| a == "if" || a == "unless").unwrap_or(w.len());
            f.answers.push((x.n, status, "Forbidden\n".into(), cond(&w[at..])));
        }
        Some(other) => {
            d.warn(x.n, &format!("http-request {other}"), "not translated (sample expressions or a rule sluice lacks)")
        }
        None => {}
    }
}

/// The route match keys of an ACL condition (ANDed names; `!` and `||` are not translated).
fn matchers(f: &Front, c: &[String], n: usize, d: &mut Doc) -> Option<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for name in c {
        if name.starts_with('!') || name == "||" || name == "or" || name.starts_with('{') {
            d.warn(n, name, "negated, OR-ed and inline conditions are not translated: route skipped");
            return None;
        }
        let Some(defs) = f.acls.get(name) else {
            d.warn(n, name, "unknown ACL: route skipped");
            return None;
        };
        for (line, fetch, args) in defs {
            let args: Vec<&str> = args.split_whitespace().filter(|a| !a.starts_with('-')).collect();
            let first = args.first().copied().unwrap_or("");
            let kv = match fetch.as_str() {
                "hdr(host)" | "hdr(Host)" | "hdr_dom(host)" | "req.hdr(host)" => ("host", q(first)),
                "path_beg" => ("path_prefix", q(first)),
                "path" => ("path", q(first)),
                "path_reg" => ("path_regex", q(first)),
                "method" => ("method", format!("[{}]", args.iter().map(|a| q(a)).collect::<Vec<_>>().join(", "))),
                other => {
                    d.warn(*line, &format!("acl {name} {other}"), "fetch not translated: route skipped");
                    return None;
                }
            };
            out.push((*line, kv.0.to_string(), kv.1));
        }
    }
    Some(out)
}

fn routes(l: &mut Listener, f: Front, d: &mut Doc) {
    if l.protocol == "tcp" {
        if let Some((n, b)) = &f.default {
            set(&mut l.keys, *n, "cluster", q(b));
        }
        return;
    }
    let adds: Vec<(String, String)> = f.edits.iter().filter(|e| !e.2.is_empty()).map(|e| (q(&e.1), q(&e.2))).collect();
    let dels: Vec<String> = f.edits.iter().filter(|e| e.2.is_empty()).map(|e| q(&e.1)).collect();
    let edit_line = f.edits.first().map_or(0, |e| e.0);
    let edit = |r: &mut Route| {
        if !adds.is_empty() {
            let t = adds.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ");
            set(&mut r.keys, edit_line, "add_request_headers", format!("{{ {t} }}"));
        }
        if !dels.is_empty() {
            set(&mut r.keys, edit_line, "remove_request_headers", format!("[{}]", dels.join(", ")));
        }
    };
    for (n, status, body, c) in &f.answers {
        let Some(m) = matchers(&f, c, *n, d) else { continue };
        let mut r = Route { line: *n, keys: m };
        set(&mut r.keys, *n, "respond", format!("{{ status = {status}, body = {} }}", q(body)));
        l.routes.push(r);
    }
    for (n, b, c) in &f.uses {
        let Some(m) = matchers(&f, c, *n, d) else { continue };
        let mut r = Route { line: *n, keys: m };
        set(&mut r.keys, *n, "cluster", q(b));
        edit(&mut r);
        l.routes.push(r);
    }
    if let Some((n, b)) = &f.default {
        let mut r = Route { line: *n, keys: Vec::new() };
        set(&mut r.keys, *n, "cluster", q(b));
        edit(&mut r);
        l.routes.push(r);
    }
}
