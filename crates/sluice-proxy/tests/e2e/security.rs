//! Abuse and confusion end to end: HTTP/2 reset floods and frame glitches closed with
//! GOAWAY(ENHANCE_YOUR_CALM), `:authority` and Host that disagree, bare LF in chunked
//! framing.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::h2raw::{self, RawH2};
use crate::support::*;

const ENHANCE_YOUR_CALM: u32 = 0xb;

fn one_cluster(limits: &str) -> String {
    format!(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\nlimits = {{ {limits} }}\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{{a}}\"]\n"
    )
}

/// Batches of `batch` slow requests, each reset once the proxy has forwarded it (the
/// rapid-reset pattern, which h2's own limit on resets of streams not yet accepted does
/// not see), until the proxy says GOAWAY; how many reached the backend.
async fn reset_flood(limits: &str, batch: u32, batches: u32) -> (Option<u32>, bool, usize) {
    let a = Backend::start("a");
    let h = proxy(&one_cluster(limits), &[("a", a.addr)]);
    let mut c = RawH2::connect(h.addr("web").unwrap()).await;
    let auth = [(":authority", "test.local")];
    let mut stream = 1;
    for _ in 0..batches {
        let first = stream;
        for _ in 0..batch {
            c.request(stream, "GET", "/slow/500", &auth, true).await;
            stream += 2;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        for s in (first..stream).step_by(2) {
            c.reset(s).await;
        }
    }
    let goaway = c.goaway(Duration::from_secs(2)).await;
    let closed = c.closed(Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let forwarded = a.hits();
    stop(h);
    (goaway, closed, forwarded)
}

#[tokio::test]
async fn resets_of_forwarded_streams_end_in_goaway_enhance_your_calm() {
    let (goaway, closed, forwarded) = reset_flood("h2_max_glitches = 20", 10, 20).await;
    assert_eq!(goaway, Some(ENHANCE_YOUR_CALM));
    assert!(closed, "the connection is closed after the GOAWAY");
    assert!(forwarded <= 20 + 2 * 10, "{forwarded} requests reached the backend (limit 20, batches of 10)");
}

#[tokio::test]
async fn the_default_budget_stops_a_reset_flood_after_about_a_hundred_requests() {
    // 50 batches of 10 would be 500 requests without the budget.
    let (goaway, _, forwarded) = reset_flood("max_header_count = 100", 10, 50).await;
    eprintln!("reset flood with the default h2_max_glitches: {forwarded} requests forwarded");
    assert_eq!(goaway, Some(ENHANCE_YOUR_CALM));
    // The limit, plus the batch in flight when it trips (a batch of slack for scheduling).
    assert!(forwarded <= 100 + 2 * 10, "{forwarded} requests reached the backend (default limit 100)");
}

#[tokio::test]
async fn an_empty_data_flood_ends_in_goaway_enhance_your_calm() {
    let a = Backend::start("a");
    let h = proxy(&one_cluster("h2_max_glitches = 20"), &[("a", a.addr)]);
    let mut c = RawH2::connect(h.addr("web").unwrap()).await;
    c.request(1, "POST", "/", &[(":authority", "test.local")], false).await;
    for _ in 0..50 {
        c.frame(h2raw::DATA, 0, 1, &[]).await;
    }
    assert_eq!(c.goaway(Duration::from_secs(2)).await, Some(ENHANCE_YOUR_CALM));
    stop(h);
}

#[tokio::test]
async fn a_busy_well_behaved_h2_client_is_never_cut_off() {
    let a = Backend::start("a");
    let h = proxy(&one_cluster("h2_max_glitches = 5"), &[("a", a.addr)]);
    let s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let (tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    for round in 0..30 {
        let calls = (0..10).map(|_| {
            let mut tx = tx.clone();
            async move {
                let req = http::Request::get("http://test.local/").body(Full::new(Bytes::new())).unwrap();
                collect(tx.send_request(req).await.unwrap()).await.status
            }
        });
        let statuses = futures_util::future::join_all(calls).await;
        assert!(statuses.iter().all(|s| *s == 200), "round {round}: {statuses:?}");
    }
    stop(h);
}

#[tokio::test]
async fn authority_and_host_must_agree_on_http2() {
    let a = Backend::start("a");
    let h = proxy(&one_cluster("max_header_count = 100"), &[("a", a.addr)]);
    let mut c = RawH2::connect(h.addr("web").unwrap()).await;
    let wait = Duration::from_secs(2);
    c.request(1, "GET", "/", &[(":authority", "a.test"), ("host", "b.test")], true).await;
    assert_eq!(c.status_byte(1, wait).await, Some(0x8c), "400 when they disagree");
    c.request(3, "GET", "/", &[], true).await;
    assert_eq!(c.status_byte(3, wait).await, Some(0x8c), "400 without either");
    c.request(5, "GET", "/", &[(":authority", "a.test"), ("host", "A.TEST")], true).await;
    assert_eq!(c.status_byte(5, wait).await, Some(0x88), "the same name in another case is the same");
    assert_eq!(a.hits(), 1, "only the consistent request reached the backend");
    stop(h);
}

#[tokio::test]
async fn the_forwarded_host_is_the_authority_routing_saw() {
    let a = Backend::start("a");
    let h = proxy(&one_cluster("max_header_count = 100"), &[("a", a.addr)]);
    let addr = h.addr("web").unwrap();
    // An absolute-form target names the host; its Host header is replaced (RFC 9112 3.2.2).
    let r =
        raw(addr, b"GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n", Duration::from_secs(2))
            .await;
    let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["headers"]["host"], "a.test");
    assert_eq!(json["headers"]["x-forwarded-host"], "a.test");
    let two = raw(addr, b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", Duration::from_secs(2)).await;
    assert!(two.starts_with("HTTP/1.1 400"), "{two}");
    stop(h);
}

#[tokio::test]
async fn a_bare_lf_in_chunked_framing_gets_400() {
    let a = Backend::start("a");
    let h = proxy(&one_cluster("max_header_count = 100"), &[("a", a.addr)]);
    let addr = h.addr("web").unwrap();
    let head = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for body in ["5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\n\r\n", "5 \r\nhello\r\n0\r\n\r\n"]
    {
        let r = raw(addr, format!("{head}{body}").as_bytes(), Duration::from_secs(2)).await;
        assert!(r.starts_with("HTTP/1.1 400"), "{body:?}: {r}");
    }
    let ok = raw(addr, format!("{head}5;x=\"y\"\r\nhello\r\n0\r\n\r\n").as_bytes(), Duration::from_millis(500)).await;
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("x-body-len: 5"), "{ok}");
    stop(h);
}
