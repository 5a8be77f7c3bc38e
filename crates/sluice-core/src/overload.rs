//! The overload manager's decision (Envoy's overload manager, HAProxy's `maxconn`): from how
//! full the process is (connections, memory, file descriptors, each as a fraction of its
//! limit) to what it does — nothing, stop keep-alive reuse, or refuse new connections and
//! shed requests. Levels rise at once and fall only `HYSTERESIS` below their threshold, so a
//! process hovering at a threshold does not flap. Pure: the readings are inputs.

/// What the proxy does at each level, from least to most drastic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Normal = 0,
    /// Answers close their connection (`Connection: close`, HTTP/2 GOAWAY).
    NoKeepalive = 1,
    /// New connections are closed at accept; requests already read get 503.
    Refuse = 2,
}

impl Level {
    pub fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Normal,
            1 => Level::NoKeepalive,
            _ => Level::Refuse,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::NoKeepalive => "no_keepalive",
            Level::Refuse => "refusing",
        }
    }
}

/// Fractions of a limit where each level starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub keepalive_off: f64,
    pub refuse: f64,
}

/// How far below a threshold the pressure must fall before its level is left.
pub const HYSTERESIS: f64 = 0.05;

/// `used / limit`; no limit (0) is no pressure.
pub fn pressure(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    }
}

/// The level for `pressure` with no memory of the last one.
pub fn level(pressure: f64, t: Thresholds) -> Level {
    if pressure >= t.refuse {
        Level::Refuse
    } else if pressure >= t.keepalive_off {
        Level::NoKeepalive
    } else {
        Level::Normal
    }
}

/// The next level after `prev`: up at once, down only below the threshold by `HYSTERESIS`.
pub fn next(prev: Level, pressure: f64, t: Thresholds) -> Level {
    let up = level(pressure, t);
    if up >= prev {
        return up;
    }
    let lowered = Thresholds { keepalive_off: t.keepalive_off - HYSTERESIS, refuse: t.refuse - HYSTERESIS };
    level(pressure, lowered).min(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { keepalive_off: 0.8, refuse: 0.95 };

    #[test]
    fn levels_rise_at_their_thresholds() {
        assert_eq!(level(0.5, T), Level::Normal);
        assert_eq!(level(0.8, T), Level::NoKeepalive);
        assert_eq!(level(0.95, T), Level::Refuse);
        assert_eq!(level(3.0, T), Level::Refuse);
        assert_eq!(pressure(5, 0), 0.0, "no limit, no pressure");
        assert_eq!(pressure(3, 4), 0.75);
    }

    #[test]
    fn levels_fall_only_below_the_hysteresis_band() {
        let mut l = next(Level::Normal, 0.96, T);
        assert_eq!(l, Level::Refuse);
        l = next(l, 0.93, T);
        assert_eq!(l, Level::Refuse, "inside the band: stays");
        l = next(l, 0.89, T);
        assert_eq!(l, Level::NoKeepalive);
        l = next(l, 0.77, T);
        assert_eq!(l, Level::NoKeepalive);
        l = next(l, 0.74, T);
        assert_eq!(l, Level::Normal);
    }

    #[test]
    fn a_pressure_sweep_never_skips_upwards_and_never_rises_on_a_fall() {
        let mut prev = Level::Normal;
        let mut p = 0.0;
        for step in 0..400 {
            p = if step < 200 { p + 0.006 } else { p - 0.006 };
            let l = next(prev, p, T);
            if step < 200 {
                assert!(l >= prev, "rising pressure never lowers the level");
            } else {
                assert!(l <= prev, "falling pressure never raises it");
            }
            assert_eq!(Level::from_u8(l as u8), l);
            prev = l;
        }
    }
}
