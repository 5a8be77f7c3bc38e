//! The incoming request as routing and limits see it: `RequestView` over hyper's request,
//! the host without its port, and the checks that turn a request away before any
//! upstream is involved (400, 413, 431).

use http::{header, Request, Version};
use sluice_config::ListenerLimits;
use sluice_core::route::cookie_value;
use sluice_core::RequestView;

use crate::errors::ProxyError;

pub struct View<'a, B> {
    pub req: &'a Request<B>,
    pub host: Option<&'a str>,
}

impl<'a, B> View<'a, B> {
    pub fn new(req: &'a Request<B>) -> Self {
        View { req, host: host_of(req) }
    }
}

/// Host from the Host header (HTTP/1.1) or the URI authority (HTTP/2), without the port.
pub fn host_of<B>(req: &Request<B>) -> Option<&str> {
    let raw = match req.headers().get(header::HOST).and_then(|v| v.to_str().ok()) {
        Some(h) => h,
        None => req.uri().authority()?.as_str(),
    };
    Some(strip_port(raw))
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

/// Rejects what must never reach an upstream: missing Host on HTTP/1.1, header section
/// over the size or count limit, a declared body over the body limit.
pub fn check<B>(req: &Request<B>, limits: &ListenerLimits) -> Result<(), ProxyError> {
    let h = req.headers();
    if req.version() == Version::HTTP_11 && !h.contains_key(header::HOST) {
        return Err(ProxyError::BadRequest("missing Host header"));
    }
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
        "H" => n * 3_600_000_000_000,
        "M" => n * 60_000_000_000,
        "S" => n * 1_000_000_000,
        "m" => n * 1_000_000,
        "u" => n * 1_000,
        "n" => n,
        _ => return None,
    };
    Some(std::time::Duration::from_nanos(ns.min(3_600_000_000_000)))
}

#[cfg(test)]
#[path = "request_test.rs"]
mod tests;
