//! A worker: one OS thread running a current-thread tokio runtime, with its own listener
//! sockets (SO_REUSEPORT), its own upstream pool and RNG. Workers share only the Snapshot
//! (read through a per-worker cache) and the endpoint states inside it.

use std::cell::{Cell, RefCell};
use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto;
use sluice_config::ListenerConfig;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::conn;
use crate::exec::LocalExec;
use crate::pool::Pool;
use crate::rng::WorkerRng;
use crate::snapshot::Snapshot;

/// How often idle upstream connections are swept for expiry.
const POOL_SWEEP: Duration = Duration::from_secs(5);

pub struct WorkerCtx {
    shared: Arc<ArcSwap<Snapshot>>,
    cached: RefCell<Rc<Arc<Snapshot>>>,
    pub pool: Rc<Pool>,
    pub rng: WorkerRng,
}

impl WorkerCtx {
    /// The current snapshot; a cheap `Rc` clone unless a reload swapped it.
    pub fn snapshot(&self) -> Rc<Arc<Snapshot>> {
        let cur = self.shared.load();
        let mut cached = self.cached.borrow_mut();
        if !Arc::ptr_eq(&cur, &cached) {
            *cached = Rc::new(Arc::clone(&cur));
        }
        Rc::clone(&cached)
    }
}

/// One listener as seen by one worker: its name (to find it in the snapshot) and the
/// hyper connection builder configured from its limits.
pub struct ListenerCtx {
    pub name: String,
    pub builder: auto::Builder<LocalExec>,
    pub worker: Rc<WorkerCtx>,
}

fn builder(l: &ListenerConfig) -> auto::Builder<LocalExec> {
    let mut b = auto::Builder::new(LocalExec);
    let lim = &l.limits;
    {
        let mut h1 = b.http1();
        h1.timer(TokioTimer::new())
            .writev(false)
            .header_read_timeout(None)
            .max_buf_size(lim.max_header_bytes.max(8192));
        if lim.max_header_count != 100 {
            h1.max_headers(lim.max_header_count);
        }
    }
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(lim.max_concurrent_streams)
        .max_header_list_size(lim.max_header_bytes.saturating_mul(2).min(u32::MAX as usize) as u32)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    b
}

/// Everything a worker thread needs to start.
pub struct WorkerSpec {
    pub id: usize,
    pub shared: Arc<ArcSwap<Snapshot>>,
    pub sockets: Vec<(String, StdListener)>,
    pub shutdown: watch::Receiver<bool>,
    pub drain_timeout: Duration,
}

/// Runs a worker to completion on the current thread.
pub fn run(spec: WorkerSpec) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, serve(spec))
}

async fn serve(spec: WorkerSpec) -> std::io::Result<()> {
    let cached = RefCell::new(Rc::new(spec.shared.load_full()));
    let worker = Rc::new(WorkerCtx {
        shared: spec.shared,
        cached,
        pool: Rc::new(Pool::default()),
        rng: WorkerRng::new(spec.id as u64 + 1),
    });
    let tracker = Tracker::default();
    for (name, sock) in spec.sockets {
        let snap = worker.snapshot();
        let Some(lc) = snap.listener(&name) else {
            continue;
        };
        let ctx = Rc::new(ListenerCtx { name, builder: builder(&lc.config), worker: Rc::clone(&worker) });
        let listener = TcpListener::from_std(sock)?;
        tokio::task::spawn_local(accept_loop(listener, ctx, spec.shutdown.clone(), tracker.clone()));
    }
    let pool = Rc::clone(&worker.pool);
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(POOL_SWEEP).await;
            pool.sweep();
        }
    });
    let mut shutdown = spec.shutdown;
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    let _ = tokio::time::timeout(spec.drain_timeout, tracker.wait()).await;
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
    ctx: Rc<ListenerCtx>,
    mut shutdown: watch::Receiver<bool>,
    tracker: Tracker,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let guard = tracker.enter();
                    let ctx = Rc::clone(&ctx);
                    let rx = shutdown.clone();
                    tokio::task::spawn_local(async move {
                        conn::serve(stream, peer, ctx, rx).await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}
