//! Shared (global) rate limits through Redis (§16.10: several instances behind anycast or
//! DNS admit one rate between them). The bucket lives in Redis, updated by one Lua script
//! per round trip; each instance leases small batches of tokens (`sluice_core::lease`), so
//! most requests never wait on Redis. Each worker keeps one multiplexed connection per
//! store. When Redis is slow or unreachable the request is decided by the route's fallback
//! (its own local bucket by default) and counted — a dead store never fails requests, and
//! for a second after a failure the store is not tried at all.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use redis::aio::MultiplexedConnection;
use std::sync::Arc;

use sluice_config::{LimitStore, RateLimitConfig, StoreFallback};
use sluice_core::lease::{LeaseTable, Local};
use sluice_core::ratelimit::RateLimiter;

use crate::handler::errors::ProxyError;
use crate::metrics::LimitCounters;
use crate::runtime::clock;

/// After a store failure, how long requests skip it.
const DOWN_FOR_NS: u64 = 1_000_000_000;

/// Refill the bucket at `rate` per ms up to `burst`, grant up to `n` tokens; answer
/// `{granted, ms until a token is back}`. Redis's own clock keeps instances consistent.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(s[1]) or burst, tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(n, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate) end
return {granted, wait}
";

/// A shared limit: leases, the store and the key prefix in Redis.
#[derive(Debug)]
pub struct SharedLimit {
    pub leases: LeaseTable,
    pub store: LimitStore,
    /// `sluice:rl:SCOPE:` — the same on every instance with the same config.
    pub prefix: String,
    script: redis::Script,
}

impl SharedLimit {
    pub fn new(scope: &str, rate: f64, burst: u32, max_keys: usize, store: LimitStore) -> Self {
        SharedLimit {
            leases: LeaseTable::new(rate, burst, max_keys),
            store,
            prefix: format!("sluice:rl:{scope}:"),
            script: redis::Script::new(SCRIPT),
        }
    }
}

/// A rate limit as it runs (on a listener or a route): settings, the local bucket (also the
/// fallback of a shared one), the shared bucket, and its counters.
#[derive(Debug)]
pub struct LimitRt {
    pub cfg: RateLimitConfig,
    pub local: RateLimiter,
    pub shared: Option<SharedLimit>,
    pub counters: Arc<LimitCounters>,
}

impl LimitRt {
    /// `scope` names the limit in Redis keys: `LISTENER/ROUTE_INDEX` or `LISTENER/*`.
    pub fn build(cfg: &RateLimitConfig, scope: &str, counters: Arc<LimitCounters>) -> Self {
        let shared = cfg.store.clone().map(|store| SharedLimit::new(scope, cfg.rate, cfg.burst, cfg.max_keys, store));
        LimitRt { cfg: cfg.clone(), local: RateLimiter::new(cfg.rate, cfg.burst, cfg.max_keys), shared, counters }
    }

    /// First look, without waiting: the local bucket, or for a shared limit a leased token,
    /// a remembered refusal, or the question for the store. Refusals are counted.
    pub fn check(&self, key: String) -> Result<Option<Ask>, ProxyError> {
        let r = match &self.shared {
            Some(shared) => match shared.leases.local(&key, clock::now_ns()) {
                Local::Admit => Ok(None),
                Local::Deny(wait) => Err(wait),
                Local::Ask(tokens) => Ok(Some(Ask { key, tokens })),
            },
            None => self.local.check(&key, clock::now_ns()).map(|()| None),
        };
        r.map_err(|wait| self.refuse(wait))
    }

    fn refuse(&self, wait: f64) -> ProxyError {
        self.counters.rate_limited.fetch_add(1, Relaxed);
        ProxyError::RateLimited(wait.ceil().max(1.0) as u32)
    }
}

/// A request that needs the store's answer before it goes on.
pub struct Ask {
    pub key: String,
    pub tokens: u32,
}

/// Per-worker connections to limit stores, by URL.
#[derive(Default)]
pub struct Stores {
    conns: RefCell<HashMap<String, Rc<StoreConn>>>,
}

#[derive(Default)]
struct StoreConn {
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    down_until: Cell<u64>,
}

impl Stores {
    fn get(&self, url: &str) -> Rc<StoreConn> {
        Rc::clone(self.conns.borrow_mut().entry(url.to_string()).or_default())
    }
}

/// Asks the store for tokens; on failure the limit's fallback decides (and it is counted).
pub async fn settle(stores: &Stores, limit: &LimitRt, ask: Ask) -> Result<(), ProxyError> {
    let Some(shared) = limit.shared.as_ref() else { return Ok(()) };
    match take(stores, shared, &ask, (limit.cfg.rate, limit.cfg.burst)).await {
        Ok((granted, wait_ms)) => {
            let wait = wait_ms as f64 / 1000.0;
            shared.leases.answer(&ask.key, clock::now_ns(), granted, wait);
            if granted > 0 {
                return Ok(());
            }
            Err(limit.refuse(wait))
        }
        Err(e) => {
            tracing::debug!(store = %shared.store.url, error = %e, "rate-limit store failed; fallback decides");
            limit.counters.store_errors.fetch_add(1, Relaxed);
            match shared.store.fallback {
                StoreFallback::Allow => Ok(()),
                StoreFallback::Deny => Err(limit.refuse(1.0)),
                StoreFallback::Local => limit.local.check(&ask.key, clock::now_ns()).map_err(|w| limit.refuse(w)),
            }
        }
    }
}

/// One script call within the store timeout: `(granted, wait_ms)`.
async fn take(
    stores: &Stores,
    shared: &SharedLimit,
    ask: &Ask,
    (rate, burst): (f64, u32),
) -> Result<(u32, u64), String> {
    let sc = stores.get(&shared.store.url);
    let now = clock::now_ns();
    if now < sc.down_until.get() {
        return Err("store marked down".into());
    }
    let timeout = shared.store.timeout;
    let result = tokio::time::timeout(timeout, async {
        let mut conn = connection(&sc, &shared.store).await?;
        let mut inv = shared.script.key(format!("{}{}", shared.prefix, ask.key));
        inv.arg(rate / 1000.0).arg(burst).arg(ask.tokens);
        inv.invoke_async::<(u32, u64)>(&mut conn).await.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")));
    if result.is_err() {
        sc.down_until.set(clock::now_ns() + DOWN_FOR_NS);
        *sc.conn.lock().await = None;
    }
    result
}

async fn connection(sc: &StoreConn, store: &LimitStore) -> Result<MultiplexedConnection, String> {
    let mut slot = sc.conn.lock().await;
    if let Some(c) = slot.as_ref() {
        return Ok(c.clone());
    }
    let client = redis::Client::open(store.url.as_str()).map_err(|e| e.to_string())?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(store.timeout))
        .set_response_timeout(Some(store.timeout));
    let c = client.get_multiplexed_async_connection_with_config(&cfg).await.map_err(|e| e.to_string())?;
    *slot = Some(c.clone());
    Ok(c)
}
