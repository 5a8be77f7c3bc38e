//! A listener's QUIC settings, built from the snapshot's rustls configuration (the same
//! certificates chosen by SNI, the same session tickets) with `h3` as the only ALPN, and the
//! `[listeners.X.http3]` transport limits. The token key that signs Retry tokens is kept
//! per listener across reloads and shared by its workers (`QuicKeys`), so a token issued just
//! before a reload, or by another worker, still validates.

use std::sync::Arc;
use std::time::Duration;

use h3_quinn::quinn::crypto::rustls::QuicServerConfig;
use h3_quinn::quinn::{self, TransportConfig, VarInt};
use sluice_config::Http3Config;

/// Unidirectional streams a client may open: HTTP/3 needs three (control, QPACK encoder
/// and decoder); a few more for extensions that are ignored.
const UNI_STREAMS: u32 = 8;
/// Flow-control windows, as the HTTP/2 server's: a stream may have 1 MiB unread, a
/// connection 4 MiB, so one client's unread request bodies are bounded.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;
/// Handshakes not yet decided (accepted, refused or retried) that quinn may buffer.
const MAX_INCOMING: usize = 4096;

/// The key Retry and NEW_TOKEN tokens are sealed with; one per listener, kept across reloads.
pub struct QuicKeys {
    token: Arc<dyn quinn::crypto::HandshakeTokenKey>,
}

impl Default for QuicKeys {
    fn default() -> Self {
        let mut secret = [0u8; 32];
        if aws_lc_rs::rand::fill(&mut secret).is_err() {
            secret = rand::random();
        }
        let prk = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, &[]).extract(&secret);
        QuicKeys { token: Arc::new(prk) }
    }
}

impl std::fmt::Debug for QuicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicKeys(..)")
    }
}

/// The QUIC server configuration of a listener: its TLS settings with ALPN `h3` (and
/// 0-RTT when `early_data`), the transport limits, and the shared token key.
pub fn server_config(
    tls: &rustls::ServerConfig,
    h3: &Http3Config,
    keys: &QuicKeys,
) -> Result<Arc<quinn::ServerConfig>, String> {
    let mut sc = tls.clone();
    sc.alpn_protocols = vec![b"h3".to_vec()];
    // QUIC allows only "no early data" or "any amount" (RFC 9001 §4.6.1).
    sc.max_early_data_size = if h3.early_data { u32::MAX } else { 0 };
    if h3.early_data {
        // rustls takes 0-RTT only on stateful resumption, and its session cache hands each
        // session out once: a captured first flight replayed later cannot resume, so its
        // early data is discarded. Stateless tickets would allow the replay.
        sc.ticketer = Arc::new(NoTickets);
    }
    let crypto = QuicServerConfig::try_from(sc).map_err(|e| e.to_string())?;
    let mut cfg = quinn::ServerConfig::new(Arc::new(crypto), Arc::clone(&keys.token));
    cfg.transport_config(Arc::new(transport(h3))).max_incoming(MAX_INCOMING).migration(true);
    Ok(Arc::new(cfg))
}

/// Stateful resumption only (the session cache), for listeners with 0-RTT.
#[derive(Debug)]
struct NoTickets;

impl rustls::server::ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

fn transport(h3: &Http3Config) -> TransportConfig {
    let mut t = TransportConfig::default();
    let idle = h3.idle_timeout.min(Duration::from_secs(600));
    t.max_concurrent_bidi_streams(VarInt::from_u32(h3.max_concurrent_streams))
        .max_concurrent_uni_streams(VarInt::from_u32(UNI_STREAMS))
        .max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok())
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(u64::from(CONNECTION_WINDOW));
    t
}

/// A worker's endpoint settings: its connection IDs carry the worker's index (`WorkerCid`)
/// for the kernel's steering program; everything else is quinn's default.
pub fn endpoint_config(worker: usize) -> quinn::EndpointConfig {
    let mut ec = quinn::EndpointConfig::default();
    let w = worker as u8;
    ec.cid_generator(move || Box::new(crate::downstream::h3::cid::WorkerCid::new(w)));
    ec
}
