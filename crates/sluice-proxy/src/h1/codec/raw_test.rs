//! Wire-form fields: what a name means, the lines as they go out, and the map they become.

use http::header::HeaderMap;

use super::{kind, Kind, RawFields};

#[test]
fn names_are_classified_in_any_case() {
    for (name, k) in [
        ("Connection", Kind::Connection),
        ("TRANSFER-ENCODING", Kind::TransferEncoding),
        ("te", Kind::Hop),
        ("Trailer", Kind::Hop),
        ("upgrade", Kind::Hop),
        ("Keep-Alive", Kind::Hop),
        ("Proxy-Authenticate", Kind::Hop),
        ("content-length", Kind::ContentLength),
        ("Date", Kind::Date),
        ("Server", Kind::Other),
        ("tes", Kind::Other),
        ("content-lengths", Kind::Other),
    ] {
        assert_eq!(kind(name.as_bytes()), k, "{name}");
    }
}

#[test]
fn lines_keep_order_and_names_and_a_date_is_noted() {
    let mut f = RawFields::with_capacity(64);
    for (n, v) in [("Server", "up"), ("Content-Length", "12"), ("X-A", "1: two")] {
        f.push(kind(n.as_bytes()), n.as_bytes(), v.as_bytes());
    }
    assert_eq!(f.lines(), b"Server: up\r\nContent-Length: 12\r\nX-A: 1: two\r\n");
    assert!(!f.date);
    f.push(Kind::Date, b"Date", b"Sat, 28 Nov 2026 07:00:00 GMT");
    assert!(f.date);
}

#[test]
fn into_map_gives_every_field_back() {
    let mut f = RawFields::default();
    for (n, v) in [("Set-Cookie", "a=1"), ("X-Empty", ""), ("set-cookie", "b=2; Path=/"), ("X-Colon", "a: b")] {
        f.push(kind(n.as_bytes()), n.as_bytes(), v.as_bytes());
    }
    let mut h = HeaderMap::new();
    f.into_map(&mut h);
    let cookies: Vec<_> = h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
    assert_eq!(h["x-empty"], "");
    assert_eq!(h["x-colon"], "a: b");
    assert_eq!(h.len(), 4);
}
