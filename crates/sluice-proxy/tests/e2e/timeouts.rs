//! Each timeout, end to end on real sockets with short values: header (slowloris), client
//! idle keep-alive, upstream connect, upstream response (route timeout), body idle both
//! ways. Bounds are loose on the upper side: the machine is shared and slow.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const CONFIG: &str = r#"
workers = 1
[listeners.web]
bind = "127.0.0.1:0"
timeouts = { header = "300ms", idle = "400ms", body = "300ms" }
[[listeners.web.routes]]
path_prefix = "/slow/"
cluster = "a"
timeout = "300ms"
[[listeners.web.routes]]
path_prefix = "/blackhole"
cluster = "blackhole"
[[listeners.web.routes]]
cluster = "a"
[clusters.a]
endpoints = ["{a}"]
[clusters.blackhole]
endpoints = ["{bh}"]
timeouts = { connect = "200ms" }
"#;

/// A listener whose accept queue is full, so new SYNs are dropped and connects hang.
fn blackhole() -> (std::net::SocketAddr, Vec<std::net::TcpStream>, socket2::Socket) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(c) => fill.push(c),
            Err(_) => break,
        }
    }
    (addr, fill, s)
}

async fn start() -> (sluice_control::ServerHandle, Backend, Vec<std::net::TcpStream>, socket2::Socket) {
    let b = Backend::start("a");
    let (bh, fill, sock) = blackhole();
    (proxy(CONFIG, &[("a", b.addr), ("bh", bh)]), b, fill, sock)
}

async fn closes_within(s: &mut TcpStream, max: Duration) -> Duration {
    let t = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(max, s.read_to_end(&mut buf)).await.expect("connection should be closed").ok();
    t.elapsed()
}

#[tokio::test]
async fn slow_header_is_cut_after_header_timeout() {
    let (h, b, _f, _s) = start().await;
    let mut s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n").await.unwrap();
    let took = closes_within(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(250), "closed too early: {took:?}");
    let mut silent = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    closes_within(&mut silent, Duration::from_secs(3)).await;
    assert_eq!(b.hits(), 0);
    stop(h);
}

#[tokio::test]
async fn idle_keepalive_connection_is_closed() {
    let (h, _b, _f, _s) = start().await;
    let mut s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let took = closes_within(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(300), "idle close too early: {took:?}");
    stop(h);
}

#[tokio::test]
async fn slow_upstream_gets_504_after_route_timeout() {
    let (h, _b, _f, _s) = start().await;
    let t = Instant::now();
    let r = get(h.addr("web").unwrap(), "/slow/3000", &[]).await;
    assert_eq!(r.status, 504);
    assert_eq!(r.body, "504 upstream response timeout\n");
    assert!(t.elapsed() < Duration::from_millis(2500), "{:?}", t.elapsed());
    assert_eq!(get(h.addr("web").unwrap(), "/slow/10", &[]).await.status, 200);
    stop(h);
}

#[tokio::test]
async fn hanging_connect_gets_504_after_connect_timeout() {
    let (h, _b, _f, _s) = start().await;
    let t = Instant::now();
    let r = get(h.addr("web").unwrap(), "/blackhole", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (504, "504 upstream connect timeout\n"));
    assert!(t.elapsed() < Duration::from_millis(2000), "{:?}", t.elapsed());
    stop(h);
}

#[tokio::test]
async fn stalled_request_body_gets_408() {
    let (h, b, _f, _s) = start().await;
    let r = raw(
        h.addr("web").unwrap(),
        b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\nonly ten b",
        Duration::from_secs(3),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert!(b.hits() <= 1);
    stop(h);
}

#[tokio::test]
async fn stalled_response_body_is_cut() {
    let (h, _b, _f, _s) = start().await;
    let mut s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    s.write_all(b"GET /stall-body HTTP/1.1\r\nhost: t\r\n\r\n").await.unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await.expect("cut").ok();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("first"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "a cut body must not look complete: {text}");
    assert!(t.elapsed() >= Duration::from_millis(250));
    stop(h);
}
