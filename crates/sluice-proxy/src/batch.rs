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
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    fn run_local(f: impl std::future::Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f);
    }

    #[test]
    fn a_rounds_sends_go_out_together_after_its_reads() {
        // Own thread: the batch is thread-local and this test installs a flusher.
        std::thread::spawn(|| {
            run_local(async {
                tokio::task::spawn_local(flusher());
                tokio::task::yield_now().await;
                let log = Rc::new(RefCell::new(Vec::new()));
                let tasks: Vec<_> = (0..4)
                    .map(|i| {
                        let log = Rc::clone(&log);
                        tokio::task::spawn_local(async move {
                            log.borrow_mut().push(format!("read {i}"));
                            before_send().await;
                            log.borrow_mut().push(format!("send {i}"));
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                let want: Vec<String> =
                    (0..4).map(|i| format!("read {i}")).chain((0..4).map(|i| format!("send {i}"))).collect();
                assert_eq!(*log.borrow(), want);
            })
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_stopped_flusher_holds_no_sender() {
        std::thread::spawn(|| {
            run_local(async {
                let f = tokio::task::spawn_local(flusher());
                tokio::task::yield_now().await;
                f.abort();
                let _ = f.await;
                let sent = tokio::task::spawn_local(before_send());
                tokio::time::timeout(std::time::Duration::from_secs(5), sent).await.unwrap().unwrap();
            })
        })
        .join()
        .unwrap();
    }

    #[test]
    fn without_a_flusher_sends_are_not_held() {
        std::thread::spawn(|| {
            run_local(async {
                let sent = tokio::task::spawn_local(before_send());
                tokio::time::timeout(std::time::Duration::from_secs(5), sent).await.unwrap().unwrap();
            })
        })
        .join()
        .unwrap();
    }
}
