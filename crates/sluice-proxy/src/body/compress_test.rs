use super::*;
use sluice_config::Encoding::*;

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

#[test]
fn negotiation_follows_q_values_then_the_routes_order() {
    let all = [Br, Zstd, Gzip];
    assert_eq!(negotiate(Some(&hv("gzip, br")), &all), Some(Br), "tie: the route's order");
    assert_eq!(negotiate(Some(&hv("gzip;q=1, br;q=0.5")), &all), Some(Gzip));
    assert_eq!(negotiate(Some(&hv("br;q=0, gzip;q=0.1")), &all), Some(Gzip), "q=0 refuses");
    assert_eq!(negotiate(Some(&hv("identity")), &all), None);
    assert_eq!(negotiate(Some(&hv("*")), &[Gzip]), Some(Gzip));
    assert_eq!(negotiate(Some(&hv("*;q=0")), &all), None);
    assert_eq!(negotiate(None, &all), None);
    assert_eq!(negotiate(Some(&hv("zstd")), &[Br, Gzip]), None, "only what the route offers");
}

fn cfg() -> Compress {
    Compress {
        algorithms: vec![Br, Gzip],
        min_size: 100,
        types: sluice_config::cache::DEFAULT_TYPES.iter().map(|s| s.to_string()).collect(),
        level: None,
    }
}

fn head(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs.iter().map(|(k, v)| (http::HeaderName::from_bytes(k.as_bytes()).unwrap(), hv(v))).collect()
}

#[test]
fn what_qualifies() {
    let ok = head(&[("content-type", "text/html; charset=utf-8"), ("content-length", "5000")]);
    assert!(qualifies(&Method::GET, StatusCode::OK, &ok, &cfg()));
    assert!(!qualifies(&Method::HEAD, StatusCode::OK, &ok, &cfg()), "HEAD");
    assert!(!qualifies(&Method::GET, StatusCode::NOT_MODIFIED, &ok, &cfg()), "304");
    let small = head(&[("content-type", "text/html"), ("content-length", "99")]);
    assert!(!qualifies(&Method::GET, StatusCode::OK, &small, &cfg()), "under min_size");
    let png = head(&[("content-type", "image/png")]);
    assert!(!qualifies(&Method::GET, StatusCode::OK, &png, &cfg()), "type not listed");
    let json = head(&[("content-type", "application/json")]);
    assert!(qualifies(&Method::GET, StatusCode::OK, &json, &cfg()), "unknown length: compress");
    let done = head(&[("content-type", "text/css"), ("content-encoding", "gzip")]);
    assert!(!qualifies(&Method::GET, StatusCode::OK, &done, &cfg()), "already encoded");
    let nt = head(&[("content-type", "text/css"), ("cache-control", "public, no-transform")]);
    assert!(!qualifies(&Method::GET, StatusCode::OK, &nt, &cfg()), "no-transform");
    let sse = head(&[("content-type", "text/event-stream")]);
    assert!(!qualifies(&Method::GET, StatusCode::OK, &sse, &cfg()), "event streams flush per event");
}

#[test]
fn marking_weakens_the_etag_and_adds_vary_once() {
    let mut h = head(&[("content-length", "10"), ("etag", "\"abc\""), ("vary", "Origin")]);
    mark(&mut h, Br);
    assert_eq!(h["content-encoding"], "br");
    assert!(h.get("content-length").is_none());
    assert_eq!(h["etag"], "W/\"abc\"");
    let vary: Vec<_> = h.get_all("vary").iter().collect();
    assert_eq!(vary, ["Origin", "Accept-Encoding"]);
    add_vary(&mut h);
    assert_eq!(h.get_all("vary").iter().count(), 2);
}

#[tokio::test]
async fn every_coding_round_trips_through_a_real_decoder() {
    use std::io::Read;
    let text = Bytes::from("sluice compresses text. ".repeat(4000));
    for enc in [Br, Zstd, Gzip] {
        let out = encode_all(text.clone(), enc, None).await.unwrap();
        assert!(out.len() < text.len() / 10, "{enc:?}: {} bytes", out.len());
        let mut back = Vec::new();
        match enc {
            Gzip => flate2::read::GzDecoder::new(&out[..]).read_to_end(&mut back).unwrap(),
            Br => brotli::Decompressor::new(&out[..], 4096).read_to_end(&mut back).unwrap(),
            Zstd => zstd::stream::read::Decoder::new(&out[..]).unwrap().read_to_end(&mut back).unwrap(),
        };
        assert_eq!(back, text, "{enc:?}");
    }
}
