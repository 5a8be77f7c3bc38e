//! A listener's TLS session resumption state — the ticket key rotator and the session
//! cache — kept across reloads (in the metrics store, by listener name) so clients resume
//! after a reload too.

use std::sync::Arc;

use rustls::server::{ProducesTickets, StoresServerSessions};
use sluice_config::TlsConfig;

/// A ticketer and a session cache.
type Resumption = (Arc<dyn ProducesTickets>, Arc<dyn StoresServerSessions>);

/// A listener's resumption state, kept across reloads (one per listener name and rotation).
#[derive(Debug, Default)]
pub struct TlsSessions {
    state: std::sync::Mutex<Option<(u64, Resumption)>>,
}

impl TlsSessions {
    /// The ticketer and cache for these settings; new ones if the settings changed.
    pub fn get(&self, cfg: &TlsConfig) -> Result<Resumption, rustls::Error> {
        let key = cfg.ticket_rotation.as_secs() ^ ((cfg.session_cache as u64) << 32);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, (t, c))) = st.as_ref().filter(|(k, _)| *k == key) {
            return Ok((Arc::clone(t), Arc::clone(c)));
        }
        let lifetime = cfg.ticket_rotation.as_secs().clamp(1, u64::from(u32::MAX)) as u32;
        let ticketer: Arc<dyn ProducesTickets> =
            Arc::new(rustls::ticketer::TicketRotator::new(lifetime, fresh_ticketer)?);
        let cache: Arc<dyn StoresServerSessions> = if cfg.session_cache == 0 {
            Arc::new(rustls::server::NoServerSessionStorage {})
        } else {
            rustls::server::ServerSessionMemoryCache::new(cfg.session_cache)
        };
        *st = Some((key, (Arc::clone(&ticketer), Arc::clone(&cache))));
        Ok((ticketer, cache))
    }
}

/// New random ticket keys (AES-256 + HMAC-SHA256, RFC 5077 §4), wrapped for the rotator.
fn fresh_ticketer() -> Result<Box<dyn ProducesTickets>, rustls::crypto::GetRandomFailed> {
    let inner = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|_| rustls::crypto::GetRandomFailed)?;
    Ok(Box::new(Shared(inner)))
}

#[derive(Debug)]
struct Shared(Arc<dyn ProducesTickets>);

impl ProducesTickets for Shared {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.0.decrypt(cipher)
    }
}
