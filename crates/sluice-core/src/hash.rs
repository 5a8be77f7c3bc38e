//! Stable 64-bit hashing for the hashing balancers and sticky tokens (xxh3): the same key
//! hashes the same on every worker, every instance and every restart.

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
