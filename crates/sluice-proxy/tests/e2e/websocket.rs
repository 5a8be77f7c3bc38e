//! WebSocket (HTTP/1.1 Upgrade) through plain and TLS listeners: the 101 and the echo
//! pass end to end, the tunnel idle timeout closes a silent tunnel, a refused upgrade is a
//! normal response, and upgrades are counted. WebSocket over HTTP/2 (RFC 8441 extended
//! CONNECT) reaches the same HTTP/1.1 backend as an upgrade.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::support::*;
use crate::tlsutil::*;

/// A backend that answers an upgrade with 101 and then echoes bytes; anything else 403.
fn echo_backend() -> SocketAddr {
    serve_on_thread(|s| async move {
        let svc = service_fn(|mut req: http::Request<hyper::body::Incoming>| async move {
            let mut resp = http::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            let key = req.headers().get("sec-websocket-key").is_some_and(|k| k.len() == 24);
            if req.headers().get("upgrade").is_none_or(|u| u != "websocket")
                || !key
                || req.method() != http::Method::GET
            {
                *resp.status_mut() = http::StatusCode::FORBIDDEN;
                return Ok::<_, std::convert::Infallible>(resp);
            }
            let on = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = on.await {
                    let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
            *resp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
            resp.headers_mut().insert("upgrade", "websocket".parse().unwrap());
            resp.headers_mut().insert("connection", "upgrade".parse().unwrap());
            resp.headers_mut().insert("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().unwrap());
            Ok(resp)
        });
        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc).with_upgrades().await;
    })
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nhost: t\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Sends the upgrade, returns the response head; the stream is then the tunnel.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, req: &[u8]) -> String {
    s.write_all(req).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got)).await.unwrap().unwrap();
    got
}

fn config(extra: &str) -> String {
    format!("workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\ntimeouts = {{ tunnel = \"400ms\" }}\n{extra}\n[[listeners.web.routes]]\ncluster = \"ws\"\n[clusters.ws]\nendpoints = [\"{{ws}}\"]\n")
}

#[tokio::test]
async fn websocket_echo_through_a_plain_listener_and_the_tunnel_idle_timeout() {
    let h = proxy(&config(""), &[("ws", echo_backend())]);
    let mut s = tokio::net::TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let head = upgrade(&mut s, UPGRADE).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: websocket"), "{head}");
    for msg in [&b"hello"[..], &[0x81, 0x02, b'h', b'i'], &vec![7u8; 100_000]] {
        assert_eq!(echo(&mut s, msg).await, msg, "bytes pass both ways");
    }
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_upgrades_total{listener=\"web\"} 1"), "{m}");
    assert!(m.contains("sluice_tunnels_active{listener=\"web\"} 1"), "{m}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a silent tunnel is closed after timeouts.tunnel");
    let plain = get(h.addr("web").unwrap(), "/ws", &[]).await;
    assert_eq!(plain.status, 403, "a request without Upgrade is an ordinary request");
    let mut s = tokio::net::TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let refused =
        upgrade(&mut s, &UPGRADE.to_vec().iter().map(|b| if *b == b'w' { b'W' } else { *b }).collect::<Vec<_>>()).await;
    assert!(refused.starts_with("HTTP/1.1 403"), "a refused upgrade is relayed: {refused}");
    stop(h);
}

#[tokio::test]
async fn websocket_echo_through_tls_termination() {
    let pki = Pki::new("ws");
    let (c, k) = pki.leaf("ws", &["ws.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let tls = format!("[listeners.web.tls]\ncerts = [{{ cert = \"{c}\", key = \"{k}\" }}]\nalpn = [\"http/1.1\"]");
    let h = proxy(&config(&tls), &[("ws", echo_backend())]);
    let client = client_config(pki.roots(), &["http/1.1"], None);
    let mut s = connect(h.addr("web").unwrap(), "ws.test", &client).await.unwrap();
    let head = upgrade(&mut s, UPGRADE).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(echo(&mut s, b"over tls").await, b"over tls");
    stop(h);
}

/// An RFC 8441 extended CONNECT on an h2c connection; `None` when the server refused it.
async fn h2_websocket(addr: SocketAddr, path: &str) -> (u16, http::HeaderMap, Option<hyper::upgrade::Upgraded>) {
    use hyper_util::rt::TokioExecutor;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<bytes::Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    // The server's SETTINGS (with ENABLE_CONNECT_PROTOCOL) must arrive before the CONNECT.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://ws.test{path}"))
        .header("sec-websocket-version", "13")
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let mut resp = tx.send_request(req).await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let up = if status == 200 { Some(hyper::upgrade::on(&mut resp).await.unwrap()) } else { None };
    (status, headers, up)
}

#[tokio::test]
async fn websocket_over_http2_becomes_an_http1_upgrade_upstream() {
    let h = proxy(&config(""), &[("ws", echo_backend())]);
    let (status, headers, up) = h2_websocket(h.addr("web").unwrap(), "/chat").await;
    assert_eq!(status, 200, "RFC 8441: a 2xx opens the stream");
    assert!(headers.get("sec-websocket-accept").is_none() && headers.get("upgrade").is_none(), "{headers:?}");
    let mut io = TokioIo::new(up.unwrap());
    for msg in [&b"over h2"[..], &[0x81, 0x02, b'h', b'i'], &vec![9u8; 200_000]] {
        assert_eq!(echo(&mut io, msg).await, msg, "bytes pass both ways through the h2 stream");
    }
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_upgrades_total{listener=\"web\"} 1"), "{m}");
    stop(h);
}
