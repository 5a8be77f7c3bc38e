//! Consistent hash ring (ketama-style virtual nodes): each endpoint owns `vnodes × weight`
//! points on a 64-bit circle (weights divided by their gcd), named after the endpoint so
//! its points do not depend on the other members; a key goes to the first point at or
//! after its hash. Removing an endpoint therefore moves only its own keys (~1/N); an
//! unavailable endpoint's keys walk on to the next available point.

use crate::hash::hash_key;

/// Upper bound on ring points (16 MiB of table).
const MAX_POINTS: u64 = 1 << 20;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Top bits of the hash used to index into the ring (2^16 buckets).
const BUCKET_BITS: u32 = 16;

#[derive(Debug)]
pub struct Ring {
    /// (point, index into the balancer's member list), sorted by point.
    points: Vec<(u64, u32)>,
    /// For each bucket of the top `BUCKET_BITS` bits: the first point in it, so a lookup
    /// is one index and a short search instead of ~20 cache-missing binary-search steps.
    buckets: Vec<u32>,
}

impl Ring {
    /// `members`: (stable name, weight) per endpoint, in member order; `vnodes` points
    /// per unit of weight (ketama used 160).
    pub fn build(members: &[(String, u32)], vnodes: usize) -> Ring {
        let unit = members.iter().map(|(_, w)| u64::from(*w)).filter(|&w| w > 0).fold(0, gcd).max(1);
        let total: u64 = members.iter().map(|(_, w)| vnodes as u64 * u64::from(*w) / unit).sum();
        // Very large rings are scaled down (then a removal may move a few more keys).
        let scale = if total > MAX_POINTS { MAX_POINTS as f64 / total as f64 } else { 1.0 };
        let mut points = Vec::with_capacity(total.min(MAX_POINTS) as usize + members.len());
        for (i, (name, w)) in members.iter().enumerate() {
            if *w == 0 {
                continue;
            }
            let n = ((vnodes as u64 * u64::from(*w) / unit) as f64 * scale).max(1.0) as u64;
            for v in 0..n {
                points.push((hash_key(format!("{name}_{v}").as_bytes()), i as u32));
            }
        }
        points.sort_unstable();
        let buckets = (0..=(1u64 << BUCKET_BITS))
            .map(|b| {
                let lo = if b == 1 << BUCKET_BITS { u64::MAX } else { b << (64 - BUCKET_BITS) };
                let i = points.partition_point(|(p, _)| *p < lo);
                if b == 1 << BUCKET_BITS {
                    points.len() as u32
                } else {
                    i as u32
                }
            })
            .collect();
        Ring { points, buckets }
    }

    /// The member for `key`, skipping members `ok` rejects; `None` if all are rejected.
    pub fn pick(&self, key: u64, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.points.len();
        if n == 0 {
            return None;
        }
        let b = (key >> (64 - BUCKET_BITS)) as usize;
        let (lo, hi) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
        let start = lo + self.points[lo..hi].partition_point(|(p, _)| *p < key);
        (0..n).map(|k| self.points[(start + k) % n].1 as usize).find(|&i| ok(i))
    }
}
