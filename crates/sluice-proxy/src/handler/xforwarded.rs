//! Forwarding headers (appendix B) and hop-by-hop stripping (RFC 9110 §7.6.1): what a
//! request and a response must lose and gain when they cross the proxy.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

static XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
static XFP: HeaderName = HeaderName::from_static("x-forwarded-proto");
static XFH: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Per-connection facts the forwarding headers are made of (computed once per connection).
pub struct Peer {
    pub ip: IpAddr,
    /// The peer's address as a header value, ready to clone (no per-request formatting).
    pub ip_value: HeaderValue,
    /// Whether the peer is in `trusted_proxies` (its X-Forwarded-* are kept).
    pub trusted: bool,
    pub proto: &'static str,
}

impl Peer {
    pub fn new(ip: IpAddr, trusted: bool, proto: &'static str) -> Self {
        let ip_value = HeaderValue::from_str(&ip.to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Peer { ip, ip_value, trusted, proto }
    }
}

/// Removes hop-by-hop headers: Connection and what it names, Keep-Alive, TE (except
/// `trailers` when `keep_te_trailers`, as gRPC needs), Trailer, Transfer-Encoding,
/// Upgrade, Proxy-Connection and every Proxy-* header (also the httpoxy `Proxy`).
pub fn strip_hop_by_hop(h: &mut HeaderMap, keep_te_trailers: bool) {
    // Most messages carry none of them: one pass over the names, no hashing, no removal.
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        // `close` names no header and these are removed below anyway: no allocation for
        // the common `Connection: keep-alive` / `close`.
        .filter(|t| !["close", "keep-alive", "upgrade", "te", "trailer"].iter().any(|c| t.eq_ignore_ascii_case(c)))
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    let te_trailers =
        keep_te_trailers && h.get_all(header::TE).iter().any(|v| v.to_str().is_ok_and(|s| s.contains("trailers")));
    for n in
        [&header::CONNECTION, &KEEP_ALIVE, &header::TE, &header::TRAILER, &header::TRANSFER_ENCODING, &header::UPGRADE]
    {
        h.remove(n);
    }
    if te_trailers {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if h.keys().any(|k| k.as_str().starts_with("proxy")) {
        let proxy: Vec<HeaderName> = h.keys().filter(|k| k.as_str().starts_with("proxy")).cloned().collect();
        for n in proxy {
            h.remove(n);
        }
    }
}

/// A header that never crosses a proxy (what a Connection header names is checked apart).
fn is_hop_by_hop(k: &HeaderName) -> bool {
    k == header::CONNECTION
        || k == KEEP_ALIVE
        || k == header::TE
        || k == header::TRAILER
        || k == header::TRANSFER_ENCODING
        || k == header::UPGRADE
        || k.as_str().starts_with("proxy")
}

/// Which forwarding headers a listener sets: X-Forwarded-* (`x`), RFC 7239 `Forwarded`.
#[derive(Clone, Copy)]
pub struct Forwarding {
    pub x: bool,
    pub rfc7239: bool,
}

/// Sets X-Forwarded-For / -Proto / -Host (unless `x` is off: then they pass through as
/// received) and RFC 7239 Forwarded when asked. From a trusted peer the incoming chain is
/// kept and extended; otherwise it is replaced.
pub fn add_forwarding(h: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>, which: Forwarding) {
    if which.x {
        add_x_forwarded(h, peer, host);
    }
    if which.rfc7239 {
        add_rfc7239(h, peer, host);
    }
}

fn add_x_forwarded(h: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>) {
    let xff = if peer.trusted { joined(h, &XFF) } else { None };
    match xff {
        Some(prev) => {
            let v = format!("{prev}, {}", peer.ip);
            h.insert(&XFF, HeaderValue::from_str(&v).unwrap_or_else(|_| peer.ip_value.clone()));
        }
        None => {
            h.insert(&XFF, peer.ip_value.clone());
        }
    }
    if !(peer.trusted && h.contains_key(&XFP)) {
        h.insert(&XFP, HeaderValue::from_static(peer.proto));
    }
    if !(peer.trusted && h.contains_key(&XFH)) {
        match host {
            Some(v) => h.insert(&XFH, v.clone()),
            None => h.remove(&XFH),
        };
    }
}

fn add_rfc7239(h: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>) {
    let node = match peer.ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("\"[{ip}]\""),
    };
    let mut elem = format!("for={node};proto={}", peer.proto);
    if let Some(host) = host.and_then(|v| v.to_str().ok()) {
        elem.push_str(&format!(";host=\"{host}\""));
    }
    let value = match joined(h, &header::FORWARDED).filter(|_| peer.trusted) {
        Some(prev) => format!("{prev}, {elem}"),
        None => elem,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(header::FORWARDED, v);
    }
}

/// All values of a (list-valued) header joined with ", ".
fn joined(h: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut it = h.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = it.next()?;
    Some(it.fold(first.to_string(), |acc, v| acc + ", " + v))
}

#[cfg(test)]
#[path = "xforwarded_test.rs"]
mod tests;
