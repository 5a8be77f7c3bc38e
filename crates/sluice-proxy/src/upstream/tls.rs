//! TLS to upstream endpoints (`protocol = "https"` / `"h2"`): a rustls client per cluster
//! (roots from `ca` or the system, SNI from `sni` or the endpoint's IP, ALPN `http/1.1` or
//! `h2`, optional client certificate). Verification fails closed: a certificate that does
//! not chain to the roots or name the server ends the connect with `upstream_tls` (502).
//! `verify = false` keeps encryption but accepts any certificate (signatures still checked).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sluice_config::UpstreamTls;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A cluster's TLS client.
#[derive(Debug)]
pub struct Connector {
    config: Arc<ClientConfig>,
    sni: Option<ServerName<'static>>,
}

impl Connector {
    pub fn build(t: &UpstreamTls, h2: bool) -> Result<Connector, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let b = ClientConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
        let b = if t.verify {
            b.with_root_certificates(Arc::clone(&t.roots.roots))
        } else {
            b.dangerous().with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        };
        let mut config = match &t.client_cert {
            Some(c) => b.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(Arc::clone(&c.key)))),
            None => b.with_no_client_auth(),
        };
        config.alpn_protocols = vec![if h2 { b"h2".to_vec() } else { b"http/1.1".to_vec() }];
        let sni = t.sni.as_ref().and_then(|s| ServerName::try_from(s.clone()).ok());
        Ok(Connector { config: Arc::new(config), sni })
    }

    /// The TLS handshake on a connected socket.
    pub async fn wrap(&self, tcp: TcpStream, addr: SocketAddr) -> io::Result<TlsStream<TcpStream>> {
        let name = self.sni.clone().unwrap_or(ServerName::IpAddress(addr.ip().into()));
        tokio_rustls::TlsConnector::from(Arc::clone(&self.config)).connect(name, tcp).await
    }
}

/// An upstream socket, clear or TLS.
pub enum UpstreamIo {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for UpstreamIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// `verify = false`: any certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

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
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
