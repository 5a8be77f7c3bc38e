//! Balancing through the proxy: round-robin shares, smooth 3:1 weights, Maglev affinity by
//! header, sticky cookies, and latency-aware picks (p2c, peak_ewma) steering around a
//! 40 ms backend under concurrency.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::*;

fn cluster_config(balance_lines: &str, endpoints: &str) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\n{balance_lines}\nendpoints = {endpoints}\n")
}

#[tokio::test]
async fn round_robin_shares_are_exact() {
    let bs = [Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(
        &cluster_config("balance = \"round_robin\"", "[\"{a}\", \"{b}\", \"{c}\"]"),
        &[("a", bs[0].addr), ("b", bs[1].addr), ("c", bs[2].addr)],
    );
    let t = tally(h.addr("web").unwrap(), 300, &[]).await;
    assert_eq!((t["a"], t["b"], t["c"]), (100, 100, 100));
    stop(h);
}

#[tokio::test]
async fn weights_three_to_one() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let eps = "[{ addr = \"{a}\", weight = 3 }, { addr = \"{b}\", weight = 1 }]";
    let h = proxy(&cluster_config("", eps), &[("a", a.addr), ("b", b.addr)]);
    let t = tally(h.addr("web").unwrap(), 400, &[]).await;
    assert_eq!((t["a"], t["b"]), (300, 100));
    stop(h);
}

#[tokio::test]
async fn maglev_keeps_each_user_on_one_endpoint() {
    let bs = [Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(
        &cluster_config("balance = \"maglev\"\nhash_key = \"header:x-user\"", "[\"{a}\", \"{b}\", \"{c}\"]"),
        &[("a", bs[0].addr), ("b", bs[1].addr), ("c", bs[2].addr)],
    );
    let addr = h.addr("web").unwrap();
    let mut used = HashMap::new();
    for u in 0..30 {
        let user = format!("user-{u}");
        let t = tally(addr, 4, &[("x-user", &user)]).await;
        assert_eq!(t.len(), 1, "{user} was spread over {t:?}");
        *used.entry(t.into_keys().next().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(used.len(), 3, "30 users should reach all three endpoints: {used:?}");
    stop(h);
}

#[tokio::test]
async fn sticky_cookie_pins_and_cannot_name_an_address() {
    let bs = [Backend::start("a"), Backend::start("b"), Backend::start("c")];
    let h = proxy(
        &cluster_config("sticky = { cookie = \"srv\", ttl = \"1h\" }", "[\"{a}\", \"{b}\", \"{c}\"]"),
        &[("a", bs[0].addr), ("b", bs[1].addr), ("c", bs[2].addr)],
    );
    let addr = h.addr("web").unwrap();
    let first = get(addr, "/", &[]).await;
    let set = first.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("srv=") && set.contains("Max-Age=3600"), "{set}");
    for b in &bs {
        assert!(!set.contains(&b.addr.to_string()), "the token must not reveal an address: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let t = tally(addr, 20, &[("cookie", &cookie)]).await;
    assert_eq!(t.get(first.backend()), Some(&20), "{t:?}");
    let pinned = get(addr, "/", &[("cookie", &cookie)]).await;
    assert!(pinned.headers.get("set-cookie").is_none(), "a valid pin is not re-set");
    let forged = get(addr, "/", &[("cookie", &format!("srv={}", bs[2].addr))]).await;
    assert!(forged.headers.get("set-cookie").is_some(), "an unknown token is re-pinned");
    stop(h);
}

/// Share of requests the slow backend got with `balance`, 16 concurrent clients.
async fn slow_share(balance: &str) -> f64 {
    let fast = Backend::start("fast");
    let slow = Backend::start_with("slow", Duration::from_millis(40));
    let h = proxy(
        &cluster_config(&format!("balance = \"{balance}\""), "[\"{f}\", \"{s}\"]"),
        &[("f", fast.addr), ("s", slow.addr)],
    );
    let addr = h.addr("web").unwrap();
    let clients = (0..16).map(|_| tokio::spawn(async move { tally(addr, 25, &[]).await }));
    let mut total = HashMap::new();
    for c in futures_util::future::join_all(clients).await {
        for (k, v) in c.unwrap() {
            *total.entry(k).or_insert(0) += v;
        }
    }
    stop(h);
    *total.get("slow").unwrap_or(&0) as f64 / 400.0
}

#[tokio::test]
async fn latency_aware_balancers_avoid_the_slow_backend() {
    let rr = slow_share("round_robin").await;
    let p2c = slow_share("p2c").await;
    let ewma = slow_share("peak_ewma").await;
    eprintln!("slow backend share: round_robin {rr:.3}, p2c {p2c:.3}, peak_ewma {ewma:.3}");
    assert!((0.45..=0.55).contains(&rr), "round robin splits evenly: {rr}");
    assert!(p2c < 0.2, "p2c sent {p2c} to the 40 ms backend");
    assert!(ewma < 0.1, "peak_ewma sent {ewma} to the 40 ms backend");
}

#[tokio::test]
async fn sticky_client_re_pins_when_its_endpoint_goes_unhealthy() {
    let bs = [Backend::start("a"), Backend::start("b")];
    let h = proxy(
        &cluster_config("sticky = { cookie = \"srv\" }", "[\"{a}\", \"{b}\"]"),
        &[("a", bs[0].addr), ("b", bs[1].addr)],
    );
    let addr = h.addr("web").unwrap();
    let first = get(addr, "/", &[]).await;
    let cookie = first.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let pinned = first.backend().to_string();
    let snap = h.snapshot();
    let ep = snap.clusters["c"]
        .balancer
        .endpoints()
        .iter()
        .find(|e| e.addr == bs[if pinned == "a" { 0 } else { 1 }].addr)
        .unwrap()
        .clone();
    ep.set_health(sluice_core::Health::Unhealthy);
    let moved = get(addr, "/", &[("cookie", &cookie)]).await;
    assert_ne!(moved.backend(), pinned, "an unhealthy pin must not be honoured");
    let new_cookie = moved.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_ne!(new_cookie, cookie);
    ep.set_health(sluice_core::Health::Healthy);
    assert_eq!(get(addr, "/", &[("cookie", &new_cookie)]).await.backend(), moved.backend(), "the new pin holds");
    stop(h);
}
