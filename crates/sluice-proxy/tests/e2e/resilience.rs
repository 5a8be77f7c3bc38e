//! Resilience end to end: retries across a killed backend, active health checks taking
//! an endpoint out and back, Maglev keys staying put, 5xx outlier ejection, the bulkhead
//! shedding with fast 503s, and backups taking over.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::*;

fn config(cluster_lines: &str, endpoints: &str) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\n{cluster_lines}\nendpoints = {endpoints}\n")
}

const THREE: &str = "[\"{a}\", \"{b}\", \"{c}\"]";

fn subs(bs: &[Backend]) -> Vec<(&'static str, std::net::SocketAddr)> {
    ["a", "b", "c"].iter().zip(bs).map(|(n, b)| (*n, b.addr)).collect()
}

#[tokio::test]
async fn killing_a_backend_under_load_costs_no_client_errors_with_retries() {
    let mut bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(&config("retries = { attempts = 2, on = [\"connect-failure\", \"reset\"] }", THREE), &subs(&bs));
    let addr = h.addr("web").unwrap();
    let load = tokio::spawn(async move {
        let clients = (0..3).map(|_| tokio::spawn(async move { tally(addr, 80, &[]).await }));
        let mut total = HashMap::new();
        for c in futures_util::future::join_all(clients).await {
            for (k, v) in c.unwrap() {
                *total.entry(k).or_insert(0) += v;
            }
        }
        total
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    bs[1].kill();
    let total = load.await.unwrap();
    assert!(total.keys().all(|k| !k.starts_with("status")), "client errors: {total:?}");
    assert_eq!(total.values().sum::<usize>(), 240);
    stop(h);
}

#[tokio::test]
async fn failing_health_check_takes_an_endpoint_out_and_rise_brings_it_back() {
    let bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(&config("health = { kind = \"http\", path = \"/healthz\", interval = \"100ms\", timeout = \"80ms\", rise = 2, fall = 2 }", THREE), &subs(&bs));
    let addr = h.addr("web").unwrap();
    bs[0].set_healthy(false);
    // interval × fall, plus the first check's random offset and slack for a busy machine.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let t = tally(addr, 30, &[]).await;
    assert_eq!(t.get("a"), None, "unhealthy endpoint still served: {t:?}");
    assert_eq!(h.snapshot().clusters["c"].balancer.endpoints()[0].health().as_str(), "unhealthy");
    bs[0].set_healthy(true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let t = tally(addr, 30, &[]).await;
    assert_eq!(t.get("a"), Some(&10), "endpoint should be back after rise: {t:?}");
    stop(h);
}

#[tokio::test]
async fn maglev_keys_on_healthy_endpoints_do_not_move() {
    let bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let lines = "balance = \"maglev\"\nhash_key = \"header:x-user\"\nhealth = { kind = \"http\", path = \"/healthz\", interval = \"100ms\", timeout = \"80ms\", rise = 1, fall = 1 }";
    let h = proxy(&config(lines, THREE), &subs(&bs));
    let addr = h.addr("web").unwrap();
    let users: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    let mut before = HashMap::new();
    for u in &users {
        before.insert(u.clone(), get(addr, "/", &[("x-user", u)]).await.backend().to_string());
    }
    bs[2].set_healthy(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for u in &users {
        let now = get(addr, "/", &[("x-user", u)]).await.backend().to_string();
        if before[u] == "c" {
            assert_ne!(now, "c", "{u} still on the unhealthy endpoint");
        } else {
            assert_eq!(now, before[u], "{u} moved although its endpoint is healthy");
        }
    }
    stop(h);
}

#[tokio::test]
async fn a_5xx_only_backend_is_ejected_after_the_configured_count() {
    let bad = Backend::start_mode("bad", Mode { always_500: true, ..Mode::default() });
    let good = Backend::start("good");
    let h = proxy(
        &config(
            "outlier = { consecutive_5xx = 3, base_ejection_time = \"30s\", max_ejection_percent = 50 }",
            "[\"{a}\", \"{b}\"]",
        ),
        &[("a", bad.addr), ("b", good.addr)],
    );
    let t = tally(h.addr("web").unwrap(), 30, &[]).await;
    assert_eq!(bad.hits(), 3, "ejected after exactly 3 consecutive 5xx: {t:?}");
    assert_eq!(t.get("good"), Some(&27));
    assert_eq!(h.snapshot().clusters["c"].balancer.endpoints()[0].health().as_str(), "ejected");
    stop(h);
}

#[tokio::test]
async fn over_max_requests_sheds_with_fast_503s() {
    let slow = Backend::start_with("slow", Duration::from_millis(500));
    let h = proxy(&config("limits = { max_requests = 2, max_pending = 0 }", "[\"{a}\"]"), &[("a", slow.addr)]);
    let addr = h.addr("web").unwrap();
    let reqs = (0..5).map(|_| {
        tokio::spawn(async move {
            let t = Instant::now();
            let r = get(addr, "/", &[]).await;
            (r.status, r.headers.get("x-sluice-error").map(|v| v.to_str().unwrap().to_string()), t.elapsed())
        })
    });
    let mut ok = 0;
    let mut shed = 0;
    for r in futures_util::future::join_all(reqs).await {
        let (status, err, took) = r.unwrap();
        match status {
            200 => ok += 1,
            503 => {
                assert_eq!(err.as_deref(), Some("circuit_breaker"));
                assert!(took < Duration::from_millis(300), "a shed must be fast: {took:?}");
                shed += 1;
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!((ok, shed), (2, 3));
    stop(h);
}

#[tokio::test]
async fn backups_take_over_when_all_primaries_are_down() {
    let mut primary = Backend::start("primary");
    let backup = Backend::start("backup");
    let h = proxy(
        &config(
            "health = { kind = \"tcp\", interval = \"100ms\", timeout = \"80ms\", rise = 1, fall = 1 }",
            "[\"{a}\", { addr = \"{b}\", backup = true }]",
        ),
        &[("a", primary.addr), ("b", backup.addr)],
    );
    let addr = h.addr("web").unwrap();
    assert_eq!(tally(addr, 10, &[]).await.get("primary"), Some(&10));
    primary.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = tally(addr, 10, &[]).await;
    assert_eq!(t.get("backup"), Some(&10), "{t:?}");
    stop(h);
}

#[tokio::test]
async fn error_rate_breaker_opens_sheds_and_closes_after_good_probes() {
    let b = Backend::start_mode("b", Mode { errors_follow_health: true, ..Mode::default() });
    let lines = "breaker = { error_rate = 0.5, min_requests = 4, open_for = \"300ms\", half_open_probes = 2 }";
    let h = proxy(&config(lines, "[\"{a}\"]"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    b.set_healthy(false);
    for _ in 0..4 {
        assert_eq!(get(addr, "/", &[]).await.status, 500);
    }
    let shed = get(addr, "/", &[]).await;
    assert_eq!((shed.status, shed.headers["x-sluice-error"].to_str().unwrap()), (503, "breaker_open"));
    assert_eq!(b.hits(), 4, "an open breaker sends nothing upstream");
    b.set_healthy(true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = tally(addr, 10, &[]).await;
    assert_eq!(t.get("b"), Some(&10), "two good probes close the breaker: {t:?}");
    stop(h);
}

#[tokio::test]
async fn a_slow_endpoint_is_ejected_when_its_p95_passes_the_threshold() {
    let fast = Backend::start("fast");
    let slow = Backend::start_with("slow", Duration::from_millis(150));
    let lines =
        "outlier = { slow_p95 = \"100ms\", slow_min_requests = 2, interval = \"300ms\", max_ejection_percent = 50 }";
    let h = proxy(&config(lines, "[\"{a}\", \"{b}\"]"), &[("a", fast.addr), ("b", slow.addr)]);
    let addr = h.addr("web").unwrap();
    let _warm = tally(addr, 20, &[]).await; // ~2 slow answers per interval
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(h.snapshot().clusters["c"].balancer.endpoints()[1].health().as_str(), "ejected");
    let t = tally(addr, 20, &[]).await;
    assert_eq!(t.get("fast"), Some(&20), "{t:?}");
    stop(h);
}

#[tokio::test]
async fn grpc_health_check_follows_serving_status() {
    let bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let lines = "health = { kind = \"grpc\", interval = \"100ms\", timeout = \"80ms\", rise = 1, fall = 1 }";
    let h = proxy(&config(lines, THREE), &subs(&bs));
    let addr = h.addr("web").unwrap();
    bs[1].set_healthy(false);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = tally(addr, 30, &[]).await;
    assert_eq!(t.get("b"), None, "NOT_SERVING endpoint still served: {t:?}");
    bs[1].set_healthy(true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(tally(addr, 30, &[]).await.get("b"), Some(&10));
    stop(h);
}

#[tokio::test]
async fn post_is_retried_only_where_the_route_allows_it() {
    let bad = Backend::start_mode("bad", Mode { always_500: true, ..Mode::default() });
    let good = Backend::start("good");
    let text = "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/safe\"\ncluster = \"c\"\nretry_non_idempotent = true\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\nretries = { attempts = 1, on = [\"5xx\"] }\nendpoints = [\"{a}\", \"{b}\"]\n";
    let h = proxy(text, &[("a", bad.addr), ("b", good.addr)]);
    let addr = h.addr("web").unwrap();
    let post = |path: &str| {
        http::Request::post(path).header("host", "t").body(http_body_util::Full::new(bytes::Bytes::new())).unwrap()
    };
    let mut plain = Vec::new();
    let mut safe = Vec::new();
    for _ in 0..4 {
        plain.push(send(addr, post("/x")).await.status);
        safe.push(send(addr, post("/safe")).await.status);
    }
    assert!(plain.contains(&500), "a POST is not retried by default: {plain:?}");
    assert!(safe.iter().all(|&s| s == 200), "retry_non_idempotent retries it: {safe:?}");
    stop(h);
}

#[tokio::test]
async fn a_draining_endpoint_gets_no_new_requests() {
    let bs = vec![Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(&config("", THREE), &subs(&bs));
    h.snapshot().clusters["c"].balancer.endpoints()[0].set_draining(true);
    let t = tally(h.addr("web").unwrap(), 20, &[]).await;
    assert_eq!(t.get("a"), None, "{t:?}");
    stop(h);
}

#[tokio::test]
async fn max_connections_caps_upstream_connections() {
    let slow = Backend::start_with("slow", Duration::from_millis(300));
    let h = proxy(&config("limits = { max_connections = 1 }", "[\"{a}\"]"), &[("a", slow.addr)]);
    let addr = h.addr("web").unwrap();
    let both = futures_util::future::join(get(addr, "/", &[]), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        get(addr, "/", &[]).await
    });
    let (first, second) = both.await;
    assert_eq!(first.status, 200);
    assert_eq!((second.status, second.headers["x-sluice-error"].to_str().unwrap()), (503, "circuit_breaker"));
    assert_eq!(get(addr, "/", &[]).await.status, 200, "the one connection is reused afterwards");
    assert_eq!(slow.conns(), 1);
    stop(h);
}
