//! The overload manager's families: its level (0 normal, 1 keep-alive off, 2 refusing), the
//! pressure per resource, what it did (connections refused, requests shed, keep-alive
//! connections closed), and the process's resident memory and open descriptors.

use std::sync::atomic::Ordering::Relaxed;

use prometheus_client::encoding::DescriptorEncoder;
use sluice_core::overload::pressure;
use sluice_proxy::runtime::overload::Overload;

use super::encode::{counter, gauge};

pub fn encode(e: &mut DescriptorEncoder, ov: &Overload) -> Result<(), std::fmt::Error> {
    gauge(
        e,
        "overload_level",
        "Overload manager level: 0 normal, 1 keep-alive off, 2 refusing and shedding",
        [(vec![], ov.level() as u8 as f64)],
    )?;
    let p = [
        ("connections", pressure(ov.connections(), ov.max_connections())),
        ("memory", pressure(ov.rss.load(Relaxed), ov.memory_limit.load(Relaxed))),
        ("fds", pressure(ov.fds.load(Relaxed), ov.fd_limit.load(Relaxed))),
    ];
    gauge(
        e,
        "overload_pressure",
        "Use of each limit, as a fraction",
        p.map(|(r, v)| (vec![("resource", r.to_string())], v)),
    )?;
    counter(
        e,
        "overload_refused_connections",
        "Connections closed at accept by the overload manager",
        [(vec![], ov.refused.load(Relaxed))],
    )?;
    counter(
        e,
        "overload_shed_requests",
        "Requests answered 503 by the overload manager",
        [(vec![], ov.shed.load(Relaxed))],
    )?;
    counter(
        e,
        "overload_keepalive_closed",
        "Answers that closed their connection because keep-alive was off",
        [(vec![], ov.keepalive_closed.load(Relaxed))],
    )?;
    gauge(
        e,
        "process_resident_memory_bytes",
        "Resident memory (last overload sample)",
        [(vec![], ov.rss.load(Relaxed) as f64)],
    )?;
    gauge(
        e,
        "process_open_fds",
        "Open file descriptors (last overload sample)",
        [(vec![], ov.fds.load(Relaxed) as f64)],
    )
}
