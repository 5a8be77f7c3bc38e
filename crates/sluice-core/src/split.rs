//! Weighted choice among a small set of options (route `split`, the canary of §16.11):
//! the caller supplies a uniform random number, so the choice is pure and testable.

/// Cumulative-weight table for picking one of N options in proportion to its weight.
#[derive(Debug, Clone)]
pub struct WeightedChoice {
    cumulative: Vec<u64>,
}

impl WeightedChoice {
    /// Returns `None` when the weights sum to zero (validation rejects such configs).
    pub fn new(weights: &[u32]) -> Option<Self> {
        let mut acc = 0u64;
        let cumulative: Vec<u64> = weights
            .iter()
            .map(|w| {
                acc += u64::from(*w);
                acc
            })
            .collect();
        (acc > 0).then_some(WeightedChoice { cumulative })
    }

    pub fn total(&self) -> u64 {
        *self.cumulative.last().unwrap_or(&0)
    }

    /// Picks an index from a uniform random `r` (any u64).
    pub fn pick(&self, r: u64) -> usize {
        let x = r % self.total();
        self.cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    #[test]
    fn zero_total_is_rejected() {
        assert!(WeightedChoice::new(&[0, 0]).is_none());
        assert!(WeightedChoice::new(&[]).is_none());
    }

    #[test]
    fn zero_weight_option_is_never_picked() {
        let c = WeightedChoice::new(&[0, 5, 0]).unwrap();
        for r in 0..100 {
            assert_eq!(c.pick(r), 1);
        }
    }

    #[test]
    fn ninety_ten_split_holds_within_one_percent() {
        let c = WeightedChoice::new(&[90, 10]).unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 100_000;
        let hits = (0..n).filter(|_| c.pick(rng.gen()) == 1).count();
        let share = hits as f64 / n as f64;
        assert!((share - 0.10).abs() < 0.01, "canary share {share}");
    }
}
