//! EndpointState: the one shared record per (cluster, address) that the data path reads
//! (health, weight, load) and the control plane writes (health checks, outlier detection,
//! admin drain — later issues). Atomics only: readers on every worker never lock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use crate::ewma::PeakEwma;

/// Coarse health of an endpoint as the balancers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Health {
    Healthy = 0,
    Unhealthy = 1,
    Ejected = 2,
    Draining = 3,
}

impl Health {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Health::Unhealthy,
            2 => Health::Ejected,
            3 => Health::Draining,
            _ => Health::Healthy,
        }
    }

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
    health: AtomicU8,
    in_flight: AtomicU32,
    requests: AtomicU64,
    failures: AtomicU64,
    /// Latency estimate for `peak_ewma`, updated by the proxy on every response.
    pub ewma: PeakEwma,
}

impl EndpointState {
    pub fn new(addr: SocketAddr, weight: u32, backup: bool) -> Self {
        EndpointState {
            addr,
            backup,
            weight: AtomicU32::new(weight),
            health: AtomicU8::new(Health::Healthy as u8),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            ewma: PeakEwma::default(),
        }
    }

    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    pub fn set_weight(&self, w: u32) {
        self.weight.store(w, Relaxed)
    }

    pub fn health(&self) -> Health {
        Health::from_u8(self.health.load(Relaxed))
    }

    pub fn set_health(&self, h: Health) {
        self.health.store(h as u8, Relaxed)
    }

    /// May a balancer send new work here?
    pub fn is_available(&self) -> bool {
        self.health() == Health::Healthy && self.weight() > 0
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

    #[test]
    fn in_flight_guard_counts_and_releases() {
        let e = Arc::new(EndpointState::new("127.0.0.1:1".parse().unwrap(), 1, false));
        {
            let _a = e.start_request();
            let _b = e.start_request();
            assert_eq!(e.in_flight(), 2);
        }
        assert_eq!(e.in_flight(), 0);
        assert_eq!(e.requests(), 2);
    }

    #[test]
    fn unhealthy_or_zero_weight_is_unavailable() {
        let e = EndpointState::new("127.0.0.1:1".parse().unwrap(), 1, false);
        assert!(e.is_available());
        e.set_health(Health::Draining);
        assert!(!e.is_available());
        e.set_health(Health::Healthy);
        e.set_weight(0);
        assert!(!e.is_available());
    }
}
