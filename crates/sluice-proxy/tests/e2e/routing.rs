//! Routing: every match field, first match wins, 404 on no match, the canary split ratio,
//! and the per-route header edits and host rewrite.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::support::*;

const CONFIG: &str = r#"
workers = 1
[listeners.web]
bind = "127.0.0.1:0"

[[listeners.web.routes]]
host = "api.example.test"
cluster = "host_exact"
[[listeners.web.routes]]
host = "*.wild.test"
cluster = "host_wild"
[[listeners.web.routes]]
path = "/exact"
cluster = "path_exact"
[[listeners.web.routes]]
path_regex = "^/users/[0-9]+$"
cluster = "regex"
[[listeners.web.routes]]
method = ["DELETE", "PUT"]
path_prefix = "/m/"
cluster = "method"
[[listeners.web.routes]]
headers = { x-canary = "1" }
cluster = "header"
[[listeners.web.routes]]
headers = { x-debug = true }
cluster = "header_present"
[[listeners.web.routes]]
cookies = { group = "beta" }
cluster = "cookie"
[[listeners.web.routes]]
query = { v = "2" }
cluster = "query"
[[listeners.web.routes]]
path_prefix = "/edit/"
cluster = "edit"
host_rewrite = "internal.svc"
add_request_headers = { x-added = "yes" }
remove_request_headers = ["x-secret"]
add_response_headers = { x-served-by = "sluice" }
remove_response_headers = ["x-body-len"]
[[listeners.web.routes]]
path_prefix = "/prefix/"
cluster = "prefix"

[clusters.host_exact]
endpoints = ["{a}"]
[clusters.host_wild]
endpoints = ["{b}"]
[clusters.path_exact]
endpoints = ["{c}"]
[clusters.regex]
endpoints = ["{d}"]
[clusters.method]
endpoints = ["{e}"]
[clusters.header]
endpoints = ["{f}"]
[clusters.header_present]
endpoints = ["{g}"]
[clusters.cookie]
endpoints = ["{h}"]
[clusters.query]
endpoints = ["{i}"]
[clusters.prefix]
endpoints = ["{j}"]
[clusters.edit]
endpoints = ["{k}"]
"#;

#[tokio::test]
async fn every_match_field_routes() {
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
    let backends: Vec<Backend> = names.iter().map(|n| Backend::start(n)).collect();
    let subs: Vec<(&str, _)> = names.iter().zip(&backends).map(|(n, b)| (*n, b.addr)).collect();
    let h = proxy(CONFIG, &subs);
    let addr = h.addr("web").unwrap();
    let cases: &[(&str, &[(&str, &str)], &str)] = &[
        ("/", &[("host", "api.example.test:8080")], "a"),
        ("/", &[("host", "x.y.wild.test")], "b"),
        ("/exact", &[], "c"),
        ("/users/42", &[], "d"),
        ("/prefix/users/bob", &[], "j"),
        ("/p?v=2", &[], "i"),
        ("/p?v=3", &[], "404"),
        ("/", &[("x-canary", "1")], "f"),
        ("/", &[("x-canary", "2")], "404"),
        ("/", &[("x-debug", "anything")], "g"),
        ("/", &[("cookie", "a=1; group=beta")], "h"),
        ("/m/x", &[], "404"),
    ];
    for (path, headers, want) in cases {
        let r = get(addr, path, headers).await;
        let got = if r.status == 404 { "404" } else { r.backend() };
        assert_eq!(got, *want, "{path} {headers:?}: {} {}", r.status, r.body);
    }
    let del = http::Request::delete("/m/x").header("host", "t").body(Default::default()).unwrap();
    assert_eq!(send(addr, del).await.backend(), "e");
    stop(h);
}

#[tokio::test]
async fn no_match_is_404_with_reason() {
    let b = Backend::start("a");
    let h = proxy("[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath = \"/only\"\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n", &[("a", b.addr)]);
    let r = get(h.addr("web").unwrap(), "/other", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, "404 no route matches this request\n");
    assert_eq!(b.hits(), 0);
    stop(h);
}

#[tokio::test]
async fn route_edits_headers_and_rewrites_host() {
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
    let backends: Vec<Backend> = names.iter().map(|n| Backend::start(n)).collect();
    let subs: Vec<(&str, _)> = names.iter().zip(&backends).map(|(n, b)| (*n, b.addr)).collect();
    let h = proxy(CONFIG, &subs);
    let r = get(h.addr("web").unwrap(), "/edit/x", &[("x-secret", "s"), ("host", "public.test")]).await;
    let j = r.json();
    assert_eq!(j["headers"]["host"], "internal.svc");
    assert_eq!(j["headers"]["x-added"], "yes");
    assert!(j["headers"].get("x-secret").is_none());
    assert_eq!(j["headers"]["x-forwarded-host"], "public.test");
    assert_eq!(r.headers["x-served-by"], "sluice");
    assert!(r.headers.get("x-body-len").is_none());
    stop(h);
}

#[tokio::test]
async fn canary_split_follows_weights() {
    let (a, b) = (Backend::start("stable"), Backend::start("canary"));
    let h = proxy(
        r#"
workers = 2
[listeners.web]
bind = "127.0.0.1:0"
[[listeners.web.routes]]
split = [{ cluster = "stable", weight = 90 }, { cluster = "canary", weight = 10 }]
[clusters.stable]
endpoints = ["{a}"]
[clusters.canary]
endpoints = ["{b}"]
"#,
        &[("a", a.addr), ("b", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let n = 1000;
    let mut canary = 0;
    for _ in 0..n {
        if get(addr, "/", &[]).await.backend() == "canary" {
            canary += 1;
        }
    }
    // 10% of 1000: a binomial sd of ~9.5, so 60..140 is beyond 4 sd either way.
    assert!((60..=140).contains(&canary), "canary got {canary} of {n}");
    stop(h);
}

#[tokio::test]
async fn respond_route_answers_without_upstream() {
    let b = Backend::start("a");
    let h = proxy(
        "[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath = \"/healthz\"\nrespond = { status = 200, body = \"ok\\n\" }\nadd_response_headers = { cache-control = \"no-store\" }\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let r = get(h.addr("web").unwrap(), "/healthz", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(b.hits(), 0);
    stop(h);
}

#[tokio::test]
async fn rate_limit_admits_the_burst_then_429_with_retry_after() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 2\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/login\"\ncluster = \"a\"\nrate_limit = { key = \"source_ip\", rate = \"1/m\", burst = 3 }\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"header:x-api-key\", rate = \"1/m\", burst = 1 }\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let statuses: Vec<u16> = futures_util::future::join_all((0..5).map(|_| get(addr, "/login", &[])))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "exactly the burst passes: {statuses:?}");
    let r = get(addr, "/login", &[]).await;
    assert_eq!((r.status, r.headers["x-sluice-error"].to_str().unwrap()), (429, "rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(get(addr, "/x", &[("x-api-key", "k1")]).await.status, 200);
    assert_eq!(get(addr, "/x", &[("x-api-key", "k1")]).await.status, 429);
    assert_eq!(get(addr, "/x", &[("x-api-key", "k2")]).await.status, 200, "another key, another bucket");
    assert_eq!(b.hits(), 5);
    stop(h);
}

#[tokio::test]
async fn mirror_copies_requests_and_a_slow_shadow_costs_the_client_nothing() {
    let main = Backend::start("main");
    let shadow = Backend::start_with("shadow", Duration::from_millis(800));
    let h = proxy(
        "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"main\"\nmirror = { cluster = \"shadow\", percent = 100, max_body_bytes = 2000 }\n[clusters.main]\nendpoints = [\"{m}\"]\n[clusters.shadow]\nendpoints = [\"{s}\"]\n",
        &[("m", main.addr), ("s", shadow.addr)],
    );
    let addr = h.addr("web").unwrap();
    let t = std::time::Instant::now();
    for i in 0..5 {
        let r = get(addr, &format!("/item/{i}"), &[]).await;
        assert_eq!((r.status, r.backend()), (200, "main"));
    }
    assert!(t.elapsed() < Duration::from_millis(700), "the client never waits for the shadow: {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shadow.hits(), 5, "every request was copied");
    let post = |n: usize| {
        let body = http_body_util::Full::new(bytes::Bytes::from(vec![b'x'; n]));
        http::Request::post("/item").header("host", "t").body(body).unwrap()
    };
    let r = send(addr, post(1000)).await;
    assert_eq!((r.status, r.headers["x-body-len"].to_str().unwrap()), (200, "1000"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!((shadow.hits(), shadow.bytes_in.load(SeqCst)), (6, 1000), "the body was copied whole");
    let r = send(addr, post(3000)).await;
    assert_eq!(
        (r.status, r.headers["x-body-len"].to_str().unwrap()),
        (200, "3000"),
        "the primary gets a body over the mirror limit"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(shadow.hits(), 6, "a body over max_body_bytes drops the copy");
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_route_mirror_dropped_total{listener=\"web\",route=\"0\"} 1"), "{m}");
    stop(h);
}

#[tokio::test]
async fn rate_limit_source_ip_follows_a_trusted_x_forwarded_for() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"source_ip\", rate = \"1/m\", burst = 1 }\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let from = |c: &'static str| [("x-forwarded-for", c)];
    assert_eq!(get(addr, "/", &from("198.51.100.1, 10.0.0.5")).await.status, 200);
    assert_eq!(
        get(addr, "/", &from("198.51.100.1, 10.0.0.9")).await.status,
        429,
        "same client behind other trusted hops"
    );
    assert_eq!(get(addr, "/", &from("198.51.100.2")).await.status, 200, "another client, another bucket");
    stop(h);
}
