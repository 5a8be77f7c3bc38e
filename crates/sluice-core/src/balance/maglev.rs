//! Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M
//! filled from per-endpoint permutations (offset, skip), with weights taking turns in
//! proportion. Every endpoint owns M/N entries give or take one, so imbalance is ≤ N/M.
//! An unavailable endpoint is skipped by rehashing only the keys that land on it: keys of
//! available endpoints never move. Rebuilt only when membership or weights change.

use crate::hash::{hash_seeded, rehash};

/// Default table size: the paper's 65537 (prime).
pub const DEFAULT_TABLE_SIZE: usize = 65_537;

/// How many rehashes an unavailable entry gets before a linear scan.
const REHASHES: u64 = 16;

#[derive(Debug)]
pub struct Maglev {
    table: Vec<u32>,
}

impl Maglev {
    /// `members`: (stable name, weight) per endpoint; `size` should be prime and > 100·N.
    pub fn build(members: &[(String, u32)], size: usize) -> Maglev {
        let live: Vec<usize> = (0..members.len()).filter(|&i| members[i].1 > 0).collect();
        if live.is_empty() || size == 0 {
            return Maglev { table: Vec::new() };
        }
        let m = size as u64;
        let perm: Vec<(u64, u64)> = live
            .iter()
            .map(|&i| {
                let name = members[i].0.as_bytes();
                (hash_seeded(name, 0xA5A5) % m, hash_seeded(name, 0x5A5A) % (m - 1) + 1)
            })
            .collect();
        let max_w = live.iter().map(|&i| members[i].1).max().unwrap_or(1) as f64;
        let mut table = vec![u32::MAX; size];
        let mut next = vec![0u64; live.len()];
        let mut credit = vec![0f64; live.len()];
        let mut filled = 0;
        'fill: loop {
            for (k, &i) in live.iter().enumerate() {
                credit[k] += f64::from(members[i].1) / max_w;
                while credit[k] >= 1.0 {
                    credit[k] -= 1.0;
                    let (offset, skip) = perm[k];
                    let mut c = (offset + next[k] * skip) % m;
                    while table[c as usize] != u32::MAX {
                        next[k] += 1;
                        c = (offset + next[k] * skip) % m;
                    }
                    table[c as usize] = i as u32;
                    next[k] += 1;
                    filled += 1;
                    if filled == size {
                        break 'fill;
                    }
                }
            }
        }
        Maglev { table }
    }

    /// The member for `key`, skipping members `ok` rejects.
    pub fn pick(&self, key: u64, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let m = self.table.len() as u64;
        if m == 0 {
            return None;
        }
        let first = self.table[(key % m) as usize] as usize;
        if ok(first) {
            return Some(first);
        }
        for attempt in 1..=REHASHES {
            let i = self.table[(rehash(key, attempt) % m) as usize] as usize;
            if ok(i) {
                return Some(i);
            }
        }
        let start = (key % m) as usize;
        (0..self.table.len()).map(|k| self.table[(start + k) % self.table.len()] as usize).find(|&i| ok(i))
    }

    /// Entries per member (for tests and status).
    pub fn shares(&self, members: usize) -> Vec<usize> {
        let mut c = vec![0; members];
        for &i in &self.table {
            c[i as usize] += 1;
        }
        c
    }
}
