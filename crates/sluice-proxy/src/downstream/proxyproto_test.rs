//! Unit tests of `proxyproto.rs`.

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn v1_and_v2_round_trip_with_the_bytes_after_the_header() {
    for v in [ProxyProtocolVersion::V1, ProxyProtocolVersion::V2] {
        let mut bytes = header(v, addr("198.51.100.10:54321"), addr("10.0.0.10:443"), Some("api.example.test"));
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let a = parse(&bytes).unwrap().unwrap();
        assert_eq!(a.source, Some(addr("198.51.100.10:54321")), "{v:?}");
        assert_eq!(a.rest, b"GET / HTTP/1.1\r\n");
    }
    assert_eq!(
        header(ProxyProtocolVersion::V1, addr("198.51.100.10:54321"), addr("10.0.0.10:443"), None),
        b"PROXY TCP4 198.51.100.10 10.0.0.10 54321 443\r\n"
    );
    let v2 =
        header(ProxyProtocolVersion::V2, addr("198.51.100.10:54321"), addr("10.0.0.10:443"), Some("api.example.test"));
    let parsed = ppp::v2::Header::try_from(&v2[..]).unwrap();
    let tlv = parsed.tlvs().find_map(|t| t.ok()).unwrap();
    assert_eq!((tlv.kind, &tlv.value[..]), (0x02, &b"api.example.test"[..]), "authority TLV");
}

#[test]
fn partial_plain_and_malformed_input() {
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Ok(None), "incomplete: read more");
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\n").unwrap().unwrap(),
        Accepted { source: None, rest: b"GET / HTTP/1.1\r\n".to_vec() }
    );
    assert_eq!(parse(b"PROXY TCP9 nonsense here\r\n"), Err(HeaderError::Malformed));
    let v6 = header(ProxyProtocolVersion::V2, addr("[2001:db8::1]:1000"), addr("[2001:db8::2]:443"), None);
    assert_eq!(parse(&v6).unwrap().unwrap().source, Some(addr("[2001:db8::1]:1000")));
}
