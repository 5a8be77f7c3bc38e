//! Load-aware picks: `least_request` scans every available endpoint for the lowest
//! in-flight / weight (ties broken from a random start; above 16 endpoints, the best of 8
//! random candidates, so a pick stays O(1)); `p2c` compares two random
//! candidates (Envoy's least_request with choice_count 2, weight / (active + 1));
//! `peak_ewma` is p2c on Linkerd's cost, EWMA latency × (in-flight + 1) / weight.

use std::sync::Arc;

use super::PickCtx;
use crate::endpoint::EndpointState;
use crate::ewma::EwmaParams;

/// True when `a` is strictly less loaded than `b`, relative to their weights.
fn lighter(a: &EndpointState, b: &EndpointState) -> bool {
    let (la, wa) = (u64::from(a.in_flight()) + 1, u64::from(a.weight()));
    let (lb, wb) = (u64::from(b.in_flight()) + 1, u64::from(b.weight()));
    la * wb < lb * wa
}

/// Clusters up to this size are scanned exactly.
const EXACT_SCAN: usize = 16;
/// Beyond it, the least loaded of this many random candidates (power of k choices):
/// O(1) per pick at any size, and within a few percent of the exact minimum.
const SAMPLES: usize = 8;

pub fn least_request(eps: &[Arc<EndpointState>], set: &[usize], r: u64) -> Option<usize> {
    let n = set.len();
    if n == 0 {
        return None;
    }
    if n > EXACT_SCAN {
        if let Some(i) = least_of_sample(eps, set, r) {
            return Some(i);
        }
    }
    let start = (r % n as u64) as usize;
    let mut best: Option<usize> = None;
    for k in 0..n {
        let i = set[(start + k) % n];
        if !eps[i].is_available() {
            continue;
        }
        if best.is_none_or(|b| lighter(&eps[i], &eps[b])) {
            best = Some(i);
        }
    }
    best
}

/// The least loaded available endpoint among `SAMPLES` random members (`None` if none of
/// them is available; the caller then scans).
fn least_of_sample(eps: &[Arc<EndpointState>], set: &[usize], r: u64) -> Option<usize> {
    let n = set.len() as u64;
    let mut x = r;
    let mut best: Option<usize> = None;
    for _ in 0..SAMPLES {
        x = crate::hash::rehash(x, 1);
        let i = set[(x % n) as usize];
        if eps[i].is_available() && best.is_none_or(|b| lighter(&eps[i], &eps[b])) {
            best = Some(i);
        }
    }
    best
}

/// Two distinct random members of `set`, compared with `better`; falls back to a full
/// least-request scan when fewer than two are available among the pair.
fn p2c_with(
    eps: &[Arc<EndpointState>],
    set: &[usize],
    ctx: &PickCtx,
    better: impl Fn(&EndpointState, &EndpointState) -> bool,
) -> Option<usize> {
    let n = set.len() as u64;
    if n < 2 {
        return least_request(eps, set, ctx.r1);
    }
    let a = set[(ctx.r1 % n) as usize];
    let mut b = set[(ctx.r2 % (n - 1)) as usize];
    if b == a {
        b = set[(n - 1) as usize];
    }
    match (eps[a].is_available(), eps[b].is_available()) {
        (true, true) => Some(if better(&eps[b], &eps[a]) { b } else { a }),
        (true, false) => Some(a),
        (false, true) => Some(b),
        (false, false) => least_request(eps, set, ctx.r1),
    }
}

pub fn p2c(eps: &[Arc<EndpointState>], set: &[usize], ctx: &PickCtx) -> Option<usize> {
    p2c_with(eps, set, ctx, lighter)
}

/// Linkerd's load: latency estimate × (in-flight + 1), divided by weight.
pub fn ewma_cost(e: &EndpointState, now_ns: u64, p: &EwmaParams) -> f64 {
    e.ewma.estimate(now_ns, p) * f64::from(e.in_flight() + 1) / f64::from(e.weight().max(1))
}

pub fn peak_ewma(eps: &[Arc<EndpointState>], set: &[usize], ctx: &PickCtx, p: &EwmaParams) -> Option<usize> {
    p2c_with(eps, set, ctx, |a, b| ewma_cost(a, ctx.now_ns, p) < ewma_cost(b, ctx.now_ns, p))
}
