//! Anycast route health injection (seed §16.10.1): the monitor decides, every 100 ms, what
//! each `[[anycast.routes]]` entry should be — announced, degraded or withdrawn — from the
//! endpoints of its cluster in rotation (the state the balancers and DNS read), with the
//! route's hysteresis (`sluice_core::anycast`). The admin API serves the result at
//! `GET /anycast` (a long poll on its version); `sluice anycast-feed` (`feed`) turns it into
//! the BGP speaker's commands (`speaker`). On stop every route is withdrawn at once.

pub mod feed;
pub mod speaker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{json, Value};
use sluice_config::AnycastRoute;
use sluice_core::anycast::{wanted, Hysteresis, RouteState};
use sluice_proxy::runtime::clock;
use sluice_proxy::runtime::snapshot::Snapshot;
use tokio::sync::watch;

/// How often the monitor looks at the endpoint state.
pub const TICK: Duration = Duration::from_millis(100);

/// Route states by prefix (kept across reloads), and the published view.
pub struct Monitor {
    states: Mutex<HashMap<String, Hysteresis>>,
    stopping: AtomicBool,
    view: watch::Sender<Arc<Value>>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            states: Mutex::default(),
            stopping: AtomicBool::new(false),
            view: watch::channel(Arc::new(Value::Null)).0,
        }
    }
}

impl Monitor {
    /// Looks at every route once; publishes a new view (version + 1) when a state changed.
    pub fn tick(&self, snap: &Snapshot, now_ns: u64) {
        let Some(cfg) = &snap.config.anycast else {
            if !self.view.borrow().is_null() {
                self.view.send_replace(Arc::new(Value::Null));
            }
            return;
        };
        let stopping = self.stopping.load(Relaxed);
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.retain(|p, _| cfg.routes.iter().any(|r| r.prefix.to_string() == *p));
        let mut changed = false;
        let mut routes = Vec::new();
        for r in &cfg.routes {
            let healthy = healthy(snap, &r.cluster);
            let h = states.entry(r.prefix.to_string()).or_insert_with(|| Hysteresis::new(now_ns));
            let before = h.state;
            if stopping {
                h.force(RouteState::Withdrawn, now_ns);
            } else {
                h.observe(wanted(healthy, r.min_healthy, r.degraded_below), now_ns, r.hold.as_nanos() as u64);
            }
            changed |= h.state != before;
            routes.push(route_view(r, h, healthy, stopping, cfg.local_as, now_ns));
        }
        let old = self.view.borrow().clone();
        let version = old.get("version").and_then(Value::as_u64).unwrap_or(0);
        let stopping_changed = old.get("stopping").and_then(Value::as_bool) != Some(stopping);
        let version = if changed || stopping_changed || old.is_null() { version + 1 } else { version };
        let view = json!({
            "version": version, "stopping": stopping, "speaker": "exabgp", "local_as": cfg.local_as,
            "next_hop": cfg.next_hop, "withdraw_delay_ms": cfg.withdraw_delay.as_millis() as u64, "routes": routes,
        });
        self.view.send_replace(Arc::new(view));
    }

    /// Withdraws every route at the next tick, and keeps them withdrawn (the instance stops).
    pub fn stop_announcing(&self) {
        self.stopping.store(true, Relaxed);
    }

    /// The current view (`Null` when `[anycast]` is not configured).
    pub fn view(&self) -> Arc<Value> {
        self.view.borrow().clone()
    }

    /// Waits until the view's version differs from `seen`, or `timeout` passes.
    pub async fn changed_since(&self, seen: u64, timeout: Duration) -> Arc<Value> {
        let mut rx = self.view.subscribe();
        let newer = |v: &Arc<Value>| v.get("version").and_then(Value::as_u64) != Some(seen);
        let _ = tokio::time::timeout(timeout, rx.wait_for(newer)).await;
        self.view()
    }
}

/// Endpoints of `cluster` in rotation now (the balancers' test).
fn healthy(snap: &Snapshot, cluster: &str) -> u32 {
    snap.clusters.get(cluster).map_or(0, |c| c.balancer.in_rotation())
}

fn route_view(r: &AnycastRoute, h: &Hysteresis, healthy: u32, stopping: bool, local_as: u32, now_ns: u64) -> Value {
    let why = if stopping {
        "instance stopping: withdrawn before the drain".to_string()
    } else {
        let mut w = format!("{healthy} endpoint(s) of {} in rotation; withdrawn below {}", r.cluster, r.min_healthy);
        if let Some(d) = r.degraded_below {
            w.push_str(&format!(", degraded below {d}"));
        }
        if let Some(p) = h.pending() {
            w.push_str(&format!("; becomes {} after {:?} hold", p.as_str(), r.hold));
        }
        w
    };
    let degraded = h.state == RouteState::Degraded;
    let as_path: Vec<u32> = if degraded { vec![local_as; 1 + r.as_path_prepend as usize] } else { Vec::new() };
    let communities: Vec<String> =
        if degraded { r.communities.iter().map(|(a, b)| format!("{a}:{b}")).collect() } else { Vec::new() };
    json!({
        "prefix": r.prefix.to_string(), "cluster": r.cluster, "state": h.state.as_str(), "healthy": healthy,
        "min_healthy": r.min_healthy, "degraded_below": r.degraded_below, "as_path": as_path,
        "communities": communities, "why": why, "for_ms": now_ns.saturating_sub(h.since_ns) / 1_000_000,
    })
}

/// Runs the monitor every `TICK` on its own thread until `stop` is set.
pub fn start(
    monitor: Arc<Monitor>,
    shared: Arc<ArcSwap<Snapshot>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("sluice-anycast".into()).spawn(move || {
        while !stop.load(Relaxed) {
            monitor.tick(&shared.load(), clock::now_ns());
            std::thread::sleep(TICK);
        }
    })
}

#[cfg(test)]
mod tests;
