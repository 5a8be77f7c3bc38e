//! Limits and malformed input: 431 for header size and count, 413 for bodies (declared and
//! chunked), 400 for malformed requests (never reaching an upstream), and the cap on
//! requests per client connection.

use std::time::Duration;

use crate::support::*;

const CONFIG: &str = r#"
workers = 1
[listeners.web]
bind = "127.0.0.1:0"
limits = { max_header_bytes = 2048, max_header_count = 20, max_body_bytes = 1000, max_requests_per_connection = 3 }
[[listeners.web.routes]]
cluster = "a"
[clusters.a]
endpoints = ["{a}"]
"#;

#[tokio::test]
async fn header_limits_answer_431() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let big = "x".repeat(3000);
    assert_eq!(get(addr, "/", &[("x-big", &big)]).await.status, 431);
    let many: Vec<(String, String)> = (0..30).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(get(addr, "/", &refs).await.status, 431);
    assert_eq!(b.hits(), 0);
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    stop(h);
}

#[tokio::test]
async fn body_limit_answers_413_for_declared_and_chunked_bodies() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let declared =
        raw(addr, b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 5000\r\n\r\n", Duration::from_millis(500)).await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    let chunk = "a".repeat(800);
    let chunked = format!(
        "POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
    );
    let r = raw(addr, chunked.as_bytes(), Duration::from_millis(1000)).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    let ok = format!("POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n320\r\n{chunk}\r\n0\r\n\r\n");
    let r = raw(addr, ok.as_bytes(), Duration::from_millis(1000)).await;
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("x-body-len: 800"), "{r}");
    stop(h);
}

#[tokio::test]
async fn malformed_requests_get_400_and_never_reach_upstream() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    for bad in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],                            // no Host
        b"GET / HTTP/1.1\r\nhost: t\r\ncontent-length: x\r\n\r\n", // bad length
        b"GET /\x01 HTTP/1.1\r\nhost: t\r\n\r\n",                  // bad target
        b"NOT A REQUEST\r\n\r\n",
    ] {
        let r = raw(addr, bad, Duration::from_millis(500)).await;
        assert!(r.starts_with("HTTP/1.1 400"), "{:?} -> {r}", String::from_utf8_lossy(bad));
    }
    assert_eq!(b.hits(), 0);
    assert_eq!(get(addr, "/", &[]).await.status, 200, "proxy still serves");
    stop(h);
}

#[tokio::test]
async fn requests_per_connection_are_capped() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let req = "GET / HTTP/1.1\r\nhost: t\r\n\r\n".repeat(5);
    let r = raw(addr, req.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(r.matches("HTTP/1.1 200").count(), 3, "{r}");
    assert!(r.contains("connection: close"));
    stop(h);
}

#[tokio::test]
async fn h2_max_concurrent_streams_is_advertised_and_enforced() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let b = Backend::start("a");
    let h = proxy(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\nlimits = { max_concurrent_streams = 2 }\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let s = tokio::net::TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let (tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    // One request first, so the client has the server's SETTINGS before the burst.
    let warm = http::Request::get("http://t/").body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
    assert_eq!(collect(tx.clone().send_request(warm).await.unwrap()).await.status, 200);
    let t = std::time::Instant::now();
    let reqs = (0..4).map(|_| {
        let mut tx = tx.clone();
        tokio::spawn(async move {
            let req =
                http::Request::get("http://t/slow/400").body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
            collect(tx.send_request(req).await.unwrap()).await.status
        })
    });
    for r in futures_util::future::join_all(reqs).await {
        assert_eq!(r.unwrap(), 200);
    }
    // Four 400 ms requests, two streams at a time: two rounds.
    assert!(t.elapsed() >= Duration::from_millis(780), "{:?}: more than 2 streams ran at once", t.elapsed());
    stop(h);
}

#[tokio::test]
async fn h2_upload_over_the_limit_gets_a_clean_413() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let s = tokio::net::TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let body = http_body_util::Full::new(bytes::Bytes::from(vec![0u8; 200_000]));
    let req = http::Request::post("http://t/").header("content-length", "200000").body(body).unwrap();
    let resp = tx.send_request(req).await.expect("the 413 arrives, not a stream reset");
    assert_eq!(resp.status(), 413);
    assert_eq!(b.hits(), 0);
    stop(h);
}
