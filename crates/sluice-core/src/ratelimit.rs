//! Local rate limiting: a token bucket per key (client address, header, cookie, route or a
//! combination), shared by all workers through a few mutex-guarded shards. Memory is
//! bounded: each shard holds at most `max_keys / SHARDS` buckets, and when it is full the
//! buckets that have refilled completely (idle keys) are dropped first, then the oldest —
//! a flood of distinct keys costs a bounded table, never unbounded memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::bucket::TokenBucket;
use crate::hash::hash_key;

const SHARDS: usize = 16;

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    per_shard: usize,
    shards: Vec<Mutex<HashMap<String, TokenBucket>>>,
}

impl RateLimiter {
    /// `rate` tokens per second, `burst` at most, about `max_keys` keys remembered.
    pub fn new(rate: f64, burst: u32, max_keys: usize) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            per_shard: (max_keys / SHARDS).max(16),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Admits one event for `key` at `now_ns`; otherwise says how many seconds to wait.
    pub fn check(&self, key: &str, now_ns: u64) -> Result<(), f64> {
        let shard = &self.shards[(hash_key(key.as_bytes()) as usize) % SHARDS];
        let mut m = shard.lock().unwrap_or_else(|p| p.into_inner());
        if !m.contains_key(key) && m.len() >= self.per_shard {
            self.evict(&mut m, now_ns);
        }
        let b = m.entry(key.to_string()).or_insert_with(|| TokenBucket::full(self.burst, now_ns));
        if b.take(now_ns, self.rate, self.burst) {
            Ok(())
        } else {
            Err(b.wait_secs(self.rate))
        }
    }

    /// Drops idle (refilled) buckets; if none are idle, an arbitrary half of the shard.
    fn evict(&self, m: &mut HashMap<String, TokenBucket>, now_ns: u64) {
        let (rate, burst) = (self.rate, self.burst);
        m.retain(|_, b| {
            let mut probe = *b;
            // A bucket that would still refuse after refilling to `now` is not idle.
            (0..burst as usize).any(|_| !probe.take(now_ns, rate, burst))
        });
        if m.len() >= self.per_shard {
            let drop: Vec<String> = m.keys().take(m.len() / 2).cloned().collect();
            for k in drop {
                m.remove(&k);
            }
        }
    }

    /// Keys currently remembered (for tests and status).
    pub fn keys(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map_or(0, |m| m.len())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_refusals_with_a_wait_then_refill() {
        let l = RateLimiter::new(10.0, 5, 1000);
        for _ in 0..5 {
            assert_eq!(l.check("1.2.3.4", 0), Ok(()));
        }
        let wait = l.check("1.2.3.4", 0).unwrap_err();
        assert!((wait - 0.1).abs() < 1e-9, "{wait}");
        assert_eq!(l.check("5.6.7.8", 0), Ok(()), "keys are independent");
        assert_eq!(l.check("1.2.3.4", S / 10), Ok(()), "one token after 100 ms");
    }

    #[test]
    fn a_flood_of_keys_stays_bounded() {
        let l = RateLimiter::new(1.0, 1, 1600);
        for i in 0..100_000u32 {
            let _ = l.check(&i.to_string(), u64::from(i) * 1000);
        }
        assert!(l.keys() <= 1600, "{} keys", l.keys());
    }
}
