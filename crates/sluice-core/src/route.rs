//! Route matching (§16.8.1): one `RouteMatch` per configured route; every field present must
//! hold (AND), routes are tried in order and the first match wins. The request is seen
//! through `RequestView`, so this module knows nothing about hyper.

use regex::Regex;

/// What a route may look at in a request. Header names are asked in lowercase.
pub trait RequestView {
    /// Host without port, from the Host header or the URI authority.
    fn host(&self) -> Option<&str>;
    fn path(&self) -> &str;
    fn query(&self) -> Option<&str>;
    fn method(&self) -> &str;
    fn header(&self, name: &str) -> Option<&str>;
    fn cookie(&self, name: &str) -> Option<&str>;
}

/// `host = "api.example.com"` (exact, case-insensitive) or `"*.example.com"` (any subdomain).
#[derive(Debug, Clone)]
pub enum HostMatch {
    Exact(String),
    Suffix(String),
}

impl HostMatch {
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix("*.") {
            Some(rest) => HostMatch::Suffix(format!(".{}", rest.to_ascii_lowercase())),
            None => HostMatch::Exact(s.to_ascii_lowercase()),
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Suffix(s) => host.len() > s.len() && host[host.len() - s.len()..].eq_ignore_ascii_case(s),
        }
    }
}

/// A header, cookie or query condition: an exact value, or presence / absence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueMatch {
    Exact(String),
    Present,
    Absent,
}

impl ValueMatch {
    fn matches(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (ValueMatch::Exact(want), Some(got)) => want == got,
            (ValueMatch::Present, Some(_)) | (ValueMatch::Absent, None) => true,
            _ => false,
        }
    }
}

/// The match part of one route.
#[derive(Debug, Clone, Default)]
pub struct RouteMatch {
    pub host: Option<HostMatch>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<Regex>,
    /// Uppercase method names; empty means any.
    pub methods: Vec<String>,
    /// Lowercase header names.
    pub headers: Vec<(String, ValueMatch)>,
    pub cookies: Vec<(String, ValueMatch)>,
    pub query: Vec<(String, ValueMatch)>,
}

impl RouteMatch {
    pub fn matches(&self, req: &impl RequestView) -> bool {
        let path = req.path();
        self.host.as_ref().is_none_or(|h| req.host().is_some_and(|x| h.matches(x)))
            && self.path.as_ref().is_none_or(|p| p == path)
            && self.path_prefix.as_ref().is_none_or(|p| path.starts_with(p.as_str()))
            && self.path_regex.as_ref().is_none_or(|r| r.is_match(path))
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == req.method()))
            && self.headers.iter().all(|(n, m)| m.matches(req.header(n)))
            && self.cookies.iter().all(|(n, m)| m.matches(req.cookie(n)))
            && self.query.iter().all(|(n, m)| m.matches(req.query().and_then(|q| query_value(q, n))))
    }
}

/// Value of `name` in a raw query string (`a=1&b=2`); a bare `flag` has the value "".
pub fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// Value of cookie `name` in one `Cookie` header value (`a=1; b=2`).
pub fn cookie_value<'c>(header: &'c str, name: &str) -> Option<&'c str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v.trim_matches('"'))
    })
}

#[cfg(test)]
mod tests;
