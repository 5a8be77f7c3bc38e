//! EndpointState: the one shared record per (cluster, address) that the data path reads
//! (availability, weight, load) and the control plane writes (active health checks,
//! passive outlier ejection, drain). Atomics only: readers on every worker never lock.
//!
//! Availability has independent facets, so that one mechanism never undoes another: the
//! active checker's verdict, an outlier ejection (with its expiry and count), and a drain
//! flag. An endpoint takes new requests only when it passes checks, is not ejected, is
//! not draining, and has a weight above 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::ewma::PeakEwma;
use crate::latency::{LatencyWindow, RecentLatency};

/// The summary of an endpoint's state for status output and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
    Ejected,
    Draining,
}

impl Health {
    /// Name used in status output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Ejected => "ejected",
            Health::Draining => "draining",
        }
    }
}

/// Shared, lock-free state of one endpoint.
#[derive(Debug)]
pub struct EndpointState {
    pub addr: SocketAddr,
    pub backup: bool,
    weight: AtomicU32,
    checks_ok: AtomicBool,
    health_changes: AtomicU64,
    ejected_until_ns: AtomicU64,
    ejections: AtomicU32,
    draining: AtomicBool,
    in_flight: AtomicU32,
    requests: AtomicU64,
    failures: AtomicU64,
    /// Consecutive 5xx answers and consecutive gateway failures, for outlier detection.
    pub(crate) consecutive_5xx: AtomicU32,
    pub(crate) consecutive_gateway: AtomicU32,
    /// Latency estimate for `peak_ewma`, updated by the proxy on every response.
    pub ewma: PeakEwma,
    /// Response times of the current outlier interval (slow-response detector only).
    pub latency: LatencyWindow,
    /// Round trip of the passing active health checks, smoothed (ns; 0 = none yet): the
    /// latency of a site that carries no traffic through this instance (GSLB `latency`).
    check_rtt_ns: AtomicU64,
    /// Response times of the last 10–20 s, for the status page.
    pub recent: RecentLatency,
}

impl EndpointState {
    /// A new endpoint starts available: health checks may take it out, but the first
    /// check never has to bring a whole cluster up (DESIGN: no "all down at start").
    pub fn new(addr: SocketAddr, weight: u32, backup: bool) -> Self {
        EndpointState {
            addr,
            backup,
            weight: AtomicU32::new(weight),
            checks_ok: AtomicBool::new(true),
            health_changes: AtomicU64::new(0),
            ejected_until_ns: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
            draining: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            consecutive_5xx: AtomicU32::new(0),
            consecutive_gateway: AtomicU32::new(0),
            ewma: PeakEwma::default(),
            latency: LatencyWindow::default(),
            check_rtt_ns: AtomicU64::new(0),
            recent: RecentLatency::default(),
        }
    }

    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    pub fn set_weight(&self, w: u32) {
        self.weight.store(w, Relaxed)
    }

    /// The summary label: draining, then unhealthy, then ejected, else healthy.
    pub fn health(&self) -> Health {
        if self.draining.load(Relaxed) {
            Health::Draining
        } else if !self.checks_ok.load(Relaxed) {
            Health::Unhealthy
        } else if self.is_ejected() {
            Health::Ejected
        } else {
            Health::Healthy
        }
    }

    /// Test and admin convenience: force one facet (Healthy clears them all).
    pub fn set_health(&self, h: Health) {
        match h {
            Health::Healthy => {
                self.checks_ok.store(true, Relaxed);
                self.ejected_until_ns.store(0, Relaxed);
                self.draining.store(false, Relaxed);
            }
            Health::Unhealthy => self.checks_ok.store(false, Relaxed),
            Health::Ejected => self.ejected_until_ns.store(u64::MAX, Relaxed),
            Health::Draining => self.draining.store(true, Relaxed),
        }
    }

    /// The active checker's verdict; a change is counted.
    pub fn set_checks_ok(&self, ok: bool) {
        if self.checks_ok.swap(ok, Relaxed) != ok {
            self.health_changes.fetch_add(1, Relaxed);
        }
    }

    /// How many times health checks flipped this endpoint's verdict.
    pub fn health_changes(&self) -> u64 {
        self.health_changes.load(Relaxed)
    }

    pub fn checks_ok(&self) -> bool {
        self.checks_ok.load(Relaxed)
    }

    /// Drain: no new requests; those in flight finish.
    pub fn set_draining(&self, on: bool) {
        self.draining.store(on, Relaxed)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    pub fn is_ejected(&self) -> bool {
        self.ejected_until_ns.load(Relaxed) != 0
    }

    /// When the current ejection ends (0: not ejected).
    pub fn ejected_until(&self) -> u64 {
        self.ejected_until_ns.load(Relaxed)
    }

    /// How many times this endpoint has been ejected (drives the growing ejection time).
    pub fn ejections(&self) -> u32 {
        self.ejections.load(Relaxed)
    }

    /// Ejects until `until_ns` unless already ejected; true if this call ejected it.
    pub fn eject(&self, until_ns: u64) -> bool {
        let won = self.ejected_until_ns.compare_exchange(0, until_ns.max(1), Relaxed, Relaxed).is_ok();
        if won {
            self.ejections.fetch_add(1, Relaxed);
        }
        won
    }

    /// Ends an ejection and clears the failure streaks.
    pub fn release(&self) {
        self.consecutive_5xx.store(0, Relaxed);
        self.consecutive_gateway.store(0, Relaxed);
        self.ejected_until_ns.store(0, Relaxed);
    }

    /// May a balancer send new work here?
    pub fn is_available(&self) -> bool {
        self.checks_ok.load(Relaxed) && !self.is_ejected() && !self.draining.load(Relaxed) && self.weight() > 0
    }

    /// Records a passing health check's round trip: an average weighting the newest
    /// sample by 1/4 (the first sample is taken as is).
    pub fn record_check_rtt(&self, ns: u64) {
        let ns = ns.max(1);
        let old = self.check_rtt_ns.load(Relaxed);
        let new = if old == 0 { ns } else { old - old / 4 + ns / 4 };
        self.check_rtt_ns.store(new, Relaxed);
    }

    /// The smoothed health-check round trip, if any check has passed.
    pub fn check_rtt_ns(&self) -> Option<u64> {
        Some(self.check_rtt_ns.load(Relaxed)).filter(|&n| n > 0)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    /// Marks a request started; returns a guard that marks it finished when dropped.
    pub fn start_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed);
        InFlight(Arc::clone(self))
    }

    pub fn record_failure(&self) {
        self.failures.fetch_add(1, Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    fn finish_request(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Guard for one in-flight request on an endpoint.
#[derive(Debug)]
pub struct InFlight(Arc<EndpointState>);

impl InFlight {
    pub fn endpoint(&self) -> &Arc<EndpointState> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finish_request();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Arc<EndpointState> {
        Arc::new(EndpointState::new("127.0.0.1:1".parse().unwrap(), 1, false))
    }

    #[test]
    fn in_flight_guard_counts_and_releases() {
        let e = ep();
        {
            let _a = e.start_request();
            let _b = e.start_request();
            assert_eq!(e.in_flight(), 2);
        }
        assert_eq!(e.in_flight(), 0);
        assert_eq!(e.requests(), 2);
    }

    #[test]
    fn facets_are_independent() {
        let e = ep();
        assert!(e.is_available());
        e.set_draining(true);
        assert_eq!(e.health(), Health::Draining);
        e.set_checks_ok(false);
        e.set_draining(false);
        assert_eq!(e.health(), Health::Unhealthy);
        assert_eq!(e.health_changes(), 1);
        e.set_checks_ok(false);
        assert_eq!(e.health_changes(), 1, "only changes count");
        assert!(e.eject(10));
        e.set_checks_ok(true);
        assert_eq!(e.health(), Health::Ejected, "passing checks do not end an ejection");
        assert!(!e.eject(20), "already ejected");
        e.release();
        assert!(e.is_available());
        assert_eq!(e.ejections(), 1);
        e.set_weight(0);
        assert!(!e.is_available());
    }
}
