//! Send batching per worker, the way HAProxy's event loop orders work: the reads (and
//! request processing) of one scheduling round first, then its sends in one burst. A task
//! about to write parks at `before_send()`; the worker's flusher task, queued behind every
//! task already runnable, wakes them all at once. Writes to a peer (the client, the
//! upstream) then arrive together, so the peer wakes once per burst instead of once per
//! message — on a loaded machine, waking a sleeping peer is the costliest part of a send.
//! Within a burst, requests to upstreams go first and answers to clients after: the
//! upstreams start on their work while the answers are still going out (measured: +2 %
//! req/s and a narrower latency spread than one queue in parking order).
//! A connection can also hand its message over whole (`outbox`): the flusher then writes
//! it itself, and the connection's task is not polled again for the send.
//! Lives in a thread-local: one per worker thread; without a flusher (no worker on this
//! thread) `before_send` returns at once and `queue` refuses.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::io::outbox::Outbox;

/// Which way a parked send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A request to an upstream: released first.
    Upstream,
    /// An answer to a client.
    Client,
}

/// One side's parked senders and queued outboxes.
#[derive(Default)]
struct Sends {
    parked: Vec<Waker>,
    queued: Vec<Rc<Outbox>>,
}

impl Sends {
    fn is_empty(&self) -> bool {
        self.parked.is_empty() && self.queued.is_empty()
    }

    /// Writes the queued outboxes, then releases the parked senders.
    fn go(&mut self) {
        self.queued.drain(..).for_each(|o| o.flush_now());
        self.parked.drain(..).for_each(Waker::wake);
    }
}

#[derive(Default)]
struct Batch {
    upstream: Sends,
    client: Sends,
    flusher: Option<Waker>,
}

impl Batch {
    /// The sends of `side`, waking the flusher when they are the round's first.
    fn first_of_round(&mut self, side: Side) -> Option<&mut Sends> {
        let flusher = self.flusher.as_ref()?;
        if self.upstream.is_empty() && self.client.is_empty() {
            flusher.wake_by_ref();
        }
        Some(match side {
            Side::Upstream => &mut self.upstream,
            Side::Client => &mut self.client,
        })
    }
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
            let Some(sends) = b.first_of_round(side) else { return Poll::Ready(()) };
            sends.parked.push(cx.waker().clone());
            parked = true;
            Poll::Pending
        })
    })
    .await
}

/// Queues an outbox for this round's flusher; `false` when no flusher runs on this thread.
pub fn queue(outbox: Rc<Outbox>, side: Side) -> bool {
    BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let Some(sends) = b.first_of_round(side) else { return false };
        sends.queued.push(outbox);
        true
    })
}

/// The worker's flusher: each time it runs (after the tasks that were runnable when the
/// first sender parked), writes every queued outbox and releases every parked sender,
/// upstream requests first.
pub async fn flusher() {
    // When the worker stops (its tasks dropped), senders on this thread must not wait for a
    // flusher that is gone: forget it, release whoever is parked and give queued outboxes
    // back to their owners.
    struct Gone;
    impl Drop for Gone {
        fn drop(&mut self) {
            let (up, client) = BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flusher = None;
                (std::mem::take(&mut b.upstream), std::mem::take(&mut b.client))
            });
            for s in [up, client] {
                s.queued.iter().for_each(|o| o.orphan());
                s.parked.into_iter().for_each(Waker::wake);
            }
        }
    }
    let _gone = Gone;
    let (mut up, mut client) = (Sends::default(), Sends::default());
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
        up.go();
        client.go();
    }
}

#[cfg(test)]
#[path = "batch_test.rs"]
pub(crate) mod tests;
