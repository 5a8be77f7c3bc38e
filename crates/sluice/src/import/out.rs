//! What an import produces, independent of the source format: listeners with routes,
//! clusters, each part carrying the source line it came from, and the warnings for what
//! could not be translated. `render` writes it as a sluice config (TOML) with the source
//! lines as comments.

use std::fmt::Write;

/// A TOML value, rendered as written (strings are quoted by `q`).
pub type Val = String;

/// A TOML string literal.
pub fn q(s: &str) -> Val {
    toml::Value::String(s.to_string()).to_string()
}

#[derive(Default)]
pub struct Doc {
    pub file: String,
    pub workers: Option<(usize, Val)>,
    pub listeners: Vec<Listener>,
    pub clusters: Vec<Cluster>,
    pub warnings: Vec<String>,
}

#[derive(Default, Clone)]
pub struct Listener {
    pub name: String,
    pub line: usize,
    pub bind: String,
    pub protocol: &'static str,
    /// Keys set on the listener (`proxy_protocol = "accept"`, `timeouts = {...}`), with lines.
    pub keys: Vec<(usize, String, Val)>,
    /// `[listeners.X.tls]` keys.
    pub tls: Vec<(usize, String, Val)>,
    pub routes: Vec<Route>,
}

#[derive(Default, Clone)]
pub struct Route {
    pub line: usize,
    pub keys: Vec<(usize, String, Val)>,
}

#[derive(Default, Clone)]
pub struct Cluster {
    pub name: String,
    pub line: usize,
    pub keys: Vec<(usize, String, Val)>,
    pub endpoints: Vec<(usize, Val)>,
}

impl Doc {
    pub fn warn(&mut self, line: usize, directive: &str, why: &str) {
        self.warnings.push(format!("{}:{line}: {directive}: {why}", self.file));
    }

    pub fn cluster(&mut self, name: &str) -> &mut Cluster {
        if let Some(i) = self.clusters.iter().position(|c| c.name == name) {
            return &mut self.clusters[i];
        }
        self.clusters.push(Cluster { name: name.to_string(), ..Default::default() });
        self.clusters.last_mut().expect("just pushed")
    }
}

/// Sets `key` (replacing an earlier value).
pub fn set(keys: &mut Vec<(usize, String, Val)>, line: usize, key: &str, v: Val) {
    keys.retain(|(_, k, _)| k != key);
    keys.push((line, key.to_string(), v));
}

fn tbl_key(k: &str) -> String {
    if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        k.to_string()
    } else {
        q(k)
    }
}

fn keys(out: &mut String, file: &str, keys: &[(usize, String, Val)]) {
    for (line, k, v) in keys {
        let _ = writeln!(out, "{k} = {v}{}", at(file, *line));
    }
}

fn at(file: &str, line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("    # {file}:{line}")
    }
}

/// The sluice config text.
pub fn render(d: &Doc) -> String {
    let mut out = format!("# Imported by `sluice import` from {}; check it with `sluice check -c FILE`.\n", d.file);
    if let Some((n, _)) = &d.workers {
        let _ = writeln!(out, "workers = {n}");
    }
    for l in &d.listeners {
        let _ = writeln!(out, "\n[listeners.{}]{}", tbl_key(&l.name), at(&d.file, l.line));
        let _ = writeln!(out, "bind = {}", q(&l.bind));
        let _ = writeln!(out, "protocol = {}", q(l.protocol));
        keys(&mut out, &d.file, &l.keys);
        if !l.tls.is_empty() {
            let _ = writeln!(out, "\n[listeners.{}.tls]", tbl_key(&l.name));
            keys(&mut out, &d.file, &l.tls);
        }
        for r in &l.routes {
            let _ = writeln!(out, "\n[[listeners.{}.routes]]{}", tbl_key(&l.name), at(&d.file, r.line));
            keys(&mut out, &d.file, &r.keys);
        }
    }
    for c in &d.clusters {
        let _ = writeln!(out, "\n[clusters.{}]{}", tbl_key(&c.name), at(&d.file, c.line));
        keys(&mut out, &d.file, &c.keys);
        let _ = writeln!(out, "endpoints = [");
        for (line, e) in &c.endpoints {
            let _ = writeln!(out, "  {e},{}", at(&d.file, *line));
        }
        let _ = writeln!(out, "]");
    }
    out
}
