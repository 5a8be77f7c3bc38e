//! One stored answer: its RFC 9111 policy (http-cache-semantics, shared-cache rules), the
//! response head and body, its stale windows (RFC 5861: the response's `stale-while-
//! revalidate` / `stale-if-error`, capped by the route's, or the route's when absent), and
//! its encoded variants (one per content coding, so a hit is not compressed again).

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_cache_semantics::{BeforeRequest, CachePolicy, RequestLike};
use sluice_config::{Encoding, RouteCache};

static GET: Method = Method::GET;

/// A request as the cache policy sees it: the key already matched the URL, and HEAD is
/// answered from a stored GET.
pub struct Canon<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

impl RequestLike for Canon<'_> {
    fn uri(&self) -> http::Uri {
        http::Uri::from_static("/")
    }
    fn is_same_uri(&self, _: &http::Uri) -> bool {
        true
    }
    fn method(&self) -> &Method {
        if *self.method == Method::HEAD {
            &GET
        } else {
            self.method
        }
    }
    fn headers(&self) -> &HeaderMap {
        self.headers
    }
}

/// What a stored answer can do for a request.
pub enum Use {
    /// Fresh: answer it (head with `Age`).
    Fresh(http::response::Parts),
    /// Stale within its stale-while-revalidate window: answer it, refresh in the background.
    StaleWhileRevalidate,
    /// Must be revalidated first: these are the conditional request's headers.
    Revalidate(HeaderMap),
}

pub struct Entry {
    pub policy: CachePolicy,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    fresh_until: SystemTime,
    swr: Duration,
    sie: Duration,
    /// `must-revalidate`, `proxy-revalidate` or `no-cache`: never served stale.
    no_stale: bool,
    encoded: Mutex<Vec<(Encoding, Bytes)>>,
    /// A background refresh is running (only one per entry).
    pub refreshing: AtomicBool,
    weight: u64,
}

/// A `Cache-Control` directive's seconds (`stale-if-error=300`).
fn directive(h: &HeaderMap, name: &str) -> Option<Duration> {
    h.get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').parse().ok()).flatten()
        })
        .map(Duration::from_secs)
}

fn has_directive(h: &HeaderMap, names: &[&str]) -> bool {
    h.get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| names.iter().any(|n| d.trim().split('=').next().is_some_and(|k| k.trim().eq_ignore_ascii_case(n))))
}

impl Entry {
    /// An entry for an answer received at `now`.
    pub fn new(
        policy: CachePolicy,
        head: &http::response::Parts,
        body: Bytes,
        route: &RouteCache,
        now: SystemTime,
    ) -> Entry {
        let window = |name, cap: Duration| directive(&head.headers, name).map_or(cap, |d| d.min(cap));
        let weight = 256
            + body.len() as u64
            + head.headers.iter().map(|(k, v)| (k.as_str().len() + v.len()) as u64).sum::<u64>();
        Entry {
            fresh_until: now + policy.time_to_live(now),
            policy,
            status: head.status,
            headers: head.headers.clone(),
            body,
            swr: window("stale-while-revalidate", route.stale_while_revalidate),
            sie: window("stale-if-error", route.stale_if_error),
            no_stale: has_directive(&head.headers, &["must-revalidate", "proxy-revalidate", "no-cache"]),
            encoded: Mutex::new(Vec::new()),
            refreshing: AtomicBool::new(false),
            weight,
        }
    }

    pub fn weight(&self) -> u64 {
        self.weight
    }

    /// Whether this variant answers the request (same `Vary` values), fresh or not.
    pub fn matches(&self, req: &Canon<'_>) -> bool {
        match self.policy.before_request(req, self.fresh_until) {
            BeforeRequest::Fresh(_) => true,
            BeforeRequest::Stale { matches, .. } => matches,
        }
    }

    /// What this entry can do for `req` at `now` (None: it does not match it);
    /// `allow_swr`: false for the background refresh itself, which must revalidate.
    pub fn decide(&self, req: &Canon<'_>, now: SystemTime, allow_swr: bool) -> Option<Use> {
        match self.policy.before_request(req, now) {
            BeforeRequest::Fresh(parts) => Some(Use::Fresh(parts)),
            BeforeRequest::Stale { matches: false, .. } => None,
            BeforeRequest::Stale { request, .. } => {
                // Stale by time (not by the client's no-cache) and inside the window.
                let late = now.duration_since(self.fresh_until).ok();
                if allow_swr && !self.no_stale && late.is_some_and(|l| l <= self.swr) && !self.swr.is_zero() {
                    return Some(Use::StaleWhileRevalidate);
                }
                Some(Use::Revalidate(request.headers))
            }
        }
    }

    /// Whether the origin failing (connect error, timeout, 5xx) lets this entry answer.
    pub fn serves_if_error(&self, now: SystemTime) -> bool {
        let late = now.duration_since(self.fresh_until).unwrap_or(Duration::ZERO);
        !self.no_stale && !self.sie.is_zero() && late <= self.sie
    }

    /// The stored head with its current `Age` (for stale answers and revalidated ones).
    pub fn head(&self, now: SystemTime) -> http::response::Parts {
        let mut parts = http::Response::new(()).into_parts().0;
        parts.status = self.status;
        parts.headers = self.headers.clone();
        let age = HeaderValue::from(self.policy.age(now).as_secs());
        parts.headers.insert(http::header::AGE, age);
        parts
    }

    /// Seconds of freshness left (negative once stale), for `Cache-Status: ttl=`.
    pub fn ttl(&self, now: SystemTime) -> i64 {
        match self.fresh_until.duration_since(now) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }

    /// The body encoded with `enc`, if made before.
    pub fn encoded(&self, enc: Encoding) -> Option<Bytes> {
        let v = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        v.iter().find(|(e, _)| *e == enc).map(|(_, b)| b.clone())
    }

    pub fn set_encoded(&self, enc: Encoding, b: Bytes) {
        let mut v = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        if !v.iter().any(|(e, _)| *e == enc) {
            v.push((enc, b));
        }
    }
}

#[cfg(test)]
#[path = "entry_test.rs"]
mod tests;
