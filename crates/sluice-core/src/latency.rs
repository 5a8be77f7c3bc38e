//! A lock-free latency histogram per endpoint for the slow-response outlier detector:
//! two buckets per octave (bucket bounds grow by √2), counts in atomics, read and reset
//! once per detection interval. Coarse on purpose — it answers "is P95 over 500 ms?".

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

const BUCKETS: usize = 64;

#[derive(Debug)]
pub struct LatencyWindow {
    buckets: [AtomicU32; BUCKETS],
}

impl Default for LatencyWindow {
    fn default() -> Self {
        LatencyWindow { buckets: std::array::from_fn(|_| AtomicU32::new(0)) }
    }
}

/// Bucket of a latency in microseconds: the smallest b with √2^b ≥ µs.
fn bucket(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    ((2.0 * (us as f64).log2()).ceil() as usize).min(BUCKETS - 1)
}

/// Upper bound (µs) of a bucket: √2^b, rounded up.
fn upper_us(b: usize) -> u64 {
    (2f64.powf(b as f64 / 2.0)).ceil() as u64
}

impl LatencyWindow {
    pub fn record(&self, ns: u64) {
        self.buckets[bucket(ns / 1000)].fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| u64::from(b.load(Relaxed))).sum()
    }

    /// Upper bound in nanoseconds of the bucket holding quantile `q`; `None` when empty.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| u64::from(b.load(Relaxed))).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let want = (q * total as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in counts.iter().enumerate() {
            acc += c;
            if acc >= want {
                return Some(upper_us(i) * 1000);
            }
        }
        Some(upper_us(BUCKETS - 1) * 1000)
    }

    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Relaxed);
        }
    }
}

/// Latency over roughly the last `period`: two windows, the older cleared on rotation,
/// percentiles read across both. Rotation is driven by whoever reads (the status page).
#[derive(Debug, Default)]
pub struct RecentLatency {
    windows: [LatencyWindow; 2],
    current: AtomicU32,
    rotated_ns: std::sync::atomic::AtomicU64,
}

impl RecentLatency {
    pub fn record(&self, ns: u64) {
        self.windows[(self.current.load(Relaxed) & 1) as usize].record(ns);
    }

    /// Percentiles (p50, p95, p99) in ns over the recent windows, rotating every `period_ns`.
    pub fn percentiles(&self, now_ns: u64, period_ns: u64) -> Option<(u64, u64, u64)> {
        if now_ns.saturating_sub(self.rotated_ns.load(Relaxed)) >= period_ns {
            self.rotated_ns.store(now_ns, Relaxed);
            let next = self.current.load(Relaxed).wrapping_add(1);
            self.windows[(next & 1) as usize].reset();
            self.current.store(next, Relaxed);
        }
        let merged = LatencyWindow::default();
        for w in &self.windows {
            for (m, b) in merged.buckets.iter().zip(&w.buckets) {
                m.fetch_add(b.load(Relaxed), Relaxed);
            }
        }
        Some((merged.quantile_ns(0.5)?, merged.quantile_ns(0.95)?, merged.quantile_ns(0.99)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn p95_finds_the_slow_tail_within_the_bucket_resolution() {
        let w = LatencyWindow::default();
        for _ in 0..90 {
            w.record(10 * MS);
        }
        for _ in 0..10 {
            w.record(800 * MS);
        }
        let p95 = w.quantile_ns(0.95).unwrap();
        assert!((800 * MS..=1200 * MS).contains(&p95), "{p95}");
        let p50 = w.quantile_ns(0.5).unwrap();
        assert!((10 * MS..=15 * MS).contains(&p50), "{p50}");
        assert_eq!(w.count(), 100);
        w.reset();
        assert_eq!(w.quantile_ns(0.95), None);
    }

    #[test]
    fn recent_latency_forgets_after_two_periods() {
        let r = RecentLatency::default();
        for _ in 0..10 {
            r.record(800 * MS);
        }
        let (_, p95, _) = r.percentiles(0, 10_000 * MS).unwrap();
        assert!(p95 >= 800 * MS);
        for _ in 0..10 {
            r.record(5 * MS);
        }
        assert!(r.percentiles(10_000 * MS, 10_000 * MS).is_some(), "one rotation keeps the previous window");
        let (p50, _, _) = r.percentiles(20_000 * MS, 10_000 * MS).unwrap_or((0, 0, 0));
        assert!(p50 <= 8 * MS, "the slow window is gone: {p50}");
    }

    #[test]
    fn bucket_bounds_are_monotonic_and_cover_their_values() {
        for us in [1u64, 2, 3, 7, 100, 1000, 123_456, 10_000_000] {
            let b = bucket(us);
            assert!(upper_us(b) >= us, "{us} in bucket {b} with bound {}", upper_us(b));
        }
        for b in 1..BUCKETS - 1 {
            assert!(upper_us(b) <= upper_us(b + 1));
        }
    }
}
