//! Unit tests of send batching: a round's sends after its reads, and no sender held
//! without a (live) flusher.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use super::*;

/// Runs the future `make` builds on a fresh thread's LocalSet: the batch is thread-local,
/// so each test gets its own (with or without a flusher).
pub(crate) fn on_own_thread<F: Future<Output = ()>>(make: impl FnOnce() -> F + Send + 'static) {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, make());
    })
    .join()
    .unwrap();
}

/// A send started now completes (is not parked for good) within 5 s.
async fn send_is_not_held() {
    let sent = tokio::task::spawn_local(before_send(Side::Client));
    tokio::time::timeout(Duration::from_secs(5), sent).await.unwrap().unwrap();
}

/// One round with a flusher running: a task per side reads, parks before its send, then
/// sends; returns the log of reads (`read i`) and sends (`Side i`) in the order they ran.
fn round(sides: &'static [Side]) -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    on_own_thread(move || async move {
        let log = Rc::new(RefCell::new(Vec::new()));
        tokio::task::spawn_local(flusher());
        tokio::task::yield_now().await;
        let tasks: Vec<_> = sides
            .iter()
            .enumerate()
            .map(|(i, &side)| {
                let log = Rc::clone(&log);
                tokio::task::spawn_local(async move {
                    log.borrow_mut().push(format!("read {i}"));
                    before_send(side).await;
                    log.borrow_mut().push(format!("{side:?} {i}"));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        tx.send(log.borrow().clone()).unwrap();
    });
    rx.recv().unwrap()
}

#[test]
fn a_rounds_sends_go_out_together_after_its_reads() {
    let want: Vec<String> = (0..4).map(|i| format!("read {i}")).chain((0..4).map(|i| format!("Client {i}"))).collect();
    assert_eq!(round(&[Side::Client; 4]), want);
}

#[test]
fn a_stopped_flusher_holds_no_sender() {
    on_own_thread(|| async {
        let f = tokio::task::spawn_local(flusher());
        tokio::task::yield_now().await;
        f.abort();
        let _ = f.await;
        send_is_not_held().await;
    });
}

#[test]
fn without_a_flusher_sends_are_not_held() {
    on_own_thread(send_is_not_held);
}

#[test]
fn upstream_requests_go_out_before_client_answers() {
    let log = round(&[Side::Client, Side::Upstream, Side::Client, Side::Upstream]);
    let sends: Vec<&str> = log.iter().map(String::as_str).filter(|l| !l.starts_with("read")).collect();
    assert_eq!(sends, ["Upstream 1", "Upstream 3", "Client 0", "Client 2"]);
}
