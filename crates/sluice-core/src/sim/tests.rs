//! The simulation is deterministic and reproduces the known ordering of tail latencies.

use super::*;

fn small() -> Scenario {
    Scenario { requests: 60_000, ..Scenario::default_cluster() }
}

#[test]
fn same_seed_same_result() {
    let sc = Scenario { requests: 5_000, ..Scenario::default_cluster() };
    assert_eq!(run(Balance::P2c, &sc, 7), run(Balance::P2c, &sc, 7));
    assert_ne!(run(Balance::P2c, &sc, 7).latencies_ms, run(Balance::P2c, &sc, 8).latencies_ms);
}

/// Linkerd's "Beyond Round Robin" setup: one slow endpoint, no flaky one.
fn one_slow() -> Scenario {
    let mut sc = small();
    sc.endpoints[1] = EndpointSpec { name: "e1".into(), ..sc.endpoints[2].clone() };
    sc
}

#[test]
fn round_robin_hurts_p95_least_loaded_p99_peak_ewma_only_the_far_tail() {
    let sc = one_slow();
    let rr = run(Balance::RoundRobin, &sc, 1);
    let lr = run(Balance::LeastRequest, &sc, 1);
    let ewma = run(Balance::PeakEwma, &sc, 1);
    // The slow endpoint answers in ~100 ms, the others in ~10 ms.
    assert!(rr.quantile(0.95) > 50.0, "round robin p95 {}", rr.quantile(0.95));
    assert!(lr.quantile(0.95) < 30.0, "least_request p95 {}", lr.quantile(0.95));
    assert!(lr.quantile(0.99) > 50.0, "least_request p99 {}", lr.quantile(0.99));
    assert!(ewma.quantile(0.99) < 30.0, "peak_ewma p99 {}", ewma.quantile(0.99));
    assert!(ewma.quantile(0.999) < rr.quantile(0.999), "peak_ewma's far tail beats round robin's");
    assert!(ewma.shares[0] < lr.shares[0], "peak_ewma sends less to the slow endpoint");
}

#[test]
fn peak_ewma_does_not_reward_fast_failures() {
    let sc = small();
    let lr = run(Balance::LeastRequest, &sc, 2);
    let ewma = run(Balance::PeakEwma, &sc, 2);
    assert!(ewma.error_rate() < lr.error_rate(), "ewma {} vs least_request {}", ewma.error_rate(), lr.error_rate());
}

#[test]
fn report_has_a_row_per_balancer() {
    let sc = Scenario { requests: 2_000, ..Scenario::default_cluster() };
    let t = report(&sc, 1);
    assert_eq!(t.lines().count(), 2 + Balance::ALL.len());
    assert!(t.contains("| peak_ewma |") && t.contains("slow / flaky"));
}
