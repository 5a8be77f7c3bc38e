//! Stable 64-bit hashing for the hashing balancers and sticky tokens (xxh3): the same key
//! hashes the same on every worker, every instance and every restart. Also `FastHasher`,
//! the cheap hasher of the per-worker maps keyed by upstream addresses.

use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Hash of a balancing key (header value, cookie, path, client address bytes).
pub fn hash_key(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// Hash with a seed: independent hash functions for Maglev's offset/skip and for retries.
pub fn hash_seeded(bytes: &[u8], seed: u64) -> u64 {
    xxh3_64_with_seed(bytes, seed)
}

/// Re-mixes a 64-bit hash with an attempt number (a cheap independent-looking rehash).
pub fn rehash(h: u64, attempt: u64) -> u64 {
    let mut z = h ^ attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A multiply-rotate hasher for small trusted keys (upstream addresses from the config) in
/// maps looked up on every request: a few instructions where SipHash takes ~100. Not for
/// keys a client chooses (no flooding resistance).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

/// `HashMap<K, V, FastBuild>`: a map hashed with `FastHasher`.
pub type FastBuild = BuildHasherDefault<FastHasher>;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    /// Mixed so that both the low bits (bucket) and the top bits (hashbrown's tag) vary.
    fn finish(&self) -> u64 {
        rehash(self.0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};
    use std::net::SocketAddr;

    fn h(a: &SocketAddr) -> u64 {
        FastBuild::default().hash_one(a)
    }

    #[test]
    fn fast_hasher_spreads_ports_and_addresses_over_buckets_and_tags() {
        let mut buckets = [0u32; 64];
        let mut tags = [0u32; 128];
        for ip in 1..=16u8 {
            for port in 8000..8256u16 {
                let v = h(&SocketAddr::from(([10, 0, 0, ip], port)));
                buckets[(v & 63) as usize] += 1;
                tags[(v >> 57) as usize] += 1;
            }
        }
        // 4096 keys: 64 per bucket and 32 per tag on average.
        assert!(buckets.iter().all(|&n| (32..=96).contains(&n)), "{buckets:?}");
        assert!(tags.iter().all(|&n| (12..=56).contains(&n)), "{tags:?}");
    }

    #[test]
    fn fast_hasher_tells_v4_from_v6_and_ports_apart() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:81".parse().unwrap();
        let c: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert_ne!(h(&a), h(&b));
        assert_ne!(h(&a), h(&c));
        let mut s = FastHasher::default();
        a.hash(&mut s);
        assert_eq!(s.finish(), h(&a), "stable within a process");
    }
}
