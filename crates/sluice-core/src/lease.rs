//! The local side of a shared (global) rate limit. The bucket itself lives in a store that
//! every instance reaches (Redis); each instance takes tokens from it in small batches
//! (leases) and spends them locally, and remembers a refusal until the store said a token
//! would be back — so most requests, admitted or refused, never wait on the store.
//! Tokens are conserved: an instance only spends what the store granted it, so all
//! instances together admit at most the global burst plus the global rate. A lease unused
//! for `LEASE_TTL_NS` is dropped (those tokens are lost, erring on the strict side).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::hash::hash_key;

const SHARDS: usize = 16;
/// How long leased tokens stay spendable.
pub const LEASE_TTL_NS: u64 = 1_000_000_000;

/// What to do with a request before (or instead of) asking the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Local {
    /// A leased token was spent.
    Admit,
    /// The store refused recently; seconds until it said a token is back.
    Deny(f64),
    /// Ask the store for this many tokens (one is for this request).
    Ask(u32),
}

#[derive(Debug, Clone, Copy, Default)]
struct Lease {
    tokens: u32,
    expires_ns: u64,
    denied_until_ns: u64,
}

#[derive(Debug)]
pub struct LeaseTable {
    batch: u32,
    per_shard: usize,
    shards: Vec<Mutex<HashMap<String, Lease>>>,
}

impl LeaseTable {
    /// Batches are ~50 ms of the rate, at most a quarter of the burst, at least one token:
    /// small enough that instances share the bucket fairly, large enough at high rates
    /// that the store sees a fraction of the requests.
    pub fn new(rate: f64, burst: u32, max_keys: usize) -> Self {
        let batch = ((rate * 0.05) as u32).clamp(1, (burst / 4).max(1));
        LeaseTable {
            batch,
            per_shard: (max_keys / SHARDS).max(16),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn batch(&self) -> u32 {
        self.batch
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        let s = &self.shards[(hash_key(key.as_bytes()) as usize) % SHARDS];
        s.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spends a leased token for `key`, repeats a recent refusal, or says to ask the store.
    pub fn local(&self, key: &str, now_ns: u64) -> Local {
        let mut m = self.shard(key);
        let Some(l) = m.get_mut(key) else { return Local::Ask(self.batch) };
        if now_ns < l.denied_until_ns {
            return Local::Deny((l.denied_until_ns - now_ns) as f64 / 1e9);
        }
        if l.tokens > 0 && now_ns < l.expires_ns {
            l.tokens -= 1;
            return Local::Admit;
        }
        Local::Ask(self.batch)
    }

    /// Records the store's answer to an `Ask`: `granted` tokens (one is spent by the asking
    /// request), or none and `wait_secs` until one is back.
    pub fn answer(&self, key: &str, now_ns: u64, granted: u32, wait_secs: f64) {
        let mut m = self.shard(key);
        if !m.contains_key(key) && m.len() >= self.per_shard {
            m.retain(|_, l| (l.tokens > 0 && now_ns < l.expires_ns) || now_ns < l.denied_until_ns);
            if m.len() >= self.per_shard {
                let drop: Vec<String> = m.keys().take(m.len() / 2).cloned().collect();
                drop.iter().for_each(|k| {
                    m.remove(k);
                });
            }
        }
        let l = m.entry(key.to_string()).or_default();
        if granted > 0 {
            let fresh = if now_ns < l.expires_ns { l.tokens } else { 0 };
            *l = Lease { tokens: fresh + granted - 1, expires_ns: now_ns + LEASE_TTL_NS, denied_until_ns: 0 };
        } else {
            l.denied_until_ns = now_ns + (wait_secs.max(0.001) * 1e9) as u64;
        }
    }

    pub fn keys(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map_or(0, |m| m.len())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::TokenBucket;

    const MS: u64 = 1_000_000;

    #[test]
    fn batches_follow_rate_and_burst() {
        assert_eq!(LeaseTable::new(10.0, 10, 100).batch(), 1);
        assert_eq!(LeaseTable::new(1000.0, 100, 100).batch(), 25, "a quarter of the burst");
        assert_eq!(LeaseTable::new(1000.0, 1000, 100).batch(), 50, "50 ms of the rate");
    }

    #[test]
    fn leased_tokens_are_spent_locally_then_the_store_is_asked_again() {
        let t = LeaseTable::new(1000.0, 100, 100);
        assert_eq!(t.local("k", 0), Local::Ask(25));
        t.answer("k", 0, 3, 0.0);
        assert_eq!((t.local("k", MS), t.local("k", MS)), (Local::Admit, Local::Admit));
        assert_eq!(t.local("k", MS), Local::Ask(25), "the lease is spent");
        t.answer("k", 2 * MS, 5, 0.0);
        assert_eq!(t.local("k", 2 * MS + LEASE_TTL_NS), Local::Ask(25), "an old lease expires");
    }

    #[test]
    fn a_refusal_is_remembered_until_the_store_said() {
        let t = LeaseTable::new(10.0, 10, 100);
        t.answer("k", 0, 0, 0.25);
        assert_eq!(t.local("k", 100 * MS), Local::Deny(0.15));
        assert_eq!(t.local("k", 250 * MS), Local::Ask(1));
    }

    /// Several instances sharing one store bucket admit no more than the bucket allows.
    #[test]
    fn instances_together_never_exceed_the_shared_bucket() {
        let (rate, burst) = (200.0, 40);
        let mut store = TokenBucket::full(f64::from(burst), 0);
        let instances: Vec<LeaseTable> = (0..3).map(|_| LeaseTable::new(rate, burst, 100)).collect();
        let mut admitted = 0u32;
        for step in 0..20_000u64 {
            let now = step * MS / 10; // 2 s of requests, 10 per ms across instances
            let t = &instances[(step % 3) as usize];
            match t.local("k", now) {
                Local::Admit => admitted += 1,
                Local::Deny(_) => {}
                Local::Ask(n) => {
                    let granted = (0..n).take_while(|_| store.take(now, rate, f64::from(burst))).count() as u32;
                    t.answer("k", now, granted, store.wait_secs(rate));
                    admitted += u32::from(granted > 0);
                }
            }
        }
        let bound = burst + (rate * 2.0) as u32;
        assert!(admitted <= bound && admitted >= bound * 8 / 10, "{admitted} of {bound}");
    }

    #[test]
    fn keys_stay_bounded() {
        let t = LeaseTable::new(10.0, 10, 1600);
        for i in 0..50_000u64 {
            t.answer(&i.to_string(), i * MS, 1, 0.0);
        }
        assert!(t.keys() <= 1600);
    }
}
