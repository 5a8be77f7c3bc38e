//! Routing: every match field, first match wins, 404 on no match, the canary split ratio,
//! and the per-route header edits and host rewrite.

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
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
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
