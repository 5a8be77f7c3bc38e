//! Route validation: match fields (regex compiled, names normalized), the target (one
//! cluster or a weighted split naming existing clusters), timeout and header edits.

use std::collections::BTreeMap;

use std::time::Duration;

use regex::Regex;
use sluice_core::{HostMatch, RouteMatch, ValueMatch};

use crate::checker::V;
use crate::file::*;
use crate::model::*;

pub fn route(v: &mut V, r: &FileRoute, path: &str, clusters: &[String]) -> Option<RouteConfig> {
    let matcher = matcher(v, r, path);
    let target = target(v, r, path, clusters);
    let timeout = r.timeout.as_ref().map(|_| v.timeout(&r.timeout, &format!("{path}.timeout"), Default::default()));
    Some(RouteConfig {
        sni: r.sni.as_ref().map(|h| HostMatch::parse(h.get_ref())),
        matcher,
        target: target?,
        timeout,
        host_rewrite: r.host_rewrite.as_ref().map(|h| h.get_ref().clone()),
        retry_non_idempotent: r.retry_non_idempotent.unwrap_or(false),
        rate_limit: r.rate_limit.as_ref().and_then(|l| rate_limit(v, l, &format!("{path}.rate_limit"))),
        mirror: r.mirror.as_ref().and_then(|m| mirror(v, m, &format!("{path}.mirror"), clusters)),
        add_request_headers: header_adds(v, &r.add_request_headers, &format!("{path}.add_request_headers")),
        remove_request_headers: header_removes(v, &r.remove_request_headers, &format!("{path}.remove_request_headers")),
        add_response_headers: header_adds(v, &r.add_response_headers, &format!("{path}.add_response_headers")),
        remove_response_headers: header_removes(
            v,
            &r.remove_response_headers,
            &format!("{path}.remove_response_headers"),
        ),
        cache: r.cache.as_ref().map(|c| crate::cache::route_cache(v, c, &format!("{path}.cache"))),
        compress: r.compress.as_ref().map(|c| crate::cache::compress(v, c, &format!("{path}.compress"))),
    })
}

fn matcher(v: &mut V, r: &FileRoute, path: &str) -> RouteMatch {
    let path_regex = r.path_regex.as_ref().and_then(|re| match Regex::new(re.get_ref()) {
        Ok(x) => Some(x),
        Err(e) => {
            let msg = format!("invalid regex: {}", e.to_string().lines().last().unwrap_or(""));
            v.err(re.span(), &format!("{path}.path_regex"), msg, None);
            None
        }
    });
    for (field, val) in [("path", &r.path), ("path_prefix", &r.path_prefix)] {
        if let Some(p) = val.as_ref().filter(|p| !p.get_ref().starts_with('/')) {
            v.err(p.span(), &format!("{path}.{field}"), "path must start with `/`", None);
        }
    }
    RouteMatch {
        host: r.host.as_ref().map(|h| HostMatch::parse(h.get_ref())),
        path: r.path.as_ref().map(|p| p.get_ref().clone()),
        path_prefix: r.path_prefix.as_ref().map(|p| p.get_ref().clone()),
        path_regex,
        methods: methods(v, r, path),
        headers: values(v, &r.headers, &format!("{path}.headers"), true),
        cookies: values(v, &r.cookies, &format!("{path}.cookies"), false),
        query: values(v, &r.query, &format!("{path}.query"), false),
    }
}

fn methods(v: &mut V, r: &FileRoute, path: &str) -> Vec<String> {
    let Some(m) = &r.method else {
        return Vec::new();
    };
    let list = match m.get_ref() {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(l) => l.clone(),
    };
    if list.is_empty() || list.iter().any(|s| !is_token(s)) {
        v.err(
            m.span(),
            &format!("{path}.method"),
            "methods must be non-empty tokens",
            Some("e.g. \"GET\" or [\"GET\", \"HEAD\"]"),
        );
    }
    list.into_iter().map(|s| s.to_ascii_uppercase()).collect()
}

fn values(
    v: &mut V,
    m: &Option<BTreeMap<String, S<MatchValue>>>,
    path: &str,
    header: bool,
) -> Vec<(String, ValueMatch)> {
    let mut out = Vec::new();
    for (name, val) in m.iter().flatten() {
        if header && !is_token(name) {
            v.err(val.span(), &format!("{path}.{name}"), format!("`{name}` is not a valid header name"), None);
        }
        let vm = match val.get_ref() {
            MatchValue::Exact(s) => ValueMatch::Exact(s.clone()),
            MatchValue::Present(true) => ValueMatch::Present,
            MatchValue::Present(false) => ValueMatch::Absent,
        };
        out.push((if header { name.to_ascii_lowercase() } else { name.clone() }, vm));
    }
    out
}

fn target(v: &mut V, r: &FileRoute, path: &str, clusters: &[String]) -> Option<RouteTarget> {
    let known = |v: &mut V, c: &S<String>, p: &str| {
        let ok = clusters.iter().any(|k| k == c.get_ref());
        if !ok {
            let hint =
                format!("defined clusters: {}", if clusters.is_empty() { "none".into() } else { clusters.join(", ") });
            v.err(c.span(), p, format!("cluster `{}` is not defined", c.get_ref()), Some(&hint));
        }
        ok
    };
    let given: Vec<std::ops::Range<usize>> = [
        r.cluster.as_ref().map(|c| c.span()),
        r.split.as_ref().map(|c| c.span()),
        r.respond.as_ref().map(|c| c.span()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        let msg = "a route has exactly one of `cluster`, `split` or `respond`";
        v.err(given[1].clone(), path, msg, None);
        return None;
    }
    if let Some(c) = &r.cluster {
        return known(v, c, &format!("{path}.cluster")).then(|| RouteTarget::Cluster(c.get_ref().clone()));
    }
    if let Some(split) = &r.split {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, s) in split.get_ref().iter().enumerate() {
            ok &= known(v, &s.cluster, &format!("{path}.split[{i}].cluster"));
            let w = v.int(&Some(s.weight.clone()), &format!("{path}.split[{i}].weight"), 0, 1_000_000, 0);
            out.push((s.cluster.get_ref().clone(), w as u32));
        }
        if out.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 {
            let hint = Some("give at least one cluster a weight above 0");
            v.err(split.span(), &format!("{path}.split"), "split weights sum to 0", hint);
            ok = false;
        }
        return ok.then_some(RouteTarget::Split(out));
    }
    if let Some(resp) = &r.respond {
        return respond(v, resp, &format!("{path}.respond"));
    }
    let span = r.host.as_ref().or(r.path_prefix.as_ref()).or(r.path.as_ref()).map_or(0..0, |s| s.span());
    let hint = Some("add cluster = \"...\", split = [...] or respond = { status = 200 }");
    v.err(span, path, "route has no target", hint);
    None
}

/// A direct answer (NGINX `return`): status 200..=599, a body and its content type.
fn respond(v: &mut V, r: &S<FileRespond>, path: &str) -> Option<RouteTarget> {
    let f = r.get_ref();
    let status = v.int(&Some(f.status.clone()), &format!("{path}.status"), 200, 599, 0);
    let content_type = f.content_type.clone().unwrap_or_else(|| "text/plain; charset=utf-8".into());
    if content_type.bytes().any(|b| b.is_ascii_control()) {
        v.err(r.span(), &format!("{path}.content_type"), "invalid header value", None);
        return None;
    }
    (status != 0).then(|| RouteTarget::Respond {
        status: status as u16,
        body: f.body.clone().unwrap_or_default(),
        content_type,
    })
}

fn header_adds(v: &mut V, m: &Option<BTreeMap<String, S<String>>>, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, val) in m.iter().flatten() {
        if !is_token(name) || val.get_ref().bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            v.err(val.span(), &format!("{path}.{name}"), "invalid header name or value", None);
            continue;
        }
        out.push((name.to_ascii_lowercase(), val.get_ref().clone()));
    }
    out
}

fn header_removes(v: &mut V, l: &Option<Vec<S<String>>>, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in l.iter().flatten() {
        if !is_token(name.get_ref()) {
            v.err(name.span(), path, format!("`{}` is not a valid header name", name.get_ref()), None);
            continue;
        }
        out.push(name.get_ref().to_ascii_lowercase());
    }
    out
}

/// RFC 9110 token: what header names and methods are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub fn rate_limit(v: &mut V, l: &S<FileRateLimit>, path: &str) -> Option<RateLimitConfig> {
    let f = l.get_ref();
    let rate = match sluice_core::bucket::parse_rate(f.rate.get_ref()) {
        Ok(r) => r,
        Err(e) => {
            v.err(f.rate.span(), &format!("{path}.rate"), e, Some("like \"10/s\" or \"600/m\""));
            return None;
        }
    };
    let parts = match f.key.get_ref() {
        OneOrMany::One(k) => vec![k.clone()],
        OneOrMany::Many(ks) => ks.clone(),
    };
    let mut keys = Vec::new();
    for k in &parts {
        let key = match k.split_once(':') {
            None if k == "source_ip" => LimitKey::SourceIp,
            None if k == "route" => LimitKey::Route,
            Some(("header", n)) if is_token(n) => LimitKey::Header(n.to_ascii_lowercase()),
            Some(("cookie", n)) if !n.is_empty() => LimitKey::Cookie(n.to_string()),
            _ => {
                let hint = Some("source_ip, route, header:NAME, cookie:NAME, or a list of them");
                v.err(f.key.span(), &format!("{path}.key"), format!("unknown key `{k}`"), hint);
                return None;
            }
        };
        keys.push(key);
    }
    let burst = v.int(&f.burst, &format!("{path}.burst"), 1, 1_000_000, rate.ceil().max(1.0) as i64) as u32;
    let max_keys = v.int(&f.max_keys, &format!("{path}.max_keys"), 16, 100_000_000, 100_000) as usize;
    let store = limit_store(v, f, path)?;
    Some(RateLimitConfig { keys, rate, burst, max_keys, store })
}

/// `store`, `store_timeout`, `store_fallback`: where a shared bucket lives.
fn limit_store(v: &mut V, f: &FileRateLimit, path: &str) -> Option<Option<LimitStore>> {
    let url = match &f.store {
        None => None,
        Some(s) if s.get_ref() == "local" => None,
        Some(s) if valid_redis_url(s.get_ref()) => Some(s.get_ref().clone()),
        Some(s) => {
            let hint = Some("\"local\" or \"redis://HOST:PORT\" (optionally /DB)");
            v.err(s.span(), &format!("{path}.store"), format!("unsupported store `{}`", s.get_ref()), hint);
            return None;
        }
    };
    let timeout = v.timeout(&f.store_timeout, &format!("{path}.store_timeout"), Duration::from_millis(100));
    let fallback = match f.store_fallback.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("local") => StoreFallback::Local,
        Some("allow") => StoreFallback::Allow,
        Some("deny") => StoreFallback::Deny,
        Some(other) => {
            let span = f.store_fallback.as_ref().map_or(0..0, |s| s.span());
            let msg = format!("unknown fallback `{other}`");
            v.err(span, &format!("{path}.store_fallback"), msg, Some("local, allow or deny"));
            return None;
        }
    };
    if url.is_none() && (f.store_timeout.is_some() || f.store_fallback.is_some()) {
        let span = f.store_timeout.as_ref().map(|s| s.span()).or(f.store_fallback.as_ref().map(|s| s.span()));
        let hint = Some("set store = \"redis://HOST:PORT\"");
        v.err(span.unwrap_or(0..0), &format!("{path}.store"), "store settings without a shared store", hint);
    }
    Some(url.map(|url| LimitStore { url, timeout, fallback }))
}

/// `redis://host:port[/db]` with a non-empty host.
fn valid_redis_url(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("redis://") else { return false };
    let (hostport, db) = rest.split_once('/').unwrap_or((rest, ""));
    let host = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    !host.is_empty() && (db.is_empty() || db.bytes().all(|b| b.is_ascii_digit()))
}

fn mirror(v: &mut V, m: &S<FileMirror>, path: &str, clusters: &[String]) -> Option<MirrorConfig> {
    let f = m.get_ref();
    if !clusters.contains(f.cluster.get_ref()) {
        v.err(
            f.cluster.span(),
            &format!("{path}.cluster"),
            format!("cluster `{}` is not defined", f.cluster.get_ref()),
            None,
        );
        return None;
    }
    let percent = match &f.percent {
        Some(p) if (0.0..=100.0).contains(p.get_ref()) => *p.get_ref(),
        Some(p) => {
            v.err(
                p.span(),
                &format!("{path}.percent"),
                format!("{} is not a percentage", p.get_ref()),
                Some("0..=100"),
            );
            return None;
        }
        None => 100.0,
    };
    let max_in_flight = v.int(&f.max_in_flight, &format!("{path}.max_in_flight"), 1, 1_000_000, 64) as u32;
    let max_body_bytes = v.size(&f.max_body_bytes, &format!("{path}.max_body_bytes"), 128 * 1024);
    Some(MirrorConfig { cluster: f.cluster.get_ref().clone(), percent, max_in_flight, max_body_bytes })
}
