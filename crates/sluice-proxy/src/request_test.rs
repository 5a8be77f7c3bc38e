//! Unit tests of `request.rs`.

use super::*;

#[test]
fn host_port_is_ignored() {
    assert_eq!(strip_port("a.test:8080"), "a.test");
    assert_eq!(strip_port("a.test"), "a.test");
    assert_eq!(strip_port("[::1]:80"), "::1");
}

#[test]
fn limits_are_enforced() {
    let limits =
        ListenerLimits { max_header_count: 3, max_header_bytes: 100, max_body_bytes: 10, ..Default::default() };
    let ok = Request::builder().uri("/").header("host", "a").body(()).unwrap();
    assert_eq!(check(&ok, &limits), Ok(()));
    let no_host = Request::builder().uri("/").body(()).unwrap();
    assert_eq!(check(&no_host, &limits), Err(ProxyError::BadRequest("missing Host header")));
    let big = Request::builder().uri("/").header("host", "a").header("x", "y".repeat(100)).body(()).unwrap();
    assert_eq!(check(&big, &limits), Err(ProxyError::HeadersTooLarge));
    let body = Request::builder().uri("/").header("host", "a").header("content-length", "11").body(()).unwrap();
    assert_eq!(check(&body, &limits), Err(ProxyError::BodyTooLarge));
}
