//! Balancers (§16.3): pure structs built from a cluster's endpoint list and asked to
//! `pick` with a context carrying randomness and the shared load views. Unavailable
//! endpoints (unhealthy, ejected, draining, weight 0) are skipped while picking, never by
//! rebuilding; backups are used only when no primary is available.
//!
//! Implemented here: round_robin (smooth weighted), random (weighted), least_request and
//! p2c. The hashing family (ring_hash, maglev, source_ip) and peak_ewma are issue 3.

mod least;
mod round_robin;

use std::sync::Arc;

use crate::endpoint::EndpointState;
use crate::split::WeightedChoice;

pub use least::{least_request, p2c};
pub use round_robin::SmoothRoundRobin;

/// Which algorithm a cluster uses (`balance = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    Random,
    LeastRequest,
    P2c,
}

impl Balance {
    /// Names accepted in config, in documentation order.
    pub const NAMES: &'static [&'static str] = &["round_robin", "random", "least_request", "p2c"];

    /// The config name (`balance = "..."`).
    pub fn name(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round_robin",
            Balance::Random => "random",
            Balance::LeastRequest => "least_request",
            Balance::P2c => "p2c",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "round_robin" => Balance::RoundRobin,
            "random" => Balance::Random,
            "least_request" => Balance::LeastRequest,
            "p2c" => Balance::P2c,
            _ => return None,
        })
    }
}

/// What a pick may look at besides the endpoints: two independent uniform random numbers
/// supplied by the caller (seeded in tests).
#[derive(Debug, Clone, Copy)]
pub struct PickCtx {
    pub r1: u64,
    pub r2: u64,
}

/// A built balancer for one cluster.
#[derive(Debug)]
pub struct Balancer {
    kind: Balance,
    endpoints: Vec<Arc<EndpointState>>,
    primary: Vec<usize>,
    backup: Vec<usize>,
    rr: SmoothRoundRobin,
    weighted: Option<WeightedChoice>,
}

impl Balancer {
    pub fn build(kind: Balance, endpoints: Vec<Arc<EndpointState>>) -> Self {
        let (backup, primary): (Vec<usize>, Vec<usize>) =
            (0..endpoints.len()).partition(|&i| endpoints[i].backup);
        let weights: Vec<u32> = primary.iter().map(|&i| endpoints[i].weight()).collect();
        Balancer {
            kind,
            rr: SmoothRoundRobin::new(&weights),
            weighted: WeightedChoice::new(&weights),
            endpoints,
            primary,
            backup,
        }
    }

    pub fn kind(&self) -> Balance {
        self.kind
    }

    pub fn endpoints(&self) -> &[Arc<EndpointState>] {
        &self.endpoints
    }

    /// Picks an endpoint index, or `None` when no endpoint (primary or backup) is available.
    pub fn pick(&self, ctx: &PickCtx) -> Option<usize> {
        self.pick_primary(ctx)
            .or_else(|| first_available(&self.endpoints, &self.backup, ctx.r1))
    }

    fn pick_primary(&self, ctx: &PickCtx) -> Option<usize> {
        let eps = &self.endpoints;
        let set = &self.primary;
        match self.kind {
            Balance::RoundRobin => self.rr.pick(|i| eps[set[i]].is_available()).map(|i| set[i]),
            Balance::Random => {
                let i = self.weighted.as_ref()?.pick(ctx.r1);
                if eps[set[i]].is_available() {
                    Some(set[i])
                } else {
                    first_available(eps, set, ctx.r2)
                }
            }
            Balance::LeastRequest => least_request(eps, set, ctx.r1),
            Balance::P2c => p2c(eps, set, ctx),
        }
    }
}

/// First available endpoint of `set`, scanning from a random offset.
fn first_available(eps: &[Arc<EndpointState>], set: &[usize], r: u64) -> Option<usize> {
    let n = set.len();
    if n == 0 {
        return None;
    }
    let start = (r % n as u64) as usize;
    (0..n)
        .map(|k| set[(start + k) % n])
        .find(|&i| eps[i].is_available())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod name_tests {
    use super::Balance;

    #[test]
    fn names_round_trip() {
        for n in Balance::NAMES {
            assert_eq!(Balance::parse(n).map(Balance::name), Some(*n));
        }
    }
}
