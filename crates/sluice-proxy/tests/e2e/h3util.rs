//! An HTTP/3 test client (quinn + h3, the same crates as the server, so the tests also pin
//! their interplay; the interop script checks aioquic and curl's ngtcp2) and a UDP relay
//! that records a client's first flight, for 0-RTT replays.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3_quinn::quinn;

pub type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// A QUIC client endpoint trusting `roots`, offering `h3` (and 0-RTT when it has a ticket).
pub fn endpoint(roots: rustls::RootCertStore) -> quinn::Endpoint {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    tls.enable_early_data = true;
    let qc = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(qc)));
    ep
}

/// An h3 connection over `conn`, its driver running in the background.
pub async fn h3_over(conn: quinn::Connection) -> Sender {
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn)).await.unwrap();
    tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
    send
}

/// Connects (full handshake) and returns the h3 sender.
pub async fn connect_h3(ep: &quinn::Endpoint, addr: SocketAddr, sni: &str) -> Result<Sender, String> {
    let conn = ep.connect(addr, sni).map_err(|e| e.to_string())?.await.map_err(|e| e.to_string())?;
    Ok(h3_over(conn).await)
}

/// An answer: status, headers, body.
pub struct H3Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub trailers: Option<http::HeaderMap>,
}

impl H3Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not json ({e})"))
    }
}

/// One request with `body` (sent in 64 KiB DATA frames), the whole answer collected.
pub async fn request(send: &mut Sender, method: &str, url: &str, body: &[u8]) -> Result<H3Resp, String> {
    request_with(send, http::Request::builder().method(method).uri(url).body(()).unwrap(), body).await
}

/// `request` with a head of the caller's making (headers).
pub async fn request_with(send: &mut Sender, req: http::Request<()>, body: &[u8]) -> Result<H3Resp, String> {
    let mut s = send.send_request(req).await.map_err(|e| e.to_string())?;
    for chunk in body.chunks(64 << 10) {
        s.send_data(Bytes::copy_from_slice(chunk)).await.map_err(|e| e.to_string())?;
    }
    s.finish().await.map_err(|e| e.to_string())?;
    let resp = s.recv_response().await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(mut c) = s.recv_data().await.map_err(|e| e.to_string())? {
        out.extend_from_slice(&c.copy_to_bytes(c.remaining()));
    }
    let trailers = s.recv_trailers().await.map_err(|e| e.to_string())?;
    Ok(H3Resp { status: resp.status().as_u16(), headers: resp.headers().clone(), body: out.into(), trailers })
}

/// A UDP relay in front of `server`: forwards both ways for one client, holds the server's
/// first datagram back for `hold` (so the client's whole first flight — Initial and 0-RTT —
/// leaves before any answer), and records that first flight.
pub struct Relay {
    pub addr: SocketAddr,
    pub first_flight: Arc<Mutex<Vec<Vec<u8>>>>,
}

pub async fn relay(server: SocketAddr, hold: Duration) -> Relay {
    let front = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(server).await.unwrap();
    let first_flight = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = Arc::new(Mutex::new(None::<SocketAddr>));
    let (f, b, rec, ans, cl) = (front.clone(), back.clone(), first_flight.clone(), answered.clone(), client.clone());
    let addr = front.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = f.recv_from(&mut buf).await {
            *cl.lock().unwrap() = Some(from);
            if !ans.load(std::sync::atomic::Ordering::SeqCst) {
                rec.lock().unwrap().push(buf[..n].to_vec());
            }
            let _ = b.send(&buf[..n]).await;
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut first = true;
        while let Ok(n) = back.recv(&mut buf).await {
            if first {
                tokio::time::sleep(hold).await;
                answered.store(true, std::sync::atomic::Ordering::SeqCst);
                first = false;
            }
            let to = *client.lock().unwrap();
            if let Some(to) = to {
                let _ = front.send_to(&buf[..n], to).await;
            }
        }
    });
    Relay { addr, first_flight }
}

/// Sends recorded datagrams to `server` from a new address, as an attacker replaying a
/// captured 0-RTT flight would (it can never finish the handshake).
pub async fn replay(server: SocketAddr, flight: &[Vec<u8>]) {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for d in flight {
        s.send_to(d, server).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}
