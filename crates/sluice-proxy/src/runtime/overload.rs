//! The overload manager's state in the data plane, one per process (kept in
//! `metrics::Store`): the level the control plane's monitor last set from memory and file
//! descriptors, and the process-wide count of client connections, checked inline at accept
//! so a burst cannot overshoot between two samples. The accept loop asks `admit`, the
//! handler asks `shed` before routing and `keepalive` after answering.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use sluice_core::overload::{level, pressure, Level, Thresholds};

#[derive(Debug, Default)]
pub struct Overload {
    /// Set by the monitor from memory and descriptor pressure (`Level as u8`).
    sampled: AtomicU8,
    connections: AtomicU64,
    /// The connection limit and thresholds of `[overload]` (permille), for the accept path.
    max_connections: AtomicU64,
    keepalive_permille: AtomicU64,
    refuse_permille: AtomicU64,
    /// The monitor's last readings and the limits it measured against (0: none).
    pub rss: AtomicU64,
    pub memory_limit: AtomicU64,
    pub fds: AtomicU64,
    pub fd_limit: AtomicU64,
    pub refused: AtomicU64,
    pub shed: AtomicU64,
    pub keepalive_closed: AtomicU64,
}

/// An admitted connection's place in the count; dropping it gives the place back.
pub struct Slot(Arc<Overload>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

impl Overload {
    /// The thresholds and connection limit (on start and each reload).
    pub fn configure(&self, t: Thresholds, max_connections: u64) {
        self.max_connections.store(max_connections, Relaxed);
        self.keepalive_permille.store((t.keepalive_off * 1000.0) as u64, Relaxed);
        self.refuse_permille.store((t.refuse * 1000.0) as u64, Relaxed);
    }

    pub fn set_sampled(&self, l: Level) {
        self.sampled.store(l as u8, Relaxed);
    }

    pub fn sampled(&self) -> Level {
        Level::from_u8(self.sampled.load(Relaxed))
    }

    pub fn max_connections(&self) -> u64 {
        self.max_connections.load(Relaxed)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds {
            keepalive_off: self.keepalive_permille.load(Relaxed) as f64 / 1000.0,
            refuse: self.refuse_permille.load(Relaxed) as f64 / 1000.0,
        }
    }

    /// The level from the connection count alone (no hysteresis: it is exact).
    fn by_connections(&self, open: u64) -> Level {
        let max = self.max_connections.load(Relaxed);
        if max == 0 {
            return Level::Normal;
        }
        level(pressure(open, max), self.thresholds())
    }

    /// The level in force: the worse of the sampled one and the connection count's.
    pub fn level(&self) -> Level {
        self.sampled().max(self.by_connections(self.connections()))
    }

    /// A new connection is counted, or refused when the process is at its refuse level
    /// (counting it would reach the connection limit's refuse fraction).
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let open = self.connections.fetch_add(1, Relaxed) + 1;
        if self.sampled() == Level::Refuse || self.by_connections(open) == Level::Refuse {
            self.connections.fetch_sub(1, Relaxed);
            self.refused.fetch_add(1, Relaxed);
            return None;
        }
        Some(Slot(Arc::clone(self)))
    }

    /// A request already read is answered 503 (memory or descriptors near their limit).
    pub fn shed(&self) -> bool {
        let s = self.sampled() == Level::Refuse;
        if s {
            self.shed.fetch_add(1, Relaxed);
        }
        s
    }

    /// Whether the connection may carry another request; counted when not.
    pub fn keepalive(&self) -> bool {
        let ok = self.level() == Level::Normal;
        if !ok {
            self.keepalive_closed.fetch_add(1, Relaxed);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { keepalive_off: 0.5, refuse: 1.0 };

    #[test]
    fn connections_turn_keepalive_off_then_refuse_and_give_back_their_slots() {
        let o = Arc::new(Overload::default());
        o.configure(T, 4);
        let a = o.admit().unwrap();
        assert!(o.keepalive());
        let b = o.admit().unwrap();
        assert!(!o.keepalive(), "2 of 4: keep-alive off");
        let c = o.admit().unwrap();
        assert!(o.admit().is_none(), "the 4th would reach the limit");
        assert_eq!(o.refused.load(Relaxed), 1);
        drop((a, b, c));
        assert_eq!(o.connections(), 0);
        assert!(o.keepalive());
    }

    #[test]
    fn the_sampled_level_refuses_and_sheds() {
        let o = Arc::new(Overload::default());
        o.configure(T, 0);
        assert!(o.admit().is_some() && !o.shed());
        o.set_sampled(Level::Refuse);
        assert!(o.admit().is_none() && o.shed());
        o.set_sampled(Level::NoKeepalive);
        assert!(o.admit().is_some() && !o.shed() && !o.keepalive());
    }
}
