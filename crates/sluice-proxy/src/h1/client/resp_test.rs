//! Upstream response heads: framing, connection reuse, and hop-by-hop fields kept out.

use bytes::BytesMut;

use super::parse_response;
use crate::h1::codec::head::Framing;

fn one(raw: &str, head_req: bool) -> super::RespHead {
    parse_response(&mut BytesMut::from(raw), head_req, false).unwrap().unwrap()
}

#[test]
fn framing_and_reuse_follow_the_head() {
    let r = one("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n", false);
    assert_eq!((r.framing, r.keep_alive), (Some(Framing::Length(3)), true));
    let r = one("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false);
    assert_eq!((r.framing, r.keep_alive), (Some(Framing::Chunked), true));
    let r = one("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", false);
    assert!(!r.keep_alive, "the upstream said close: not pooled");
    let r = one("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", false);
    assert!(!r.keep_alive, "HTTP/1.0 without keep-alive");
    let r = one("HTTP/1.1 200 OK\r\n\r\n", false);
    assert_eq!((r.framing, r.keep_alive), (None, false), "read until close");
    let r = one("HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n", true);
    assert_eq!(r.framing, Some(Framing::None), "HEAD: no body whatever the length says");
    assert_eq!(r.parts.headers["content-length"], "30");
}

#[test]
fn hop_by_hop_fields_never_enter_the_map() {
    let raw = "HTTP/1.1 200 OK\r\nConnection: keep-alive, x-secret\r\nKeep-Alive: timeout=5\r\nX-Secret: 1\r\nTransfer-Encoding: chunked\r\nProxy-Authenticate: x\r\nServer: up\r\n\r\n";
    let r = one(raw, false);
    let names: Vec<&str> = r.parts.headers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["server"]);
}

#[test]
fn partial_and_garbage_heads() {
    assert!(parse_response(&mut BytesMut::from("HTTP/1.1 200 OK\r\nServer: x\r\n"), false, true).unwrap().is_none());
    assert!(parse_response(&mut BytesMut::from("SSH-2.0-OpenSSH\r\n\r\n"), false, true).is_err());
}

#[test]
fn heads_with_more_fields_than_the_stack_holds_keep_every_field() {
    for n in [23, 24, 25, 60] {
        let fields: String = (0..n).map(|i| format!("X-F{i}: v{i}\r\n")).collect();
        let r = one(&format!("HTTP/1.1 200 OK\r\n{fields}Content-Length: 0\r\n\r\n"), false);
        assert_eq!(r.parts.headers.len(), n + 1, "{n} fields");
        assert_eq!(r.parts.headers[format!("x-f{}", n - 1).as_str()], format!("v{}", n - 1));
        assert_eq!(r.framing, Some(Framing::Length(0)));
    }
}

#[test]
fn wire_form_fields_match_the_map() {
    let raw = "HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=1\r\n\r\nok";
    let mut buf = BytesMut::from(raw);
    let r = parse_response(&mut buf, false, true).unwrap().unwrap();
    assert!(r.parts.headers.is_empty(), "nothing in the map");
    let f = r.raw.expect("wire form");
    assert_eq!(f.lines(), b"Server: up\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n");
    assert_eq!((f.length, r.framing, r.keep_alive), (Some(2), Some(Framing::Length(2)), true));
    assert_eq!(&buf[..], b"ok", "the body stays in the buffer");
    let mut h = http::HeaderMap::new();
    f.into_map(&mut h);
    assert_eq!(h, one(raw, false).parts.headers, "the same fields either way");
}

#[test]
fn a_connection_header_naming_a_field_falls_back_to_the_map() {
    let raw = "HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: 1\r\nServer: up\r\nContent-Length: 0\r\n\r\n";
    let r = parse_response(&mut BytesMut::from(raw), false, true).unwrap().unwrap();
    assert!(r.raw.is_none());
    let mut names: Vec<&str> = r.parts.headers.keys().map(|k| k.as_str()).collect();
    names.sort();
    assert_eq!(names, ["content-length", "server"]);
}

#[test]
fn content_length_beside_chunked_is_dropped_and_a_bad_one_refused() {
    let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nServer: up\r\n\r\n";
    for wire in [false, true] {
        let r = parse_response(&mut BytesMut::from(raw), false, wire).unwrap().unwrap();
        assert!(r.raw.is_none(), "the map drops it");
        assert_eq!(r.framing, Some(Framing::Chunked));
        assert!(!r.parts.headers.contains_key("content-length"), "chunked wins, the length goes");
        assert_eq!(r.parts.headers["server"], "up");
    }
    for bad in
        ["Content-Length: 5\r\nContent-Length: 6", "Content-Length: abc", "Content-Length: 5, 6", "Content-Length: -1"]
    {
        let head = format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n");
        for wire in [false, true] {
            assert!(parse_response(&mut BytesMut::from(head.as_str()), false, wire).is_err(), "{bad}");
        }
    }
    let r = one("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n", false);
    assert_eq!(r.framing, Some(Framing::Length(2)), "equal lengths are one length");
}
