//! Unit tests of `metrics.rs`.

use super::*;

#[test]
fn handles_survive_by_name() {
    let s = Store::default();
    assert!(Arc::ptr_eq(&s.cluster("a"), &s.cluster("a")));
    assert!(!Arc::ptr_eq(&s.cluster("a"), &s.cluster("b")));
}

#[test]
fn histogram_buckets_are_cumulative() {
    let h = Hist::default();
    h.observe_ns(2_000_000);
    h.observe_ns(200_000_000);
    let b = h.cumulative();
    assert_eq!(b.iter().find(|(le, _)| *le == 0.0025).map(|x| x.1), Some(1));
    assert_eq!(b.last().map(|x| x.1), Some(2));
    assert!((h.sum_secs() - 0.202).abs() < 1e-9);
}
