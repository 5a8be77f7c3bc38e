//! The discrete-event loop: Poisson arrivals, a cap on outstanding requests (arrivals
//! beyond it wait in FIFO order), one balancer pick per request against live load views
//! (in-flight counts and peak-EWMA), and completions that update those views. Time is
//! simulated nanoseconds; the same seed replays the same run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Scenario, SimResult};
use crate::balance::{Balance, BalanceOptions, Balancer, PickCtx};
use crate::endpoint::{EndpointState, InFlight};
use crate::hash::hash_key;

/// Distinct simulated clients (hash keys for the hashing balancers).
const CLIENTS: u64 = 1000;

struct Pending {
    arrived_ns: u64,
    client: u64,
}

/// One request in service: the heap orders completions by time, then sequence.
struct Done {
    at: u64,
    seq: u64,
    endpoint: usize,
    arrived_ns: u64,
    started_ns: u64,
    failed: bool,
    _guard: InFlight,
}

impl PartialEq for Done {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Done {}
impl PartialOrd for Done {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Done {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

struct Sim<'a> {
    sc: &'a Scenario,
    balancer: Balancer,
    eps: Vec<Arc<EndpointState>>,
    rng: SmallRng,
    running: BinaryHeap<Reverse<Done>>,
    waiting: VecDeque<Pending>,
    seq: u64,
    out: SimResult,
}

/// Runs `sc` with balancer `kind` and returns latencies (ms, sorted), errors and shares.
pub fn run(kind: Balance, sc: &Scenario, seed: u64) -> SimResult {
    let eps: Vec<Arc<EndpointState>> = (0..sc.endpoints.len())
        .map(|i| Arc::new(EndpointState::new(format!("10.0.0.{}:80", i + 1).parse().expect("valid"), 1, false)))
        .collect();
    let opts = BalanceOptions { maglev_table_size: 4099, ..Default::default() };
    let mut sim = Sim {
        sc,
        balancer: Balancer::build_with(kind, opts, eps.clone()),
        eps,
        rng: SmallRng::seed_from_u64(seed),
        running: BinaryHeap::new(),
        waiting: VecDeque::new(),
        seq: 0,
        out: SimResult { latencies_ms: Vec::new(), errors: 0, shares: vec![0; sc.endpoints.len()] },
    };
    sim.run_all();
    sim.out.latencies_ms.sort_by(f64::total_cmp);
    sim.out
}

impl Sim<'_> {
    fn run_all(&mut self) {
        let gap_mean_ns = 1e9 / self.sc.rate;
        let mut next_arrival = 0u64;
        for _ in 0..self.sc.requests {
            while self.running.peek().is_some_and(|Reverse(d)| d.at <= next_arrival) {
                self.complete();
            }
            let client = self.rng.gen_range(0..CLIENTS);
            self.waiting.push_back(Pending { arrived_ns: next_arrival, client });
            self.dispatch(next_arrival);
            next_arrival += (-gap_mean_ns * (1.0 - self.rng.gen::<f64>()).ln()) as u64;
        }
        while !self.running.is_empty() {
            self.complete();
        }
    }

    /// Starts waiting requests while there is room under the concurrency cap.
    fn dispatch(&mut self, now: u64) {
        while self.running.len() < self.sc.concurrency {
            let Some(p) = self.waiting.pop_front() else {
                return;
            };
            let ctx = PickCtx {
                r1: self.rng.gen(),
                r2: self.rng.gen(),
                hash: Some(hash_key(&p.client.to_le_bytes())),
                now_ns: now,
            };
            let Some(i) = self.balancer.pick(&ctx) else {
                return;
            };
            let spec = &self.sc.endpoints[i];
            let latency_ns = (spec.latency.sample_ms(&mut self.rng) * 1e6) as u64;
            let failed = self.rng.gen::<f64>() < spec.error_rate;
            self.seq += 1;
            self.out.shares[i] += 1;
            let guard = self.eps[i].start_request();
            let done = Done {
                at: now + latency_ns,
                seq: self.seq,
                endpoint: i,
                arrived_ns: p.arrived_ns,
                started_ns: now,
                failed,
                _guard: guard,
            };
            self.running.push(Reverse(done));
        }
    }

    fn complete(&mut self) {
        let Some(Reverse(d)) = self.running.pop() else {
            return;
        };
        let e = &self.eps[d.endpoint];
        e.ewma.observe((d.at - d.started_ns) as f64, d.failed, d.at, &self.balancer.options().ewma);
        self.out.latencies_ms.push((d.at - d.arrived_ns) as f64 / 1e6);
        self.out.errors += u64::from(d.failed);
        let at = d.at;
        drop(d);
        self.dispatch(at);
    }
}
