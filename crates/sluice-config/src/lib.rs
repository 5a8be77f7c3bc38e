//! sluice-config: reads a TOML file into the validated `Config` the proxy runs on.
//! Pipeline: text -> `file::FileConfig` (serde, unknown keys rejected) -> `validate` ->
//! `model::Config`. Every problem is reported at once as `FILE:LINE:COL: path: message`.
#![forbid(unsafe_code)]

pub mod acme;
mod acme_file;
mod admin_file;
mod anycast_file;
pub mod anycast_model;
pub mod cache;
mod checker;
pub mod diag;
pub mod diff;
pub mod discovery;
mod dns_file;
pub mod dns_model;
mod file;
pub mod http3;
pub mod model;
mod model_admin;
pub mod overload;
mod overload_file;
pub mod tls;
pub mod units;
mod validate;
mod validate_acme;
mod validate_anycast;
mod validate_balance;
mod validate_cluster;
mod validate_dns;
mod validate_resilience;
mod validate_route;
mod validate_tls;

use std::path::Path;

pub use acme::{AcmeConfig, Challenge, RenewBefore};
pub use anycast_model::*;
pub use cache::{CacheConfig, Compress, Encoding, KeyPart, RouteCache};
pub use diag::{Diagnostic, Diagnostics};
pub use discovery::{Discovery, Named, NamedEndpoint};
pub use dns_model::*;
pub use http3::{Http3Config, QuicRetry};
pub use model::*;
pub use overload::OverloadConfig;
pub use tls::{CaBundle, TlsCert, TlsConfig, UpstreamTls};

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file).map(|mut cfg| {
            // Paths inside a config file are relative to the file.
            if let Some(log) = cfg.access_log.as_mut().filter(|l| l.path.is_relative() && l.path.as_os_str() != "-") {
                log.path = path.parent().unwrap_or(Path::new(".")).join(&log.path);
            }
            cfg
        }),
        Err(e) => Err(Diagnostics {
            file,
            items: vec![Diagnostic { line: 0, col: 0, path: "(file)".into(), message: e.to_string(), hint: None }],
        }),
    }
}

/// Parses and validates config text; `file` names it in diagnostics.
pub fn parse(text: &str, file: &str) -> Result<Config, Diagnostics> {
    let mut sink = diag::Sink::new(text);
    let mut work = text.to_string();
    let mut result = None;
    // Unknown keys on a line of their own are blanked and parsing retried, so that one run
    // reports all of them; any other serde error stops at the first.
    for _ in 0..64 {
        match toml::from_str::<file::FileConfig>(&work) {
            Ok(fc) => {
                result = validate::validate(fc, &mut sink, validate_tls::base_of(file));
                break;
            }
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let (message, hint) = split_message(e.message());
                sink.error(span.clone(), diag::path_at(&work, span.clone()), message, hint);
                if !(e.message().starts_with("unknown field") && blank_line(&mut work, span.start)) {
                    break;
                }
            }
        }
    }
    let mut items = sink.items;
    items.sort_by_key(|d| (d.line, d.col));
    match result {
        Some(cfg) if items.is_empty() => Ok(cfg),
        _ => Err(Diagnostics { file: file.to_string(), items }),
    }
}

/// Splits serde's "unknown field `x`, expected one of ..." into message and hint.
fn split_message(m: &str) -> (String, Option<String>) {
    let m = m.trim().replace('\n', "; ");
    match m.split_once(", expected") {
        Some((msg, rest)) => (msg.to_string(), Some(format!("expected{rest}"))),
        None => (m.to_string(), None),
    }
}

/// Blanks the `key = value` line starting at `at` if the key begins its line and the value
/// ends on it; lengths are kept so every span stays valid. Returns whether it did.
fn blank_line(work: &mut String, at: usize) -> bool {
    let start = work[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = work[at..].find('\n').map_or(work.len(), |i| at + i);
    let line = &work[start..end];
    let balanced = |a, b| line.matches(a).count() == line.matches(b).count();
    if !work[start..at].trim().is_empty() || !balanced('[', ']') || !balanced('{', '}') || line.contains("\"\"\"") {
        return false;
    }
    let blank = " ".repeat(line.len());
    work.replace_range(start..end, &blank);
    true
}

#[cfg(test)]
mod anycast_tests;
#[cfg(test)]
mod dns_tests;
#[cfg(test)]
mod tests;
