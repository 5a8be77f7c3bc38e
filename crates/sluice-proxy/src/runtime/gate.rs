//! Connection limits of a listener, shared by all workers: at most `max_connections` open
//! client connections in total, `max_connections_per_ip` per source address, and
//! `accept_rate_per_ip` new connections per second per source (the seed's connlimit and
//! SYN-rate ideas, §16.9.3). Checked once per accepted connection, never per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sluice_core::bucket::TokenBucket;

#[derive(Debug, Default)]
pub struct Gate {
    total: AtomicU32,
    per_ip: Mutex<HashMap<IpAddr, PerIp>>,
}

#[derive(Debug)]
struct PerIp {
    open: u32,
    bucket: Option<TokenBucket>,
}

/// Addresses tracked before idle entries are pruned.
const MAX_TRACKED: usize = 100_000;

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerIp,
    Rate,
}

/// What a listener allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_total: u32,
    pub max_per_ip: u32,
    pub rate_per_ip: Option<f64>,
}

/// An admitted connection; leaving releases its slots.
pub struct Admitted {
    gate: Arc<Gate>,
    ip: Option<IpAddr>,
}

impl Gate {
    /// Admits a connection from `ip` at `now_ns` if every limit allows it (0 = unlimited).
    pub fn enter(self: &Arc<Self>, ip: IpAddr, l: Limits, now_ns: u64) -> Result<Admitted, Refused> {
        if l.max_total > 0 && self.total.fetch_add(1, Relaxed) >= l.max_total {
            self.total.fetch_sub(1, Relaxed);
            return Err(Refused::Total);
        } else if l.max_total == 0 {
            self.total.fetch_add(1, Relaxed);
        }
        let tracked = l.max_per_ip > 0 || l.rate_per_ip.is_some();
        if tracked {
            if let Err(r) = self.admit_ip(ip, l, now_ns) {
                self.total.fetch_sub(1, Relaxed);
                return Err(r);
            }
        }
        Ok(Admitted { gate: Arc::clone(self), ip: tracked.then_some(ip) })
    }

    fn admit_ip(&self, ip: IpAddr, l: Limits, now_ns: u64) -> Result<(), Refused> {
        let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_TRACKED {
            m.retain(|_, e| e.open > 0);
        }
        let e = m
            .entry(ip)
            .or_insert_with(|| PerIp { open: 0, bucket: l.rate_per_ip.map(|r| TokenBucket::full(r.max(1.0), now_ns)) });
        if l.max_per_ip > 0 && e.open >= l.max_per_ip {
            return Err(Refused::PerIp);
        }
        if let (Some(rate), Some(b)) = (l.rate_per_ip, e.bucket.as_mut()) {
            if !b.take(now_ns, rate, rate.max(1.0)) {
                return Err(Refused::Rate);
            }
        }
        e.open += 1;
        Ok(())
    }

    pub fn open(&self) -> u32 {
        self.total.load(Relaxed)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.gate.total.fetch_sub(1, Relaxed);
        if let Some(ip) = self.ip {
            let mut m = self.gate.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = m.get_mut(&ip) {
                e.open = e.open.saturating_sub(1);
                if e.open == 0 && e.bucket.is_none() {
                    m.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "gate_test.rs"]
mod tests;
