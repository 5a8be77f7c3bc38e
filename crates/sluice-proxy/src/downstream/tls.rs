//! TLS termination: the rustls `ServerConfig` of a listener, built from the loaded
//! `TlsConfig` in each snapshot (so certificates follow reloads), and the handshake itself.
//! Certificates are chosen by SNI (exact names, then `*.` wildcards, then the first
//! certificate as the default). Ticket keys and the session cache belong to the listener
//! and are kept across reloads (`TlsSessions`), so clients resume after a reload too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sluice_config::TlsConfig;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use crate::downstream::acme::AcmeStore;
use crate::downstream::stream::Prefixed;
use crate::downstream::tls_sessions::TlsSessions;
use crate::metrics::ListenerMetrics;

/// ALPN of the TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Picks a certificate by SNI: a managed (`acme`) name's certificate once obtained, then
/// exact name, then wildcard, then the default (first static certificate). With no static
/// certificate, a name without one is refused rather than answered with another's.
#[derive(Debug)]
struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    /// The listener's `acme` names and where their certificates are.
    acme: Option<(Vec<String>, Arc<AcmeStore>)>,
}

impl SniResolver {
    fn new(cfg: &TlsConfig, store: &Arc<AcmeStore>) -> Option<Self> {
        let default = cfg.certs.first().map(|c| Arc::clone(&c.key));
        if default.is_none() && cfg.acme.is_empty() {
            return None;
        }
        let acme = (!cfg.acme.is_empty()).then(|| (cfg.acme.clone(), Arc::clone(store)));
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        for c in &cfg.certs {
            for n in &c.names {
                let map = if n.starts_with("*.") { &mut wildcard } else { &mut exact };
                map.entry(n.trim_start_matches("*.").to_string()).or_insert_with(|| Arc::clone(&c.key));
            }
        }
        Some(SniResolver { exact, wildcard, default, acme })
    }

    fn pick(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = sni.map(str::to_ascii_lowercase) else { return self.default.clone() };
        if let Some((names, store)) = &self.acme {
            if let Some(k) = names.contains(&name).then(|| store.cert(&name)).flatten() {
                return Some(k);
            }
        }
        if let Some(k) = self.exact.get(&name) {
            return Some(Arc::clone(k));
        }
        let parent = name.split_once('.').map(|(_, p)| p);
        parent.and_then(|p| self.wildcard.get(p)).cloned().or_else(|| self.default.clone())
    }

    /// A TLS-ALPN-01 validation: the client offers only `acme-tls/1` and gets the challenge
    /// certificate of its SNI name, or no handshake.
    fn challenge(&self, hello: &ClientHello<'_>) -> Option<Option<Arc<CertifiedKey>>> {
        let mut alpn = hello.alpn()?;
        if alpn.next() != Some(ACME_TLS_ALPN) || alpn.next().is_some() {
            return None;
        }
        let (names, store) = self.acme.as_ref()?;
        let name = hello.server_name()?.to_ascii_lowercase();
        Some(names.contains(&name).then(|| store.alpn_cert(&name)).flatten())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(challenge) = self.challenge(&hello) {
            return challenge;
        }
        self.pick(hello.server_name())
    }
}

/// The listener's rustls configuration.
pub fn server_config(
    cfg: &TlsConfig,
    sessions: &TlsSessions,
    acme: &Arc<AcmeStore>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if cfg.tls12 { &[&rustls::version::TLS13, &rustls::version::TLS12] } else { &[&rustls::version::TLS13] };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider)).with_protocol_versions(versions)?;
    let builder = match &cfg.client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, cfg.client_auth_required, provider)?),
        None => builder.with_no_client_auth(),
    };
    let resolver = SniResolver::new(cfg, acme).ok_or(rustls::Error::General("no certificate".into()))?;
    let mut sc = builder.with_cert_resolver(Arc::new(resolver));
    sc.alpn_protocols = cfg.alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    if !cfg.acme.is_empty() {
        sc.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    let (ticketer, cache) = sessions.get(cfg)?;
    if cfg.session_tickets {
        sc.ticketer = ticketer;
    }
    sc.session_storage = cache;
    Ok(Arc::new(sc))
}

fn client_verifier(
    ca: &sluice_config::CaBundle,
    required: bool,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, rustls::Error> {
    let b = WebPkiClientVerifier::builder_with_provider(Arc::clone(&ca.roots), provider);
    let b = if required { b } else { b.allow_unauthenticated() };
    b.build().map_err(|e| rustls::Error::General(e.to_string()))
}

/// Runs the server handshake within `limit` (the listener's header timeout); records its
/// time, failures and resumptions. `None`: the client is gone or spoke no usable TLS.
pub async fn handshake(
    io: Prefixed,
    cfg: Arc<ServerConfig>,
    limit: Duration,
    metrics: &ListenerMetrics,
    peer: SocketAddr,
) -> Option<TlsStream<Prefixed>> {
    let started = Instant::now();
    let accept = tokio_rustls::TlsAcceptor::from(cfg).accept(io);
    match tokio::time::timeout(limit, accept).await {
        Ok(Ok(tls)) => {
            metrics.tls_handshake.observe_ns(started.elapsed().as_nanos() as u64);
            if tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                metrics.tls_resumed.fetch_add(1, Relaxed);
            }
            Some(tls)
        }
        Ok(Err(e)) => {
            metrics.tls_failed.fetch_add(1, Relaxed);
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            metrics.tls_failed.fetch_add(1, Relaxed);
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
#[path = "tls_test.rs"]
mod tests;
