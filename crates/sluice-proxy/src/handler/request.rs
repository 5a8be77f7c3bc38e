//! The incoming request as routing and limits see it: `RequestView` over hyper's request,
//! the host without its port, and the checks that turn a request away before any
//! upstream is involved (400, 413, 431).

use http::{header, Request, Version};
use sluice_config::ListenerLimits;
use sluice_core::route::cookie_value;
use sluice_core::RequestView;

use crate::handler::errors::ProxyError;

pub struct View<'a, B> {
    pub req: &'a Request<B>,
    pub host: Option<&'a str>,
}

impl<'a, B> View<'a, B> {
    pub fn new(req: &'a Request<B>) -> Self {
        View { req, host: host_of(req) }
    }
}

/// The request's authority, the one value routing, forwarding (Host, X-Forwarded-Host)
/// and caching use: the URI's (HTTP/2 `:authority`, an HTTP/1.1 absolute-form target —
/// RFC 9112 §3.2.2 says it wins over Host), else the Host header. `check` has refused an
/// HTTP/2 request whose two disagree.
pub fn authority_of<B>(req: &Request<B>) -> Option<&str> {
    match req.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => req.headers().get(header::HOST).and_then(|v| v.to_str().ok()),
    }
}

/// `authority_of` without the port.
pub fn host_of<B>(req: &Request<B>) -> Option<&str> {
    authority_of(req).map(strip_port)
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

impl<B> RequestView for View<'_, B> {
    fn host(&self) -> Option<&str> {
        self.host
    }
    fn path(&self) -> &str {
        self.req.uri().path()
    }
    fn query(&self) -> Option<&str> {
        self.req.uri().query()
    }
    fn method(&self) -> &str {
        self.req.method().as_str()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        self.req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| cookie_value(c, name))
    }
}

/// Rejects what must never reach an upstream: a missing, repeated or contradicted
/// authority, header section over the size or count limit, a declared body over the body
/// limit.
pub fn check<B>(req: &Request<B>, limits: &ListenerLimits) -> Result<(), ProxyError> {
    let h = req.headers();
    check_authority(req)?;
    if !req.uri().path().starts_with('/') && req.uri().path() != "*" {
        return Err(ProxyError::BadRequest("request target must be an absolute path"));
    }
    if h.len() > limits.max_header_count {
        return Err(ProxyError::TooManyHeaders);
    }
    let bytes: usize = h.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>()
        + req.uri().path().len()
        + req.uri().query().map_or(0, str::len);
    if bytes > limits.max_header_bytes {
        return Err(ProxyError::HeadersTooLarge);
    }
    if let Some(cl) = h.get(header::CONTENT_LENGTH) {
        let n: u64 = cl
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(ProxyError::BadRequest("invalid Content-Length"))?;
        if n > limits.max_body_bytes {
            return Err(ProxyError::BodyTooLarge);
        }
    }
    Ok(())
}

/// One authority per request (RFC 9112 §3.2, RFC 9113 §8.3.1): HTTP/1.1 needs exactly
/// one Host header; an HTTP/2 request needs `:authority` or Host, and both must agree
/// (NGINX refuses the same). Otherwise routing could see one name and the upstream another.
fn check_authority<B>(req: &Request<B>) -> Result<(), ProxyError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    match req.version() {
        Version::HTTP_11 if host.is_none() => Err(ProxyError::BadRequest("missing Host header")),
        Version::HTTP_2 | Version::HTTP_3 => match (req.uri().authority(), host) {
            (None, None) => Err(ProxyError::BadRequest("missing :authority")),
            (Some(a), Some(h)) if !a.as_str().as_bytes().eq_ignore_ascii_case(h.as_bytes()) => {
                Err(ProxyError::BadRequest(":authority and Host disagree"))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// A gRPC request (`content-type: application/grpc[+proto|...]`): its errors are answered
/// as gRPC statuses.
pub fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The client's deadline from `grpc-timeout` (`"100m"`, `"5S"`: at most 8 digits and a unit
/// of H, M, S, m, u or n), capped at an hour.
pub fn grpc_timeout<B>(req: &Request<B>) -> Option<std::time::Duration> {
    let v = req.headers().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let ns = match unit {
        "H" => n.saturating_mul(3_600_000_000_000),
        "M" => n.saturating_mul(60_000_000_000),
        "S" => n.saturating_mul(1_000_000_000),
        "m" => n.saturating_mul(1_000_000),
        "u" => n.saturating_mul(1_000),
        "n" => n,
        _ => return None,
    };
    Some(std::time::Duration::from_nanos(ns.min(3_600_000_000_000)))
}

#[cfg(test)]
#[path = "request_test.rs"]
mod tests;
