//! Connection limits of a listener, shared by all workers: at most `max_connections` open
//! client connections in total and `max_connections_per_ip` per source address (the seed's
//! connlimit idea, §16.9.3). Checked once per accepted connection, never per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Gate {
    total: AtomicU32,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

/// An admitted connection; leaving releases its slots.
pub struct Admitted {
    gate: Arc<Gate>,
    ip: Option<IpAddr>,
}

impl Gate {
    /// Admits a connection from `ip` if both limits allow it (0 = unlimited).
    pub fn enter(self: &Arc<Self>, ip: IpAddr, max_total: u32, max_per_ip: u32) -> Option<Admitted> {
        if max_total > 0 && self.total.fetch_add(1, Relaxed) >= max_total {
            self.total.fetch_sub(1, Relaxed);
            return None;
        } else if max_total == 0 {
            self.total.fetch_add(1, Relaxed);
        }
        if max_per_ip > 0 {
            let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(ip).or_insert(0);
            if *n >= max_per_ip {
                drop(m);
                self.total.fetch_sub(1, Relaxed);
                return None;
            }
            *n += 1;
        }
        Some(Admitted { gate: Arc::clone(self), ip: (max_per_ip > 0).then_some(ip) })
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
            if let Some(n) = m.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits() {
        let g = Arc::new(Gate::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let x1 = g.enter(a, 3, 2).unwrap();
        let _x2 = g.enter(a, 3, 2).unwrap();
        assert!(g.enter(a, 3, 2).is_none(), "per-ip limit");
        let _y1 = g.enter(b, 3, 2).unwrap();
        assert!(g.enter(b, 3, 2).is_none(), "total limit");
        drop(x1);
        assert!(g.enter(a, 3, 2).is_some(), "a slot came back");
        assert_eq!(g.per_ip.lock().unwrap().len(), 2);
    }
}
