//! A worker: one OS thread running a current-thread tokio runtime, with its own listener
//! sockets (SO_REUSEPORT), its own upstream pool and RNG. Workers share only the Snapshot
//! (read through a per-worker cache) and the endpoint states inside it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sluice_config::ListenerProtocol;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};

use crate::downstream::conn;
use crate::handler::accesslog::AccessLog;
use crate::runtime::ctx::{ListenerCtx, WorkerCtx};
use crate::runtime::listen::Sock;
use crate::runtime::snapshot::Snapshot;

/// How often idle upstream connections are swept for expiry.
const POOL_SWEEP: Duration = Duration::from_secs(5);

/// A change a reload asks of a worker (the snapshot is already swapped when it arrives).
pub enum WorkerCmd {
    /// Start accepting on this worker's socket for a new (or rebound) listener.
    Add(String, Sock),
    /// Stop accepting; open connections finish their request and close.
    Remove(String),
    /// The listener's settings changed: new connections use a rebuilt context.
    Update(String),
}

/// Everything a worker thread needs to start.
pub struct WorkerSpec {
    pub id: usize,
    pub shared: Arc<ArcSwap<Snapshot>>,
    pub sockets: Vec<(String, Sock)>,
    pub shutdown: watch::Receiver<bool>,
    pub commands: mpsc::UnboundedReceiver<WorkerCmd>,
    pub drain_timeout: Duration,
    pub access_log: Option<Arc<AccessLog>>,
}

/// Tasks run between two polls of the sockets' readiness. tokio's default (61, and a
/// `LocalSet` stops its own turn at 61 too) cut each round of 64 busy connections in two:
/// twice the epoll calls and two smaller send bursts, so the peers slept and woke twice as
/// often. 256 lets one round read every ready connection and then send in one burst, the
/// way HAProxy's run queue (depth 200) does; one task turn is ~1 µs, so a new event waits
/// at most ~0.3 ms behind a full round. Measured in docs/performance.md (session 5).
const EVENT_INTERVAL: u32 = 256;

/// Runs a worker to completion on the current thread: a local runtime (tasks are not
/// `Send`; `spawn_local` needs no `LocalSet`).
pub fn run(spec: WorkerSpec) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .event_interval(EVENT_INTERVAL)
        .build_local(tokio::runtime::LocalOptions::default())?;
    rt.block_on(serve(spec))
}

/// A running listener on this worker: its current context and its stop switch.
struct Running {
    ctx: Rc<RefCell<Rc<ListenerCtx>>>,
    stop: watch::Sender<bool>,
}

struct Listeners {
    worker: Rc<WorkerCtx>,
    tracker: Tracker,
    running: HashMap<String, Running>,
}

impl Listeners {
    fn context(&self, name: &str) -> Option<Rc<ListenerCtx>> {
        let snap = self.worker.snapshot();
        let lc = snap.listener(name)?;
        Some(Rc::new(ListenerCtx::new(name, lc, Rc::clone(&self.worker))))
    }

    fn add(&mut self, name: String, sock: Sock) -> std::io::Result<()> {
        let Some(ctx) = self.context(&name) else { return Ok(()) };
        let (stop, rx) = watch::channel(false);
        let cell = Rc::new(RefCell::new(ctx));
        match sock {
            Sock::Tcp(s) => {
                let listener = TcpListener::from_std(s)?;
                tokio::task::spawn_local(accept_loop(listener, Rc::clone(&cell), rx, self.tracker.clone()));
            }
            Sock::Udp(s) => {
                let socket = tokio::net::UdpSocket::from_std(s)?;
                tokio::task::spawn_local(crate::l4::udp::serve(socket, Rc::clone(&cell), rx));
            }
            Sock::Http3(tcp, udp) => {
                let listener = TcpListener::from_std(tcp)?;
                tokio::task::spawn_local(accept_loop(listener, Rc::clone(&cell), rx.clone(), self.tracker.clone()));
                self.add_quic(&name, udp, Rc::clone(&cell), rx)?;
            }
        }
        if let Some(old) = self.running.insert(name, Running { ctx: cell, stop }) {
            let _ = old.stop.send(true);
        }
        Ok(())
    }

    /// This worker's QUIC endpoint for an HTTP/3 listener, on its UDP socket.
    fn add_quic(
        &self,
        name: &str,
        udp: std::net::UdpSocket,
        cell: Rc<RefCell<Rc<ListenerCtx>>>,
        rx: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let snap = self.worker.snapshot();
        let Some(server_config) = snap.listener(name).and_then(|l| l.quic.clone()) else {
            tracing::error!(listener = %name, "HTTP/3 not started: no QUIC configuration (see the TLS error above)");
            return Ok(());
        };
        let endpoint = h3_quinn::quinn::Endpoint::new(
            crate::downstream::h3::config::endpoint_config(self.worker.id),
            Some((*server_config).clone()),
            udp,
            Arc::new(h3_quinn::quinn::TokioRuntime),
        )?;
        let tracker = self.tracker.clone();
        let serve =
            crate::downstream::h3::serve(crate::handler::proxy::Proxy, endpoint, cell, rx, move || tracker.enter());
        tokio::task::spawn_local(serve);
        Ok(())
    }

    fn apply(&mut self, cmd: WorkerCmd) -> std::io::Result<()> {
        match cmd {
            WorkerCmd::Add(name, sock) => self.add(name, sock)?,
            WorkerCmd::Remove(name) => {
                if let Some(r) = self.running.remove(&name) {
                    let _ = r.stop.send(true);
                }
            }
            WorkerCmd::Update(name) => {
                if let (Some(r), Some(ctx)) = (self.running.get(&name), self.context(&name)) {
                    *r.ctx.borrow_mut() = ctx;
                }
            }
        }
        Ok(())
    }
}

async fn serve(spec: WorkerSpec) -> std::io::Result<()> {
    let worker = Rc::new(WorkerCtx::new(spec.shared, spec.access_log, spec.id));
    let mut listeners = Listeners { worker: Rc::clone(&worker), tracker: Tracker::default(), running: HashMap::new() };
    for (name, sock) in spec.sockets {
        listeners.add(name, sock)?;
    }
    tokio::task::spawn_local(crate::io::batch::flusher());
    let pool = Rc::clone(&worker.pool);
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(POOL_SWEEP).await;
            pool.sweep();
        }
    });
    let (mut shutdown, mut commands) = (spec.shutdown, spec.commands);
    while !*shutdown.borrow_and_update() {
        tokio::select! {
            r = shutdown.changed() => if r.is_err() { break },
            Some(cmd) = commands.recv() => {
                if let Err(e) = listeners.apply(cmd) {
                    tracing::error!(error = %e, "worker could not apply a reload");
                }
            }
        }
    }
    for r in listeners.running.values() {
        let _ = r.stop.send(true);
    }
    let _ = tokio::time::timeout(spec.drain_timeout, listeners.tracker.wait()).await;
    Ok(())
}

/// Counts live client connections so that a drain can wait for them.
#[derive(Clone, Default)]
struct Tracker(Rc<TrackerInner>);

#[derive(Default)]
struct TrackerInner {
    live: Cell<usize>,
    idle: Notify,
}

impl Tracker {
    fn enter(&self) -> TrackerGuard {
        self.0.live.set(self.0.live.get() + 1);
        TrackerGuard(self.clone())
    }

    async fn wait(&self) {
        while self.0.live.get() > 0 {
            self.0.idle.notified().await;
        }
    }
}

struct TrackerGuard(Tracker);

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let t = &self.0 .0;
        t.live.set(t.live.get() - 1);
        if t.live.get() == 0 {
            t.idle.notify_waiters();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Rc<RefCell<Rc<ListenerCtx>>>,
    mut stop: watch::Receiver<bool>,
    tracker: Tracker,
) {
    let bound = listener.local_addr().ok();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let ctx = Rc::clone(&ctx.borrow());
                    // The overload manager first: at its refuse level the socket is closed
                    // before any per-listener bookkeeping.
                    let Some(slot) = ctx.overload.admit() else { continue };
                    let lim = crate::runtime::gate::Limits {
                        max_total: ctx.limits.max_connections,
                        max_per_ip: ctx.limits.max_connections_per_ip,
                        rate_per_ip: ctx.limits.accept_rate_per_ip,
                    };
                    let admitted = match ctx.gate.enter(peer.ip(), lim, crate::runtime::clock::now_ns()) {
                        Ok(a) => a,
                        Err(why) => {
                            let m = &ctx.metrics;
                            let c = match why {
                                crate::runtime::gate::Refused::Total => &m.connections_refused,
                                crate::runtime::gate::Refused::PerIp => &m.refused_per_ip,
                                crate::runtime::gate::Refused::Rate => &m.refused_rate,
                            };
                            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            continue;
                        }
                    };
                    // TCP_NODELAY comes from the listening socket (`listen::bind_one`): Linux
                    // copies it to every accepted one, so no setsockopt per connection.
                    let guard = tracker.enter();
                    let rx = stop.clone();
                    crate::runtime::exec::spawn_boxed(move || async move {
                        match ctx.protocol {
                            ListenerProtocol::Http => conn::serve(crate::handler::proxy::Proxy, stream, (peer, bound), ctx, rx).await,
                            ListenerProtocol::Tcp | ListenerProtocol::Udp => {
                                crate::l4::tcp::serve(stream, (peer, bound), ctx, rx).await
                            }
                        }
                        drop((guard, admitted, slot));
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    ctx.borrow().metrics.accept_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}
