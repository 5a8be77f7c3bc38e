//! Send batching per worker, the way HAProxy's event loop orders work: the reads (and
//! request processing) of one scheduling round first, then its sends in one burst. A task
//! about to write parks at `before_send()`; the worker's flusher task, queued behind every
//! task already runnable, wakes them all at once. Writes to a peer (the client, the
//! upstream) then arrive together, so the peer wakes once per burst instead of once per
//! message — on a loaded machine, waking a sleeping peer is the costliest part of a send.
//! Within a burst, requests to upstreams go first and answers to clients after: the
//! upstreams start on their work while the answers are still going out (measured: +2 %
//! req/s and a narrower latency spread than one queue in parking order).
//! Lives in a thread-local: one per worker thread; without a flusher (no worker on this
//! thread) `before_send` returns at once.

use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Which way a parked send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A request to an upstream: released first.
    Upstream,
    /// An answer to a client.
    Client,
}

#[derive(Default)]
struct Batch {
    upstream: Vec<Waker>,
    client: Vec<Waker>,
    flusher: Option<Waker>,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Waits until the worker's flusher releases this round's sends (at once if none runs).
pub async fn before_send(side: Side) {
    let mut parked = false;
    poll_fn(|cx| {
        if parked {
            return Poll::Ready(());
        }
        BATCH.with(|b| {
            let mut b = b.borrow_mut();
            let Some(flusher) = &b.flusher else { return Poll::Ready(()) };
            if b.upstream.is_empty() && b.client.is_empty() {
                flusher.wake_by_ref();
            }
            let waker = cx.waker().clone();
            match side {
                Side::Upstream => b.upstream.push(waker),
                Side::Client => b.client.push(waker),
            }
            parked = true;
            Poll::Pending
        })
    })
    .await
}

/// The worker's flusher: each time it runs (after the tasks that were runnable when the
/// first sender parked), releases every parked sender, upstream requests first.
pub async fn flusher() {
    // When the worker stops (its tasks dropped), senders on this thread must not wait for a
    // flusher that is gone: forget it and release whoever is parked.
    struct Gone;
    impl Drop for Gone {
        fn drop(&mut self) {
            let (up, client) = BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flusher = None;
                (std::mem::take(&mut b.upstream), std::mem::take(&mut b.client))
            });
            up.into_iter().chain(client).for_each(Waker::wake);
        }
    }
    let _gone = Gone;
    let (mut up, mut client) = (Vec::new(), Vec::new());
    loop {
        poll_fn(|cx| {
            BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flusher = Some(cx.waker().clone());
                std::mem::swap(&mut b.upstream, &mut up);
                std::mem::swap(&mut b.client, &mut client);
            });
            if up.is_empty() && client.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        up.drain(..).chain(client.drain(..)).for_each(Waker::wake);
    }
}

#[cfg(test)]
#[path = "batch_test.rs"]
mod tests;
