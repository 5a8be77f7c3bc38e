//! Retries, the pure part: the retry budget (at most a share of active requests may be
//! retries, with a floor — Envoy's budget: 20 %, min 3 — so retries cannot multiply an
//! outage) and exponential backoff with full jitter.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

/// Active requests and retries of one cluster, shared by all workers.
#[derive(Debug, Default)]
pub struct RetryBudget {
    active: AtomicU32,
    retries: AtomicU32,
}

/// Marks a request or retry active until dropped.
#[derive(Debug)]
pub struct Active<'a>(&'a AtomicU32);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl RetryBudget {
    pub fn request(&self) -> Active<'_> {
        self.active.fetch_add(1, Relaxed);
        Active(&self.active)
    }

    /// A retry slot if the budget allows one: retries in flight stay below
    /// max(`min`, `percent` of active requests), and below `cap` when given
    /// (the `max_retries` circuit breaker).
    pub fn try_retry(&self, percent: u32, min: u32, cap: Option<u32>) -> Option<Active<'_>> {
        let allowed = (self.active.load(Relaxed) * percent / 100).max(min).min(cap.unwrap_or(u32::MAX));
        let r = self.retries.fetch_add(1, Relaxed);
        if r < allowed {
            Some(Active(&self.retries))
        } else {
            self.retries.fetch_sub(1, Relaxed);
            None
        }
    }
}

/// Backoff before retry number `attempt` (1-based): uniform in [0, min(max, base × 2^(attempt-1))].
pub fn backoff(base: Duration, max: Duration, attempt: u32, r: u64) -> Duration {
    let cap = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(max);
    let ns = cap.as_nanos() as u64;
    Duration::from_nanos(if ns == 0 { 0 } else { r % (ns + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_a_share_of_active_with_a_floor() {
        let b = RetryBudget::default();
        let _reqs: Vec<_> = (0..10).map(|_| b.request()).collect();
        let held: Vec<_> = (0..3).filter_map(|_| b.try_retry(20, 3, None)).collect();
        assert_eq!(held.len(), 3, "floor of 3 above 20 % of 10");
        assert!(b.try_retry(20, 3, None).is_none());
        drop(held);
        assert!(b.try_retry(20, 3, None).is_some(), "slots come back");
        let _more: Vec<_> = (0..40).map(|_| b.request()).collect();
        let big: Vec<_> = (0..20).filter_map(|_| b.try_retry(20, 3, None)).collect();
        assert_eq!(big.len(), 10, "20 % of 50 active");
        drop(big);
        let capped: Vec<_> = (0..20).filter_map(|_| b.try_retry(20, 3, Some(2))).collect();
        assert_eq!(capped.len(), 2, "max_retries caps the budget");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(25);
        let max = Duration::from_millis(250);
        for r in [0u64, 1, u64::MAX / 3, u64::MAX] {
            assert!(backoff(base, max, 1, r) <= base);
            assert!(backoff(base, max, 3, r) <= Duration::from_millis(100));
            assert!(backoff(base, max, 10, r) <= max);
        }
        let spread: std::collections::BTreeSet<_> =
            (0..100u64).map(|r| backoff(base, max, 2, crate::hash::rehash(r, 3)).as_millis()).collect();
        assert!(spread.len() > 20, "full jitter spreads retries");
    }
}
