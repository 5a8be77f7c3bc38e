//! The cache families of `/metrics`, per store: lookups by result (hit, miss, stale served,
//! revalidated), answers stored, evictions, coalesced waits, purges, and bytes and entries
//! held.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use sluice_proxy::cache::{CacheStats, CacheStore};

use super::encode::{counter, gauge};

pub fn encode(e: &mut DescriptorEncoder, caches: &[(String, Arc<CacheStore>)]) -> Result<(), std::fmt::Error> {
    let l = |n: &str| vec![("cache", n.to_string())];
    let results = caches.iter().flat_map(|(n, c)| {
        let s = &c.stats;
        [("hit", &s.hits), ("miss", &s.misses), ("stale", &s.stale_served), ("revalidated", &s.revalidated)]
            .map(|(r, v)| (vec![("cache", n.clone()), ("result", r.to_string())], v.load(Relaxed)))
    });
    counter(e, "cache_lookups", "Cache lookups by result (stale = served stale: SWR or stale-if-error)", results)?;
    let c = |f: fn(&CacheStats) -> &AtomicU64| {
        caches.iter().map(move |(n, c)| (l(n), f(&c.stats).load(Relaxed))).collect::<Vec<_>>()
    };
    counter(e, "cache_stored", "Answers stored", c(|s| &s.stored))?;
    counter(e, "cache_evictions", "Entries evicted to stay under max_size", c(|s| &s.evictions))?;
    counter(e, "cache_coalesced", "Requests that waited for another's fill of the same key", c(|s| &s.coalesced))?;
    counter(e, "cache_purged", "URLs removed by the purge API", c(|s| &s.purged))?;
    gauge(e, "cache_bytes", "Bytes held", caches.iter().map(|(n, c)| (l(n), c.usage().0 as f64)))?;
    gauge(e, "cache_entries", "URLs held", caches.iter().map(|(n, c)| (l(n), c.usage().1 as f64)))
}
