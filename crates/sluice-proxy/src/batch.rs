//! Send batching per worker, the way HAProxy's event loop orders work: the reads (and
//! request processing) of one scheduling round first, then its sends in one burst. A task
//! about to write parks at `before_send()`; the worker's flusher task, queued behind every
//! task already runnable, wakes them all at once. Writes to a peer (the client, the
//! upstream) then arrive together, so the peer wakes once per burst instead of once per
//! message — on a loaded machine, waking a sleeping peer is the costliest part of a send.
//! Lives in a thread-local: one per worker thread; without a flusher (no worker on this
//! thread) `before_send` returns at once.

use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

#[derive(Default)]
struct Batch {
    waiting: Vec<Waker>,
    flusher: Option<Waker>,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Waits until the worker's flusher releases this round's sends (at once if none runs).
pub async fn before_send() {
    let mut parked = false;
    poll_fn(|cx| {
        if parked {
            return Poll::Ready(());
        }
        BATCH.with(|b| {
            let mut b = b.borrow_mut();
            let Some(flusher) = &b.flusher else { return Poll::Ready(()) };
            if b.waiting.is_empty() {
                flusher.wake_by_ref();
            }
            b.waiting.push(cx.waker().clone());
            parked = true;
            Poll::Pending
        })
    })
    .await
}

/// The worker's flusher: each time it runs (after the tasks that were runnable when the
/// first sender parked), releases every parked sender.
pub async fn flusher() {
    // When the worker stops (its tasks dropped), senders on this thread must not wait for a
    // flusher that is gone: forget it and release whoever is parked.
    struct Gone;
    impl Drop for Gone {
        fn drop(&mut self) {
            let parked = BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flusher = None;
                std::mem::take(&mut b.waiting)
            });
            parked.into_iter().for_each(Waker::wake);
        }
    }
    let _gone = Gone;
    let mut ready = Vec::new();
    loop {
        poll_fn(|cx| {
            BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flusher = Some(cx.waker().clone());
                std::mem::swap(&mut b.waiting, &mut ready);
            });
            if ready.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        for w in ready.drain(..) {
            w.wake();
        }
    }
}

#[cfg(test)]
#[path = "batch_test.rs"]
mod tests;
