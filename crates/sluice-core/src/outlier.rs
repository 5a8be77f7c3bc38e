//! Passive outlier detection (§16.2.3, Envoy's model): the data path records each
//! response's outcome; a streak of 5xx or of gateway failures (connect refused, reset,
//! timeout) reaching its threshold ejects the endpoint for base × (number of ejections),
//! capped at a maximum — so a repeat offender stays out longer (flap damping). No more
//! than `max_ejection_percent` of a cluster is ejected at once (but always at least one
//! may be), and a sweep releases ejections whose time has passed.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::endpoint::EndpointState;

/// `outlier = { ... }` on a cluster; a threshold of 0 turns that detector off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierPolicy {
    pub consecutive_5xx: u32,
    pub consecutive_gateway: u32,
    pub base_ejection_ns: u64,
    pub max_ejection_ns: u64,
    pub max_ejection_percent: u32,
    /// Slow-response detector: eject when an endpoint's P95 over one interval exceeds this.
    pub slow_p95_ns: Option<u64>,
    /// Fewest responses in an interval for the P95 to count.
    pub slow_min_requests: u32,
    /// How often the slow-response detector looks (Envoy's outlier `interval`).
    pub interval_ns: u64,
}

impl Default for OutlierPolicy {
    /// Envoy's defaults: 5 consecutive 5xx, 5 gateway failures, 30 s base, 300 s max, 10 %.
    fn default() -> Self {
        OutlierPolicy {
            consecutive_5xx: 5,
            consecutive_gateway: 5,
            base_ejection_ns: 30_000_000_000,
            max_ejection_ns: 300_000_000_000,
            max_ejection_percent: 10,
            slow_p95_ns: None,
            slow_min_requests: 20,
            interval_ns: 10_000_000_000,
        }
    }
}

/// What one attempt at an endpoint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The upstream answered 5xx.
    Status5xx,
    /// No answer: connect refused or timed out, reset, response timeout.
    Gateway,
}

/// Records an outcome; true when a streak has just reached its threshold.
pub fn record(e: &EndpointState, o: Outcome, p: &OutlierPolicy) -> bool {
    match o {
        Outcome::Success => {
            e.consecutive_5xx.store(0, Relaxed);
            e.consecutive_gateway.store(0, Relaxed);
            false
        }
        Outcome::Status5xx => {
            e.consecutive_gateway.store(0, Relaxed);
            let n = e.consecutive_5xx.fetch_add(1, Relaxed) + 1;
            p.consecutive_5xx != 0 && n >= p.consecutive_5xx
        }
        Outcome::Gateway => {
            // A gateway failure is also a 5xx to the client (Envoy counts it in both).
            let n5 = e.consecutive_5xx.fetch_add(1, Relaxed) + 1;
            let ng = e.consecutive_gateway.fetch_add(1, Relaxed) + 1;
            (p.consecutive_gateway != 0 && ng >= p.consecutive_gateway)
                || (p.consecutive_5xx != 0 && n5 >= p.consecutive_5xx)
        }
    }
}

/// How long the `n`-th ejection (1-based) lasts: base × n, capped at the maximum.
pub fn ejection_time(n: u32, p: &OutlierPolicy) -> u64 {
    p.base_ejection_ns.saturating_mul(u64::from(n.max(1))).min(p.max_ejection_ns.max(p.base_ejection_ns))
}

/// Ejects `e` if the cluster's ejection cap allows; returns when the ejection ends.
pub fn try_eject(e: &EndpointState, cluster: &[Arc<EndpointState>], now_ns: u64, p: &OutlierPolicy) -> Option<u64> {
    let ejected = cluster.iter().filter(|x| x.is_ejected()).count() as u64;
    let total = cluster.len() as u64;
    if ejected > 0 && (ejected + 1) * 100 > u64::from(p.max_ejection_percent) * total {
        return None;
    }
    let until = now_ns.saturating_add(ejection_time(e.ejections() + 1, p));
    e.eject(until).then_some(until)
}

/// The slow-response detector, run once per interval: ejects every endpoint whose P95
/// over the interval is above the threshold (with enough samples), then starts a new
/// interval. Returns the endpoints it ejected.
pub fn detect_slow(cluster: &[Arc<EndpointState>], now_ns: u64, p: &OutlierPolicy) -> Vec<Arc<EndpointState>> {
    let Some(limit) = p.slow_p95_ns else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in cluster {
        let slow = e.latency.count() >= u64::from(p.slow_min_requests)
            && e.latency.quantile_ns(0.95).is_some_and(|q| q > limit);
        e.latency.reset();
        if slow && !e.is_ejected() && try_eject(e, cluster, now_ns, p).is_some() {
            out.push(Arc::clone(e));
        }
    }
    out
}

/// Releases every ejection that has run its time; returns the endpoints released.
pub fn sweep(cluster: &[Arc<EndpointState>], now_ns: u64) -> Vec<Arc<EndpointState>> {
    cluster.iter().filter(|e| e.is_ejected() && e.ejected_until() <= now_ns).inspect(|e| e.release()).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn eps(n: usize) -> Vec<Arc<EndpointState>> {
        (0..n)
            .map(|i| Arc::new(EndpointState::new(format!("10.0.0.{}:80", i + 1).parse().unwrap(), 1, false)))
            .collect()
    }

    fn p() -> OutlierPolicy {
        OutlierPolicy { consecutive_5xx: 3, consecutive_gateway: 2, max_ejection_percent: 50, ..Default::default() }
    }

    #[test]
    fn streaks_trigger_at_threshold_and_success_resets() {
        let e = &eps(1)[0];
        assert!(!record(e, Outcome::Status5xx, &p()));
        assert!(!record(e, Outcome::Status5xx, &p()));
        assert!(!record(e, Outcome::Success, &p()));
        assert!(!record(e, Outcome::Status5xx, &p()));
        assert!(!record(e, Outcome::Status5xx, &p()));
        assert!(record(e, Outcome::Status5xx, &p()));
        let g = &eps(1)[0];
        assert!(!record(g, Outcome::Gateway, &p()));
        assert!(record(g, Outcome::Gateway, &p()));
    }

    #[test]
    fn ejections_grow_and_are_capped() {
        let p = p();
        assert_eq!(ejection_time(1, &p), 30 * S);
        assert_eq!(ejection_time(3, &p), 90 * S);
        assert_eq!(ejection_time(50, &p), 300 * S);
    }

    #[test]
    fn eject_release_and_eject_again_for_longer() {
        let c = eps(2);
        assert_eq!(try_eject(&c[0], &c, 0, &p()), Some(30 * S));
        assert!(c[0].is_ejected() && !c[0].is_available());
        assert!(sweep(&c, 29 * S).is_empty());
        assert_eq!(sweep(&c, 30 * S).len(), 1);
        assert!(c[0].is_available());
        assert_eq!(try_eject(&c[0], &c, 100 * S, &p()), Some(160 * S), "second ejection: 2 × base");
    }

    #[test]
    fn slow_p95_ejects_the_slow_endpoint_only_with_enough_samples() {
        let c = eps(3);
        let pol = OutlierPolicy { slow_p95_ns: Some(500_000_000), slow_min_requests: 10, ..p() };
        for _ in 0..20 {
            c[0].latency.record(10_000_000);
            c[1].latency.record(900_000_000);
        }
        for _ in 0..5 {
            c[2].latency.record(900_000_000);
        }
        let ejected = detect_slow(&c, 0, &pol);
        assert_eq!(ejected.len(), 1);
        assert_eq!(ejected[0].addr, c[1].addr);
        assert!(!c[2].is_ejected(), "5 samples are too few to judge");
        assert_eq!(c[1].latency.count(), 0, "a new interval starts");
    }

    #[test]
    fn max_ejection_percent_caps_but_one_is_always_allowed() {
        let c = eps(4);
        let tight = OutlierPolicy { max_ejection_percent: 10, ..p() };
        assert!(try_eject(&c[0], &c, 0, &tight).is_some(), "at least one");
        assert!(try_eject(&c[1], &c, 0, &tight).is_none(), "10 % of 4 is below two");
        let half = p();
        assert!(try_eject(&c[1], &c, 0, &half).is_some(), "50 % of 4 allows two");
        assert!(try_eject(&c[2], &c, 0, &half).is_none());
    }
}
