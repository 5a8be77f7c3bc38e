//! A cache store: key → the stored variants of one URL (one per `Vary` combination),
//! weighted by their bytes, evicted least valuable first by quick_cache's CLOCK-Pro; the
//! fills in flight (`fill::Fills`) and the counters `/status` and `/metrics` show.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use http::request::Parts;
use quick_cache::sync::Cache;
use sluice_config::{CacheConfig, KeyPart};
use tokio::sync::watch;

use crate::cache::entry::{Canon, Entry, Use};

/// How many variants (`Vary` combinations) one URL may have; the oldest goes first.
const MAX_VARIANTS: usize = 8;

/// What identifies a stored URL: host, path and query (or the route's key parts), plus
/// the path alone for purges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub host: String,
    pub path: String,
    /// The rest of the key (query, configured headers and cookies).
    pub rest: String,
}

impl Key {
    pub fn of(parts: &Parts, host: &str, key: &[KeyPart]) -> Key {
        let mut k = Key { host: String::new(), path: parts.uri.path().to_string(), rest: String::new() };
        for p in key {
            match p {
                KeyPart::Host => k.host = host.to_ascii_lowercase(),
                KeyPart::Path => {}
                KeyPart::Query => {
                    k.rest.push('?');
                    k.rest.push_str(parts.uri.query().unwrap_or(""));
                }
                KeyPart::Header(h) => {
                    k.rest.push_str("\0h:");
                    for v in parts.headers.get_all(h.as_str()) {
                        k.rest.push_str(v.to_str().unwrap_or(""));
                        k.rest.push(',');
                    }
                }
                KeyPart::Cookie(c) => {
                    k.rest.push_str("\0c:");
                    let v = parts
                        .headers
                        .get_all(http::header::COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .find_map(|h| sluice_core::route::cookie_value(h, c));
                    k.rest.push_str(v.unwrap_or(""));
                }
            }
        }
        k
    }
}

/// Counters of one store (kept with it across reloads).
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale_served: AtomicU64,
    pub revalidated: AtomicU64,
    pub stored: AtomicU64,
    pub evictions: AtomicU64,
    pub coalesced: AtomicU64,
    pub purged: AtomicU64,
}

type Variants = Arc<Vec<Arc<Entry>>>;

/// Fills in flight, by key (`cache::fill` uses them).
#[derive(Default)]
pub struct Fills(Mutex<HashMap<Key, watch::Receiver<()>>>);

/// This request's part in a fill.
pub enum Role {
    /// It goes upstream; the guard wakes the others when it is dropped (stored or not).
    Leader(FillGuard),
    /// Another request is filling the key: wait on this, then look again.
    Follower(watch::Receiver<()>),
}

pub struct FillGuard {
    store: Arc<CacheStore>,
    key: Key,
    _tx: watch::Sender<()>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        self.store.fills.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

impl Fills {
    pub fn join(store: &Arc<CacheStore>, key: &Key) -> Role {
        let mut m = store.fills.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = m.get(key) {
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(());
        m.insert(key.clone(), rx);
        Role::Leader(FillGuard { store: Arc::clone(store), key: key.clone(), _tx: tx })
    }
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<Key, Variants> for Weigh {
    fn weight(&self, k: &Key, v: &Variants) -> u64 {
        let key = (k.host.len() + k.path.len() + k.rest.len()) as u64;
        key + v.iter().map(|e| e.weight()).sum::<u64>()
    }
}

#[derive(Clone)]
struct Evictions(Arc<CacheStats>);

impl quick_cache::Lifecycle<Key, Variants> for Evictions {
    type RequestState = ();
    fn begin_request(&self) {}
    fn on_evict(&self, _: &mut (), _: Key, _: Variants) {
        self.0.evictions.fetch_add(1, Relaxed);
    }
}

/// One named cache store.
pub struct CacheStore {
    pub config: CacheConfig,
    map: Cache<Key, Variants, Weigh, quick_cache::DefaultHashBuilder, Evictions>,
    pub stats: Arc<CacheStats>,
    pub fills: Fills,
}

impl std::fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheStore({})", self.config.name)
    }
}

impl CacheStore {
    pub fn new(config: CacheConfig) -> Self {
        let stats = Arc::new(CacheStats::default());
        let items = (config.max_size / 8192).clamp(64, 1 << 20) as usize;
        let map = Cache::with(items, config.max_size, Weigh, Default::default(), Evictions(Arc::clone(&stats)));
        CacheStore { config, map, stats, fills: Fills::default() }
    }

    /// The stored variant that answers this request, and how (`Entry::decide`).
    pub fn lookup(&self, key: &Key, req: &Canon<'_>, now: SystemTime, allow_swr: bool) -> Option<(Arc<Entry>, Use)> {
        let variants = self.map.get(key)?;
        variants.iter().find_map(|e| e.decide(req, now, allow_swr).map(|u| (Arc::clone(e), u)))
    }

    /// Whether any variant of the URL is stored (a miss is then a `vary-miss`).
    pub fn has_key(&self, key: &Key) -> bool {
        self.map.get(key).is_some()
    }

    /// Stores `entry`, replacing the variant it matches (same `Vary` values).
    pub fn insert(&self, key: Key, entry: Arc<Entry>, req: &Canon<'_>) {
        let mut list: Vec<Arc<Entry>> =
            self.map.get(&key).map(|v| v.iter().filter(|e| !e.matches(req)).cloned().collect()).unwrap_or_default();
        if list.len() >= MAX_VARIANTS {
            list.remove(0);
        }
        list.push(entry);
        self.stats.stored.fetch_add(1, Relaxed);
        self.map.insert(key, Arc::new(list));
    }

    /// Removes the entries of `host` (any when None) whose path is `path`, or starts with
    /// `prefix`; returns how many URLs went.
    pub fn purge(&self, host: Option<&str>, path: Option<&str>, prefix: Option<&str>) -> usize {
        let hit = |k: &Key| {
            host.is_none_or(|h| k.host.eq_ignore_ascii_case(h))
                && path.is_none_or(|p| k.path == p)
                && prefix.is_none_or(|p| k.path.starts_with(p))
        };
        let doomed: Vec<Key> = self.map.iter().filter(|(k, _)| hit(k)).map(|(k, _)| k).collect();
        for k in &doomed {
            self.map.remove(k);
        }
        self.stats.purged.fetch_add(doomed.len() as u64, Relaxed);
        doomed.len()
    }

    /// Bytes held and URLs stored.
    pub fn usage(&self) -> (u64, usize) {
        (self.map.weight(), self.map.len())
    }
}
