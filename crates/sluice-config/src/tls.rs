//! TLS settings of a listener (`[listeners.X.tls]`) and their loading: PEM certificate
//! chains and keys read and checked against each other at config time (so `sluice check`
//! and a reload catch a missing file or a key that doesn't match its certificate), the
//! names each certificate serves (from its subjectAltName DNS entries), OCSP staples and the
//! client CA bundle for mTLS. The proxy builds its rustls `ServerConfig` from this.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// A listener's TLS termination settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Chains chosen by SNI; the first is the default for clients without a known name
    /// (may be empty when `acme` names are set).
    pub certs: Vec<TlsCert>,
    /// Names whose certificates `[acme]` obtains (served before `certs` for those names).
    pub acme: Vec<String>,
    /// ALPN protocols offered, in preference order (`h2`, `http/1.1`).
    pub alpn: Vec<String>,
    /// Also accept TLS 1.2 (1.3 always).
    pub tls12: bool,
    /// mTLS: client certificates are verified against these roots.
    pub client_ca: Option<CaBundle>,
    /// With `client_ca`: a client without a certificate is refused (else admitted).
    pub client_auth_required: bool,
    /// Stateless resumption (TLS 1.3 tickets, 1.2 tickets).
    pub session_tickets: bool,
    /// How often ticket keys are replaced (old keys decrypt for one more period).
    pub ticket_rotation: Duration,
    /// Sessions remembered for stateful resumption (0 = off).
    pub session_cache: usize,
}

/// A loaded certificate chain with its key, the names it serves, and an optional staple.
#[derive(Clone)]
pub struct TlsCert {
    pub names: Vec<String>,
    pub key: Arc<CertifiedKey>,
    /// Hash of the files' bytes: a changed file shows as a changed listener on reload.
    pub fingerprint: u64,
    /// The leaf's notAfter, Unix seconds (for the expiry metric).
    pub not_after: u64,
}

impl fmt::Debug for TlsCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsCert({:?}, {:016x})", self.names, self.fingerprint)
    }
}

/// Trusted roots for client (mTLS) or upstream verification.
#[derive(Clone)]
pub struct CaBundle {
    pub roots: Arc<rustls::RootCertStore>,
    pub fingerprint: u64,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaBundle({} roots, {:016x})", self.roots.len(), self.fingerprint)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn fingerprint(parts: &[&[u8]]) -> u64 {
    parts.iter().fold(0u64, |h, p| h.rotate_left(17) ^ sluice_core::hash::hash_key(p))
}

/// A PEM chain (leaf first) and its PEM key, checked to belong together; errors name the
/// inputs as `cert` and `key` say. Shared by `load_cert` and the ACME manager.
pub fn certified_from_pem(cert_pem: &[u8], key_pem: &[u8], (cert, key): (&str, &str)) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert} is not a PEM certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{cert} holds no certificate"));
    }
    let key_der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("{key} is not a PEM private key: {e}"))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing =
        provider.key_provider.load_private_key(key_der).map_err(|e| format!("{key}: unsupported private key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| format!("key {key} does not match certificate {cert}"))?;
    Ok(certified)
}

/// (notBefore, notAfter) of a certificate, in Unix seconds.
pub fn validity(der: &CertificateDer<'_>) -> Result<(u64, u64), String> {
    let (_, c) =
        x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| format!("cannot parse certificate: {e}"))?;
    let v = c.validity();
    Ok((v.not_before.timestamp().max(0) as u64, v.not_after.timestamp().max(0) as u64))
}

/// Reads a PEM chain and key, checks they belong together, and attaches an OCSP staple.
pub fn load_cert(cert: &Path, key: &Path, ocsp: Option<&Path>) -> Result<TlsCert, String> {
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let names_of = (format!("`{}`", cert.display()), format!("`{}`", key.display()));
    let mut certified = certified_from_pem(&cert_pem, &key_pem, (&names_of.0, &names_of.1))?;
    let mut staple_bytes = Vec::new();
    if let Some(p) = ocsp {
        staple_bytes = read(p)?;
        certified.ocsp = Some(staple_bytes.clone());
    }
    let names = dns_names(&certified.cert[0])?;
    let fingerprint = fingerprint(&[&cert_pem, &key_pem, &staple_bytes]);
    let (_, not_after) = validity(&certified.cert[0]).map_err(|e| format!("{}: {e}", names_of.0))?;
    Ok(TlsCert { names, key: Arc::new(certified), fingerprint, not_after })
}

/// DNS names from the leaf's subjectAltName, lowercase (`*.example.com` kept as is).
fn dns_names(leaf: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let parsed = webpki::EndEntityCert::try_from(leaf).map_err(|e| format!("cannot parse certificate: {e:?}"))?;
    Ok(parsed.valid_dns_names().map(|n| n.to_ascii_lowercase()).collect())
}

/// Reads a PEM CA bundle into a root store.
pub fn load_ca(path: &Path) -> Result<CaBundle, String> {
    let pem = read(path)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| format!("`{}` is not a PEM bundle: {e}", path.display()))?;
        roots.add(c).map_err(|e| format!("`{}`: unusable CA certificate: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("`{}` holds no certificate", path.display()));
    }
    Ok(CaBundle { roots: Arc::new(roots), fingerprint: fingerprint(&[&pem]) })
}

/// TLS to a cluster's endpoints (`protocol = "https"` or `"h2"`).
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// Roots the endpoints' certificates must chain to (`ca`, else the system's).
    pub roots: CaBundle,
    /// Name sent as SNI and verified; `None`: the endpoint's IP address.
    pub sni: Option<String>,
    /// `false` skips certificate verification (encrypted but unauthenticated).
    pub verify: bool,
    /// Presented to endpoints that ask for a client certificate (mTLS upstream).
    pub client_cert: Option<TlsCert>,
}

/// The system's trusted roots (Debian: /etc/ssl/certs).
pub fn system_roots() -> Result<CaBundle, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no system CA certificates found; set `ca`".into());
    }
    Ok(CaBundle { roots: Arc::new(roots), fingerprint: 0 })
}
