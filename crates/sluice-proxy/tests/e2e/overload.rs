//! The overload manager under artificially low limits: connections near the limit turn
//! keep-alive off and then are closed at accept; memory over its limit refuses new
//! connections and sheds requests already read with 503; a reload with room recovers; and
//! `/status` and `/metrics` say what it did.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn config(overload: &str) -> String {
    format!(
        "[admin]\nbind = \"127.0.0.1:0\"\n[overload]\n{overload}\n[listeners.web]\nbind = \"127.0.0.1:0\"\n\
         [[listeners.web.routes]]\nrespond = {{ status = 200, body = \"ok\" }}\n"
    )
}

/// One keep-alive request on an open connection: (status, whether it asked to close).
async fn ask(s: &mut TcpStream) -> (u16, bool) {
    s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
    (head[9..12].parse().unwrap(), head.contains("connection: close"))
}

/// Whether the server closes a new connection without answering.
async fn closed_at_accept(addr: std::net::SocketAddr) -> bool {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test]
async fn near_the_connection_limit_keepalive_stops_then_new_connections_are_refused() {
    let h = proxy(&config("max_connections = 4\nkeepalive_off_at = 0.5\nrefuse_at = 1.0"), &[]);
    let web = h.addr("web").unwrap();
    let mut a = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut a).await, (200, false), "1 of 4: keep-alive");
    let (b, c) = (TcpStream::connect(web).await.unwrap(), TcpStream::connect(web).await.unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ask(&mut a).await, (200, true), "3 of 4: answers close their connection");
    drop(a);
    let d = TcpStream::connect(web).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(closed_at_accept(web).await, "with 3 open, a 4th would reach the limit");
    let st = get(h.admin_addr().unwrap(), "/status", &[]).await.json();
    assert_eq!(st["overload"]["refused"], 1);
    assert!(st["overload"]["keepalive_closed"].as_u64().unwrap() >= 1);
    drop((b, c, d));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut d = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut d).await, (200, false), "slots come back when connections close");
    stop(h);
}

#[tokio::test]
async fn over_the_memory_limit_sluice_refuses_and_sheds_and_a_reload_recovers() {
    let roomy = || sluice_config::parse(&config("max_memory = \"64GiB\""), "t.toml").unwrap();
    let h = proxy(&config("max_memory = \"64GiB\""), &[]);
    let web = h.addr("web").unwrap();
    let admin = h.admin_addr().unwrap();
    let mut held = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut held).await, (200, false));
    h.control().apply(sluice_config::parse(&config("max_memory = \"4MiB\""), "t.toml").unwrap()).unwrap();
    let mut level = String::new();
    for _ in 0..40 {
        level = get(admin, "/status", &[]).await.json()["overload"]["level"].as_str().unwrap().to_string();
        if level == "refusing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(level, "refusing", "RSS is far above 4 MiB");
    assert!(closed_at_accept(web).await, "new connections are refused");
    assert_eq!(ask(&mut held).await, (503, true), "a request already read is shed");
    let m = get(admin, "/metrics", &[]).await.body;
    let lines: Vec<&str> = m.lines().filter(|l| l.starts_with("sluice_overload")).collect();
    assert!(lines.contains(&"sluice_overload_level{} 2.0"), "{lines:?}");
    assert!(lines.contains(&"sluice_overload_shed_requests_total{} 1"), "{lines:?}");
    h.control().apply(roomy()).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let st = get(admin, "/status", &[]).await.json();
    assert_eq!(st["overload"]["level"], "normal", "{}", st["overload"]);
    let mut fresh = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut fresh).await, (200, false), "back to normal after the reload");
    stop(h);
}
