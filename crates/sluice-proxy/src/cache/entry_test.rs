//! Freshness, stale windows and `Vary` decisions of an entry, at chosen instants.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_cache_semantics::{CacheOptions, CachePolicy};
use sluice_config::{KeyPart, RouteCache};

use super::*;

fn route(swr: u64, sie: u64) -> RouteCache {
    RouteCache {
        store: "s".into(),
        stale_while_revalidate: Duration::from_secs(swr),
        stale_if_error: Duration::from_secs(sie),
        coalesce: true,
        key: vec![KeyPart::Host, KeyPart::Path, KeyPart::Query],
    }
}

fn entry(req_headers: &[(&str, &str)], resp_headers: &[(&str, &str)], r: &RouteCache, t0: SystemTime) -> Entry {
    let mut req = Request::get("/x");
    for (k, v) in req_headers {
        req = req.header(*k, *v);
    }
    let req = req.body(()).unwrap();
    let mut resp = Response::builder().status(200);
    for (k, v) in resp_headers {
        resp = resp.header(*k, *v);
    }
    let resp = resp.body(()).unwrap();
    let canon = Canon { method: req.method(), headers: req.headers() };
    let policy = CachePolicy::new_options(&canon, &resp, t0, CacheOptions::default());
    let (head, ()) = resp.into_parts();
    Entry::new(policy, &head, Bytes::from_static(b"body"), r, t0)
}

fn decide(e: &Entry, headers: &[(&str, &str)], at: SystemTime) -> Option<&'static str> {
    let h: HeaderMap = headers.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect();
    let canon = Canon { method: &Method::GET, headers: &h };
    e.decide(&canon, at, true).map(|u| match u {
        Use::Fresh(_) => "fresh",
        Use::StaleWhileRevalidate => "swr",
        Use::Revalidate(_) => "revalidate",
    })
}

#[test]
fn max_age_then_the_routes_stale_window() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let e = entry(&[], &[("cache-control", "max-age=10"), ("etag", "\"a\"")], &route(30, 0), t0);
    let s = Duration::from_secs;
    assert_eq!(decide(&e, &[], t0 + s(9)), Some("fresh"));
    assert_eq!(decide(&e, &[], t0 + s(11)), Some("swr"), "route default: 30 s of stale-while-revalidate");
    assert_eq!(decide(&e, &[], t0 + s(41)), Some("revalidate"), "past the window");
    assert_eq!(decide(&e, &[("cache-control", "no-cache")], t0 + s(1)), Some("revalidate"), "the client asks");
    assert!(!e.serves_if_error(t0 + s(11)), "no stale-if-error on this route");
}

#[test]
fn the_responses_own_windows_are_capped_by_the_routes() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let s = Duration::from_secs;
    let e = entry(
        &[],
        &[("cache-control", "max-age=10, stale-while-revalidate=5, stale-if-error=600")],
        &route(30, 60),
        t0,
    );
    assert_eq!(decide(&e, &[], t0 + s(14)), Some("swr"));
    assert_eq!(decide(&e, &[], t0 + s(16)), Some("revalidate"), "the response's 5 s, under the route's 30");
    assert!(e.serves_if_error(t0 + s(69)));
    assert!(!e.serves_if_error(t0 + s(71)), "capped at the route's 60 s");
    let strict = entry(&[], &[("cache-control", "max-age=10, must-revalidate")], &route(30, 60), t0);
    assert_eq!(decide(&strict, &[], t0 + s(11)), Some("revalidate"), "must-revalidate: never stale");
    assert!(!strict.serves_if_error(t0 + s(11)));
}

#[test]
fn vary_keeps_variants_apart_and_age_counts() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let e = entry(
        &[("accept-language", "de")],
        &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
        &route(0, 0),
        t0,
    );
    let at = t0 + Duration::from_secs(7);
    assert_eq!(decide(&e, &[("accept-language", "de")], at), Some("fresh"));
    assert_eq!(decide(&e, &[("accept-language", "fr")], at), None, "another variant");
    assert_eq!(e.head(at).headers["age"], "7");
    assert_eq!(e.ttl(at), 53);
}
