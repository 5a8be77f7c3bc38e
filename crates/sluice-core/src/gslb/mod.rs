//! GSLB answers (seed §16.10.2): which of a DNS record's targets go in an answer, from
//! their health, region, weight, priority and measured latency. Pure: the DNS server
//! (sluice-control) gathers the facts from the shared endpoint state and passes a random
//! number; this decides. Also the client-subnet → region table (`regions`).
//!
//! Every policy first keeps the healthy targets of the best (lowest) `priority` that has
//! any, then: `weighted` answers one, random by weight; `failover` the first in list order;
//! `geo` all of the client's region, else of the nearest other region that has one, else
//! all; `latency` the one with the lowest latency (unmeasured ones last); `all_healthy`
//! all. With no healthy target at all every target is answered (fail open, as Route 53
//! does) and the answer says so: an empty NOERROR would take the name off the internet.

pub mod regions;

/// How a record chooses among its healthy targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Weighted,
    Failover,
    Geo,
    Latency,
    AllHealthy,
}

impl Policy {
    /// The config and metrics name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Weighted => "weighted",
            Policy::Failover => "failover",
            Policy::Geo => "geo",
            Policy::Latency => "latency",
            Policy::AllHealthy => "all_healthy",
        }
    }
}

/// What the answer needs to know of one target right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetView {
    pub healthy: bool,
    /// Index into the region table, when the target has a region.
    pub region: Option<u16>,
    pub weight: u32,
    /// Lower is preferred; targets of a worse priority are answered only when no target of
    /// a better one is healthy.
    pub priority: u32,
    /// The cluster's measured latency (nanoseconds), when there is a measurement.
    pub latency_ns: Option<u64>,
}

/// The targets to answer (indices in record order) and whether it failed open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub picks: Vec<usize>,
    pub fail_open: bool,
}

/// The client's place for `geo`: its region (if its address is in one) and the order in
/// which to try the other regions when its own has no healthy target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client<'a> {
    pub region: Option<u16>,
    pub nearest: &'a [u16],
}

/// Chooses the targets of one answer. `rand` is only used by `weighted`.
pub fn answer(policy: Policy, targets: &[TargetView], client: Client<'_>, rand: u64) -> Answer {
    let Some(best) = targets.iter().filter(|t| t.healthy).map(|t| t.priority).min() else {
        return Answer { picks: (0..targets.len()).collect(), fail_open: true };
    };
    let cand: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].healthy && targets[i].priority == best).collect();
    let picks = match policy {
        Policy::Weighted => vec![weighted(targets, &cand, rand)],
        Policy::Failover => vec![cand[0]],
        Policy::Geo => geo(targets, cand, client),
        Policy::Latency => vec![fastest(targets, &cand)],
        Policy::AllHealthy => cand,
    };
    Answer { picks, fail_open: false }
}

/// One of `cand` (not empty), random by weight; uniform when every weight is 0.
fn weighted(targets: &[TargetView], cand: &[usize], rand: u64) -> usize {
    let total: u64 = cand.iter().map(|&i| u64::from(targets[i].weight)).sum();
    if total == 0 {
        return cand[(rand % cand.len() as u64) as usize];
    }
    let mut r = rand % total;
    for &i in cand {
        let w = u64::from(targets[i].weight);
        if r < w {
            return i;
        }
        r -= w;
    }
    cand[cand.len() - 1]
}

fn geo(targets: &[TargetView], cand: Vec<usize>, client: Client<'_>) -> Vec<usize> {
    let order = client.region.into_iter().chain(client.nearest.iter().copied());
    for region in order {
        let here: Vec<usize> = cand.iter().copied().filter(|&i| targets[i].region == Some(region)).collect();
        if !here.is_empty() {
            return here;
        }
    }
    cand
}

/// The candidate with the lowest latency; unmeasured ones rank last, ties go to list order.
fn fastest(targets: &[TargetView], cand: &[usize]) -> usize {
    let key = |i: usize| targets[i].latency_ns.unwrap_or(u64::MAX);
    cand.iter().copied().min_by_key(|&i| (key(i), i)).unwrap_or(cand[0])
}

#[cfg(test)]
mod tests;
