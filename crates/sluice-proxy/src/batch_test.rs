//! Unit tests of send batching: a round's sends after its reads, and no sender held
//! without a (live) flusher.

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
