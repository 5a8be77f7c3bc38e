//! `diff(old, new)` for hot reload: which listeners and clusters were added, removed or
//! changed, and which changes need a restart. Pure; the proxy applies the result.

use std::fmt::Debug;

use crate::model::Config;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigDiff {
    pub listeners_added: Vec<String>,
    pub listeners_removed: Vec<String>,
    /// Same name, new bind address: the old socket closes, a new one opens.
    pub listeners_rebound: Vec<String>,
    /// Same name and bind, other settings (routes, limits, timeouts) changed.
    pub listeners_updated: Vec<String>,
    pub clusters_added: Vec<String>,
    pub clusters_removed: Vec<String>,
    pub clusters_changed: Vec<String>,
    /// `[dns]`: "added", "removed", "rebound" (new bind: the server restarts on it) or
    /// "updated" (zones, records or regions: swapped in place).
    pub dns: Vec<String>,
    /// Settings that only take effect after a restart (kept at their old values).
    pub needs_restart: Vec<String>,
}

impl ConfigDiff {
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }

    /// One line for logs and the reload response.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            ("listeners added", &self.listeners_added),
            ("listeners removed", &self.listeners_removed),
            ("listeners rebound", &self.listeners_rebound),
            ("listeners updated", &self.listeners_updated),
            ("clusters added", &self.clusters_added),
            ("clusters removed", &self.clusters_removed),
            ("clusters changed", &self.clusters_changed),
            ("dns", &self.dns),
            ("needs restart (kept)", &self.needs_restart),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}: {}", v.join(", ")))
        .collect();
        if parts.is_empty() {
            "no changes".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Structural equality through `Debug` (compiled regexes print their pattern), so the
/// config types need no `PartialEq` of their own.
fn same<T: Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Whether a listener keeps its sockets: HTTP/3 turned on or off, or new UDP buffer
/// sizes, need a new UDP socket beside the TCP one (so the listener is rebound).
fn same_sockets(a: &crate::ListenerConfig, b: &crate::ListenerConfig) -> bool {
    let udp = |l: &crate::ListenerConfig| l.http3.as_ref().map(|h| (h.udp_recv_buffer, h.udp_send_buffer));
    udp(a) == udp(b)
}

pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut d = ConfigDiff::default();
    for l in &new.listeners {
        match old.listeners.iter().find(|o| o.name == l.name) {
            None => d.listeners_added.push(l.name.clone()),
            Some(o) if o.bind != l.bind || !same_sockets(o, l) => d.listeners_rebound.push(l.name.clone()),
            Some(o) if !same(o, l) => d.listeners_updated.push(l.name.clone()),
            Some(_) => {}
        }
    }
    d.listeners_removed = old
        .listeners
        .iter()
        .filter(|o| !new.listeners.iter().any(|l| l.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    for (name, c) in &new.clusters {
        match old.clusters.get(name) {
            None => d.clusters_added.push(name.clone()),
            Some(o) if !same(o, c) => d.clusters_changed.push(name.clone()),
            Some(_) => {}
        }
    }
    d.clusters_removed = old.clusters.keys().filter(|k| !new.clusters.contains_key(*k)).cloned().collect();
    let dns = match (&old.dns, &new.dns) {
        (None, Some(_)) => Some("added"),
        (Some(_), None) => Some("removed"),
        (Some(o), Some(n)) if o.bind != n.bind => Some("rebound"),
        (Some(o), Some(n)) if !same(o, n) => Some("updated"),
        _ => None,
    };
    d.dns.extend(dns.map(String::from));
    if old.workers != new.workers {
        d.needs_restart.push("workers".into());
    }
    if !same(&old.admin, &new.admin) {
        d.needs_restart.push("admin".into());
    }
    if old.access_log != new.access_log {
        d.needs_restart.push("access_log".into());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const BASE: &str = "workers = 2\n[listeners.web]\nbind = \"127.0.0.1:8080\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"127.0.0.1:9001\"]\n";

    fn cfg(t: &str) -> Config {
        parse(t, "t.toml").unwrap_or_else(|d| panic!("{d}"))
    }

    #[test]
    fn identical_configs_have_no_diff() {
        let d = diff(&cfg(BASE), &cfg(BASE));
        assert!(d.is_empty());
        assert_eq!(d.summary(), "no changes");
    }

    #[test]
    fn listener_changes_are_classified() {
        let more = format!("{BASE}[listeners.api]\nbind = \"127.0.0.1:8081\"\n");
        assert_eq!(diff(&cfg(BASE), &cfg(&more)).listeners_added, vec!["api"]);
        assert_eq!(diff(&cfg(&more), &cfg(BASE)).listeners_removed, vec!["api"]);
        let moved = BASE.replace("8080", "8090");
        assert_eq!(diff(&cfg(BASE), &cfg(&moved)).listeners_rebound, vec!["web"]);
        let routed = BASE.replace("cluster = \"a\"", "path_prefix = \"/x\"\ncluster = \"a\"");
        let d = diff(&cfg(BASE), &cfg(&routed));
        assert_eq!(d.listeners_updated, vec!["web"]);
        assert!(d.listeners_rebound.is_empty() && d.clusters_changed.is_empty());
    }

    #[test]
    fn cluster_changes_and_restart_only_settings() {
        let c = BASE
            .replace("[\"127.0.0.1:9001\"]", "[\"127.0.0.1:9001\", \"127.0.0.1:9002\"]")
            .replace("workers = 2", "workers = 3")
            + "[clusters.b]\nendpoints = []\n";
        let d = diff(&cfg(BASE), &cfg(&c));
        assert_eq!(d.clusters_changed, vec!["a"]);
        assert_eq!(d.clusters_added, vec!["b"]);
        assert_eq!(d.needs_restart, vec!["workers"]);
        assert!(d.summary().contains("clusters changed: a") && d.summary().contains("needs restart (kept): workers"));
    }
}
