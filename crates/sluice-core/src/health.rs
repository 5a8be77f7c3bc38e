//! Active health checking, the pure part: the rise/fall state machine (HAProxy's `rise`
//! and `fall`: so many consecutive results before the verdict flips) and jittered
//! intervals (§16.2.2: checks of many proxies must not synchronize into spikes).

use std::time::Duration;

/// `rise` consecutive passes make an unhealthy endpoint healthy; `fall` consecutive
/// failures make a healthy one unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiseFall {
    pub rise: u32,
    pub fall: u32,
}

/// Consecutive results seen by one endpoint's checker.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    ok: u32,
    failed: u32,
}

impl Streak {
    /// Feeds one result given the current verdict; returns the new verdict if it flips.
    pub fn observe(&mut self, passed: bool, healthy: bool, p: &RiseFall) -> Option<bool> {
        if passed {
            self.ok += 1;
            self.failed = 0;
            (!healthy && self.ok >= p.rise).then_some(true)
        } else {
            self.failed += 1;
            self.ok = 0;
            (healthy && self.failed >= p.fall).then_some(false)
        }
    }
}

/// `interval` moved by up to ±`jitter`, from a uniform random `r`.
pub fn jittered(interval: Duration, jitter: Duration, r: u64) -> Duration {
    let j = jitter.min(interval).as_nanos() as u64;
    if j == 0 {
        return interval;
    }
    let offset = r % (2 * j + 1);
    (interval + Duration::from_nanos(offset)).saturating_sub(Duration::from_nanos(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RiseFall = RiseFall { rise: 2, fall: 3 };

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_passes() {
        let mut s = Streak::default();
        assert_eq!(s.observe(false, true, &P), None);
        assert_eq!(s.observe(false, true, &P), None);
        assert_eq!(s.observe(false, true, &P), Some(false));
        assert_eq!(s.observe(true, false, &P), None);
        assert_eq!(s.observe(true, false, &P), Some(true));
    }

    #[test]
    fn a_pass_resets_the_failure_streak() {
        let mut s = Streak::default();
        s.observe(false, true, &P);
        s.observe(false, true, &P);
        s.observe(true, true, &P);
        assert_eq!(s.observe(false, true, &P), None);
        assert_eq!(s.observe(false, true, &P), None);
        assert_eq!(s.observe(false, true, &P), Some(false));
    }

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let i = Duration::from_secs(2);
        let j = Duration::from_millis(200);
        let mut seen = std::collections::BTreeSet::new();
        for r in 0..1000u64 {
            let d = jittered(i, j, crate::hash::rehash(r, 1));
            assert!(d >= i - j && d <= i + j, "{d:?}");
            seen.insert(d.as_millis() / 50);
        }
        assert!(seen.len() >= 8, "jitter should spread: {seen:?}");
        assert_eq!(jittered(i, Duration::ZERO, 7), i);
    }
}
