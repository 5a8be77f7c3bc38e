//! Response deadlines without a timer per request: each client connection keeps one
//! spare `Sleep` and moves it to the next request's deadline. Moving a registered timer
//! later is one atomic update in tokio (`extend_expiration`; the wheel re-files it only
//! when the old instant comes round), where a fresh `timeout()` per request inserts into
//! and removes from the timer wheel under its lock every time. Concurrent requests on one
//! connection (HTTP/2) find the spare taken and use a timer of their own.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;

use tokio::time::{Instant, Sleep};

/// A connection's spare timer (none until its first request).
#[derive(Default)]
pub struct SpareTimer(Cell<Option<Pin<Box<Sleep>>>>);

impl SpareTimer {
    fn take(&self, until: Instant) -> Pin<Box<Sleep>> {
        match self.0.take() {
            Some(mut s) => {
                s.as_mut().reset(until);
                s
            }
            None => Box::pin(tokio::time::sleep_until(until)),
        }
    }
}

/// Runs `fut` until `until`: `None` when the deadline came first (`fut` is dropped).
pub async fn within<F: Future>(spare: &SpareTimer, until: Instant, fut: F) -> Option<F::Output> {
    let mut timer = spare.take(until);
    let mut fut = pin!(fut);
    let out = poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await;
    spare.0.set(Some(timer));
    out
}

#[cfg(test)]
#[path = "deadline_test.rs"]
mod tests;
