//! Load-aware picks over in-flight requests: `least_request` scans every available endpoint
//! for the lowest in-flight / weight (ties broken from a random start), `p2c` compares two
//! random candidates by weight / (in-flight + 1) as Envoy's least_request does.

use std::sync::Arc;

use super::PickCtx;
use crate::endpoint::EndpointState;

/// True when `a` is strictly less loaded than `b`, relative to their weights.
fn lighter(a: &EndpointState, b: &EndpointState) -> bool {
    let (la, wa) = (u64::from(a.in_flight()) + 1, u64::from(a.weight()));
    let (lb, wb) = (u64::from(b.in_flight()) + 1, u64::from(b.weight()));
    la * wb < lb * wa
}

pub fn least_request(eps: &[Arc<EndpointState>], set: &[usize], r: u64) -> Option<usize> {
    let n = set.len();
    if n == 0 {
        return None;
    }
    let start = (r % n as u64) as usize;
    let mut best: Option<usize> = None;
    for k in 0..n {
        let i = set[(start + k) % n];
        if !eps[i].is_available() {
            continue;
        }
        if best.map_or(true, |b| lighter(&eps[i], &eps[b])) {
            best = Some(i);
        }
    }
    best
}

pub fn p2c(eps: &[Arc<EndpointState>], set: &[usize], ctx: &PickCtx) -> Option<usize> {
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
        (true, true) => Some(if lighter(&eps[b], &eps[a]) { b } else { a }),
        (true, false) => Some(a),
        (false, true) => Some(b),
        (false, false) => least_request(eps, set, ctx.r1),
    }
}
