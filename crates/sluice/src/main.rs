//! The `sluice` binary: the CLI (run, check, demo), logging, signals, and the wiring from a
//! config file to a running `sluice_control::Server`.
#![forbid(unsafe_code)]

mod demo;
mod simulate;

/// mimalloc: measured faster than glibc malloc on the per-request path (bench/quick.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sluice", version, about = "An L4/L7 load balancer and reverse proxy", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  sluice demo                      # built-in backends, proxy on :8080, admin on :9901
  sluice check -c sluice.toml      # validate a config, like nginx -t
  sluice run -c sluice.toml        # serve; SIGTERM/SIGINT drain and stop
  sluice simulate --seed 7         # compare balancers on a simulated cluster";

#[derive(Subcommand)]
enum Command {
    /// Run the proxy with a config file.
    Run {
        /// Config file.
        #[arg(short, long, default_value = "sluice.toml")]
        config: PathBuf,
    },
    /// Validate a config file: print every problem as FILE:LINE:COL and exit 1 if any.
    Check {
        /// Config file.
        #[arg(short, long, default_value = "sluice.toml")]
        config: PathBuf,
    },
    /// Zero-setup tour: three built-in backends, the proxy on 127.0.0.1:8080, admin on :9901.
    Demo {
        /// Proxy listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Admin listen address.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: String,
        /// Also answer DNS for `demo.test` (GSLB records over the demo clusters) here.
        #[arg(long)]
        dns: Option<String>,
    },
    /// Simulate a cluster (one slow, one flaky endpoint by default) under every balancer and
    /// print tail latencies, errors and shares. Seeded: same seed, same table.
    Simulate(simulate::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Run { config } => match sluice_config::load(&config) {
            Ok(cfg) => run(cfg, Some(config)),
            Err(d) => {
                eprint!("{d}");
                ExitCode::FAILURE
            }
        },
        Command::Demo { listen, admin, dns } => demo::run(&listen, &admin, dns.as_deref()),
        Command::Simulate(args) => simulate::run(&args),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
}

fn check(path: &std::path::Path) -> ExitCode {
    match sluice_config::load(path) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} listeners, {} clusters, {} workers)",
                path.display(),
                cfg.listeners.len(),
                cfg.clusters.len(),
                cfg.workers
            );
            ExitCode::SUCCESS
        }
        Err(d) => {
            eprint!("{d}");
            eprintln!("{}: {} error(s)", path.display(), d.items.len());
            ExitCode::FAILURE
        }
    }
}

/// Starts the server and blocks until SIGTERM/SIGINT (SIGHUP reloads `path`).
pub fn run(cfg: sluice_config::Config, path: Option<PathBuf>) -> ExitCode {
    let handle = match sluice_control::Server::start_from(cfg, path) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, addr) in handle.listeners() {
        tracing::info!(listener = %name, %addr, "listening");
    }
    if let Some(a) = handle.admin_addr() {
        tracing::info!(%a, "admin listening");
    }
    wait_for_stop(handle.control());
    tracing::info!("stopping: draining in-flight requests");
    handle.shutdown();
    handle.join();
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

fn wait_for_stop(control: &sluice_control::Control) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => {
                    // Errors are logged by the control plane; the old config keeps serving.
                    let _ = control.reload();
                }
            }
        }
    });
}
