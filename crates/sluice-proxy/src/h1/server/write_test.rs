//! Response encoding: framing chosen from the body and the request, connection headers;
//! a small ready body gathered after its head.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Version};

use super::{encode_head, gather, Out, ReqFacts};
use crate::body::response::ProxyBody;

const GET11: ReqFacts = ReqFacts { head: false, version: Version::HTTP_11, keep_alive: true };

fn head(status: u16, h: &mut HeaderMap, hint: Option<u64>, req: ReqFacts) -> (String, Out, bool) {
    let mut out = Vec::new();
    let (f, keep) = encode_head(StatusCode::from_u16(status).unwrap(), (h, None), hint, req, &mut out);
    (String::from_utf8(out).unwrap(), f, keep)
}

#[test]
fn a_known_length_becomes_content_length() {
    let (s, f, keep) = head(200, &mut HeaderMap::new(), Some(12), GET11);
    assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
    assert!(s.contains("content-length: 12\r\n"));
    assert!(s.contains("date: "));
    assert!(s.ends_with("\r\n\r\n"));
    assert_eq!((f, keep), (Out::Length(12), true));
}

#[test]
fn unknown_length_is_chunked_for_1_1_and_closes_for_1_0() {
    let (s, f, keep) = head(200, &mut HeaderMap::new(), None, GET11);
    assert!(s.contains("transfer-encoding: chunked\r\n"));
    assert_eq!((f, keep), (Out::Chunked, true));
    let req10 = ReqFacts { version: Version::HTTP_10, ..GET11 };
    let (s, f, keep) = head(200, &mut HeaderMap::new(), None, req10);
    assert!(s.contains("connection: close\r\n"));
    assert_eq!((f, keep), (Out::Close, false));
}

#[test]
fn head_204_and_304_carry_no_body_but_keep_their_length() {
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from_static("99"));
    let (s, f, _) = head(200, &mut h, None, ReqFacts { head: true, ..GET11 });
    assert!(s.contains("content-length: 99\r\n"));
    assert_eq!(f, Out::None);
    assert_eq!(head(204, &mut HeaderMap::new(), Some(0), GET11).1, Out::None);
    assert_eq!(head(304, &mut HeaderMap::new(), None, GET11).1, Out::None);
}

#[test]
fn close_is_announced_and_honoured() {
    let (s, _, keep) = head(200, &mut HeaderMap::new(), Some(0), ReqFacts { keep_alive: false, ..GET11 });
    assert!(s.contains("connection: close\r\n"));
    assert!(!keep);
    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("close"));
    let (s, _, keep) = head(200, &mut h, Some(0), GET11);
    assert_eq!(s.matches("connection").count(), 1, "{s}");
    assert!(!keep);
    let req10 = ReqFacts { version: Version::HTTP_10, ..GET11 };
    let (s, _, keep) = head(200, &mut HeaderMap::new(), Some(3), req10);
    assert!(s.contains("connection: keep-alive\r\n") && keep);
}

#[test]
fn wire_form_fields_go_first_and_count_for_length_and_date() {
    use crate::h1::codec::raw::{kind, RawFields};
    let mut raw = RawFields::default();
    for (n, v) in [("Server", "up"), ("Content-Length", "5"), ("Date", "Sat, 28 Nov 2026 07:00:00 GMT")] {
        raw.push(kind(n.as_bytes()), n.as_bytes(), v.as_bytes());
    }
    raw.length = Some(5);
    let mut h = HeaderMap::new();
    h.insert("set-cookie", HeaderValue::from_static("s=1"));
    let mut out = Vec::new();
    let (f, keep) = encode_head(StatusCode::OK, (&mut h, Some(&raw)), Some(5), GET11, &mut out);
    let s = String::from_utf8(out).unwrap();
    let fields = "Server: up\r\nContent-Length: 5\r\nDate: Sat, 28 Nov 2026 07:00:00 GMT\r\nset-cookie: s=1\r\n\r\n";
    assert_eq!(s, format!("HTTP/1.1 200 OK\r\n{fields}"), "no second length or date");
    assert_eq!((f, keep), (Out::Length(5), true));
}

#[test]
fn a_ready_body_of_known_length_is_gathered_after_its_head() {
    let mut out = b"HEAD\r\n\r\n".to_vec();
    let mut sent = 0;
    let mut body = ProxyBody::full(Bytes::from_static(b"ok\n"));
    assert_eq!(gather(&mut out, &mut body, Out::Length(3), &mut sent), Some(true));
    assert_eq!((out.as_slice(), sent), (&b"HEAD\r\n\r\nok\n"[..], 3));
    let mut short = ProxyBody::full(Bytes::from_static(b"ok"));
    assert_eq!(gather(&mut Vec::new(), &mut short, Out::Length(3), &mut 0), Some(false), "ended short");
}
