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

#[test]
fn grpc_requests_and_deadlines() {
    let req =
        |ct: &str, t: &str| Request::builder().header("content-type", ct).header("grpc-timeout", t).body(()).unwrap();
    assert!(is_grpc(&req("application/grpc", "1S")) && is_grpc(&req("application/grpc+proto", "1S")));
    assert!(!is_grpc(&req("application/json", "1S")));
    let ms = |t: &str| grpc_timeout(&req("application/grpc", t)).map(|d| d.as_millis());
    assert_eq!((ms("100m"), ms("2S"), ms("1M"), ms("1500u")), (Some(100), Some(2000), Some(60_000), Some(1)));
    assert_eq!(ms("99999999H"), Some(3_600_000), "capped at an hour");
    assert_eq!((ms("S"), ms("10"), ms("123456789m"), ms("-1S"), ms("1x")), (None, None, None, None, None));
}

#[test]
fn one_authority_per_request() {
    let limits = ListenerLimits::default();
    let h2 = |uri: &str, host: Option<&str>| {
        let mut b = Request::builder().version(Version::HTTP_2).uri(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        b.body(()).unwrap()
    };
    assert_eq!(check(&h2("https://a.test/", None), &limits), Ok(()));
    assert_eq!(check(&h2("/", Some("a.test")), &limits), Ok(()), "Host alone stands for :authority");
    assert_eq!(check(&h2("https://a.test/", Some("A.test")), &limits), Ok(()), "names compare without case");
    assert_eq!(
        check(&h2("https://a.test/", Some("b.test")), &limits),
        Err(ProxyError::BadRequest(":authority and Host disagree"))
    );
    assert_eq!(check(&h2("/", None), &limits), Err(ProxyError::BadRequest("missing :authority")));
    let two = Request::builder().uri("/").header("host", "a").header("host", "b").body(()).unwrap();
    assert_eq!(check(&two, &limits), Err(ProxyError::BadRequest("more than one Host header")));
    let absolute = Request::builder().uri("http://a.test:81/p").header("host", "b.test").body(()).unwrap();
    assert_eq!(check(&absolute, &limits), Ok(()));
    assert_eq!(host_of(&absolute), Some("a.test"), "an absolute-form target wins over Host (RFC 9112 3.2.2)");
    assert_eq!(authority_of(&h2("/", Some("c.test:8443"))), Some("c.test:8443"));
}
