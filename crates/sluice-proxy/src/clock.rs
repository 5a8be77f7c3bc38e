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

/// The same clock at an instant already read (so one read serves a whole request).
pub fn ns_at(t: tokio::time::Instant) -> u64 {
    t.into_std().saturating_duration_since(start()).as_nanos() as u64
}
