//! Peak-EWMA latency estimate (Finagle / Linkerd): a new RTT above the estimate replaces
//! it at once (the peak), one below it is averaged in with weight decaying over `decay`;
//! at read time the estimate decays toward zero with time since the last observation, so
//! an endpoint that was slow long ago gets tried again. Failures are observed as a penalty
//! so that a fast error never makes an endpoint look fast. Time is an input (nanoseconds
//! on any monotonic clock); the state is two atomics shared by all workers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Tuning of the estimate (cluster config `peak_ewma = { default_rtt, decay }`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaParams {
    /// Estimate for an endpoint never observed (Linkerd: 30 ms).
    pub default_rtt_ns: f64,
    /// Time constant of the decay (Linkerd: 10 s).
    pub decay_ns: f64,
}

impl Default for EwmaParams {
    fn default() -> Self {
        EwmaParams { default_rtt_ns: 30e6, decay_ns: 10e9 }
    }
}

/// The shared estimate; 0 bits mean "never observed".
#[derive(Debug, Default)]
pub struct PeakEwma {
    value_bits: AtomicU64,
    stamp_ns: AtomicU64,
}

impl PeakEwma {
    fn raw(&self) -> Option<(f64, u64)> {
        let bits = self.value_bits.load(Relaxed);
        (bits != 0).then(|| (f64::from_bits(bits), self.stamp_ns.load(Relaxed)))
    }

    /// Records one round trip (`failed`: the attempt errored or answered 5xx).
    pub fn observe(&self, rtt_ns: f64, failed: bool, now_ns: u64, p: &EwmaParams) {
        let current = self.estimate(now_ns, p);
        let rtt = if failed { rtt_ns.max(p.default_rtt_ns * 10.0) } else { rtt_ns };
        let next = match self.raw() {
            None => rtt,
            Some(_) if rtt > current => rtt,
            Some((_, stamp)) => {
                let w = (-(now_ns.saturating_sub(stamp) as f64) / p.decay_ns).exp();
                current * w + rtt * (1.0 - w)
            }
        };
        self.value_bits.store(next.max(1.0).to_bits(), Relaxed);
        self.stamp_ns.store(now_ns, Relaxed);
    }

    /// True once a round trip has been observed.
    pub fn observed(&self) -> bool {
        self.raw().is_some()
    }

    /// The estimate at `now`: the default when never observed, else decayed toward zero.
    pub fn estimate(&self, now_ns: u64, p: &EwmaParams) -> f64 {
        match self.raw() {
            None => p.default_rtt_ns,
            Some((v, stamp)) => v * (-(now_ns.saturating_sub(stamp) as f64) / p.decay_ns).exp(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;
    const S: u64 = 1_000_000_000;

    #[test]
    fn unobserved_uses_default_rtt() {
        let e = PeakEwma::default();
        assert_eq!(e.estimate(0, &EwmaParams::default()), 30.0 * MS);
    }

    #[test]
    fn peaks_jump_up_at_once_and_fall_slowly() {
        let p = EwmaParams::default();
        let e = PeakEwma::default();
        e.observe(10.0 * MS, false, 0, &p);
        e.observe(200.0 * MS, false, 1, &p);
        assert!((e.estimate(1, &p) - 200.0 * MS).abs() < 1.0);
        e.observe(10.0 * MS, false, S, &p);
        let after_one = e.estimate(S, &p);
        assert!(after_one > 150.0 * MS && after_one < 200.0 * MS, "{after_one}");
    }

    #[test]
    fn estimate_decays_with_silence() {
        let p = EwmaParams::default();
        let e = PeakEwma::default();
        e.observe(100.0 * MS, false, 0, &p);
        let later = e.estimate(10 * S, &p);
        assert!((later - 100.0 * MS / std::f64::consts::E).abs() < MS, "{later}");
    }

    #[test]
    fn a_fast_failure_is_a_penalty_not_a_good_rtt() {
        let p = EwmaParams::default();
        let e = PeakEwma::default();
        e.observe(5.0 * MS, false, 0, &p);
        e.observe(1.0 * MS, true, 1, &p);
        assert!(e.estimate(1, &p) >= 300.0 * MS, "{}", e.estimate(1, &p));
    }
}
