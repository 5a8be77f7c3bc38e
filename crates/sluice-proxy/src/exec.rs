//! The executor hyper uses for HTTP/2 streams and upstream connection tasks: tasks stay on
//! the worker's own current-thread runtime (`spawn_local`), so they may be `!Send`.

use std::future::Future;

#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}
