//! The error-rate circuit breaker of a cluster (§16.9.2): closed while the error rate of
//! the current window stays under the threshold; open (every request refused at once)
//! for `open_for` once it crosses it with at least `min_requests` seen; then half-open,
//! letting `half_open_probes` requests through — all succeeding closes it, any failing
//! reopens it. Lock-free (atomics shared by all workers); time is an input.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// Share of failed requests (0..=1) that opens the breaker.
    pub error_rate: f64,
    pub min_requests: u32,
    pub window_ns: u64,
    pub open_for_ns: u64,
    pub half_open_probes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// What the breaker lets a request do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// Allowed as a half-open probe: its result decides the breaker.
    Probe,
    Deny,
}

#[derive(Debug, Default)]
pub struct Breaker {
    state: AtomicU8,
    since_ns: AtomicU64,
    window_start_ns: AtomicU64,
    requests: AtomicU32,
    errors: AtomicU32,
    probes: AtomicU32,
    probe_ok: AtomicU32,
}

impl Breaker {
    pub fn state(&self) -> State {
        match self.state.load(Relaxed) {
            1 => State::Open,
            2 => State::HalfOpen,
            _ => State::Closed,
        }
    }

    fn set(&self, s: State, now_ns: u64) {
        self.state.store(s as u8, Relaxed);
        self.since_ns.store(now_ns, Relaxed);
        self.requests.store(0, Relaxed);
        self.errors.store(0, Relaxed);
        self.probes.store(0, Relaxed);
        self.probe_ok.store(0, Relaxed);
        self.window_start_ns.store(now_ns, Relaxed);
    }

    pub fn admit(&self, now_ns: u64, p: &BreakerPolicy) -> Admission {
        match self.state() {
            State::Closed => Admission::Allow,
            State::Open if now_ns >= self.since_ns.load(Relaxed).saturating_add(p.open_for_ns) => {
                let won =
                    self.state.compare_exchange(State::Open as u8, State::HalfOpen as u8, Relaxed, Relaxed).is_ok();
                if won {
                    self.set(State::HalfOpen, now_ns);
                }
                self.admit(now_ns, p)
            }
            State::Open => Admission::Deny,
            State::HalfOpen if self.probes.fetch_add(1, Relaxed) < p.half_open_probes => Admission::Probe,
            State::HalfOpen => {
                self.probes.fetch_sub(1, Relaxed);
                Admission::Deny
            }
        }
    }

    /// Feeds the result of an admitted request.
    pub fn record(&self, a: Admission, failed: bool, now_ns: u64, p: &BreakerPolicy) {
        match (a, self.state()) {
            (Admission::Allow, State::Closed) => self.record_closed(failed, now_ns, p),
            (Admission::Probe, State::HalfOpen) if failed => self.set(State::Open, now_ns),
            (Admission::Probe, State::HalfOpen) if self.probe_ok.fetch_add(1, Relaxed) + 1 >= p.half_open_probes => {
                self.set(State::Closed, now_ns);
            }
            _ => {}
        }
    }

    fn record_closed(&self, failed: bool, now_ns: u64, p: &BreakerPolicy) {
        if now_ns.saturating_sub(self.window_start_ns.load(Relaxed)) > p.window_ns {
            self.window_start_ns.store(now_ns, Relaxed);
            self.requests.store(0, Relaxed);
            self.errors.store(0, Relaxed);
        }
        let n = self.requests.fetch_add(1, Relaxed) + 1;
        let e = self.errors.fetch_add(u32::from(failed), Relaxed) + u32::from(failed);
        if n >= p.min_requests && f64::from(e) >= p.error_rate * f64::from(n) && e > 0 {
            self.set(State::Open, now_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const P: BreakerPolicy =
        BreakerPolicy { error_rate: 0.5, min_requests: 4, window_ns: 10 * S, open_for_ns: 5 * S, half_open_probes: 2 };

    fn run(b: &Breaker, now: u64, failed: bool) -> Admission {
        let a = b.admit(now, &P);
        if a != Admission::Deny {
            b.record(a, failed, now, &P);
        }
        a
    }

    #[test]
    fn opens_at_the_error_rate_once_min_requests_are_seen() {
        let b = Breaker::default();
        run(&b, 0, true);
        run(&b, 0, true);
        run(&b, 0, true);
        assert_eq!(b.state(), State::Closed, "3 < min_requests");
        run(&b, 0, false);
        assert_eq!(b.state(), State::Open, "3 of 4 failed");
        assert_eq!(b.admit(S, &P), Admission::Deny);
    }

    #[test]
    fn half_open_probes_close_or_reopen() {
        let b = Breaker::default();
        for _ in 0..4 {
            run(&b, 0, true);
        }
        assert_eq!(run(&b, 5 * S, false), Admission::Probe);
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(run(&b, 5 * S, false), Admission::Probe);
        assert_eq!(b.state(), State::Closed, "two good probes close it");
        for _ in 0..4 {
            run(&b, 6 * S, true);
        }
        assert_eq!(run(&b, 11 * S, true), Admission::Probe);
        assert_eq!(b.state(), State::Open, "a failed probe reopens it");
        assert_eq!(b.admit(12 * S, &P), Admission::Deny);
    }

    #[test]
    fn only_half_open_probes_pass_while_half_open() {
        let b = Breaker::default();
        for _ in 0..4 {
            run(&b, 0, true);
        }
        assert_eq!(b.admit(5 * S, &P), Admission::Probe);
        assert_eq!(b.admit(5 * S, &P), Admission::Probe);
        assert_eq!(b.admit(5 * S, &P), Admission::Deny);
    }

    #[test]
    fn an_old_window_does_not_count() {
        let b = Breaker::default();
        run(&b, 0, true);
        run(&b, 0, true);
        run(&b, 0, true);
        run(&b, 11 * S, false);
        assert_eq!(b.state(), State::Closed, "the three failures were in the previous window");
    }
}
