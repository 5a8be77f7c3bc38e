//! h3load URL [-n N] [-c C] [-m M]: N GET requests over C QUIC connections with M streams
//! in flight on each (certificates are not verified: a benchmark on loopback). Prints one
//! line like h2load's: `finished in S, R req/s, B bytes/s, F failed`.

use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn arg(args: &[String], flag: &str, default: usize) -> usize {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url: http::Uri = args.get(1).expect("usage: h3load URL [-n N] [-c C] [-m M]").parse().unwrap();
    let (n, c, m) = (arg(&args, "-n", 10_000), arg(&args, "-c", 1), arg(&args, "-m", 1));
    let host = url.host().unwrap().to_string();
    let addr = (host.as_str(), url.port_u16().unwrap_or(443)).to_socket_addrs().unwrap().next().unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let qc = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(qc)));
    let left = Arc::new(AtomicUsize::new(n));
    let (bytes, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let conn = ep.connect(addr, "bench.test").unwrap().await.expect("QUIC handshake");
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn)).await.unwrap();
        tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
        for _ in 0..m {
            let (mut send, left, bytes, failed, url) =
                (send.clone(), left.clone(), bytes.clone(), failed.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                while left.fetch_update(Relaxed, Relaxed, |l| l.checked_sub(1)).is_ok() {
                    match one(&mut send, &url).await {
                        Some(b) => bytes.fetch_add(b, Relaxed),
                        None => failed.fetch_add(1, Relaxed),
                    };
                }
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "finished in {:.2}s, {:.0} req/s, {:.0} bytes/s, {} failed",
        secs,
        n as f64 / secs,
        bytes.load(Relaxed) as f64 / secs,
        failed.load(Relaxed)
    );
}

/// One GET; the body's size, or None on any failure or a non-200 status.
async fn one(send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>, url: &http::Uri) -> Option<u64> {
    let req = http::Request::get(url.clone()).body(()).ok()?;
    let mut s = send.send_request(req).await.ok()?;
    s.finish().await.ok()?;
    let resp = s.recv_response().await.ok()?;
    let mut n = 0u64;
    while let Some(mut c) = s.recv_data().await.ok()? {
        n += c.remaining() as u64;
        c.advance(c.remaining());
    }
    (resp.status() == 200).then_some(n)
}
