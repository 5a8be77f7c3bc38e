//! Request-head parsing: framing decisions, keep-alive, limits and the errors clients get.

use bytes::BytesMut;
use http::{Method, Version};

use super::{parse, Framing, HeadError, HeadLimits};

const LIM: HeadLimits = HeadLimits { max_bytes: 1024, max_headers: 8 };

fn one(raw: &str) -> Result<Option<super::Head>, HeadError> {
    parse(&mut BytesMut::from(raw), LIM)
}

#[test]
fn a_simple_get_is_parsed_and_removed_from_the_buffer() {
    let mut buf = BytesMut::from("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Y: z\r\n\r\nNEXT");
    let h = parse(&mut buf, LIM).unwrap().unwrap();
    assert_eq!(h.parts.method, Method::GET);
    assert_eq!(h.parts.uri, "/a?b=1");
    assert_eq!(h.parts.version, Version::HTTP_11);
    assert_eq!(h.parts.headers["host"], "x");
    assert_eq!(h.parts.headers["x-y"], "z");
    assert_eq!(h.framing, Framing::None);
    assert!(h.keep_alive);
    assert_eq!(&buf[..], b"NEXT", "the bytes after the head stay for the body or next request");
}

#[test]
fn a_partial_head_asks_for_more() {
    let mut buf = BytesMut::from("GET / HTTP/1.1\r\nHost: x\r\n");
    assert!(parse(&mut buf, LIM).unwrap().is_none());
    assert_eq!(buf.len(), 25, "nothing consumed");
}

#[test]
fn framing_follows_rfc_9112() {
    let h = one("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.framing, Framing::Length(5));
    let h = one("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.framing, Framing::Chunked);
    let h = one("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.framing, Framing::None);
    let h = one("POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.framing, Framing::Length(7));
}

#[test]
fn ambiguous_framing_is_refused_not_guessed() {
    for raw in [
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        assert!(matches!(one(raw), Err(HeadError::Bad(_))), "{raw:?}");
    }
}

#[test]
fn keep_alive_depends_on_version_and_connection() {
    let ka = |raw: &str| one(raw).unwrap().unwrap().keep_alive;
    assert!(ka("GET / HTTP/1.1\r\n\r\n"));
    assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
    assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
    assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(
        one("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").unwrap().unwrap().expect_continue
    );
}

#[test]
fn limits_map_to_431_414_and_too_many() {
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(1100));
    assert_eq!(one(&big).unwrap_err(), HeadError::TooLarge);
    let long_uri = format!("GET /{} HTTP/1.1\r\n", "a".repeat(1100));
    assert_eq!(one(&long_uri).unwrap_err(), HeadError::UriTooLong);
    let many: String = (0..9).map(|i| format!("H{i}: v\r\n")).collect();
    assert_eq!(one(&format!("GET / HTTP/1.1\r\n{many}\r\n")).unwrap_err(), HeadError::TooManyHeaders);
}

#[test]
fn garbage_and_foreign_versions_are_refused() {
    assert!(matches!(one("GET / HTTP/1.1\r\nBad Header\r\n\r\n"), Err(HeadError::Bad(_))));
    assert!(matches!(one("\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03\r\n\r\n"), Err(HeadError::Bad(_))));
    assert_eq!(one("GET / HTTP/2.0\r\n\r\n").unwrap_err(), HeadError::Version);
    assert!(matches!(one("NOT A REQUEST\r\n\r\n"), Err(HeadError::Bad(_))));
    assert!(matches!(one("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\r\n"), Err(HeadError::Bad(_))));
}

#[test]
fn leading_empty_lines_and_absolute_targets_are_accepted() {
    let h = one("\r\n\r\nGET http://example.com/p HTTP/1.1\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.parts.uri.host(), Some("example.com"));
    assert_eq!(h.parts.uri.path(), "/p");
}

#[test]
fn more_headers_than_the_stack_array_still_parse() {
    let lim = HeadLimits { max_bytes: 64 * 1024, max_headers: 300 };
    let many: String = (0..200).map(|i| format!("H{i}: v{i}\r\n")).collect();
    let h = parse(&mut BytesMut::from(format!("GET / HTTP/1.1\r\n{many}\r\n").as_str()), lim).unwrap().unwrap();
    assert_eq!(h.parts.headers.len(), 200);
    assert_eq!(h.parts.headers["h199"], "v199");
}
