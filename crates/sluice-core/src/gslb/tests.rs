//! Each policy as a pure function: health, priority, region fallback, latency order,
//! fail-open; weighted shares as a property over seeded random numbers; region lookup.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};

use super::regions::RegionTable;
use super::*;

fn t(healthy: bool, region: Option<u16>, weight: u32) -> TargetView {
    TargetView { healthy, region, weight, priority: 0, latency_ns: None }
}

fn picks(policy: Policy, ts: &[TargetView], client: Client<'_>) -> Vec<usize> {
    let a = answer(policy, ts, client, 7);
    assert!(!a.fail_open);
    a.picks
}

#[test]
fn failover_answers_the_first_healthy_in_order() {
    let ts = [t(false, None, 1), t(true, None, 1), t(true, None, 1)];
    assert_eq!(picks(Policy::Failover, &ts, Client::default()), [1]);
    let ts = [t(true, None, 1), t(true, None, 1)];
    assert_eq!(picks(Policy::Failover, &ts, Client::default()), [0]);
}

#[test]
fn no_healthy_target_answers_all_and_says_it_failed_open() {
    let ts = [t(false, Some(0), 1), t(false, Some(1), 1)];
    for p in [Policy::Weighted, Policy::Failover, Policy::Geo, Policy::Latency, Policy::AllHealthy] {
        assert_eq!(answer(p, &ts, Client::default(), 3), Answer { picks: vec![0, 1], fail_open: true });
    }
}

#[test]
fn a_worse_priority_is_answered_only_when_the_better_one_is_down() {
    let mut ts = [t(true, None, 1), t(true, None, 1), t(true, None, 1)];
    ts[0].priority = 1;
    assert_eq!(picks(Policy::AllHealthy, &ts, Client::default()), [1, 2]);
    ts[1].healthy = false;
    ts[2].healthy = false;
    assert_eq!(picks(Policy::AllHealthy, &ts, Client::default()), [0]);
}

#[test]
fn geo_answers_the_clients_region_then_the_nearest_then_all() {
    let ts = [t(true, Some(0), 1), t(true, Some(0), 1), t(true, Some(1), 1), t(true, Some(2), 1)];
    let apac = Client { region: Some(0), nearest: &[2, 1] };
    assert_eq!(picks(Policy::Geo, &ts, apac), [0, 1]);
    let mut down = ts;
    down[0].healthy = false;
    down[1].healthy = false;
    assert_eq!(picks(Policy::Geo, &down, apac), [3], "region 2 is nearer than 1 for this client");
    assert_eq!(picks(Policy::Geo, &ts, Client { region: None, nearest: &[] }), [0, 1, 2, 3]);
    let unknown = Client { region: Some(9), nearest: &[] };
    assert_eq!(picks(Policy::Geo, &down, unknown), [2, 3]);
}

#[test]
fn latency_answers_the_fastest_measured_target() {
    let mut ts = [t(true, None, 1), t(true, None, 1), t(true, None, 1)];
    assert_eq!(picks(Policy::Latency, &ts, Client::default()), [0], "nothing measured: list order");
    ts[1].latency_ns = Some(30_000_000);
    ts[2].latency_ns = Some(8_000_000);
    assert_eq!(picks(Policy::Latency, &ts, Client::default()), [2]);
    ts[2].healthy = false;
    assert_eq!(picks(Policy::Latency, &ts, Client::default()), [1]);
}

#[test]
fn weighted_never_answers_an_unhealthy_or_zero_weight_target() {
    let ts = [t(false, None, 100), t(true, None, 0), t(true, None, 5)];
    for r in 0..1000 {
        assert_eq!(answer(Policy::Weighted, &ts, Client::default(), r).picks, [2]);
    }
}

proptest! {
    /// Over many answers each healthy target's share is its weight's share (±3 points).
    #[test]
    fn weighted_shares_follow_the_weights(ws in prop::collection::vec(1u32..20, 1..6), seed in any::<u64>()) {
        let ts: Vec<TargetView> = ws.iter().map(|&w| t(true, None, w)).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = 20_000;
        let mut got = vec![0u32; ts.len()];
        for _ in 0..n {
            got[answer(Policy::Weighted, &ts, Client::default(), rng.gen::<u64>()).picks[0]] += 1;
        }
        let total: u32 = ws.iter().sum();
        for (i, &w) in ws.iter().enumerate() {
            let want = f64::from(w) / f64::from(total);
            let share = f64::from(got[i]) / f64::from(n);
            prop_assert!((share - want).abs() < 0.03, "target {i}: {share} vs {want}");
        }
    }
}

fn table() -> RegionTable {
    let c = |s: &str| s.parse().unwrap();
    RegionTable::new(vec![
        ("apac".into(), vec![c("203.0.113.0/24"), c("10.0.0.0/8")]),
        ("eu".into(), vec![c("198.51.100.0/24"), c("10.9.0.0/16"), c("2001:db8::/32")]),
    ])
}

#[test]
fn regions_match_the_longest_prefix_and_scope_safely() {
    let r = table();
    let ip = |s: &str| s.parse().unwrap();
    assert_eq!(r.place(ip("203.0.113.7"), 32).region, Some(0));
    assert_eq!(r.place(ip("203.0.113.0"), 24).scope, 24);
    assert_eq!(r.place(ip("10.9.4.0"), 24).region, Some(1), "the /16 inside the /8 wins");
    let wide = r.place(ip("10.1.0.0"), 24);
    assert_eq!((wide.region, wide.scope), (Some(0), 24), "the /8 holds an eu /16: scope stays the client's");
    assert_eq!(r.place(ip("2001:db8::1"), 56).region, Some(1));
    assert_eq!(r.place(ip("192.0.2.1"), 24), regions::Placed { region: None, scope: 24 });
    assert_eq!(r.place(ip("10.9.0.0"), 8).region, Some(0), "a /8 subnet cannot be told to be in the /16");
    assert_eq!((r.index("eu"), r.name(0)), (Some(1), "apac"));
}
