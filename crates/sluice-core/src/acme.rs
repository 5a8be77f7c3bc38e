//! When a managed certificate is renewed, and when a failed order is tried again: pure
//! arithmetic on Unix seconds, with the randomness passed in (so tests pin it). The ACME
//! manager (crate `sluice-acme`) does the I/O.

use std::time::Duration;

/// First retry after a failed order; each further failure doubles it, up to `MAX_RETRY`.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// When to renew a certificate valid from `not_before` to `not_after`, renewing `ahead`
/// before it expires; never before it became valid. `jitter` in `0..1` moves the time earlier
/// by up to 1 % of the lifetime, so instances that got the same certificate spread out.
pub fn renew_at(not_before: u64, not_after: u64, ahead: Duration, jitter: f64) -> u64 {
    let lifetime = not_after.saturating_sub(not_before);
    let spread = (lifetime as f64 * 0.01 * jitter.clamp(0.0, 1.0)) as u64;
    not_after.saturating_sub(ahead.as_secs()).saturating_sub(spread).max(not_before)
}

/// A time inside the CA's suggested renewal window (ACME Renewal Information, RFC 9773
/// §4.2: "a uniform random time within the window"); `r` in `0..1`.
pub fn in_window(start: u64, end: u64, r: f64) -> u64 {
    start + (end.saturating_sub(start) as f64 * r.clamp(0.0, 1.0)) as u64
}

/// The wait before retry number `attempt` (0 = after the first failure): doubling from
/// `FIRST_RETRY` up to `MAX_RETRY`, scaled by `0.5 + jitter / 2` (`jitter` in `0..1`) so
/// instances that failed together do not retry together.
pub fn retry_after(attempt: u32, jitter: f64) -> Duration {
    let base = FIRST_RETRY.saturating_mul(1u32 << attempt.min(20)).min(MAX_RETRY);
    base.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn renews_the_set_time_before_expiry_and_never_before_issue() {
        let (nb, na) = (1_000 * DAY, 1_090 * DAY);
        assert_eq!(renew_at(nb, na, Duration::from_secs(30 * DAY), 0.0), 1_060 * DAY);
        assert_eq!(renew_at(nb, na, Duration::from_secs(400 * DAY), 0.0), nb, "a window longer than the life");
        let jittered = renew_at(nb, na, Duration::from_secs(30 * DAY), 1.0);
        assert!((1_060 * DAY - 90 * DAY / 100..1_060 * DAY).contains(&jittered));
    }

    #[test]
    fn retries_double_up_to_an_hour_with_jitter_inside_half_to_full() {
        assert_eq!(retry_after(0, 1.0), Duration::from_secs(5));
        assert_eq!(retry_after(1, 1.0), Duration::from_secs(10));
        assert_eq!(retry_after(3, 0.0), Duration::from_secs(20));
        assert_eq!(retry_after(30, 1.0), MAX_RETRY);
        for a in 0..40 {
            for j in [0.0, 0.3, 0.99] {
                let d = retry_after(a, j);
                assert!(d >= Duration::from_millis(2500) && d <= MAX_RETRY, "{a} {j} {d:?}");
                assert!(retry_after(a + 1, j) >= d, "never shorter after another failure");
            }
        }
    }

    #[test]
    fn ari_picks_inside_the_window() {
        assert_eq!(in_window(100, 200, 0.0), 100);
        assert_eq!(in_window(100, 200, 1.0), 200);
        assert_eq!(in_window(100, 200, 0.25), 125);
        assert_eq!(in_window(200, 100, 0.5), 200, "an inverted window means its start");
    }
}
