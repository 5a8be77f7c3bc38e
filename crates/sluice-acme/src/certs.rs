//! Certificates as the ACME manager handles them: an issued chain and key parsed into what
//! rustls serves (`Issued`, with the leaf's validity read by x509-parser), a new key with its
//! CSR for an order, and the self-signed TLS-ALPN-01 challenge certificate (RFC 8737).

use std::sync::Arc;

use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

/// A certificate chain and its key, ready to serve.
#[derive(Clone)]
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub key: Arc<CertifiedKey>,
    /// Unix seconds of the leaf's notBefore and notAfter.
    pub not_before: u64,
    pub not_after: u64,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issued({}..{})", self.not_before, self.not_after)
    }
}

impl Issued {
    /// Reads a PEM chain (leaf first) and its PEM key; checks they belong together.
    pub fn parse(chain_pem: &str, key_pem: &str) -> Result<Issued, String> {
        let key =
            sluice_config::tls::certified_from_pem(chain_pem.as_bytes(), key_pem.as_bytes(), ("the chain", "the key"))?;
        let (not_before, not_after) = sluice_config::tls::validity(&key.cert[0])?;
        Ok(Issued {
            chain_pem: chain_pem.to_string(),
            key_pem: key_pem.to_string(),
            key: Arc::new(key),
            not_before,
            not_after,
        })
    }

    /// Whether the leaf lists `name` among its DNS names.
    pub fn covers(&self, name: &str) -> bool {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(self.key.cert[0].as_ref()) else { return false };
        let Ok(Some(san)) = cert.subject_alternative_name() else { return false };
        san.value
            .general_names
            .iter()
            .any(|g| matches!(g, x509_parser::extensions::GeneralName::DNSName(d) if d.eq_ignore_ascii_case(name)))
    }
}

/// The challenge certificate with its key (not compared by `keys_match`: webpki cannot parse
/// the certificate, whose critical acmeIdentifier extension is unknown to it).
fn certified(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Arc<CertifiedKey>, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| format!("unsupported key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// A fresh ECDSA P-256 key (PEM) and a CSR for `name` signed by it (DER).
pub fn key_and_csr(name: &str) -> Result<(String, Vec<u8>), String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let params = CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    Ok((key.serialize_pem(), csr.der().to_vec()))
}

/// The TLS-ALPN-01 certificate for `name`: self-signed, with the acmeIdentifier extension
/// holding the SHA-256 digest of the key authorization.
pub fn challenge_cert(name: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    certified(vec![cert.der().clone()], der)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate for `names` as an ACME CA would send it (self-signed here).
    pub fn self_signed(names: &[&str]) -> (String, String) {
        let ck = rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        (ck.cert.pem(), ck.key_pair.serialize_pem())
    }

    #[test]
    fn an_issued_chain_parses_with_its_validity_and_names() {
        let (c, k) = self_signed(&["a.test", "b.test"]);
        let i = Issued::parse(&c, &k).unwrap();
        assert!(i.not_after > i.not_before);
        assert!(i.covers("a.test") && i.covers("B.test") && !i.covers("c.test"));
        let (_, other_key) = self_signed(&["a.test"]);
        assert!(Issued::parse(&c, &other_key).unwrap_err().contains("does not match"));
        assert!(Issued::parse("junk", &k).is_err());
    }

    #[test]
    fn the_challenge_certificate_carries_the_digest() {
        let ck = challenge_cert("a.test", &[7u8; 32]).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(ck.cert[0].as_ref()).unwrap();
        let oid = x509_parser::oid_registry::Oid::from(&[1, 3, 6, 1, 5, 5, 7, 1, 31]).unwrap();
        let ext = cert.extensions().iter().find(|e| e.oid == oid).expect("acmeIdentifier");
        assert!(ext.critical, "RFC 8737: the extension is critical");
        assert_eq!(&ext.value[2..], &[7u8; 32], "an OCTET STRING of the digest");
    }

    #[test]
    fn a_csr_is_made_for_the_name() {
        let (key, csr) = key_and_csr("a.test").unwrap();
        assert!(key.contains("PRIVATE KEY") && csr.len() > 100);
    }
}
