//! Start and stop: a request in flight when SIGTERM-style shutdown starts still completes,
//! and new connections are refused afterwards.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn graceful_stop_finishes_the_request_in_flight() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 2\ndrain_timeout = \"5s\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let in_flight = tokio::spawn(async move { get(addr, "/slow/600", &[]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopper = std::thread::spawn(move || stop(h));
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::task::spawn_blocking(move || stopper.join().unwrap()).await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener must be closed after stop");
}
