//! The control plane's one object: the active config (and its file), the snapshot swap,
//! the endpoint registry, the workers' command channels and the health thread. Hot reload
//! (SIGHUP, POST /reload) and the admin operations (drain, weight) go through it; all of
//! it runs off the request path, under one mutex.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use sluice_config::diff::diff;
use sluice_config::Config;
use tokio::sync::{mpsc, watch};

use crate::dns::stats::DnsStats;
use crate::dns::DnsServer;
use sluice_proxy::metrics::Store;
use sluice_proxy::runtime::listen::bind_listener;
use sluice_proxy::runtime::snapshot::{EndpointRegistry, Snapshot};
use sluice_proxy::runtime::worker::WorkerCmd;

/// The outcome of the last reload, for `/status`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub count: u64,
    pub ok: bool,
    pub message: String,
}

pub struct Control {
    path: Option<PathBuf>,
    pub shared: Arc<ArcSwap<Snapshot>>,
    pub metrics: Arc<Store>,
    /// DNS counters (kept across reloads and DNS restarts).
    pub dns_stats: Arc<DnsStats>,
    /// Anycast route states (`[anycast]`), for `GET /anycast` and the feed.
    pub anycast: Arc<crate::anycast::Monitor>,
    /// DNS service discovery counters (kept across reloads).
    pub discovery_stats: Arc<crate::discovery::DiscoveryStats>,
    /// This control object, for the discovery thread's callback.
    me: std::sync::OnceLock<std::sync::Weak<Control>>,
    /// Set by `POST /drain`: the whole instance leaves in order (see `begin_exit`).
    exit: watch::Sender<bool>,
    /// `begin_exit` has run (it may be asked twice: by `POST /drain`, then by the exit).
    leaving: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
}

struct State {
    registry: EndpointRegistry,
    workers: Vec<mpsc::UnboundedSender<WorkerCmd>>,
    /// (listener, configured bind, bound address).
    bound: Vec<(String, SocketAddr, SocketAddr)>,
    health: Option<(watch::Sender<bool>, JoinHandle<()>)>,
    /// The authoritative DNS server, while `[dns]` is configured.
    dns: Option<DnsServer>,
    /// The anycast and overload monitors' threads, with their stop flag.
    monitors: Option<(Arc<std::sync::atomic::AtomicBool>, Vec<JoinHandle<()>>)>,
    /// The discovery thread and its generation (a set found by an older one is ignored).
    discovery: (Option<crate::discovery::Discoverer>, u64),
    last: ReloadStatus,
    /// Split weights set through the admin API (blue/green switches), re-applied after
    /// reloads while the route still splits over the same clusters.
    splits: std::collections::BTreeMap<(String, usize), Vec<(String, u32)>>,
}

impl Control {
    pub fn new(
        path: Option<PathBuf>,
        shared: Arc<ArcSwap<Snapshot>>,
        metrics: Arc<Store>,
        registry: EndpointRegistry,
        workers: Vec<mpsc::UnboundedSender<WorkerCmd>>,
        bound: Vec<(String, SocketAddr, SocketAddr)>,
    ) -> std::io::Result<Arc<Control>> {
        let c = Arc::new(Control {
            path,
            shared,
            metrics,
            dns_stats: Arc::new(DnsStats::default()),
            anycast: Arc::default(),
            discovery_stats: Arc::default(),
            me: std::sync::OnceLock::new(),
            exit: watch::channel(false).0,
            leaving: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                registry,
                workers,
                bound,
                health: None,
                dns: None,
                monitors: None,
                discovery: (None, 0),
                last: ReloadStatus::default(),
                splits: Default::default(),
            }),
        });
        let _ = c.me.set(Arc::downgrade(&c));
        c.restart_health(&mut c.lock())?;
        let old = c.restart_discovery(&mut c.lock())?;
        drop(old);
        let dns = c.shared.load().config.dns.clone();
        crate::dns::reconcile(&mut c.lock().dns, dns.as_ref(), &c.shared, &c.dns_stats)
            .map_err(std::io::Error::other)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t = crate::anycast::start(Arc::clone(&c.anycast), Arc::clone(&c.shared), Arc::clone(&stop))?;
        let o = crate::overload::start(Arc::clone(&c.shared), Arc::clone(&c.metrics.overload), Arc::clone(&stop))?;
        c.lock().monitors = Some((stop, vec![t, o]));
        Ok(c)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.lock().bound.iter().find(|(n, _, _)| n == name).map(|(_, _, a)| *a)
    }

    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        self.lock().bound.iter().map(|(n, _, a)| (n.clone(), *a)).collect()
    }

    pub fn last_reload(&self) -> ReloadStatus {
        self.lock().last.clone()
    }

    /// The config file's text (for `GET /config`), if sluice runs from a file.
    pub fn source(&self) -> Option<String> {
        self.path.as_ref().and_then(|p| std::fs::read_to_string(p).ok())
    }

    /// Re-reads the config file; on any error the old config keeps serving.
    pub fn reload(&self) -> Result<String, String> {
        let Some(path) = &self.path else { return Err("no config file to reload (sluice demo)".into()) };
        match sluice_config::load(path) {
            Ok(cfg) => self.apply(cfg),
            Err(d) => {
                let msg = d.to_string();
                self.record(false, format!("rejected, old config kept:\n{msg}"));
                tracing::error!("reload rejected, old config kept:\n{msg}");
                Err(msg)
            }
        }
    }

    fn record(&self, ok: bool, message: String) {
        let mut st = self.lock();
        st.last = ReloadStatus { count: st.last.count + 1, ok, message };
    }

    /// Applies a validated config: binds new sockets first (so a bind error changes
    /// nothing), swaps the snapshot, then tells workers and the health thread.
    pub fn apply(&self, cfg: Config) -> Result<String, String> {
        let old = self.shared.load_full();
        let mut cfg = cfg;
        for c in cfg.clusters.values_mut() {
            // Names resolved before the reload stay until discovery answers again.
            if let Some(o) = old.config.clusters.get(&c.name).filter(|o| o.discovery == c.discovery) {
                c.resolved = o.resolved.clone();
            }
        }
        let d = diff(&old.config, &cfg);
        let mut st = self.lock();
        let workers = st.workers.len();
        let mut fresh = Vec::new();
        for l in cfg
            .listeners
            .iter()
            .filter(|l| d.listeners_added.contains(&l.name) || d.listeners_rebound.contains(&l.name))
        {
            match bind_listener(l, workers) {
                Ok((addr, socks)) => fresh.push((l.name.clone(), l.bind, addr, socks)),
                Err(e) => {
                    drop(st);
                    let msg = format!("reload failed, old config kept: {e}");
                    self.record(false, msg.clone());
                    return Err(msg);
                }
            }
        }
        let mut cfg = cfg;
        cfg.workers = old.config.workers;
        cfg.admin = old.config.admin.clone();
        cfg.access_log = old.config.access_log.clone();
        st.splits.retain(|(l, r), w| match crate::splits::apply_split(&mut cfg, l, *r, w) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(listener = %l, route = r, error = %e, "admin split override dropped by the reload");
                false
            }
        });
        let snap = Snapshot::build(cfg, &mut st.registry, &self.metrics);
        self.shared.store(Arc::new(snap));
        st.bound.retain(|(n, _, _)| !d.listeners_removed.contains(n) && !d.listeners_rebound.contains(n));
        for name in d.listeners_removed.iter().chain(&d.listeners_rebound) {
            send_all(&st.workers, || WorkerCmd::Remove(name.clone()));
        }
        for (name, bind, addr, socks) in fresh {
            for (w, sock) in st.workers.iter().zip(socks) {
                let _ = w.send(WorkerCmd::Add(name.clone(), sock));
            }
            st.bound.push((name, bind, addr));
        }
        for name in &d.listeners_updated {
            send_all(&st.workers, || WorkerCmd::Update(name.clone()));
        }
        if let Err(e) = self.restart_health(&mut st) {
            tracing::error!(error = %e, "health thread did not restart");
        }
        let old_discovery = self.restart_discovery(&mut st).unwrap_or_else(|e| {
            tracing::error!(error = %e, "discovery did not restart");
            None
        });
        let mut summary = d.summary();
        let dns = self.shared.load().config.dns.clone();
        if let Err(e) = crate::dns::reconcile(&mut st.dns, dns.as_ref(), &self.shared, &self.dns_stats) {
            tracing::error!(error = %e, "dns server not moved; the old one keeps answering");
            summary.push_str(&format!("; dns not applied: {e}"));
        }
        st.last = ReloadStatus { count: st.last.count + 1, ok: true, message: summary.clone() };
        tracing::info!(changes = %summary, "config reloaded");
        drop(st);
        drop(old_discovery);
        Ok(summary)
    }

    /// Starts discovery for the current config (a new generation); returns the old thread,
    /// to be dropped (joined) once the state lock is released — it may be waiting for it.
    fn restart_discovery(&self, st: &mut State) -> std::io::Result<Option<crate::discovery::Discoverer>> {
        let old = st.discovery.0.take();
        let generation = st.discovery.1 + 1;
        let me = self.me.get().cloned().unwrap_or_default();
        let on_change: crate::discovery::OnChange = Arc::new(move |cluster: &str, eps| {
            if let Some(c) = me.upgrade() {
                c.set_resolved(generation, cluster, eps);
            }
        });
        let cfg = self.shared.load().config.clone();
        st.discovery = (crate::discovery::start(&cfg, on_change, &self.discovery_stats)?, generation);
        Ok(old)
    }

    /// A cluster's discovered endpoints changed: rebuild the snapshot with them (admin
    /// weights kept) and let the health checks follow. Ignored from an older generation.
    fn set_resolved(&self, generation: u64, cluster: &str, eps: Vec<sluice_config::EndpointConfig>) {
        let mut st = self.lock();
        if st.discovery.1 != generation {
            return;
        }
        let mut cfg = (*self.shared.load_full().config).clone();
        let Some(c) = cfg.clusters.get_mut(cluster) else { return };
        c.resolved = eps;
        self.shared.store(Arc::new(Snapshot::build_with(cfg, &mut st.registry, &self.metrics, true)));
        if let Err(e) = self.restart_health(&mut st) {
            tracing::error!(error = %e, "health thread did not restart");
        }
    }

    /// Rebuilds the snapshot from the active config keeping the endpoints' current weights
    /// (after an admin weight change: balancer tables follow the new weights).
    fn rebuild_keeping_weights(&self, st: &mut State) {
        let cfg = (*self.shared.load_full().config).clone();
        self.shared.store(Arc::new(Snapshot::build_with(cfg, &mut st.registry, &self.metrics, true)));
    }

    /// Switches a split route's weights at once (blue/green, canary steps) without editing
    /// the file; the new weights apply to new requests, in-flight ones finish where they are.
    pub fn set_split(&self, listener: &str, route: usize, weights: Vec<(String, u32)>) -> Result<(), String> {
        let mut st = self.lock();
        let mut cfg = (*self.shared.load_full().config).clone();
        crate::splits::apply_split(&mut cfg, listener, route, &weights)?;
        st.splits.insert((listener.to_string(), route), weights);
        self.shared.store(Arc::new(Snapshot::build_with(cfg, &mut st.registry, &self.metrics, true)));
        tracing::warn!(%listener, route, "split weights set by admin");
        Ok(())
    }

    /// Sets an endpoint's weight (0 takes it out); `Err` when there is no such endpoint.
    pub fn set_weight(&self, cluster: &str, addr: SocketAddr, weight: u32) -> Result<(), String> {
        let mut st = self.lock();
        let ep = st
            .registry
            .get(&(cluster.to_string(), addr))
            .cloned()
            .ok_or_else(|| format!("no endpoint {addr} in cluster {cluster}"))?;
        ep.set_weight(weight);
        self.rebuild_keeping_weights(&mut st);
        tracing::warn!(%cluster, endpoint = %addr, weight, "weight set by admin");
        Ok(())
    }

    /// Drains (or undrains) an endpoint: no new requests, in-flight ones finish.
    pub fn set_draining(&self, cluster: &str, addr: SocketAddr, on: bool) -> Result<(), String> {
        let st = self.lock();
        let ep = st
            .registry
            .get(&(cluster.to_string(), addr))
            .ok_or_else(|| format!("no endpoint {addr} in cluster {cluster}"))?;
        ep.set_draining(on);
        tracing::warn!(%cluster, endpoint = %addr, draining = on, "drain set by admin");
        Ok(())
    }

    fn restart_health(&self, st: &mut State) -> std::io::Result<()> {
        if let Some((stop, t)) = st.health.take() {
            let _ = stop.send(true);
            let _ = t.join();
        }
        let (stop, rx) = watch::channel(false);
        if let Some(t) = sluice_proxy::upstream::health::start(&self.shared.load(), rx)? {
            st.health = Some((stop, t));
        }
        Ok(())
    }

    /// The DNS server's `/status` part, when one runs.
    pub fn dns_status(&self) -> Option<serde_json::Value> {
        let st = self.lock();
        let dns = st.dns.as_ref()?;
        Some(dns.status(&self.shared.load()))
    }

    /// The DNS server's bound address, when one runs.
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.lock().dns.as_ref().map(DnsServer::addr)
    }

    /// Asks the process to leave in order (`POST /drain`): steps 1 and 2 happen before this
    /// returns (so the admin answer is true when sent); `exit_requested` sees the rest.
    pub fn request_exit(&self) {
        self.begin_exit();
        self.exit.send_replace(true);
    }

    /// Resolves once `request_exit` was called.
    pub async fn exit_requested(&self) {
        let _ = self.exit.subscribe().wait_for(|x| *x).await;
    }

    /// Steps 1 and 2 of the ordered exit: every anycast route withdrawn, and this
    /// instance's own addresses taken out of its DNS answers. Returns how long to keep
    /// serving while BGP converges (`withdraw_delay`; zero without `[anycast]`).
    pub fn begin_exit(&self) -> std::time::Duration {
        let snap = self.shared.load_full();
        let delay = snap.config.anycast.as_ref().map_or(std::time::Duration::ZERO, |a| a.withdraw_delay);
        if self.leaving.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return delay;
        }
        self.anycast.stop_announcing();
        self.anycast.tick(&snap, sluice_proxy::runtime::clock::now_ns());
        let own = crate::dns::own_addresses(&snap.config, &self.listeners());
        if let Some(dns) = &self.lock().dns {
            dns.leave(own);
        }
        delay
    }

    /// Stops the health thread, the anycast and overload monitors, discovery and the DNS
    /// server (server shutdown).
    pub fn stop(&self) {
        self.lock().dns = None;
        let discovery = self.lock().discovery.0.take();
        drop(discovery);
        if let Some((stop, threads)) = self.lock().monitors.take() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            threads.into_iter().for_each(|t| drop(t.join()));
        }
        if let Some((stop, t)) = self.lock().health.take() {
            let _ = stop.send(true);
            let _ = t.join();
        }
    }
}

fn send_all(workers: &[mpsc::UnboundedSender<WorkerCmd>], cmd: impl Fn() -> WorkerCmd) {
    for w in workers {
        let _ = w.send(cmd());
    }
}
