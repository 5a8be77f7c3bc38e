//! Smooth weighted round robin (NGINX's algorithm): the pick sequence is computed once
//! from the weights, so a pick is one atomic increment and an index — no lock, no bursts
//! to the heavy endpoint (weights 5,1,1 give a a b a c a a, not a a a a a b c).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Longest precomputed sequence; larger weight sums are scaled down to fit.
const MAX_SEQUENCE: u64 = 4096;

#[derive(Debug)]
pub struct SmoothRoundRobin {
    sequence: Vec<usize>,
    next: AtomicUsize,
}

impl SmoothRoundRobin {
    pub fn new(weights: &[u32]) -> Self {
        SmoothRoundRobin { sequence: sequence(&scale(weights)), next: AtomicUsize::new(0) }
    }

    /// Next index in the sequence whose endpoint `ok` accepts; `None` if none does.
    pub fn pick(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.sequence.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Relaxed);
        for k in 0..n {
            let i = self.sequence[(start + k) % n];
            if ok(i) {
                return Some(i);
            }
        }
        None
    }
}

fn scale(weights: &[u32]) -> Vec<u64> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total <= MAX_SEQUENCE {
        return weights.iter().map(|&w| u64::from(w)).collect();
    }
    weights.iter().map(|&w| if w == 0 { 0 } else { (u64::from(w) * MAX_SEQUENCE / total).max(1) }).collect()
}

/// The NGINX smooth weighted round robin sequence over one full period.
fn sequence(weights: &[u64]) -> Vec<usize> {
    let total: i64 = weights.iter().sum::<u64>() as i64;
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += *w as i64;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        out.push(best);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_example_sequence_is_smooth() {
        // NGINX's documented example: weights 5, 1, 1 give a a b a c a a.
        assert_eq!(sequence(&[5, 1, 1]), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_alternate() {
        let rr = SmoothRoundRobin::new(&[1, 1, 1]);
        let picks: Vec<_> = (0..6).map(|_| rr.pick(|_| true).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn large_weights_are_scaled_but_keep_proportions() {
        let s = scale(&[100_000, 300_000, 0]);
        assert_eq!(s[2], 0);
        assert_eq!(s[1], 3 * s[0]);
        assert!(s.iter().sum::<u64>() <= MAX_SEQUENCE);
    }

    #[test]
    fn skips_rejected_and_returns_none_when_all_rejected() {
        let rr = SmoothRoundRobin::new(&[1, 1]);
        for _ in 0..4 {
            assert_eq!(rr.pick(|i| i == 1), Some(1));
        }
        assert_eq!(rr.pick(|_| false), None);
    }
}
