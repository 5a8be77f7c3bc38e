//! Forwarding headers (appendix B) and hop-by-hop stripping, trusted and untrusted peers.

use crate::support::*;

fn config(trusted: &str) -> String {
    format!(
        r#"
[listeners.web]
bind = "127.0.0.1:0"
trusted_proxies = [{trusted}]
forwarded = true
[[listeners.web.routes]]
cluster = "a"
[clusters.a]
endpoints = ["{{a}}"]
"#
    )
}

#[tokio::test]
async fn untrusted_peer_gets_fresh_forwarding_headers() {
    let b = Backend::start("a");
    let h = proxy(&config("\"10.0.0.0/8\""), &[("a", b.addr)]);
    let r = get(
        h.addr("web").unwrap(),
        "/",
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=6.6.6.6"),
            ("host", "shop.test:8080"),
        ],
    )
    .await;
    let hd = &r.json()["headers"];
    assert_eq!(hd["x-forwarded-for"], "127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "http");
    assert_eq!(hd["x-forwarded-host"], "shop.test:8080");
    assert_eq!(hd["forwarded"], "for=127.0.0.1;proto=http;host=\"shop.test:8080\"");
    stop(h);
}

#[tokio::test]
async fn trusted_peer_chain_is_appended() {
    let b = Backend::start("a");
    let h = proxy(&config("\"127.0.0.0/8\""), &[("a", b.addr)]);
    let r =
        get(h.addr("web").unwrap(), "/", &[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-proto", "https")]).await;
    let hd = &r.json()["headers"];
    assert_eq!(hd["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "https");
    stop(h);
}

#[tokio::test]
async fn hop_by_hop_headers_do_not_cross() {
    let b = Backend::start("a");
    let h = proxy(&config(""), &[("a", b.addr)]);
    let r = get(
        h.addr("web").unwrap(),
        "/",
        &[
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("te", "trailers"),
            ("x-end", "kept"),
        ],
    )
    .await;
    let hd = &r.json()["headers"];
    for gone in ["x-hop", "keep-alive", "proxy-authorization", "te"] {
        assert!(hd.get(gone).is_none(), "{gone} crossed: {hd}");
    }
    assert_eq!(hd["x-end"], "kept");
    stop(h);
}
