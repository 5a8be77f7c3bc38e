//! Traffic policy: local and shared rate limits (429 + Retry-After, store fallback) and
//! shadow mirroring.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn rate_limit_admits_the_burst_then_429_with_retry_after() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 2\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/login\"\ncluster = \"a\"\nrate_limit = { key = \"source_ip\", rate = \"1/m\", burst = 3 }\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"header:x-api-key\", rate = \"1/m\", burst = 1 }\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let statuses: Vec<u16> = futures_util::future::join_all((0..5).map(|_| get(addr, "/login", &[])))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "exactly the burst passes: {statuses:?}");
    let r = get(addr, "/login", &[]).await;
    assert_eq!((r.status, r.headers["x-sluice-error"].to_str().unwrap()), (429, "rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(get(addr, "/x", &[("x-api-key", "k1")]).await.status, 200);
    assert_eq!(get(addr, "/x", &[("x-api-key", "k1")]).await.status, 429);
    assert_eq!(get(addr, "/x", &[("x-api-key", "k2")]).await.status, 200, "another key, another bucket");
    assert_eq!(b.hits(), 5);
    stop(h);
}

#[tokio::test]
async fn mirror_copies_requests_and_a_slow_shadow_costs_the_client_nothing() {
    let main = Backend::start("main");
    let shadow = Backend::start_with("shadow", Duration::from_secs(1));
    let h = proxy(
        "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"main\"\nmirror = { cluster = \"shadow\", percent = 100, max_body_bytes = 2000 }\n[clusters.main]\nendpoints = [\"{m}\"]\n[clusters.shadow]\nendpoints = [\"{s}\"]\n",
        &[("m", main.addr), ("s", shadow.addr)],
    );
    let addr = h.addr("web").unwrap();
    let t = std::time::Instant::now();
    for i in 0..5 {
        let r = get(addr, &format!("/item/{i}"), &[]).await;
        assert_eq!((r.status, r.backend()), (200, "main"));
    }
    assert!(t.elapsed() < Duration::from_millis(700), "the client never waits for the shadow: {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shadow.hits(), 5, "every request was copied");
    let post = |n: usize| {
        let body = http_body_util::Full::new(bytes::Bytes::from(vec![b'x'; n]));
        http::Request::post("/item").header("host", "t").body(body).unwrap()
    };
    let r = send(addr, post(1000)).await;
    assert_eq!((r.status, r.headers["x-body-len"].to_str().unwrap()), (200, "1000"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((shadow.hits(), shadow.bytes_in.load(SeqCst)), (6, 1000), "the body was copied whole");
    let r = send(addr, post(3000)).await;
    assert_eq!(
        (r.status, r.headers["x-body-len"].to_str().unwrap()),
        (200, "3000"),
        "the primary gets a body over the mirror limit"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(shadow.hits(), 6, "a body over max_body_bytes drops the copy");
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_route_mirror_dropped_total{listener=\"web\",route=\"0\"} 1"), "{m}");
    stop(h);
}

#[tokio::test]
async fn rate_limit_source_ip_follows_a_trusted_x_forwarded_for() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"source_ip\", rate = \"1/m\", burst = 1 }\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let from = |c: &'static str| [("x-forwarded-for", c)];
    assert_eq!(get(addr, "/", &from("198.51.100.1, 10.0.0.5")).await.status, 200);
    assert_eq!(
        get(addr, "/", &from("198.51.100.1, 10.0.0.9")).await.status,
        429,
        "same client behind other trusted hops"
    );
    assert_eq!(get(addr, "/", &from("198.51.100.2")).await.status, 200, "another client, another bucket");
    stop(h);
}

#[tokio::test]
async fn an_unreachable_store_falls_back_to_the_local_bucket_and_counts_it() {
    let b = Backend::start("a");
    let cfg = "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/open\"\ncluster = \"a\"\nrate_limit = { key = \"route\", rate = \"1/m\", burst = 1, store = \"redis://{r}\", store_fallback = \"allow\" }\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"route\", rate = \"1/m\", burst = 3, store = \"redis://{r}\" }\n[clusters.a]\nendpoints = [\"{a}\"]\n";
    let h = proxy(cfg, &[("a", b.addr), ("r", closed_port())]);
    let addr = h.addr("web").unwrap();
    let codes: Vec<u16> =
        futures_util::future::join_all((0..5).map(|_| get(addr, "/x", &[]))).await.iter().map(|r| r.status).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 3, "the local bucket's burst: {codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 2, "{codes:?}");
    for _ in 0..5 {
        assert_eq!(get(addr, "/open", &[]).await.status, 200, "store_fallback = allow admits all");
    }
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_route_rate_limit_store_errors_total{listener=\"web\",route=\"1\"} 5"), "{m}");
    assert!(m.contains("sluice_route_rate_limited_total{listener=\"web\",route=\"1\"} 2"), "{m}");
    stop(h);
}

/// Keep-alive clients hammer a blue/green split while the admin API flips it back and forth:
/// no request fails, a slow request already on blue finishes there, and after the last
/// switch only green is picked.
#[tokio::test]
async fn blue_green_switches_under_load_fail_no_request() {
    use hyper_util::rt::TokioIo;
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let h = proxy(
        "workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\nsplit = [{ cluster = \"blue\", weight = 100 }, { cluster = \"green\", weight = 0 }]\n[clusters.blue]\nendpoints = [\"{b}\"]\n[clusters.green]\nendpoints = [\"{g}\"]\n",
        &[("b", blue.addr), ("g", green.addr)],
    );
    let (admin, web) = (h.admin_addr().unwrap(), h.addr("web").unwrap());
    let stop_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop_flag = stop_flag.clone();
            tokio::spawn(async move {
                let s = tokio::net::TcpStream::connect(web).await.unwrap();
                let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await.unwrap();
                tokio::spawn(conn);
                let (mut ok, mut failed) = (0, 0);
                while !stop_flag.load(SeqCst) {
                    let r = http::Request::get("/")
                        .header("host", "t")
                        .body(http_body_util::Full::new(bytes::Bytes::new()));
                    match tx.send_request(r.unwrap()).await {
                        Ok(resp) if resp.status() == 200 => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let slow = tokio::spawn(get(web, "/slow/400", &[]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let flip = |body: &'static str| {
        let r = http::Request::put("/listeners/web/routes/0/split").header("host", "admin");
        send(admin, r.body(http_body_util::Full::new(bytes::Bytes::from(body))).unwrap())
    };
    for i in 0..10 {
        let body = if i % 2 == 0 { "blue=0,green=100" } else { "blue=100,green=0" };
        assert_eq!(flip(body).await.status, 200);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(flip("blue=0,green=100").await.status, 200);
    let slow = slow.await.unwrap();
    assert_eq!((slow.status, slow.backend()), (200, "blue"), "a request in flight finishes where it started");
    stop_flag.store(true, SeqCst);
    let mut total = 0;
    for c in clients {
        let (ok, failed) = c.await.unwrap();
        assert_eq!(failed, 0, "no request fails during the switches");
        total += ok;
    }
    assert!(total > 100, "the clients kept sending: {total}");
    let before = blue.hits();
    assert_eq!(tally(web, 20, &[]).await.get("green"), Some(&20));
    assert_eq!(blue.hits(), before, "after the final switch blue gets nothing");
    stop(h);
}

#[tokio::test]
async fn a_listener_rate_limit_covers_every_route() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\nrate_limit = { key = \"source_ip\", rate = \"1/m\", burst = 3 }\n[[listeners.web.routes]]\npath = \"/ping\"\nrespond = { status = 200, body = \"pong\" }\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let mut codes = Vec::new();
    for path in ["/x", "/ping", "/y", "/ping", "/z"] {
        codes.push(get(addr, path, &[]).await.status);
    }
    assert_eq!(codes, [200, 200, 200, 429, 429], "one bucket per client for the whole listener");
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_listener_rate_limited_total{listener=\"web\"} 2"), "{m}");
    assert_eq!(b.hits(), 2);
    stop(h);
}
