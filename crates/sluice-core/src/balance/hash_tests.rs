//! Hashing balancers: distribution, affinity, minimal disruption (proptest), Maglev balance.

use super::*;
use crate::endpoint::Health;
use crate::hash::hash_key;
use proptest::prelude::*;

fn eps(n: usize) -> Vec<Arc<EndpointState>> {
    (0..n)
        .map(|i| {
            Arc::new(EndpointState::new(format!("10.0.{}.{}:80", i / 250, i % 250 + 1).parse().unwrap(), 1, false))
        })
        .collect()
}

fn pick(b: &Balancer, key: u64) -> usize {
    b.pick(&PickCtx { hash: Some(key), ..Default::default() }).unwrap()
}

#[test]
fn maglev_table_is_balanced_within_one_percent() {
    for n in [3usize, 10, 100, 500] {
        let members: Vec<(String, u32)> = (0..n).map(|i| (format!("ep{i}"), 1)).collect();
        let m = Maglev::build(&members, MAGLEV_TABLE_SIZE);
        let shares = m.shares(n);
        let (lo, hi) = (*shares.iter().min().unwrap() as f64, *shares.iter().max().unwrap() as f64);
        let ideal = MAGLEV_TABLE_SIZE as f64 / n as f64;
        assert!((hi - lo) / ideal <= 0.01, "n={n}: min {lo} max {hi}");
    }
}

#[test]
fn maglev_weights_are_proportional() {
    let members = vec![("a".to_string(), 3), ("b".to_string(), 1)];
    let s = Maglev::build(&members, MAGLEV_TABLE_SIZE).shares(2);
    let share = s[0] as f64 / MAGLEV_TABLE_SIZE as f64;
    assert!((share - 0.75).abs() < 0.01, "{s:?}");
}

#[test]
fn ring_shares_are_roughly_even() {
    let b = Balancer::build(Balance::RingHash, eps(4));
    let mut c = [0usize; 4];
    for k in 0..40_000u64 {
        c[pick(&b, hash_key(&k.to_le_bytes()))] += 1;
    }
    for x in c {
        assert!((8_000..=12_000).contains(&x), "{c:?}");
    }
}

#[test]
fn missing_hash_key_falls_back_to_random_among_available() {
    let e = eps(3);
    e[1].set_health(Health::Unhealthy);
    let b = Balancer::build(Balance::Maglev, e);
    let mut seen = [0usize; 3];
    for r in 0..300u64 {
        seen[b.pick(&PickCtx { r1: r * 7919, r2: r, ..Default::default() }).unwrap()] += 1;
    }
    assert_eq!(seen[1], 0);
    assert!(seen[0] > 50 && seen[2] > 50, "{seen:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn same_key_same_endpoint(keys in proptest::collection::vec(any::<u64>(), 1..50), n in 2usize..20) {
        for kind in [Balance::RingHash, Balance::Maglev] {
            let b = Balancer::build_with(kind, BalanceOptions { maglev_table_size: 4099, ..Default::default() }, eps(n));
            for &k in &keys {
                prop_assert_eq!(pick(&b, k), pick(&b, k));
            }
        }
    }

    #[test]
    fn maglev_unavailable_endpoint_moves_only_its_keys(keys in proptest::collection::vec(any::<u64>(), 200), n in 3usize..30, down in 0usize..30) {
        let down = down % n;
        let e = eps(n);
        let b = Balancer::build_with(Balance::Maglev, BalanceOptions { maglev_table_size: 4099, ..Default::default() }, e.clone());
        let before: Vec<usize> = keys.iter().map(|&k| pick(&b, k)).collect();
        e[down].set_health(Health::Unhealthy);
        for (k, was) in keys.iter().zip(before) {
            let now = pick(&b, *k);
            prop_assert_ne!(now, down);
            if was != down {
                prop_assert_eq!(now, was);
            }
        }
    }

    #[test]
    fn ring_removal_moves_about_one_nth(n in 4usize..16, gone in 0usize..16) {
        let gone = gone % n;
        let all = eps(n);
        let fewer: Vec<_> = all.iter().enumerate().filter(|(i, _)| *i != gone).map(|(_, e)| e.clone()).collect();
        let (a, b) = (Balancer::build(Balance::RingHash, all.clone()), Balancer::build(Balance::RingHash, fewer));
        let total = 4000u64;
        let mut moved = 0;
        for k in 0..total {
            let key = hash_key(&k.to_le_bytes());
            let before = a.endpoints()[pick(&a, key)].addr;
            let after = b.endpoints()[pick(&b, key)].addr;
            if before != after {
                prop_assert_eq!(before, all[gone].addr, "a key moved off a remaining endpoint");
                moved += 1;
            }
        }
        let share = moved as f64 / total as f64;
        prop_assert!(share < 1.6 / n as f64, "moved {} of {} with n={}", moved, total, n);
    }

    #[test]
    fn maglev_rebuild_without_an_endpoint_moves_little_more_than_its_keys(n in 5usize..40, gone in 0usize..40) {
        let gone = gone % n;
        let all = eps(n);
        let fewer: Vec<_> = all.iter().enumerate().filter(|(i, _)| *i != gone).map(|(_, e)| e.clone()).collect();
        let opts = BalanceOptions { maglev_table_size: 65537, ..Default::default() };
        let (a, b) = (Balancer::build_with(Balance::Maglev, opts, all.clone()), Balancer::build_with(Balance::Maglev, opts, fewer));
        let total = 4000u64;
        let moved = (0..total).filter(|k| {
            let key = hash_key(&k.to_le_bytes());
            a.endpoints()[pick(&a, key)].addr != b.endpoints()[pick(&b, key)].addr
        }).count();
        let share = moved as f64 / total as f64;
        prop_assert!(share < 1.0 / n as f64 + 0.03, "moved {} of {} with n={}", moved, total, n);
    }
}
