//! Unit tests of forwarding headers and hop-by-hop stripping.

use super::*;

fn peer(trusted: bool) -> Peer {
    Peer::new("10.1.2.3".parse().unwrap(), trusted, "http")
}

#[test]
fn hop_by_hop_headers_are_removed() {
    let mut h = HeaderMap::new();
    h.insert("connection", "close, x-secret".parse().unwrap());
    h.insert("x-secret", "1".parse().unwrap());
    h.insert("keep-alive", "timeout=5".parse().unwrap());
    h.insert("proxy-authorization", "x".parse().unwrap());
    h.insert("proxy", "http://evil".parse().unwrap());
    h.insert("te", "trailers".parse().unwrap());
    h.insert("x-keep", "1".parse().unwrap());
    strip_hop_by_hop(&mut h, false);
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h.contains_key("x-keep"));
}

#[test]
fn headers_named_by_connection_go_and_clean_messages_stay_untouched() {
    let mut h = HeaderMap::new();
    h.insert("connection", "Keep-Alive, X-Hop".parse().unwrap());
    h.insert("x-hop", "1".parse().unwrap());
    h.insert("transfer-encoding", "chunked".parse().unwrap());
    h.insert("x-keep", "1".parse().unwrap());
    strip_hop_by_hop(&mut h, false);
    assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-keep"]);
    let mut clean = HeaderMap::new();
    clean.insert("host", "a".parse().unwrap());
    clean.append("accept", "*/*".parse().unwrap());
    clean.append("accept", "text/html".parse().unwrap());
    strip_hop_by_hop(&mut clean, false);
    assert_eq!((clean.len(), clean.get_all("accept").iter().count()), (3, 2));
}

#[test]
fn te_trailers_survives_for_grpc() {
    let mut h = HeaderMap::new();
    h.insert("te", "trailers".parse().unwrap());
    strip_hop_by_hop(&mut h, true);
    assert_eq!(h["te"], "trailers");
}

#[test]
fn untrusted_peer_chain_is_replaced() {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    h.insert("x-forwarded-proto", "https".parse().unwrap());
    add_forwarding(
        &mut h,
        &peer(false),
        Some(&HeaderValue::from_static("a.test")),
        Forwarding { x: true, rfc7239: false },
    );
    assert_eq!(h["x-forwarded-for"], "10.1.2.3");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "a.test");
}

#[test]
fn trusted_peer_chain_is_extended() {
    let mut h = HeaderMap::new();
    h.append("x-forwarded-for", "1.1.1.1".parse().unwrap());
    h.append("x-forwarded-for", "2.2.2.2".parse().unwrap());
    h.insert("forwarded", "for=1.1.1.1".parse().unwrap());
    add_forwarding(
        &mut h,
        &peer(true),
        Some(&HeaderValue::from_static("a.test")),
        Forwarding { x: true, rfc7239: true },
    );
    assert_eq!(h["x-forwarded-for"], "1.1.1.1, 2.2.2.2, 10.1.2.3");
    assert_eq!(h["forwarded"], "for=1.1.1.1, for=10.1.2.3;proto=http;host=\"a.test\"");
}

#[test]
fn x_forwarded_off_passes_the_incoming_headers_through() {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    let off = Forwarding { x: false, rfc7239: false };
    add_forwarding(&mut h, &peer(false), Some(&HeaderValue::from_static("a.test")), off);
    assert_eq!(h["x-forwarded-for"], "6.6.6.6");
    assert!(!h.contains_key("x-forwarded-proto") && !h.contains_key("x-forwarded-host"));
    let only_rfc = Forwarding { x: false, rfc7239: true };
    add_forwarding(&mut h, &peer(false), None, only_rfc);
    assert_eq!(h["forwarded"], "for=10.1.2.3;proto=http");
    assert_eq!(h["x-forwarded-for"], "6.6.6.6");
}
