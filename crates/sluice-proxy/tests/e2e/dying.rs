//! A backend killed under keep-alive load (issue 19): with health checks and retries on
//! connect failures and resets, no client sees an error. The loop of twenty is ignored by
//! default (about a minute); `cargo test --release --test e2e dying -- --ignored` runs it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::*;

const CONFIG: &str = "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\nendpoints = [\"{a}\", \"{b}\", \"{c}\"]\nhealth = { kind = \"http\", path = \"/healthz\", interval = \"200ms\", timeout = \"100ms\", rise = 2, fall = 2 }\nretries = { attempts = 2, on = [\"connect-failure\", \"reset\"] }\n";

/// One keep-alive client: GETs on one connection until `stop`; (answers, failures as text).
async fn client(addr: std::net::SocketAddr, stop: tokio::time::Instant) -> (usize, Vec<String>) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let (mut ok, mut bad) = (0, Vec::new());
    while tokio::time::Instant::now() < stop {
        let req = http::Request::get("/").header("host", "t").body(Full::new(Bytes::new())).unwrap();
        match tx.send_request(req).await {
            Ok(r) => {
                let r = collect(r).await;
                match r.status {
                    200 => ok += 1,
                    s => bad.push(format!("{s} {:?}", r.headers.get("x-sluice-error"))),
                }
            }
            Err(e) => {
                bad.push(format!("connection: {e}"));
                break;
            }
        }
    }
    (ok, bad)
}

/// Eight keep-alive clients for `run`; one of three backends killed after a third of it.
async fn kill_under_load(run: Duration) -> (usize, Vec<String>) {
    let mut bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let subs: Vec<_> = ["a", "b", "c"].iter().zip(&bs).map(|(n, b)| (*n, b.addr)).collect();
    let h = proxy(CONFIG, &subs);
    let addr = h.addr("web").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // two health rounds: all up
    let stop = tokio::time::Instant::now() + run;
    let clients: Vec<_> = (0..8).map(|_| tokio::spawn(client(addr, stop))).collect();
    tokio::time::sleep(run / 3).await;
    // Kept until the clients are done: a dropped Backend stops serving.
    let _bs = tokio::task::spawn_blocking(move || {
        bs[1].kill();
        bs
    })
    .await
    .unwrap();
    let (mut ok, mut bad) = (0, Vec::new());
    for c in clients {
        let (o, b) = c.await.unwrap();
        ok += o;
        bad.extend(b);
    }
    stop_proxy(h);
    (ok, bad)
}

fn stop_proxy(h: sluice_control::ServerHandle) {
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_under_keepalive_load_costs_no_client_an_error() {
    let (ok, bad) = kill_under_load(Duration::from_millis(900)).await;
    assert!(bad.is_empty(), "{} errors in {} requests: {bad:?}", bad.len(), ok + bad.len());
    assert!(ok > 100, "only {ok} requests answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: twenty rounds of the kill scenario (issue 19's proof)"]
async fn twenty_kills_under_keepalive_load_cost_no_client_an_error() {
    let (mut total, mut errors) = (0, Vec::new());
    for round in 0..20 {
        let (ok, bad) = kill_under_load(Duration::from_millis(1500)).await;
        eprintln!("round {round}: {ok} answered, {} errors {bad:?}", bad.len());
        total += ok + bad.len();
        errors.extend(bad);
    }
    eprintln!("twenty rounds: {total} requests, {} errors", errors.len());
    assert!(errors.is_empty(), "{} errors in {total} requests: {errors:?}", errors.len());
}
