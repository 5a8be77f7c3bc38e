//! HTTP caching and compression settings: `[caches.NAME]` stores, a route's `cache` and
//! `compress` tables, as the proxy reads them, and their checks. The file forms are in
//! `file.rs` (`FileCache`, `FileRouteCache`, `FileCompress`).

use std::time::Duration;

use crate::checker::V;
use crate::file::{FileCache, FileCompress, FileRouteCache, S};

/// A named in-memory cache store, shared by every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub name: String,
    pub max_size: u64,
    /// Larger answers stream through uncached.
    pub max_object_size: u64,
}

/// What a cache key is made of (default: host, path, query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Host,
    Path,
    Query,
    Header(String),
    Cookie(String),
}

/// A route's use of a cache store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCache {
    pub store: String,
    /// Upper bound (and default) of the stale-while-revalidate window (RFC 5861).
    pub stale_while_revalidate: Duration,
    /// Upper bound (and default) of the stale-if-error window (RFC 5861).
    pub stale_if_error: Duration,
    /// Concurrent misses for one key send one request upstream.
    pub coalesce: bool,
    pub key: Vec<KeyPart>,
}

/// A content coding sluice can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Br,
    Zstd,
    Gzip,
}

impl Encoding {
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }
}

/// A route's response compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compress {
    /// In the server's order of preference (used when the client's q-values tie).
    pub algorithms: Vec<Encoding>,
    pub min_size: u64,
    /// Media types compressed (`text/*` matches every text type).
    pub types: Vec<String>,
    /// One level for every algorithm (1..=9); None: each algorithm's measured default.
    pub level: Option<u32>,
}

/// Types compressed when a route names none: text, JSON, JavaScript, SVG, XML.
pub const DEFAULT_TYPES: &[&str] =
    &["text/*", "application/json", "application/javascript", "image/svg+xml", "application/xml", "application/wasm"];

pub fn cache_store(v: &mut V, name: &str, f: &FileCache) -> CacheConfig {
    let path = format!("caches.{name}");
    let max_size = v.size(&f.max_size, &format!("{path}.max_size"), 256 << 20);
    let max_object_size = v.size(&f.max_object_size, &format!("{path}.max_object_size"), 8 << 20);
    if let (Some(o), true) = (&f.max_object_size, max_object_size > max_size) {
        v.err(o.span(), &format!("{path}.max_object_size"), "larger than max_size", None);
    }
    CacheConfig { name: name.to_string(), max_size, max_object_size }
}

pub fn route_cache(v: &mut V, c: &S<FileRouteCache>, path: &str) -> RouteCache {
    let f = c.get_ref();
    let key = match &f.key {
        None => vec![KeyPart::Host, KeyPart::Path, KeyPart::Query],
        Some(parts) => parts.iter().filter_map(|p| key_part(v, p, &format!("{path}.key"))).collect(),
    };
    RouteCache {
        store: f.store.get_ref().clone(),
        stale_while_revalidate: window(v, &f.stale_while_revalidate, &format!("{path}.stale_while_revalidate")),
        stale_if_error: window(v, &f.stale_if_error, &format!("{path}.stale_if_error")),
        coalesce: f.coalesce.unwrap_or(true),
        key,
    }
}

/// A stale window: `"0s"` is allowed (off), unlike timeouts.
fn window(v: &mut V, d: &Option<S<String>>, path: &str) -> Duration {
    match d {
        Some(s) if crate::units::parse_duration(s.get_ref()) == Ok(Duration::ZERO) => Duration::ZERO,
        _ => v.timeout(d, path, Duration::ZERO),
    }
}

fn key_part(v: &mut V, p: &S<String>, path: &str) -> Option<KeyPart> {
    let s = p.get_ref();
    match s.as_str() {
        "host" => Some(KeyPart::Host),
        "path" => Some(KeyPart::Path),
        "query" => Some(KeyPart::Query),
        _ if s.starts_with("header:") && s.len() > 7 => Some(KeyPart::Header(s[7..].to_ascii_lowercase())),
        _ if s.starts_with("cookie:") && s.len() > 7 => Some(KeyPart::Cookie(s[7..].to_string())),
        _ => {
            let hint = Some("host, path, query, \"header:NAME\" or \"cookie:NAME\"");
            v.err(p.span(), path, format!("unknown key part `{s}`"), hint);
            None
        }
    }
}

pub fn compress(v: &mut V, c: &S<FileCompress>, path: &str) -> Compress {
    let f = c.get_ref();
    let algorithms = match &f.algorithms {
        None => vec![Encoding::Br, Encoding::Zstd, Encoding::Gzip],
        Some(list) => list
            .iter()
            .filter_map(|a| match a.get_ref().as_str() {
                "br" => Some(Encoding::Br),
                "zstd" => Some(Encoding::Zstd),
                "gzip" => Some(Encoding::Gzip),
                other => {
                    let p = format!("{path}.algorithms");
                    v.err(a.span(), &p, format!("unknown algorithm `{other}`"), Some("br, zstd or gzip"));
                    None
                }
            })
            .collect(),
    };
    if algorithms.is_empty() {
        v.err(c.span(), &format!("{path}.algorithms"), "no algorithm", Some("algorithms = [\"br\", \"gzip\"]"));
    }
    let types = match &f.types {
        None => DEFAULT_TYPES.iter().map(|t| t.to_string()).collect(),
        Some(t) => t.iter().map(|t| t.get_ref().to_ascii_lowercase()).collect(),
    };
    let level = f.level.as_ref().map(|_| v.int(&f.level, &format!("{path}.level"), 1, 9, 5) as u32);
    Compress { algorithms, min_size: v.size(&f.min_size, &format!("{path}.min_size"), 1024), types, level }
}
