//! Test PKI and TLS clients: a CA made at test time (rcgen), leaf and client certificates
//! signed by it, and rustls clients with chosen SNI, ALPN, client certificate and session
//! store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A CA and a folder of files signed by it.
pub struct Pki {
    pub dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("sluice-e2e-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, ca_key }
    }

    pub fn ca_path(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// Writes `<file>.pem` / `<file>.key` for `names`, signed by the CA; returns the paths.
    pub fn leaf(&self, file: &str, names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
        let key = KeyPair::generate_for(alg).unwrap();
        let params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let (c, k) = (self.dir.join(format!("{file}.pem")), self.dir.join(format!("{file}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    /// A client certificate (chain, key) signed by this CA.
    pub fn client_cert(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
        let cert = cert.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        (vec![cert.der().clone()], PrivateKeyDer::try_from(key.serialize_der()).unwrap())
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }
}

/// A client config trusting `roots`, offering `alpn`, with an optional client certificate.
pub fn client_config(
    roots: rustls::RootCertStore,
    alpn: &[&str],
    cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut c = match cert {
        Some((chain, key)) => b.with_client_auth_cert(chain, key).unwrap(),
        None => b.with_no_client_auth(),
    };
    c.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Arc::new(c)
}

/// Connects with TLS to `addr` asking for `sni`.
pub async fn connect(
    addr: SocketAddr,
    sni: &str,
    cfg: &Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::clone(cfg)).connect(name, tcp).await
}

/// One GET over a TLS stream, HTTP/2 if ALPN chose it, else HTTP/1.1.
pub async fn get_over(tls: TlsStream<TcpStream>, path: &str) -> Result<crate::support::Resp, hyper::Error> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let body = http_body_util::Full::new(bytes::Bytes::new());
    if h2 {
        let (mut tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let req = http::Request::get(format!("https://tls.test{path}")).body(body).unwrap();
        Ok(crate::support::collect(tx.send_request(req).await?).await)
    } else {
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let req = http::Request::get(path).header("host", "tls.test").body(body).unwrap();
        Ok(crate::support::collect(tx.send_request(req).await?).await)
    }
}

/// An HTTPS backend with a certificate for `names` from `pki`, speaking h2 or http/1.1 by
/// ALPN; it answers `{"version": ..., "sni": ...}`.
pub fn tls_backend(pki: &Pki, names: &[&str]) -> SocketAddr {
    serve_tls(pki, names, false)
}

/// Like `tls_backend`, but the backend requires a client certificate from `pki`'s CA.
pub fn tls_backend_mtls(pki: &Pki, names: &[&str]) -> SocketAddr {
    serve_tls(pki, names, true)
}

fn serve_tls(pki: &Pki, names: &[&str], mtls: bool) -> SocketAddr {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let (c, k) = pki.leaf(&format!("backend-{}", names.join("_")), names, &rcgen::PKCS_ECDSA_P256_SHA256);
    let cert = sluice_config::tls::load_cert(c.as_ref(), k.as_ref(), None).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap();
    let b = if mtls {
        let v = rustls::server::WebPkiClientVerifier::builder(Arc::new(pki.roots())).build().unwrap();
        b.with_client_cert_verifier(v)
    } else {
        b.with_no_client_auth()
    };
    let mut sc = b.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(cert.key)));
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
    crate::support::serve_on_thread(move |s| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(tls) = acceptor.accept(s).await else { return };
            let sni = tls.get_ref().1.server_name().unwrap_or("").to_string();
            let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let body = serde_json::json!({ "version": format!("{:?}", req.version()), "sni": sni });
                let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body.to_string())));
                r.headers_mut().insert("x-backend", "tls".parse().unwrap());
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        }
    })
}
