//! Server start and stop: builds the first Snapshot, binds every listener once per worker,
//! starts the worker threads, the control plane (reload, health) and the admin listener,
//! and on `shutdown` lets them drain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use sluice_config::Config;
use tokio::sync::{mpsc, watch};

use crate::reload::Control;
use sluice_proxy::accesslog::AccessLog;
use sluice_proxy::metrics::Store;
use sluice_proxy::runtime::listen::bind_listener;
use sluice_proxy::runtime::snapshot::{EndpointRegistry, Snapshot};
use sluice_proxy::runtime::worker::{self, WorkerSpec};

pub struct Server;

/// A running sluice: where it listens, how to reload it and how to stop it.
pub struct ServerHandle {
    admin: Option<SocketAddr>,
    control: Arc<Control>,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds everything and starts the workers; errors if any address cannot be bound.
    pub fn start(config: Config) -> std::io::Result<ServerHandle> {
        Server::start_from(config, None)
    }

    /// As `start`, remembering the file the config came from so it can be reloaded.
    pub fn start_from(config: Config, path: Option<PathBuf>) -> std::io::Result<ServerHandle> {
        let mut registry = EndpointRegistry::new();
        let workers = config.workers.max(1);
        let drain_timeout = config.drain_timeout;
        let admin_bind = config.admin.as_ref().map(|a| a.bind);
        let metrics = Arc::new(Store::default());
        let access_log = match &config.access_log {
            Some(cfg) => Some(Arc::new(
                AccessLog::start(cfg, Arc::clone(&metrics.log_dropped))
                    .map_err(|e| std::io::Error::new(e.kind(), format!("access log {}: {e}", cfg.path.display())))?,
            )),
            None => None,
        };
        let mut per_worker: Vec<Vec<(String, sluice_proxy::runtime::listen::Sock)>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut bound = Vec::new();
        for l in &config.listeners {
            let (addr, socks) = bind_listener(l, workers)?;
            bound.push((l.name.clone(), l.bind, addr));
            for (w, s) in socks.into_iter().enumerate() {
                per_worker[w].push((l.name.clone(), s));
            }
        }
        let shared = Arc::new(ArcSwap::from_pointee(Snapshot::build(config, &mut registry, &metrics)));
        let (tx, rx) = watch::channel(false);
        let mut threads = Vec::new();
        let mut senders = Vec::new();
        for (id, sockets) in per_worker.into_iter().enumerate() {
            let (cmd_tx, commands) = mpsc::unbounded_channel();
            senders.push(cmd_tx);
            let spec = WorkerSpec {
                id,
                shared: Arc::clone(&shared),
                sockets,
                shutdown: rx.clone(),
                commands,
                drain_timeout,
                access_log: access_log.clone(),
            };
            threads.push(std::thread::Builder::new().name(format!("sluice-w{id}")).spawn(move || {
                if let Err(e) = worker::run(spec) {
                    tracing::error!(error = %e, "worker failed");
                }
            })?);
        }
        let control = Control::new(path, shared, metrics, registry, senders, bound)?;
        let admin = match admin_bind {
            Some(bind) => {
                let (addr, t) = crate::admin::start(bind, Arc::clone(&control), rx.clone())?;
                threads.push(t);
                Some(addr)
            }
            None => None,
        };
        Ok(ServerHandle { admin, control, shutdown: tx, threads })
    }
}

impl ServerHandle {
    /// The bound address of listener `name` (port 0 in the config resolved).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.control.addr(name)
    }

    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        self.control.listeners()
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.control.shared.load_full()
    }

    /// The control plane: reload, drain, weights.
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Stops accepting, asks every connection to finish, and returns at once.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until every worker has drained (bounded by `drain_timeout`) and exited.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
        self.control.stop();
    }
}
