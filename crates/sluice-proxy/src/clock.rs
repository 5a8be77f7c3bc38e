//! The process's monotonic clock in nanoseconds, the time input of the pure balancers
//! (peak-EWMA stamps and decay). Shared by all workers.

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Nanoseconds since the first call in this process.
pub fn now_ns() -> u64 {
    start().elapsed().as_nanos() as u64
}
