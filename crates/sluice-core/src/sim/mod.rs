//! `sluice simulate`: a seeded discrete-event simulation of one cluster under load, run
//! once per balancer, to compare tail latency, errors and traffic shares — the Linkerd
//! "Beyond Round Robin" experiment in a box. Pure: no clock, no threads, no I/O.

mod dist;
mod engine;

pub use dist::Latency;
pub use engine::run;

use crate::balance::Balance;

/// One simulated endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    pub latency: Latency,
    /// Share of requests that fail (answered fast, counted as errors).
    pub error_rate: f64,
}

/// The load and the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub endpoints: Vec<EndpointSpec>,
    /// Poisson arrival rate, requests per second.
    pub rate: f64,
    /// Most requests outstanding at once; arrivals beyond wait in FIFO order.
    pub concurrency: usize,
    pub requests: usize,
}

impl Scenario {
    /// The default: ten endpoints around 10 ms, one of them slow (100 ms median), one
    /// flaky (fast, but 20 % errors); 1,000 req/s, at most 200 outstanding, 200,000 requests.
    pub fn default_cluster() -> Scenario {
        let mut endpoints: Vec<EndpointSpec> = (0..10)
            .map(|i| EndpointSpec {
                name: format!("e{i}"),
                latency: Latency::LogNormal { median: 10.0, sigma: 0.25 },
                error_rate: 0.0,
            })
            .collect();
        endpoints[0] = EndpointSpec {
            name: "slow".into(),
            latency: Latency::LogNormal { median: 100.0, sigma: 0.25 },
            error_rate: 0.0,
        };
        endpoints[1] = EndpointSpec {
            name: "flaky".into(),
            latency: Latency::LogNormal { median: 2.0, sigma: 0.25 },
            error_rate: 0.2,
        };
        Scenario { endpoints, rate: 1000.0, concurrency: 200, requests: 200_000 }
    }
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    /// Client-visible latency of every request (queueing included), sorted.
    pub latencies_ms: Vec<f64>,
    pub errors: u64,
    /// Requests sent to each endpoint.
    pub shares: Vec<u64>,
}

impl SimResult {
    /// Latency at quantile `q` (0..=1).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * q).round() as usize;
        self.latencies_ms[i]
    }

    pub fn error_rate(&self) -> f64 {
        self.errors as f64 / self.latencies_ms.len().max(1) as f64
    }
}

/// Runs every balancer and renders the comparison as a markdown table.
pub fn report(sc: &Scenario, seed: u64) -> String {
    let names: Vec<&str> = sc.endpoints.iter().map(|e| e.name.as_str()).collect();
    let mut out = format!(
        "| balance | p50 ms | p95 ms | p99 ms | p99.9 ms | errors | share % ({}) |\n|---|---|---|---|---|---|---|\n",
        names.join(" / ")
    );
    for &kind in Balance::ALL {
        let r = run(kind, sc, seed);
        let total = r.shares.iter().sum::<u64>().max(1) as f64;
        let shares: Vec<String> = r.shares.iter().map(|&s| format!("{:.1}", 100.0 * s as f64 / total)).collect();
        out.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}% | {} |\n",
            kind.name(),
            r.quantile(0.5),
            r.quantile(0.95),
            r.quantile(0.99),
            r.quantile(0.999),
            100.0 * r.error_rate(),
            shares.join(" / ")
        ));
    }
    out
}

#[cfg(test)]
mod tests;
