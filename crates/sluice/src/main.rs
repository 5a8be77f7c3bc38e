//! The `sluice` binary: the CLI (run, check, demo), logging, signals, and the wiring from a
//! config file to a running `sluice_control::Server`.
#![forbid(unsafe_code)]

mod demo;
mod import;
mod sdnotify;
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
    /// Log lines as `text` (colour only on a terminal) or `json` (one object per line, for
    /// log shippers). Logs go to stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
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
        /// Also answer DNS for `demo.test` here (GSLB records over the demo clusters), and
        /// show an anycast route following the api cluster.
        #[arg(long)]
        dns: Option<String>,
    },
    /// Feed a running sluice's anycast route states to ExaBGP: run it as an ExaBGP
    /// `process` (text encoder); it writes announce/withdraw commands on stdout.
    AnycastFeed {
        /// The running sluice's admin address.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: std::net::SocketAddr,
        /// The admin token, when the admin API has one.
        #[arg(long)]
        token: Option<String>,
    },
    /// Translate an HAProxy, NGINX or Envoy config into a sluice config (stdout); what could
    /// not be translated goes to stderr as FILE:LINE: directive: why.
    Import {
        /// The source format.
        #[arg(long, value_enum)]
        from: import::From,
        /// The config file to translate.
        file: PathBuf,
    },
    /// Simulate a cluster (one slow, one flaky endpoint by default) under every balancer and
    /// print tail latencies, errors and shares. Seeded: same seed, same table.
    Simulate(simulate::SimArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
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
        Command::Import { from, file } => import::run(from, &file),
        Command::AnycastFeed { admin, token } => {
            match sluice_control::anycast::feed::run(admin, token, &sluice_control::anycast::speaker::ExaBgp) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sluice anycast-feed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    // hickory-server logs every DNS query at info: a log line per query is not what an
    // authoritative server under load should write by default (RUST_LOG can still ask).
    let default = "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn";
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr);
    match format {
        // Colour codes only for a person at a terminal: a file or journald gets plain text.
        LogFormat::Text => fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => fmt.json().flatten_event(true).init(),
    }
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
    // Certificates for `tls.acme` names; follows reloads; stops (joined) when dropped.
    let control = handle.control();
    let _acme = match sluice_acme::Manager::start(
        std::sync::Arc::clone(&control.shared),
        std::sync::Arc::clone(&control.metrics.acme),
    ) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "ACME manager did not start; managed names are refused");
            None
        }
    };
    let notify = std::sync::Arc::new(sdnotify::Notifier::from_env());
    let signals = Signals::new(std::sync::Arc::clone(handle.control()), std::sync::Arc::clone(&notify));
    // Ready only once SIGHUP and SIGTERM are handled: a reload sent right after READY=1
    // must not meet the default action (exit).
    notify.send("READY=1");
    tracing::info!("ready (SIGHUP reloads, SIGTERM drains and stops)");
    notify.start_watchdog();
    signals.wait_for_stop();
    notify.send("STOPPING=1");
    leave_in_order(handle, signals);
    ExitCode::SUCCESS
}

/// The ordered exit (DESIGN §6): withdraw anycast routes, drop this instance from its DNS
/// answers, keep serving for `withdraw_delay` while BGP converges, then stop accepting and
/// drain. Each step is logged with its time since the signal; a second SIGTERM or SIGINT
/// skips to the end.
fn leave_in_order(handle: sluice_control::ServerHandle, signals: Signals) {
    let t0 = std::time::Instant::now();
    let at = || t0.elapsed().as_millis() as u64;
    let delay = handle.control().begin_exit();
    tracing::info!(at_ms = at(), "exit 1-2/4: anycast routes withdrawn, DNS answers exclude this instance");
    if !delay.is_zero() {
        tracing::info!(
            at_ms = at(),
            delay_ms = delay.as_millis() as u64,
            "exit 3/4: still serving while BGP converges"
        );
        if signals.second_within(delay) {
            tracing::warn!(at_ms = at(), "second signal: exiting now");
            std::process::exit(0);
        }
    }
    tracing::info!(at_ms = at(), "exit 4/4: stopped accepting, draining in-flight requests");
    handle.shutdown();
    signals.exit_on_second();
    handle.join();
    tracing::info!(at_ms = at(), "stopped");
}

/// SIGTERM, SIGINT and `POST /drain` ask to stop; SIGHUP reloads. Read on a thread of their
/// own, so a second stop signal is seen whatever the main thread is doing.
struct Signals {
    stops: std::sync::mpsc::Receiver<()>,
}

impl Signals {
    fn new(control: std::sync::Arc<sluice_control::Control>, notify: std::sync::Arc<sdnotify::Notifier>) -> Signals {
        let (tx, stops) = std::sync::mpsc::channel();
        let (installed_tx, installed) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
                    (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
                else {
                    return;
                };
                let _ = installed_tx.send(());
                let mut drain_asked = false;
                loop {
                    let stop = tokio::select! {
                        _ = term.recv() => true,
                        _ = int.recv() => true,
                        _ = control.exit_requested(), if !drain_asked => { drain_asked = true; true }
                        _ = hup.recv() => {
                            // Errors are logged by the control plane; the old config keeps serving.
                            notify.send("RELOADING=1");
                            let _ = control.reload();
                            notify.send("READY=1");
                            false
                        }
                    };
                    if stop && tx.send(()).is_err() {
                        return;
                    }
                }
            });
        });
        match spawned {
            Ok(_) => {
                let _ = installed.recv_timeout(std::time::Duration::from_secs(5));
            }
            Err(e) => tracing::error!(error = %e, "no signal thread"),
        }
        Signals { stops }
    }

    fn wait_for_stop(&self) {
        let _ = self.stops.recv();
    }

    /// True when another stop signal arrives within `d`.
    fn second_within(&self, d: std::time::Duration) -> bool {
        self.stops.recv_timeout(d).is_ok()
    }

    /// From now on, another stop signal ends the process at once.
    fn exit_on_second(self) {
        let _ = std::thread::Builder::new().name("second-signal".into()).spawn(move || {
            if self.stops.recv().is_ok() {
                tracing::warn!("second signal: exiting now");
                std::process::exit(0);
            }
        });
    }
}
