//! Balancers (§16.3): pure structs built from a cluster's endpoint list and asked to
//! `pick` with a context carrying randomness, the request's hash key, the time, and the
//! shared load views. Unavailable endpoints (unhealthy, ejected, draining, weight 0) are
//! skipped while picking, never by rebuilding; hash tables are built once per membership.
//! Backups are used only when no primary is available.

mod hash_key;
mod least;
mod maglev;
mod ring;
mod round_robin;

use std::sync::Arc;

use crate::endpoint::EndpointState;
use crate::ewma::EwmaParams;
use crate::split::WeightedChoice;

pub use hash_key::HashKey;
pub use least::{ewma_cost, least_request, p2c, peak_ewma};
pub use maglev::{Maglev, DEFAULT_TABLE_SIZE as MAGLEV_TABLE_SIZE};
pub use ring::Ring;
pub use round_robin::SmoothRoundRobin;

/// Which algorithm a cluster uses (`balance = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    Random,
    LeastConn,
    LeastRequest,
    P2c,
    PeakEwma,
    RingHash,
    Maglev,
    SourceIp,
}

impl Balance {
    /// Every balancer, in documentation order.
    pub const ALL: &'static [Balance] = &[
        Balance::RoundRobin,
        Balance::Random,
        Balance::LeastConn,
        Balance::LeastRequest,
        Balance::P2c,
        Balance::PeakEwma,
        Balance::RingHash,
        Balance::Maglev,
        Balance::SourceIp,
    ];

    /// The config name (`balance = "..."`).
    pub fn name(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round_robin",
            Balance::Random => "random",
            Balance::LeastConn => "least_conn",
            Balance::LeastRequest => "least_request",
            Balance::P2c => "p2c",
            Balance::PeakEwma => "peak_ewma",
            Balance::RingHash => "ring_hash",
            Balance::Maglev => "maglev",
            Balance::SourceIp => "source_ip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Balance::ALL.iter().copied().find(|b| b.name() == s)
    }

    /// Whether picks use the request's hash key.
    pub fn is_hashing(self) -> bool {
        matches!(self, Balance::RingHash | Balance::Maglev | Balance::SourceIp)
    }
}

/// Build-time options of a balancer (cluster config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalanceOptions {
    /// Ring points per endpoint per unit of weight (`ring_vnodes`); ketama used 160.
    pub ring_vnodes: usize,
    /// Maglev lookup table size (`maglev_table_size`), prime.
    pub maglev_table_size: usize,
    pub ewma: EwmaParams,
}

impl Default for BalanceOptions {
    fn default() -> Self {
        BalanceOptions { ring_vnodes: 160, maglev_table_size: MAGLEV_TABLE_SIZE, ewma: EwmaParams::default() }
    }
}

/// What a pick may look at besides the endpoints: two independent uniform random numbers
/// (seeded in tests), the request's hash key if it has one, and a monotonic time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PickCtx {
    pub r1: u64,
    pub r2: u64,
    pub hash: Option<u64>,
    pub now_ns: u64,
}

/// The per-algorithm table, built from the primaries once.
#[derive(Debug)]
enum Table {
    None,
    RoundRobin(SmoothRoundRobin),
    Ring(Ring),
    Maglev(Maglev),
}

/// A built balancer for one cluster.
#[derive(Debug)]
pub struct Balancer {
    kind: Balance,
    opts: BalanceOptions,
    endpoints: Vec<Arc<EndpointState>>,
    primary: Vec<usize>,
    backup: Vec<usize>,
    table: Table,
    weighted: Option<WeightedChoice>,
}

impl Balancer {
    pub fn build(kind: Balance, endpoints: Vec<Arc<EndpointState>>) -> Self {
        Self::build_with(kind, BalanceOptions::default(), endpoints)
    }

    pub fn build_with(kind: Balance, opts: BalanceOptions, endpoints: Vec<Arc<EndpointState>>) -> Self {
        let (backup, primary): (Vec<usize>, Vec<usize>) = (0..endpoints.len()).partition(|&i| endpoints[i].backup);
        let weights: Vec<u32> = primary.iter().map(|&i| endpoints[i].weight()).collect();
        let members: Vec<(String, u32)> =
            primary.iter().map(|&i| (endpoints[i].addr.to_string(), endpoints[i].weight())).collect();
        let table = match kind {
            Balance::RoundRobin => Table::RoundRobin(SmoothRoundRobin::new(&weights)),
            Balance::RingHash => Table::Ring(Ring::build(&members, opts.ring_vnodes)),
            Balance::Maglev | Balance::SourceIp => Table::Maglev(Maglev::build(&members, opts.maglev_table_size)),
            _ => Table::None,
        };
        Balancer { kind, opts, weighted: WeightedChoice::new(&weights), endpoints, primary, backup, table }
    }

    pub fn kind(&self) -> Balance {
        self.kind
    }

    pub fn options(&self) -> &BalanceOptions {
        &self.opts
    }

    pub fn endpoints(&self) -> &[Arc<EndpointState>] {
        &self.endpoints
    }

    /// Endpoints that may take new work now (`EndpointState::is_available`): what "the
    /// cluster is healthy" means to DNS answers and anycast routes.
    pub fn in_rotation(&self) -> u32 {
        self.endpoints.iter().filter(|e| e.is_available()).count() as u32
    }

    /// Picks an endpoint index: an available primary, else an available backup, else
    /// (panic mode) any primary or backup that is not draining and has weight — when
    /// health checks or ejections have taken out everything, spreading load over all
    /// beats refusing it (Envoy's panic routing, NGINX's reset of failure marks).
    /// `None` only when the cluster has nothing to send to at all.
    pub fn pick(&self, ctx: &PickCtx) -> Option<usize> {
        self.pick_primary(ctx)
            .or_else(|| first_available(&self.endpoints, &self.backup, ctx.r1))
            .or_else(|| self.panic_pick(ctx))
    }

    /// A pick for a retry: the balancer's own when it is not to be avoided (`avoid`: the
    /// endpoints already tried), else the first available primary (then backup) that is
    /// not avoided, scanning from a random offset; else the balancer's pick after all (a
    /// cluster of one tries its endpoint again). One answer for L7 and L4 retries.
    pub fn pick_avoiding(&self, ctx: &PickCtx, avoid: impl Fn(&EndpointState) -> bool) -> Option<usize> {
        let first = self.pick(ctx)?;
        if !avoid(&self.endpoints[first]) {
            return Some(first);
        }
        let eps = &self.endpoints;
        let fresh = |set: &[usize]| {
            let n = set.len().max(1);
            let start = (ctx.r2 % n as u64) as usize;
            (0..set.len()).map(|k| set[(start + k) % n]).find(|&i| eps[i].is_available() && !avoid(&eps[i]))
        };
        fresh(&self.primary).or_else(|| fresh(&self.backup)).or(Some(first))
    }

    /// Panic mode: a random endpoint ignoring health checks and ejections.
    fn panic_pick(&self, ctx: &PickCtx) -> Option<usize> {
        let usable = |i: &usize| !self.endpoints[*i].is_draining() && self.endpoints[*i].weight() > 0;
        let pool: Vec<usize> = self.primary.iter().copied().filter(usable).collect();
        let pool = if pool.is_empty() { self.backup.iter().copied().filter(usable).collect() } else { pool };
        (!pool.is_empty()).then(|| pool[(ctx.r1 % pool.len() as u64) as usize])
    }

    fn pick_primary(&self, ctx: &PickCtx) -> Option<usize> {
        let eps = &self.endpoints;
        let set = &self.primary;
        let ok = |k: usize| eps[set[k]].is_available();
        match (&self.table, self.kind) {
            (Table::RoundRobin(rr), _) => rr.pick(ok).map(|k| set[k]),
            (Table::Ring(ring), _) if ctx.hash.is_some() => ring.pick(ctx.hash.unwrap_or(0), ok).map(|k| set[k]),
            (Table::Maglev(m), _) if ctx.hash.is_some() => m.pick(ctx.hash.unwrap_or(0), ok).map(|k| set[k]),
            (_, Balance::LeastConn | Balance::LeastRequest) => least_request(eps, set, ctx.r1),
            (_, Balance::P2c) => p2c(eps, set, ctx),
            (_, Balance::PeakEwma) => peak_ewma(eps, set, ctx, &self.opts.ewma),
            _ => self.random(ctx),
        }
    }

    /// Weighted random among available primaries (also the fallback for a missing hash key).
    fn random(&self, ctx: &PickCtx) -> Option<usize> {
        let set = &self.primary;
        let i = set[self.weighted.as_ref()?.pick(ctx.r1)];
        if self.endpoints[i].is_available() {
            Some(i)
        } else {
            first_available(&self.endpoints, set, ctx.r2)
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
    (0..n).map(|k| set[(start + k) % n]).find(|&i| eps[i].is_available())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hash_tests;
