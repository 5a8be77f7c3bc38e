//! Tests for route matching: every field, alone and combined.

use super::*;

#[derive(Default)]
struct Req {
    host: Option<&'static str>,
    path: &'static str,
    query: Option<&'static str>,
    method: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    cookie: Option<&'static str>,
}

impl RequestView for Req {
    fn host(&self) -> Option<&str> {
        self.host
    }
    fn path(&self) -> &str {
        self.path
    }
    fn query(&self) -> Option<&str> {
        self.query
    }
    fn method(&self) -> &str {
        self.method
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookie.and_then(|c| cookie_value(c, name))
    }
}

fn req(path: &'static str) -> Req {
    Req { path, method: "GET", ..Default::default() }
}

#[test]
fn empty_match_matches_everything() {
    assert!(RouteMatch::default().matches(&req("/anything")));
}

#[test]
fn host_exact_and_wildcard() {
    let exact = RouteMatch { host: Some(HostMatch::parse("API.example.com")), ..Default::default() };
    let wild = RouteMatch { host: Some(HostMatch::parse("*.example.com")), ..Default::default() };
    let r = |h| Req { host: Some(h), ..req("/") };
    assert!(exact.matches(&r("api.EXAMPLE.com")));
    assert!(!exact.matches(&r("www.example.com")));
    assert!(!exact.matches(&req("/")));
    assert!(wild.matches(&r("a.b.example.com")));
    assert!(!wild.matches(&r("example.com")));
    assert!(!wild.matches(&r("badexample.com")));
}

#[test]
fn path_exact_prefix_and_regex() {
    let exact = RouteMatch { path: Some("/healthz".into()), ..Default::default() };
    let prefix = RouteMatch { path_prefix: Some("/v1/".into()), ..Default::default() };
    let re = RouteMatch { path_regex: Some(Regex::new(r"^/users/\d+$").unwrap()), ..Default::default() };
    assert!(exact.matches(&req("/healthz")) && !exact.matches(&req("/healthz/x")));
    assert!(prefix.matches(&req("/v1/users")) && !prefix.matches(&req("/v2/")));
    assert!(re.matches(&req("/users/42")) && !re.matches(&req("/users/bob")));
}

#[test]
fn method_header_cookie_query() {
    let m = RouteMatch {
        methods: vec!["POST".into()],
        headers: vec![("x-canary".into(), ValueMatch::Exact("1".into())), ("x-debug".into(), ValueMatch::Absent)],
        cookies: vec![("group".into(), ValueMatch::Exact("beta".into()))],
        query: vec![("v".into(), ValueMatch::Present)],
        ..Default::default()
    };
    let good = Req {
        method: "POST",
        headers: vec![("x-canary", "1")],
        cookie: Some("a=1; group=beta"),
        query: Some("x=1&v"),
        ..req("/")
    };
    assert!(m.matches(&good));
    assert!(!m.matches(&Req { method: "GET", ..good_clone(&good) }));
    assert!(!m.matches(&Req { headers: vec![("x-canary", "2")], ..good_clone(&good) }));
    assert!(!m.matches(&Req { headers: vec![("x-canary", "1"), ("x-debug", "1")], ..good_clone(&good) }));
    assert!(!m.matches(&Req { cookie: Some("group=alpha"), ..good_clone(&good) }));
    assert!(!m.matches(&Req { query: Some("x=1"), ..good_clone(&good) }));
}

fn good_clone(r: &Req) -> Req {
    Req { host: r.host, path: r.path, query: r.query, method: r.method, headers: r.headers.clone(), cookie: r.cookie }
}

#[test]
fn query_and_cookie_parsing() {
    assert_eq!(query_value("a=1&b=2", "b"), Some("2"));
    assert_eq!(query_value("flag&b=2", "flag"), Some(""));
    assert_eq!(query_value("ab=1", "a"), None);
    assert_eq!(cookie_value("a=1; b=\"two\"", "b"), Some("two"));
    assert_eq!(cookie_value("a=1", "b"), None);
}
