//! A per-worker pseudo-random source (splitmix64 in a `Cell`): no lock, no shared cache
//! line, enough for balancer picks and split choices. Seeded per worker.

use std::cell::Cell;

#[derive(Debug)]
pub struct WorkerRng(Cell<u64>);

impl WorkerRng {
    pub fn new(seed: u64) -> Self {
        WorkerRng(Cell::new(seed ^ 0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
