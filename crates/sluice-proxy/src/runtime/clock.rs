//! The process's monotonic clock in nanoseconds: the time input of the pure balancers
//! (peak-EWMA stamps and decay), breakers, outlier ejection and health state. Read through
//! tokio's clock, so tests on paused tokio time (`start_paused`, `time::advance`) move it
//! too; in a build without tokio's test-util it is the plain monotonic clock. Shared by
//! all workers.

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Nanoseconds since the first call in this process.
pub fn now_ns() -> u64 {
    ns_at(tokio::time::Instant::now())
}

/// The same clock at an instant already read (so one read serves a whole request).
pub fn ns_at(t: tokio::time::Instant) -> u64 {
    t.into_std().saturating_duration_since(start()).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_paused_tokio_time() {
        let before = super::now_ns();
        tokio::time::advance(Duration::from_secs(30)).await;
        let after = super::now_ns();
        assert!((29_900_000_000..30_100_000_000).contains(&(after - before)), "{}", after - before);
    }
}
