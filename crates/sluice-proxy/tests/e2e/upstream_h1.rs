//! sluice's own upstream HTTP/1.1 client (the bodyless fast path) against a scripted raw
//! upstream: chunked and close-delimited answers, 1xx interim answers, and connections the
//! upstream closes while they sit in the pool.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;

/// A raw upstream: for every request head read on a connection, writes `answer` and, when
/// `close_after` is set, closes the connection after that many answers. Counts connections.
fn scripted(answer: &'static [u8], close_after: Option<usize>) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&conns);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let (mut buf, mut served) = (Vec::new(), 0);
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if s.write_all(answer).is_err() {
                            return;
                        }
                        served += 1;
                        if close_after == Some(served) {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, conns)
}

fn config(addr: SocketAddr) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{addr}\"]\n")
}

#[tokio::test]
async fn chunked_answers_are_relayed_and_the_connection_reused() {
    let (up, conns) =
        scripted(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", None);
    let h = proxy(&config(up), &[]);
    for _ in 0..5 {
        let r = get(h.addr("web").unwrap(), "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello world"));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1, "one upstream connection for all five");
    stop(h);
}

#[tokio::test]
async fn close_delimited_answers_end_at_close_and_are_not_reused() {
    let (up, conns) = scripted(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end", Some(1));
    let h = proxy(&config(up), &[]);
    for _ in 0..3 {
        let r = get(h.addr("web").unwrap(), "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "until the end"));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
    stop(h);
}

#[tokio::test]
async fn interim_1xx_answers_are_skipped() {
    let (up, _) = scripted(
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        None,
    );
    let h = proxy(&config(up), &[]);
    let r = get(h.addr("web").unwrap(), "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    stop(h);
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_not_failed() {
    // Every connection serves one keep-alive answer and is then closed by the upstream.
    let (up, conns) = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", Some(1));
    let h = proxy(&config(up), &[]);
    for i in 0..6 {
        let r = get(h.addr("web").unwrap(), "/", &[]).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
        if i % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await; // let the close land sometimes
        }
    }
    assert_eq!(conns.load(Ordering::SeqCst), 6, "a fresh connection each time");
    stop(h);
}

/// Sends `reqs` on one client connection, one after the other; the statuses.
async fn on_one_connection(addr: SocketAddr, reqs: &[(&str, &str)]) -> Vec<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut out = Vec::new();
    for (method, body) in reqs {
        let req = format!("{method} /x HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        s.write_all(req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // The backend's answers are JSON bodies with a length: read until the head and body are in.
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap())
                });
                if len.is_some_and(|l| body.len() >= l) || n == 0 {
                    out.push(head[9..12].parse().unwrap());
                    break;
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_post_opening_a_client_connection_gets_a_fresh_upstream_connection() {
    let b = Backend::start("a");
    let h = proxy("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n", &[("a", b.addr)]);
    let web = h.addr("web").unwrap();
    assert_eq!(on_one_connection(web, &[("GET", "")]).await, vec![200]);
    assert_eq!(b.conns(), 1);
    assert_eq!(on_one_connection(web, &[("GET", "")]).await, vec![200]);
    assert_eq!(b.conns(), 1, "a GET reuses the idle upstream connection");
    // HAProxy's `http-reuse safe`: nobody could retry this POST if a reused connection closed
    // under it, so it gets its own; the next request on the same client connection may reuse.
    assert_eq!(on_one_connection(web, &[("POST", "body"), ("POST", "again")]).await, vec![200, 200]);
    assert_eq!(
        b.conns(),
        2,
        "the first POST of a client connection opens a new upstream connection, the second reuses"
    );
    stop(h);
}
