//! Cluster resilience state across reloads and admin changes (issue 18): an open breaker
//! stays open, and `max_requests` holds while a reload or a weight change lands.

use std::time::Duration;

use crate::support::*;

fn config(lines: &str, a: std::net::SocketAddr) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\n{lines}\nendpoints = [\"{a}\"]\n")
}

fn reload(h: &sluice_control::ServerHandle, text: &str) {
    let cfg = sluice_config::parse(text, "test.toml").unwrap_or_else(|d| panic!("{d}"));
    h.control().apply(cfg).expect("reload");
}

#[tokio::test]
async fn an_open_breaker_stays_open_across_a_reload_and_a_weight_change() {
    let b = Backend::start_mode("b", Mode { always_500: true, ..Mode::default() });
    let text =
        config("breaker = { error_rate = 0.5, min_requests = 4, open_for = \"30s\", half_open_probes = 2 }", b.addr);
    let h = proxy(&text, &[]);
    let addr = h.addr("web").unwrap();
    for _ in 0..4 {
        assert_eq!(get(addr, "/", &[]).await.status, 500);
    }
    let is_open = |r: Resp| (r.status, r.headers.get("x-sluice-error").map(|v| v.to_str().unwrap().to_string()));
    let open = (503, Some("breaker_open".to_string()));
    assert_eq!(is_open(get(addr, "/", &[]).await), open);
    reload(&h, &text.replace("open_for = \"30s\"", "open_for = \"40s\""));
    assert_eq!(is_open(get(addr, "/", &[]).await), open, "after a reload");
    h.control().set_weight("c", b.addr, 5).unwrap();
    assert_eq!(is_open(get(addr, "/", &[]).await), open, "after a weight change");
    assert_eq!(b.hits(), 4, "nothing reached the backend while open");
    stop(h);
}

#[tokio::test]
async fn max_requests_holds_while_a_reload_and_a_weight_change_land() {
    let b = Backend::start_with("b", Duration::from_millis(400));
    let text = config("limits = { max_requests = 3, max_pending = 0 }", b.addr);
    let h = proxy(&text, &[]);
    let addr = h.addr("web").unwrap();
    let burst = || (0..8).map(|_| tokio::spawn(async move { get(addr, "/", &[]).await.status })).collect::<Vec<_>>();
    let first = burst();
    tokio::time::sleep(Duration::from_millis(100)).await;
    reload(&h, &text);
    h.control().set_weight("c", b.addr, 2).unwrap();
    let second = burst();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A reload that also shrinks the limit: the requests in flight keep it until they end.
    reload(&h, &text.replace("max_requests = 3", "max_requests = 2"));
    let third = burst();
    let mut ok = 0;
    for r in futures_util::future::join_all(first.into_iter().chain(second).chain(third)).await {
        ok += usize::from(r.unwrap() == 200);
    }
    assert!(
        b.peak.load(std::sync::atomic::Ordering::SeqCst) <= 3,
        "peak in flight {}",
        b.peak.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(ok >= 3, "{ok} answered");
    let later: Vec<_> = (0..4).map(|_| tokio::spawn(async move { get(addr, "/", &[]).await.status })).collect();
    let later: Vec<u16> = futures_util::future::join_all(later).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(later.iter().filter(|s| **s == 200).count(), 2, "the new limit of 2 applies: {later:?}");
    stop(h);
}
