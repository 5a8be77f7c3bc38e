//! Unit tests of header-name recognition: the standard constants in any case, exact
//! folding, and the full path for everything else.

use super::*;

#[test]
fn common_names_in_any_case_are_the_standard_constants() {
    for raw in ["Content-Length", "content-length", "CONTENT-LENGTH", "cOnTeNt-LeNgTh"] {
        assert_eq!(header_name(raw.as_bytes()).unwrap(), header::CONTENT_LENGTH);
    }
    assert_eq!(header_name(b"Server").unwrap(), header::SERVER);
    assert_eq!(header_name(b"Transfer-Encoding").unwrap(), header::TRANSFER_ENCODING);
    assert_eq!(header_name(b"Host").unwrap(), header::HOST);
}

#[test]
fn same_length_other_names_and_invalid_names_take_the_full_path() {
    assert_eq!(header_name(b"X-Forwarded-Fo").unwrap().as_str(), "x-forwarded-fo");
    assert_eq!(header_name(b"Hostx").unwrap().as_str(), "hostx");
    assert_eq!(header_name(b"Hos\xff").is_err(), HeaderName::from_bytes(b"Hos\xff").is_err());
    assert!(header_name(b"Con tent-Length").is_err());
    assert!(header_name(b"").is_err());
}

#[test]
fn folding_touches_letters_only() {
    assert!(!folded_eq(b"content\rlength", b"content-length"));
    assert!(!folded_eq(b"content-lengtH\x00", b"content-length\x00"[..14].as_ref()));
    assert!(!folded_eq(b"Content_Length", b"content-length"));
    assert!(!folded_eq(b"content-lengt", b"content-length"));
    assert!(folded_eq(b"HOST", b"host"));
    assert!(!folded_eq(b"hos\x14", b"host"));
}

#[test]
fn every_candidate_matches_itself_only() {
    let all = [
        "host",
        "date",
        "etag",
        "vary",
        "server",
        "accept",
        "cookie",
        "expect",
        "expires",
        "referer",
        "location",
        "connection",
        "user-agent",
        "set-cookie",
        "content-type",
        "cache-control",
        "last-modified",
        "authorization",
        "accept-ranges",
        "content-length",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "transfer-encoding",
    ];
    for a in all {
        assert_eq!(common(a.as_bytes()).map(|n| n.as_str()), Some(a));
        assert_eq!(header_name(a.to_uppercase().as_bytes()).unwrap().as_str(), a);
    }
}

#[test]
fn httparse_and_header_value_accept_the_same_bytes() {
    for b in 0u8..=255 {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        let raw = [b"HTTP/1.1 200 OK\r\nx: a".as_slice(), &[b], b"a\r\n\r\n"].concat();
        let mut hs = [httparse::EMPTY_HEADER; 4];
        let by_httparse = httparse::Response::new(&mut hs).parse(&raw).is_ok();
        let by_http = http::HeaderValue::from_bytes(&[b'a', b, b'a']).is_ok();
        assert_eq!(by_httparse, by_http, "byte {b:#04x}");
    }
}
