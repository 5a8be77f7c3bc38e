//! `sluice simulate`: builds a scenario from flags (or a small TOML file) and prints the
//! per-balancer table from `sluice_core::sim`. Same seed, same table.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;
use sluice_core::sim::{report, EndpointSpec, Latency, Scenario};

#[derive(Args)]
pub struct SimArgs {
    /// RNG seed; the same seed gives the same table.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of requests to simulate.
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
    /// Arrival rate, requests per second (Poisson).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Most requests outstanding at once (later arrivals queue).
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Number of endpoints.
    #[arg(long, default_value_t = 10)]
    endpoints: usize,
    /// Latency of the normal endpoints: 10ms, uniform:A-B, exp:MEAN, lognormal:MEDIAN:SIGMA.
    #[arg(long, default_value = "lognormal:10:0.25")]
    latency: String,
    /// Latency of the slow endpoint (`none` for no slow endpoint).
    #[arg(long, default_value = "lognormal:100:0.25")]
    slow: String,
    /// Error rate of the flaky endpoint, which answers fast (0 for none).
    #[arg(long, default_value_t = 0.2)]
    flaky_errors: f64,
    /// A TOML scenario instead of the flags: rate, concurrency, requests and
    /// [[endpoints]] with name, latency and error_rate.
    #[arg(long)]
    scenario: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    rate: Option<f64>,
    concurrency: Option<usize>,
    requests: Option<usize>,
    endpoints: Vec<FileEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    name: String,
    latency: String,
    error_rate: Option<f64>,
}

pub fn run(a: &SimArgs) -> ExitCode {
    match scenario(a) {
        Ok(sc) => {
            println!(
                "sluice simulate: {} endpoints, {} req/s, concurrency {}, {} requests, seed {}\n",
                sc.endpoints.len(),
                sc.rate,
                sc.concurrency,
                sc.requests,
                a.seed
            );
            print!("{}", report(&sc, a.seed));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sluice simulate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn scenario(a: &SimArgs) -> Result<Scenario, String> {
    if let Some(path) = &a.scenario {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let f: FileScenario = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let endpoints = f
            .endpoints
            .into_iter()
            .map(|e| {
                Ok(EndpointSpec {
                    name: e.name,
                    latency: Latency::parse(&e.latency)?,
                    error_rate: e.error_rate.unwrap_or(0.0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        return checked(Scenario {
            endpoints,
            rate: f.rate.unwrap_or(a.rate),
            concurrency: f.concurrency.unwrap_or(a.concurrency),
            requests: f.requests.unwrap_or(a.requests),
        });
    }
    let normal = Latency::parse(&a.latency)?;
    let mut endpoints: Vec<EndpointSpec> =
        (0..a.endpoints).map(|i| EndpointSpec { name: format!("e{i}"), latency: normal, error_rate: 0.0 }).collect();
    let mut next = 0;
    if a.slow != "none" && next < endpoints.len() {
        endpoints[next] = EndpointSpec { name: "slow".into(), latency: Latency::parse(&a.slow)?, error_rate: 0.0 };
        next += 1;
    }
    if a.flaky_errors > 0.0 && next < endpoints.len() {
        let fast = Latency::LogNormal { median: 2.0, sigma: 0.25 };
        endpoints[next] = EndpointSpec { name: "flaky".into(), latency: fast, error_rate: a.flaky_errors };
    }
    checked(Scenario { endpoints, rate: a.rate, concurrency: a.concurrency, requests: a.requests })
}

fn checked(sc: Scenario) -> Result<Scenario, String> {
    if sc.endpoints.is_empty() || sc.rate <= 0.0 || sc.concurrency == 0 || sc.requests == 0 {
        return Err("need at least one endpoint and a positive rate, concurrency and request count".into());
    }
    if sc.endpoints.iter().any(|e| !(0.0..=1.0).contains(&e.error_rate)) {
        return Err("error_rate must be within 0..=1".into());
    }
    Ok(sc)
}
