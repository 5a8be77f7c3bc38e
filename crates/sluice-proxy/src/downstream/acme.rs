//! The proxy's side of automatic certificates: `AcmeStore`, shared by every worker and kept
//! across reloads (it lives in `metrics::Store`). The ACME manager (crate `sluice-acme`)
//! writes certificates, challenge answers and per-name status into it; the TLS resolver
//! reads certificates and TLS-ALPN-01 challenge certificates from it at each handshake (so a
//! renewed certificate serves the next handshake, with no reload), and the handler answers
//! HTTP-01 tokens from it, or from Redis when instances coordinate.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::sign::CertifiedKey;

/// Redis key prefix of published HTTP-01 answers (`PREFIX + token` = key authorization).
pub const REDIS_HTTP_TOKEN: &str = "sluice:acme:http:";

/// Where a name stands, for `/status` and the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameStatus {
    /// `valid`, `ordering`, `waiting` (another instance orders), `failed`, `pending`.
    pub state: &'static str,
    /// Unix seconds of the served certificate's notAfter.
    pub not_after: Option<u64>,
    /// Unix seconds of the next renewal attempt.
    pub renew_at: Option<u64>,
    /// The last error, with the CA's problem document when it sent one.
    pub error: Option<String>,
    /// Orders this instance placed for the name.
    pub orders: u64,
    /// Where the served certificate came from: `storage`, `issued`, `shared`.
    pub source: Option<&'static str>,
}

#[derive(Default)]
pub struct AcmeStore {
    certs: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    tokens: Mutex<HashMap<String, String>>,
    alpn: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    remote: ArcSwapOption<redis::Client>,
    status: Mutex<BTreeMap<String, NameStatus>>,
}

impl std::fmt::Debug for AcmeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AcmeStore({} certificates)", self.certs.load().len())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AcmeStore {
    /// The managed certificate for `name`, if one was obtained.
    pub fn cert(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.certs.load().get(name).cloned()
    }

    /// Serves `key` for `name` from the next handshake on.
    pub fn install(&self, name: &str, key: Arc<CertifiedKey>) {
        self.certs.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(name.to_string(), Arc::clone(&key));
            m
        });
    }

    pub fn set_token(&self, token: &str, key_authorization: Option<String>) {
        let mut t = lock(&self.tokens);
        match key_authorization {
            Some(k) => t.insert(token.to_string(), k),
            None => t.remove(token),
        };
    }

    /// The TLS-ALPN-01 challenge certificate for `name` while its challenge is open.
    pub fn alpn_cert(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        lock(&self.alpn).get(name).cloned()
    }

    pub fn set_alpn(&self, name: &str, cert: Option<Arc<CertifiedKey>>) {
        let mut a = lock(&self.alpn);
        match cert {
            Some(c) => a.insert(name.to_string(), c),
            None => a.remove(name),
        };
    }

    /// Where published challenge answers of other instances are read (None: local only).
    pub fn set_remote(&self, client: Option<redis::Client>) {
        self.remote.store(client.map(Arc::new));
    }

    /// The key authorization for an HTTP-01 `token`: this instance's, else one another
    /// instance published in Redis (`coordination`: the config's URL, so a challenge that
    /// arrives before this instance's ACME manager has started is still answered).
    pub async fn http_answer(&self, token: &str, coordination: Option<&str>) -> Option<String> {
        if let Some(k) = lock(&self.tokens).get(token) {
            return Some(k.clone());
        }
        let client = match self.remote.load_full() {
            Some(c) => c,
            None => Arc::new(redis::Client::open(coordination?).ok()?),
        };
        let key = format!("{REDIS_HTTP_TOKEN}{token}");
        let fetch = async move {
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("GET").arg(&key).query_async::<Option<String>>(&mut conn).await.ok()?
        };
        tokio::time::timeout(Duration::from_secs(2), fetch).await.ok()?
    }

    pub fn set_status(&self, name: &str, status: NameStatus) {
        lock(&self.status).insert(name.to_string(), status);
    }

    /// Updates one name's status in place.
    pub fn update_status(&self, name: &str, f: impl FnOnce(&mut NameStatus)) {
        f(lock(&self.status).entry(name.to_string()).or_default());
    }

    /// Forgets names no longer configured (their certificates stay cached until restart).
    pub fn retain_status(&self, keep: &[String]) {
        lock(&self.status).retain(|n, _| keep.contains(n));
    }

    pub fn statuses(&self) -> BTreeMap<String, NameStatus> {
        lock(&self.status).clone()
    }
}
