//! sluice-acme: automatic certificates from an RFC 8555 CA (`[acme]` and listeners'
//! `tls.acme` names). A leaf crate: the binary starts `Manager`, which follows the current
//! config snapshot (so a reload adds or drops names) on its own thread and runtime, runs one
//! task per name (`name`), and hands certificates and challenge answers to the proxy through
//! `sluice_proxy::acme::AcmeStore`. Orders go through instant-acme (`order`);
//! instances coordinate through Redis (`coord`); files live in `storage`.

#![forbid(unsafe_code)]

mod ari;
pub mod certs;
pub mod coord;
mod name;
pub mod order;
pub mod storage;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sluice_config::{AcmeConfig, Config};
use sluice_proxy::acme::AcmeStore;
use sluice_proxy::runtime::snapshot::Snapshot;
use tokio::task::JoinHandle;

/// What the config asks for: the `[acme]` settings and every listener's `acme` names.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub cfg: AcmeConfig,
    pub names: Vec<String>,
}

impl Desired {
    pub fn of(config: &Config) -> Option<Desired> {
        let cfg = config.acme.clone()?;
        let mut names: Vec<String> =
            config.listeners.iter().filter_map(|l| l.tls.as_ref()).flat_map(|t| t.acme.iter().cloned()).collect();
        names.sort();
        names.dedup();
        Some(Desired { cfg, names })
    }
}

/// The ACME manager's thread; stops when dropped.
pub struct Manager {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Manager {
    /// Follows `shared` (checked every 500 ms: a reload is seen within that).
    pub fn start(shared: Arc<ArcSwap<Snapshot>>, store: Arc<AcmeStore>) -> std::io::Result<Manager> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("sluice-acme".into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match rt {
                Ok(rt) => rt.block_on(follow(shared, store, flag)),
                Err(e) => tracing::error!(error = %e, "ACME manager did not start"),
            }
        })?;
        Ok(Manager { stop, thread: Some(thread) })
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn follow(shared: Arc<ArcSwap<Snapshot>>, store: Arc<AcmeStore>, stop: Arc<AtomicBool>) {
    let mut running: Option<(Desired, Arc<order::Ctx>)> = None;
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let want = Desired::of(&shared.load().config);
        if want.as_ref().map(|w| &w.cfg) != running.as_ref().map(|(d, _)| &d.cfg) {
            tasks.drain().for_each(|(_, t)| t.abort());
            running = want.clone().and_then(|w| context(&w.cfg, &store).map(|c| (w, c)));
        }
        if let (Some(w), Some((d, ctx))) = (want, running.as_mut()) {
            tasks.retain(|n, t| {
                w.names.contains(n) || {
                    t.abort();
                    false
                }
            });
            for n in &w.names {
                tasks.entry(n.clone()).or_insert_with(|| tokio::spawn(name::manage(Arc::clone(ctx), n.clone())));
            }
            store.retain_status(&w.names);
            *d = w;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tasks.drain().for_each(|(_, t)| t.abort());
}

fn context(cfg: &AcmeConfig, store: &Arc<AcmeStore>) -> Option<Arc<order::Ctx>> {
    let coord = match cfg.coordination.as_deref().map(|u| coord::Coord::new(u, cfg.lease)).transpose() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "ACME coordination unusable; certificates not managed");
            return None;
        }
    };
    store.set_remote(coord.as_ref().map(coord::Coord::client));
    tracing::info!(directory = %cfg.directory, coordinated = coord.is_some(), "ACME manager running");
    Some(Arc::new(order::Ctx::new(cfg.clone(), Arc::clone(store), coord)))
}
