//! sluice's own HTTP/1.1 server on the wire: pipelining, `Expect: 100-continue`,
//! HTTP/1.0 and HEAD framing, and the answers to heads it refuses (also behind an answer
//! still queued for the flusher).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const CONFIG: &str = r#"
workers = 1
[listeners.web]
bind = "127.0.0.1:0"
limits = { max_header_bytes = 2048 }
[[listeners.web.routes]]
cluster = "a"
[clusters.a]
endpoints = ["{a}"]
"#;

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let two = b"GET /first HTTP/1.1\r\nhost: t\r\n\r\nGET /second HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";
    let r = raw(h.addr("web").unwrap(), two, Duration::from_secs(2)).await;
    assert_eq!(r.matches("HTTP/1.1 200 OK").count(), 2, "{r}");
    let (first, second) = (r.find("/first").unwrap(), r.find("/second").unwrap());
    assert!(first < second, "answers in request order: {r}");
    stop(h);
}

#[tokio::test]
async fn expect_100_continue_gets_the_interim_answer_before_the_body() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let mut s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    s.write_all(
        b"PUT /up HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("HTTP/1.1 200") && rest.contains("x-body-len: 5"), "{rest}");
    stop(h);
}

/// An answer the worker's flusher still holds goes out before anything the next pipelined
/// request makes sluice write itself: a `100 Continue`, or the refusal of a bad head.
#[tokio::test]
async fn a_queued_answer_goes_out_before_an_interim_answer_or_a_refusal() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let put = b"PUT /up HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n";
    s.write_all(&[&b"GET /first HTTP/1.1\r\nhost: t\r\n\r\n"[..], put].concat()).await.unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("100 Continue") {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before the interim answer: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.find("/first").unwrap() < text.find("100 Continue").unwrap(), "{text}");
    s.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
    assert!(String::from_utf8_lossy(&rest).contains("x-body-len: 5"), "the PUT is answered after its body");
    let r = raw(addr, b"GET /ok HTTP/1.1\r\nhost: t\r\n\r\nGET / HTTP/3.0\r\nhost: t\r\n\r\n", Duration::from_secs(2))
        .await;
    let (ok, refused) = (r.find("HTTP/1.1 200").unwrap(), r.find("HTTP/1.1 505").unwrap());
    assert!(ok < refused && r[ok..refused].contains("/ok"), "the answer, then the refusal: {r}");
    stop(h);
}

#[tokio::test]
async fn http_1_0_and_head_are_framed_for_what_the_client_asked() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    // HTTP/1.0 without keep-alive: answered, then closed by sluice (well before the wait).
    let started = std::time::Instant::now();
    let r = raw(addr, b"GET / HTTP/1.0\r\nhost: t\r\n\r\n", Duration::from_secs(5)).await;
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("connection: close"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(3), "sluice closes a 1.0 connection");
    // HEAD: the upstream's length, no body bytes.
    let r = raw(addr, b"HEAD / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n", Duration::from_secs(2)).await;
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("content-length: "), "{r}");
    assert!(r.ends_with("\r\n\r\n"), "no body after a HEAD answer: {r:?}");
    stop(h);
}

#[tokio::test]
async fn refused_heads_get_their_own_status_and_never_reach_upstream() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: t\r\n\r\n", "a".repeat(3000));
    for (bad, status, code) in [
        (long_uri.as_bytes(), "414", "uri_too_long"),
        (&b"GET / HTTP/3.0\r\nhost: t\r\n\r\n"[..], "505", "version_not_supported"),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nabc",
            "400",
            "bad_request",
        ),
    ] {
        let r = raw(addr, bad, Duration::from_secs(2)).await;
        assert!(r.starts_with(&format!("HTTP/1.1 {status}")), "{status}: {r}");
        assert!(r.contains(&format!("x-sluice-error: {code}")) && r.contains("connection: close"), "{r}");
    }
    assert_eq!(b.hits(), 0);
    assert_eq!(get(addr, "/", &[]).await.status, 200, "the listener still serves");
    stop(h);
}

#[tokio::test]
async fn a_client_that_said_close_is_let_go_without_lingering() {
    let b = Backend::start("a");
    let h = proxy(CONFIG, &[("a", b.addr)]);
    let mut s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut r = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut r)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&r).starts_with("HTTP/1.1 200"));
    // sluice closed its socket outright (no read-and-discard): bytes sent now are answered
    // with a reset, and a write after it fails (well inside the 1 s a lingering close takes).
    let mut reset = false;
    for _ in 0..15 {
        if s.write_all(b"late").await.is_err() {
            reset = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reset, "the server socket is closed, not lingering");
    stop(h);
}
