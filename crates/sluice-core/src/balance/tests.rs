//! Distribution tests for the balancers, on seeded randomness.

use super::*;
use crate::endpoint::Health;
use rand::{rngs::SmallRng, Rng, SeedableRng};

fn eps(weights: &[u32]) -> Vec<Arc<EndpointState>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Arc::new(EndpointState::new(format!("127.0.0.1:{}", 1000 + i).parse().unwrap(), w, false)))
        .collect()
}

fn counts(b: &Balancer, n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut c = vec![0; b.endpoints().len()];
    for _ in 0..n {
        let ctx = PickCtx { r1: rng.gen(), r2: rng.gen(), ..Default::default() };
        c[b.pick(&ctx).unwrap()] += 1;
    }
    c
}

#[test]
fn weighted_round_robin_is_exact_over_a_period() {
    let b = Balancer::build(Balance::RoundRobin, eps(&[3, 1]));
    assert_eq!(counts(&b, 400, 1), vec![300, 100]);
}

#[test]
fn random_follows_weights() {
    let b = Balancer::build(Balance::Random, eps(&[1, 3]));
    let c = counts(&b, 40_000, 2);
    let share = c[1] as f64 / 40_000.0;
    assert!((share - 0.75).abs() < 0.02, "{c:?}");
}

#[test]
fn every_kind_skips_unavailable_endpoints() {
    for kind in [Balance::RoundRobin, Balance::Random, Balance::LeastRequest, Balance::P2c] {
        let e = eps(&[1, 1, 1]);
        e[0].set_health(Health::Unhealthy);
        e[2].set_health(Health::Draining);
        let b = Balancer::build(kind, e);
        let c = counts(&b, 300, 3);
        assert_eq!(c, vec![0, 300, 0], "{kind:?}");
    }
}

#[test]
fn backups_serve_only_when_primaries_are_down() {
    let mut e = eps(&[1, 1]);
    e[1] = Arc::new(EndpointState::new("127.0.0.1:2000".parse().unwrap(), 1, true));
    let b = Balancer::build(Balance::RoundRobin, e.clone());
    assert_eq!(counts(&b, 10, 4), vec![10, 0]);
    e[0].set_health(Health::Unhealthy);
    assert_eq!(counts(&b, 10, 4), vec![0, 10]);
    e[1].set_health(Health::Unhealthy);
    assert_eq!(b.pick(&PickCtx::default()), Some(0), "panic mode: all down means use the primaries");
    e[0].set_health(Health::Draining);
    e[1].set_health(Health::Draining);
    assert_eq!(b.pick(&PickCtx::default()), None, "draining is never overridden");
}

#[test]
fn least_request_prefers_idle_endpoint() {
    let e = eps(&[1, 1, 1]);
    let _g1 = e[0].start_request();
    let _g2 = e[2].start_request();
    let b = Balancer::build(Balance::LeastRequest, e);
    assert_eq!(counts(&b, 50, 5), vec![0, 50, 0]);
}

#[test]
fn p2c_never_picks_the_most_loaded_of_three() {
    let e = eps(&[1, 1, 1]);
    let _g: Vec<_> = (0..5).map(|_| e[1].start_request()).collect();
    let b = Balancer::build(Balance::P2c, e);
    let c = counts(&b, 3000, 6);
    assert_eq!(c[1], 0, "{c:?}");
    assert!(c[0] > 1000 && c[2] > 1000, "{c:?}");
}

#[test]
fn names_round_trip() {
    for &b in Balance::ALL {
        assert_eq!(Balance::parse(b.name()), Some(b));
    }
    assert_eq!(Balance::parse("fastest"), None);
}

#[test]
fn least_conn_and_peak_ewma_avoid_the_busy_or_slow_endpoint() {
    let e = eps(&[1, 1]);
    let _busy: Vec<_> = (0..3).map(|_| e[0].start_request()).collect();
    assert_eq!(counts(&Balancer::build(Balance::LeastConn, e.clone()), 100, 7), vec![0, 100]);
    drop(_busy);
    let p = crate::ewma::EwmaParams::default();
    e[0].ewma.observe(40e6, false, 0, &p);
    e[1].ewma.observe(2e6, false, 0, &p);
    let c = counts(&Balancer::build(Balance::PeakEwma, e), 1000, 8);
    assert_eq!(c, vec![0, 1000], "two endpoints: p2c always compares both");
}

#[test]
fn least_request_on_a_large_cluster_still_avoids_loaded_endpoints() {
    let e = eps(&[1; 100]);
    let _busy: Vec<_> = (0..50).flat_map(|i| (0..3).map(move |_| i)).map(|i| e[i].start_request()).collect();
    let b = Balancer::build(Balance::LeastRequest, e);
    let c = counts(&b, 2000, 9);
    let to_busy: usize = c[..50].iter().sum();
    // Best of 8 samples: all 8 busy has probability 2^-8.
    assert!(to_busy < 40, "{to_busy} of 2000 went to loaded endpoints");
}

#[test]
fn a_retry_pick_avoids_every_endpoint_already_tried_when_it_can() {
    let mut rng = SmallRng::seed_from_u64(7);
    for kind in Balance::ALL.iter().copied() {
        let b = Balancer::build(kind, eps(&[1, 1, 1, 1]));
        let tried = [b.endpoints()[0].addr, b.endpoints()[2].addr];
        for _ in 0..2_000 {
            let ctx = PickCtx { r1: rng.gen(), r2: rng.gen(), hash: Some(rng.gen()), now_ns: 0 };
            let i = b.pick_avoiding(&ctx, |e| tried.contains(&e.addr)).unwrap();
            assert!(i == 1 || i == 3, "{kind:?} picked {i}, already tried");
        }
    }
}

#[test]
fn a_retry_pick_falls_back_to_a_tried_endpoint_when_nothing_else_is_left() {
    let b = Balancer::build(Balance::P2c, eps(&[1, 1]));
    let ctx = PickCtx { r1: 1, r2: 2, ..Default::default() };
    assert!(b.pick_avoiding(&ctx, |_| true).is_some(), "a cluster of tried endpoints is tried again");
    b.endpoints()[1].set_health(Health::Unhealthy);
    let i = b.pick_avoiding(&ctx, |e| e.addr == b.endpoints()[0].addr).unwrap();
    assert_eq!(i, 0, "an unhealthy endpoint is not a better retry than the tried one");
}
