//! `[overload]`: process-wide limits on client connections, memory (RSS) and open file
//! descriptors, and the fractions of them where sluice stops keep-alive reuse and where it
//! refuses new connections and sheds requests (`sluice_core::overload`). Absent limits are
//! found at run time: the cgroup's `memory.max` and the `RLIMIT_NOFILE` soft limit.

use crate::checker::V;
use crate::overload_file::FileOverload;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverloadConfig {
    /// Open client connections, all listeners together (0: no limit).
    pub max_connections: u64,
    /// Resident memory in bytes; None: the cgroup's limit if there is one.
    pub max_memory: Option<u64>,
    /// Open file descriptors; None: the process's soft RLIMIT_NOFILE.
    pub max_fds: Option<u64>,
    pub keepalive_off_at: f64,
    pub refuse_at: f64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig { max_connections: 0, max_memory: None, max_fds: None, keepalive_off_at: 0.8, refuse_at: 0.95 }
    }
}

impl OverloadConfig {
    pub fn thresholds(&self) -> sluice_core::overload::Thresholds {
        sluice_core::overload::Thresholds { keepalive_off: self.keepalive_off_at, refuse: self.refuse_at }
    }
}

pub fn overload(v: &mut V, f: Option<&FileOverload>) -> OverloadConfig {
    let d = OverloadConfig::default();
    let Some(f) = f else { return d };
    let max_connections = v.int(&f.max_connections, "overload.max_connections", 1, 100_000_000, 0) as u64;
    let max_memory = f.max_memory.as_ref().map(|_| v.size(&f.max_memory, "overload.max_memory", 0));
    let max_fds = f.max_fds.as_ref().map(|_| v.int(&f.max_fds, "overload.max_fds", 16, 100_000_000, 0) as u64);
    let mut fraction = |x: &Option<toml::Spanned<f64>>, path: &str, default: f64| match x {
        Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 1.0 => *s.get_ref(),
        Some(s) => {
            v.err(s.span(), path, format!("{} is not a fraction in (0, 1]", s.get_ref()), Some("e.g. 0.8"));
            default
        }
        None => default,
    };
    let keepalive_off_at = fraction(&f.keepalive_off_at, "overload.keepalive_off_at", d.keepalive_off_at);
    let refuse_at = fraction(&f.refuse_at, "overload.refuse_at", d.refuse_at);
    if let (Some(s), true) = (&f.refuse_at, refuse_at < keepalive_off_at) {
        v.err(
            s.span(),
            "overload.refuse_at",
            "refuse_at is below keepalive_off_at",
            Some("keep-alive stops first, then new connections"),
        );
    }
    OverloadConfig { max_connections, max_memory, max_fds, keepalive_off_at, refuse_at }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn defaults_and_limits() {
        let cfg = parse("", "t.toml").unwrap();
        assert_eq!(cfg.overload, super::OverloadConfig::default());
        let cfg = parse(
            "[overload]\nmax_connections = 100\nmax_memory = \"512MiB\"\nmax_fds = 4096\nkeepalive_off_at = 0.7",
            "t.toml",
        )
        .unwrap();
        let o = cfg.overload;
        assert_eq!(
            (o.max_connections, o.max_memory, o.max_fds, o.keepalive_off_at),
            (100, Some(512 << 20), Some(4096), 0.7)
        );
        let e = parse("[overload]\nmax_connections = 0\nrefuse_at = 0.5\nkeepalive_off_at = 1.5", "t.toml")
            .unwrap_err()
            .to_string();
        for want in ["t.toml:2:19: overload.max_connections", "keepalive_off_at", "refuse_at is below"] {
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
