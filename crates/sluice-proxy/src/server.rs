//! Server start and stop: builds the first Snapshot, binds every listener once per worker,
//! starts the worker threads and the admin listener, and on `shutdown` lets them drain.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use sluice_config::Config;
use tokio::sync::watch;

use crate::listen::bind_reuseport;
use crate::snapshot::{EndpointRegistry, Snapshot};
use crate::worker::{self, WorkerSpec};

pub struct Server;

/// A running sluice: where it listens, and how to stop it.
pub struct ServerHandle {
    listeners: Vec<(String, SocketAddr)>,
    admin: Option<SocketAddr>,
    shared: Arc<ArcSwap<Snapshot>>,
    /// Endpoint states, kept for the reload path (issue 7).
    pub registry: Arc<Mutex<EndpointRegistry>>,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds everything and starts the workers; errors if any address cannot be bound.
    pub fn start(config: Config) -> std::io::Result<ServerHandle> {
        let mut registry = EndpointRegistry::new();
        let workers = config.workers.max(1);
        let drain_timeout = config.drain_timeout;
        let admin_bind = config.admin.as_ref().map(|a| a.bind);
        let mut per_worker: Vec<Vec<(String, std::net::TcpListener)>> = (0..workers).map(|_| Vec::new()).collect();
        let mut listeners = Vec::new();
        for l in &config.listeners {
            let (bound, socks) = bind_reuseport(l.bind, workers)?;
            listeners.push((l.name.clone(), bound));
            for (w, s) in socks.into_iter().enumerate() {
                per_worker[w].push((l.name.clone(), s));
            }
        }
        let shared = Arc::new(ArcSwap::from_pointee(Snapshot::build(config, &mut registry)));
        let (tx, rx) = watch::channel(false);
        let mut threads = Vec::new();
        for (id, sockets) in per_worker.into_iter().enumerate() {
            let spec = WorkerSpec { id, shared: Arc::clone(&shared), sockets, shutdown: rx.clone(), drain_timeout };
            threads.push(std::thread::Builder::new().name(format!("sluice-w{id}")).spawn(move || {
                if let Err(e) = worker::run(spec) {
                    tracing::error!(error = %e, "worker failed");
                }
            })?);
        }
        if let Some(t) = crate::health::start(&shared.load(), rx.clone())? {
            threads.push(t);
        }
        let admin = match admin_bind {
            Some(bind) => {
                let (addr, t) = crate::admin::start(bind, Arc::clone(&shared), rx.clone())?;
                threads.push(t);
                Some(addr)
            }
            None => None,
        };
        Ok(ServerHandle { listeners, admin, shared, registry: Arc::new(Mutex::new(registry)), shutdown: tx, threads })
    }
}

impl ServerHandle {
    /// The bound address of listener `name` (port 0 in the config resolved).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.load_full()
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
    }
}
