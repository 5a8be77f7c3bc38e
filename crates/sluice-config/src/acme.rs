//! `[acme]`: automatic certificates from an RFC 8555 CA, as the ACME manager reads them
//! (`AcmeConfig`; the file form is `acme_file::FileAcme`, checked by `validate_acme`), and
//! which names may be ordered. Listeners name the certificates they
//! want with `tls.acme = ["www.example.com"]`; the ACME manager (crate `sluice-acme`) orders,
//! stores and renews them, and the proxy serves them without a reload.

use std::path::PathBuf;
use std::time::Duration;

/// How the CA checks that we control a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `GET /.well-known/acme-challenge/TOKEN` on port 80 (every plain-HTTP listener answers).
    Http01,
    /// A TLS handshake with ALPN `acme-tls/1` on port 443 (the TLS listeners answer).
    TlsAlpn01,
}

/// When a certificate is renewed: a fixed time before it expires, or a fraction of its
/// lifetime before it expires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RenewBefore {
    Time(Duration),
    Fraction(f64),
}

impl RenewBefore {
    /// How long before `not_after` to renew a certificate valid for `lifetime`.
    pub fn ahead(self, lifetime: Duration) -> Duration {
        match self {
            RenewBefore::Time(d) => d.min(lifetime),
            RenewBefore::Fraction(f) => lifetime.mul_f64(f),
        }
    }
}

/// The checked `[acme]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    /// The CA's directory URL.
    pub directory: String,
    pub contact: Vec<String>,
    /// Account key, certificates and keys (files 0600), relative to the config file.
    pub storage: PathBuf,
    pub challenge: Challenge,
    pub renew_before: RenewBefore,
    /// `redis://…`: one instance orders each name, every instance shares the result.
    pub coordination: Option<String>,
    pub lease: Duration,
    /// PEM roots trusted for the directory (a test CA); the system's roots otherwise.
    pub ca: Option<PathBuf>,
}

/// A name sluice may order by HTTP-01 or TLS-ALPN-01: a DNS name, no wildcard, no IP.
pub fn check_name(name: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("*.") {
        return Err(format!("`{name}`: wildcard names need the DNS-01 challenge, which sluice does not answer"));
    }
    if lower.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("`{name}` is an IP address, not a DNS name"));
    }
    let ok = !lower.is_empty()
        && lower.len() <= 253
        && lower
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && lower.contains('.');
    if ok {
        Ok(lower)
    } else {
        Err(format!("`{name}` is not a DNS name"))
    }
}

#[cfg(test)]
#[path = "acme_tests.rs"]
mod tests;
