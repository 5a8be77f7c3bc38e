//! Route health injection (seed §16.10.1): what an anycast route should be — announced,
//! announced degraded (with AS-path prepends and communities, so routers prefer other
//! edges), or withdrawn — from how many endpoints of its cluster are in rotation, with
//! hysteresis so a flapping cluster does not flap BGP. Pure: time is an input.

/// What a route is announced as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteState {
    Announced,
    Degraded,
    Withdrawn,
}

impl RouteState {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteState::Announced => "announced",
            RouteState::Degraded => "degraded",
            RouteState::Withdrawn => "withdrawn",
        }
    }
}

/// The state a route's thresholds call for with `healthy` endpoints in rotation.
pub fn wanted(healthy: u32, min_healthy: u32, degraded_below: Option<u32>) -> RouteState {
    if healthy < min_healthy {
        RouteState::Withdrawn
    } else if degraded_below.is_some_and(|d| healthy < d) {
        RouteState::Degraded
    } else {
        RouteState::Announced
    }
}

/// A route's state with hysteresis: a new wanted state takes effect only once it has been
/// wanted without a break for `hold`. A route starts withdrawn, so it is first announced
/// after its cluster has been healthy for `hold` (not before the first health checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    pub state: RouteState,
    /// Since when the state has been what it is (ns).
    pub since_ns: u64,
    /// A different wanted state, and since when it has been wanted.
    pending: Option<(RouteState, u64)>,
}

impl Hysteresis {
    pub fn new(now_ns: u64) -> Self {
        Hysteresis { state: RouteState::Withdrawn, since_ns: now_ns, pending: None }
    }

    /// Feeds the state wanted now; returns the new state when it changes.
    pub fn observe(&mut self, wanted: RouteState, now_ns: u64, hold_ns: u64) -> Option<RouteState> {
        if wanted == self.state {
            self.pending = None;
            return None;
        }
        let since = match self.pending {
            Some((p, since)) if p == wanted => since,
            _ => {
                self.pending = Some((wanted, now_ns));
                now_ns
            }
        };
        if now_ns.saturating_sub(since) < hold_ns {
            return None;
        }
        self.force(wanted, now_ns);
        Some(wanted)
    }

    /// Sets the state at once (stopping: every route is withdrawn without waiting).
    pub fn force(&mut self, state: RouteState, now_ns: u64) {
        if state != self.state {
            self.since_ns = now_ns;
        }
        self.state = state;
        self.pending = None;
    }

    /// The state waiting for its hold to pass, if any.
    pub fn pending(&self) -> Option<RouteState> {
        self.pending.map(|p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const HOLD: u64 = 2 * S;

    #[test]
    fn thresholds_pick_the_state() {
        assert_eq!(wanted(0, 1, Some(2)), RouteState::Withdrawn);
        assert_eq!(wanted(1, 1, Some(2)), RouteState::Degraded);
        assert_eq!(wanted(2, 1, Some(2)), RouteState::Announced);
        assert_eq!(wanted(1, 1, None), RouteState::Announced);
        assert_eq!(wanted(2, 3, None), RouteState::Withdrawn);
    }

    #[test]
    fn a_route_is_first_announced_after_the_hold() {
        let mut h = Hysteresis::new(0);
        assert_eq!(h.observe(RouteState::Announced, 0, HOLD), None);
        assert_eq!(h.observe(RouteState::Announced, S, HOLD), None);
        assert_eq!(h.pending(), Some(RouteState::Announced));
        assert_eq!(h.observe(RouteState::Announced, 2 * S, HOLD), Some(RouteState::Announced));
        assert_eq!((h.state, h.since_ns), (RouteState::Announced, 2 * S));
    }

    #[test]
    fn flapping_shorter_than_the_hold_changes_nothing() {
        let mut h = Hysteresis::new(0);
        h.force(RouteState::Announced, 0);
        for t in 0..20 {
            let w = if t % 2 == 0 { RouteState::Withdrawn } else { RouteState::Announced };
            assert_eq!(h.observe(w, t * S, HOLD), None, "flap at {t}s");
        }
        assert_eq!(h.state, RouteState::Announced);
    }

    #[test]
    fn a_new_wanted_state_restarts_the_hold() {
        let mut h = Hysteresis::new(0);
        h.force(RouteState::Announced, 0);
        assert_eq!(h.observe(RouteState::Degraded, 10 * S, HOLD), None);
        assert_eq!(h.observe(RouteState::Withdrawn, 11 * S, HOLD), None, "a different state starts its own hold");
        assert_eq!(h.observe(RouteState::Withdrawn, 12 * S, HOLD), None);
        assert_eq!(h.observe(RouteState::Withdrawn, 13 * S, HOLD), Some(RouteState::Withdrawn));
    }

    #[test]
    fn force_withdraws_at_once() {
        let mut h = Hysteresis::new(0);
        h.force(RouteState::Announced, 0);
        h.force(RouteState::Withdrawn, 5 * S);
        assert_eq!((h.state, h.since_ns, h.pending()), (RouteState::Withdrawn, 5 * S, None));
    }
}
