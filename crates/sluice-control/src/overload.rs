//! The overload monitor: a thread that every 500 ms reads the process's resident memory
//! (`/proc/self/statm`) and open descriptors (`/proc/self/fd`), measures them against
//! `[overload]`'s limits (or, when unset, the cgroup's `memory.max` and the soft
//! `RLIMIT_NOFILE` from `/proc/self/limits`), and sets the data plane's sampled level through
//! `sluice_core::overload::next`. Connection counts are checked inline at accept instead.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{json, Value};
use sluice_core::overload::{next, pressure, Level};
use sluice_proxy::runtime::overload::Overload;
use sluice_proxy::Snapshot;

const TICK: Duration = Duration::from_millis(500);
const PAGE: u64 = 4096;

pub fn start(
    shared: Arc<ArcSwap<Snapshot>>,
    ov: Arc<Overload>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("sluice-overload".into()).spawn(move || {
        let mut level = Level::Normal;
        while !stop.load(Relaxed) {
            level = tick(&shared.load().config.overload, &ov, level);
            std::thread::sleep(TICK);
        }
    })
}

/// One sample: readings stored for `/status` and `/metrics`, the level set and logged.
fn tick(cfg: &sluice_config::OverloadConfig, ov: &Overload, prev: Level) -> Level {
    let memory_limit = cfg.max_memory.or_else(cgroup_memory_max).unwrap_or(0);
    let fd_limit = cfg.max_fds.or_else(nofile_soft_limit).unwrap_or(0);
    let (rss, fds) = (resident_bytes().unwrap_or(0), open_fds().unwrap_or(0));
    for (a, v) in [(&ov.rss, rss), (&ov.memory_limit, memory_limit), (&ov.fds, fds), (&ov.fd_limit, fd_limit)] {
        a.store(v, Relaxed);
    }
    let p = pressure(rss, memory_limit).max(pressure(fds, fd_limit));
    let level = next(prev, p, cfg.thresholds());
    if level != prev {
        let msg = "overload level changed";
        if level > prev {
            tracing::warn!(from = prev.as_str(), to = level.as_str(), rss, memory_limit, fds, fd_limit, "{msg}");
        } else {
            tracing::info!(from = prev.as_str(), to = level.as_str(), rss, memory_limit, fds, fd_limit, "{msg}");
        }
    }
    ov.set_sampled(level);
    level
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    Some(statm.split_whitespace().nth(1)?.parse::<u64>().ok()? * PAGE)
}

fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

fn cgroup_memory_max() -> Option<u64> {
    std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?.trim().parse().ok()
}

/// The soft limit from `/proc/self/limits` ("Max open files  1024  524288  files").
fn nofile_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// `/status` `overload`.
pub fn view(ov: &Overload) -> Value {
    json!({
        "level": ov.level().as_str(), "connections": ov.connections(), "max_connections": ov.max_connections(),
        "rss_bytes": ov.rss.load(Relaxed), "memory_limit_bytes": ov.memory_limit.load(Relaxed),
        "fds": ov.fds.load(Relaxed), "fd_limit": ov.fd_limit.load(Relaxed),
        "refused": ov.refused.load(Relaxed), "shed": ov.shed.load(Relaxed), "keepalive_closed": ov.keepalive_closed.load(Relaxed),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn readings_come_from_proc() {
        assert!(super::resident_bytes().unwrap() > 1 << 20, "a test process holds more than 1 MiB");
        assert!(super::open_fds().unwrap() >= 3);
        assert!(super::nofile_soft_limit().unwrap() >= 64);
    }

    #[test]
    fn a_low_memory_limit_refuses_and_a_high_one_recovers() {
        let ov = sluice_proxy::runtime::overload::Overload::default();
        let low = sluice_config::OverloadConfig { max_memory: Some(1 << 20), ..Default::default() };
        let l = super::tick(&low, &ov, sluice_core::overload::Level::Normal);
        assert_eq!(l, sluice_core::overload::Level::Refuse);
        assert!(ov.shed(), "requests are shed at the refuse level");
        let high =
            sluice_config::OverloadConfig { max_memory: Some(1 << 40), max_fds: Some(1 << 30), ..Default::default() };
        assert_eq!(super::tick(&high, &ov, l), sluice_core::overload::Level::Normal);
        assert_eq!(super::view(&ov)["level"], "normal");
    }
}
