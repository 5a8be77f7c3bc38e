//! Spawning on the worker: the executor hyper uses for HTTP/2 streams and upstream
//! connection tasks, and boxed spawns for sluice's own per-connection and per-request
//! tasks (client and upstream connections, tunnels, UDP flows, mirror copies). Tasks stay
//! on the worker's own current-thread runtime (`spawn_local`), so they may be `!Send`.
//! Futures are boxed before tokio takes them: tokio moves a task's future several times
//! while spawning it and writes its whole stage again when it ends (~7 copies of a ~4.9 KB
//! connection future, 17 KB of memmove per new connection); boxed, those copies are of a
//! pointer.

use std::future::Future;
use std::pin::Pin;

/// Boxes the future `make` builds, allocating first so that the future (only its
/// arguments are set before the first poll) is written straight into the box instead of
/// being built on the stack and copied whole.
pub fn in_box<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

/// Spawns the future `make` builds on this worker, boxed (see the module note).
pub fn spawn_boxed<F: Future + 'static>(make: impl FnOnce() -> F) {
    tokio::task::spawn_local(in_box(make));
}

#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(Box::pin(fut));
    }
}
