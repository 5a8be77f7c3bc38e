//! DNS service discovery: a thread of its own re-resolves each cluster's named endpoints
//! (`resolve`) on the answer's TTL (bounded to [1 s, 5 min]) or the cluster's `refresh`,
//! and hands a changed set to the control plane, which rebuilds the snapshot with it:
//! endpoints that appear join (with their health checks), endpoints that vanish leave the
//! balancer while their requests finish, endpoints that stay keep their state. A failed or
//! empty answer keeps the last good set (counted); it never empties a cluster.

pub mod resolve;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_config::{Config, Discovery, EndpointConfig};
use tokio::sync::watch;

/// How soon a failed resolution is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// One cluster's discovery counters (kept across reloads).
#[derive(Debug, Default)]
pub struct ClusterDiscovery {
    pub resolutions: AtomicU64,
    pub failures: AtomicU64,
    pub changes: AtomicU64,
    pub endpoints: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
pub struct DiscoveryStats(Mutex<BTreeMap<String, Arc<ClusterDiscovery>>>);

impl DiscoveryStats {
    pub fn cluster(&self, name: &str) -> Arc<ClusterDiscovery> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(m.entry(name.to_string()).or_default())
    }

    pub fn all(&self) -> Vec<(String, Arc<ClusterDiscovery>)> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
    }
}

/// Every cluster's discovery counters, for `/status`.
pub fn view(stats: &DiscoveryStats) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (name, c) in stats.all() {
        let err = c.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        out.insert(
            name,
            serde_json::json!({
                "resolutions": c.resolutions.load(Relaxed), "failures": c.failures.load(Relaxed),
                "changes": c.changes.load(Relaxed), "endpoints": c.endpoints.load(Relaxed), "last_error": err,
            }),
        );
    }
    serde_json::Value::Object(out)
}

/// What a new set is handed to: (cluster, endpoints).
pub type OnChange = Arc<dyn Fn(&str, Vec<EndpointConfig>) + Send + Sync>;

/// The running discovery thread.
pub struct Discoverer {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Discoverer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts discovery for every cluster of `cfg` with named endpoints (None: there are none).
/// `known`: each cluster's current set, so an unchanged answer changes nothing.
pub fn start(cfg: &Config, on_change: OnChange, stats: &Arc<DiscoveryStats>) -> std::io::Result<Option<Discoverer>> {
    let jobs: Vec<(String, Discovery, Vec<EndpointConfig>)> = cfg
        .clusters
        .values()
        .filter_map(|c| c.discovery.clone().map(|d| (c.name.clone(), d, c.resolved.clone())))
        .collect();
    if jobs.is_empty() {
        return Ok(None);
    }
    let (stop, rx) = watch::channel(false);
    let stats = Arc::clone(stats);
    let thread = std::thread::Builder::new().name("sluice-discovery".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            let tasks: Vec<_> = jobs
                .into_iter()
                .map(|(name, d, known)| {
                    let st = stats.cluster(&name);
                    tokio::spawn(watch_cluster(name, d, known, (Arc::clone(&on_change), st), rx.clone()))
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        });
    })?;
    Ok(Some(Discoverer { stop, thread: Some(thread) }))
}

async fn watch_cluster(
    name: String,
    d: Discovery,
    mut last: Vec<EndpointConfig>,
    (on_change, st): (OnChange, Arc<ClusterDiscovery>),
    mut stop: watch::Receiver<bool>,
) {
    let resolver = match resolve::resolver(&d.resolvers) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(cluster = %name, error = %e, "discovery: no resolver");
            *st.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            return;
        }
    };
    let mut next = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = stop.changed() => return,
        }
        st.resolutions.fetch_add(1, Relaxed);
        next = match resolve::resolve(&resolver, &d).await {
            Ok((eps, ttl)) if !eps.is_empty() => {
                if eps != last {
                    st.changes.fetch_add(1, Relaxed);
                    st.endpoints.store(eps.len() as u64, Relaxed);
                    tracing::info!(cluster = %name, endpoints = eps.len(), "discovery: endpoint set changed");
                    on_change(&name, eps.clone());
                    last = eps;
                }
                *st.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                d.refresh
                    .unwrap_or(ttl.clamp(sluice_config::discovery::MIN_REFRESH, sluice_config::discovery::MAX_REFRESH))
            }
            r => {
                let why = match r {
                    Err(e) => e,
                    Ok(_) => "no address in the answer".to_string(),
                };
                st.failures.fetch_add(1, Relaxed);
                tracing::warn!(cluster = %name, error = %why, kept = last.len(), "discovery failed; the last good set stays");
                *st.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                d.refresh.map_or(RETRY, |r| r.min(RETRY))
            }
        };
    }
}
