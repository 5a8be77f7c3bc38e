//! The cache stage of a `cache` route, between route selection and the upstream: a fresh
//! entry answers at once; a stale one inside its stale-while-revalidate window answers and
//! one background request refreshes it; otherwise the request goes upstream — conditional
//! when an entry can be revalidated (a 304 refreshes it; a failure inside stale-if-error
//! answers with it), and as the one fill of its key when others miss at the same time.
//! Every answer of the route carries `Cache-Status` (RFC 9211).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_cache_semantics::{AfterResponse, CacheOptions, CachePolicy};

use crate::body::response::ProxyBody;
use crate::cache::entry::{Canon, Use};
use crate::cache::fill::{self, FillBody, Pending};
use crate::cache::store::{Fills, Role};
use crate::cache::{CacheStore, Entry, Key};
use crate::downstream::ctx::ConnCtx;
use crate::h1::ClientBody;
use crate::handler::errors::ProxyError;
use crate::runtime::snapshot::RouteRt;

/// On an answer made from a stored entry: the compression stage takes the entry's encoded
/// variant (made once) instead of compressing the body again.
#[derive(Clone)]
pub struct FromCache(pub Arc<Entry>);

/// Marks the background request that refreshes a stale entry.
#[derive(Clone, Copy)]
pub struct Refresh;

/// The whole pipeline for one request, for background refreshes (`proxy::handle`).
pub type Pipeline =
    fn(Rc<ConnCtx>, Request<ClientBody>) -> Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>>>>;

/// What the stage carries across the upstream call.
pub struct Pass {
    store: Arc<CacheStore>,
    key: Key,
    request: Request<()>,
    /// The entry being revalidated.
    stale: Option<Arc<Entry>>,
    guard: Option<crate::cache::store::FillGuard>,
    /// The URL is stored, but no variant matched (`fwd=vary-miss`).
    vary_miss: bool,
}

pub enum Before {
    /// Not a cache request after all: straight upstream.
    Bypass,
    Answer(Box<Response<ProxyBody>>),
    Forward(Box<Pass>),
}

/// Whether the stage applies: a `cache` route, GET or HEAD.
pub fn applies(route: &RouteRt, req: &Request<ClientBody>) -> bool {
    route.cache.is_some()
        && route.config.cache.is_some()
        && (req.method() == Method::GET || req.method() == Method::HEAD)
}

fn status_header(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("sluice"))
}

/// A copy of the request's head, for the policy and the background refresh.
fn head_of(req: &Request<ClientBody>) -> Request<()> {
    let mut r = Request::new(());
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.headers_mut() = req.headers().clone();
    r
}

pub async fn before(ctx: &ConnCtx, route: &RouteRt, req: &mut Request<ClientBody>, refresh: Pipeline) -> Before {
    let (Some(store), Some(rc)) = (&route.cache, &route.config.cache) else {
        return Before::Bypass; // `applies` checked both: not reached
    };
    // h2 and h3 carry the authority in the URI: give every request a Host, so entries
    // match across protocols.
    if !req.headers().contains_key(header::HOST) {
        if let Some(a) = req.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            req.headers_mut().insert(header::HOST, a);
        }
    }
    let host = crate::handler::request::host_of(req).unwrap_or("").to_string();
    let key = {
        let (parts, body) = std::mem::replace(req, Request::new(ClientBody::Empty)).into_parts();
        let k = Key::of(&parts, &host, &rc.key);
        *req = Request::from_parts(parts, body);
        k
    };
    let refreshing = req.extensions().get::<Refresh>().is_some();
    let mut waited = false;
    loop {
        let now = SystemTime::now();
        let canon = Canon { method: req.method(), headers: req.headers() };
        let found = store.lookup(&key, &canon, now, !refreshing);
        match found {
            Some((e, Use::Fresh(parts))) => {
                store.stats.hits.fetch_add(1, Relaxed);
                let status = format!("sluice; hit; ttl={}", e.ttl(now));
                if not_modified(req.headers(), &parts.headers) {
                    return Before::Answer(Box::new(answer_304(parts, status)));
                }
                return Before::Answer(Box::new(answer(parts, &e, status, req.method())));
            }
            Some((e, Use::StaleWhileRevalidate)) => {
                store.stats.stale_served.fetch_add(1, Relaxed);
                if !e.refreshing.swap(true, Relaxed) {
                    spawn_refresh(ctx, head_of(req), refresh, Arc::clone(&e));
                }
                let status = format!("sluice; hit; fwd=stale; ttl={}; detail=stale-while-revalidate", e.ttl(now));
                return Before::Answer(Box::new(answer(e.head(now), &e, status, req.method())));
            }
            Some((e, Use::Revalidate(cond))) => {
                for name in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
                    if let Some(v) = cond.get(&name) {
                        req.headers_mut().insert(name, v.clone());
                    }
                }
                let request = head_of(req);
                return Before::Forward(Box::new(Pass {
                    store: Arc::clone(store),
                    key,
                    request,
                    stale: Some(e),
                    guard: None,
                    vary_miss: false,
                }));
            }
            None => {}
        }
        if !waited {
            store.stats.misses.fetch_add(1, Relaxed);
        }
        let vary_miss = store.has_key(&key);
        let mut guard = None;
        if rc.coalesce && req.method() == Method::GET && !waited {
            match Fills::join(store, &key) {
                Role::Leader(g) => guard = Some(g),
                Role::Follower(rx) => {
                    store.stats.coalesced.fetch_add(1, Relaxed);
                    fill::wait(rx).await;
                    waited = true;
                    continue;
                }
            }
        }
        let request = head_of(req);
        return Before::Forward(Box::new(Pass {
            store: Arc::clone(store),
            key,
            request,
            stale: None,
            guard,
            vary_miss,
        }));
    }
}

/// A cached answer: `head` (with its `Age`), the entry's body (none for HEAD).
fn answer(mut head: http::response::Parts, e: &Arc<Entry>, status: String, method: &Method) -> Response<ProxyBody> {
    head.headers.insert("cache-status", status_header(status));
    let body = if *method == Method::HEAD { ProxyBody::Full(None) } else { ProxyBody::full(e.body.clone()) };
    let mut r = Response::from_parts(head, body);
    r.extensions_mut().insert(FromCache(Arc::clone(e)));
    r
}

/// Whether the client's validators match the stored answer (RFC 9110 §13.1.2-3):
/// `If-None-Match` by weak comparison, else `If-Modified-Since` against `Last-Modified`.
fn not_modified(req: &http::HeaderMap, stored: &http::HeaderMap) -> bool {
    let tag = |v: &str| v.trim().trim_start_matches("W/").to_string();
    if let Some(inm) = req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let Some(etag) = stored.get(header::ETAG).and_then(|v| v.to_str().ok()).map(tag) else { return false };
        return inm.split(',').any(|t| t.trim() == "*" || tag(t) == etag);
    }
    let date =
        |h: &http::HeaderMap, n| h.get(n).and_then(|v: &HeaderValue| httpdate::parse_http_date(v.to_str().ok()?).ok());
    match (date(req, header::IF_MODIFIED_SINCE), date(stored, header::LAST_MODIFIED)) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// 304 Not Modified for a fresh hit whose validators the client already has: the head's
/// validators and caching fields, no body (RFC 9110 §15.4.5).
fn answer_304(head: http::response::Parts, status: String) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::Full(None));
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    for name in [
        header::ETAG,
        header::CACHE_CONTROL,
        header::EXPIRES,
        header::VARY,
        header::DATE,
        header::AGE,
        header::CONTENT_LOCATION,
    ] {
        for v in head.headers.get_all(&name) {
            r.headers_mut().append(name.clone(), v.clone());
        }
    }
    r.headers_mut().insert("cache-status", status_header(status));
    r
}

/// One background request refreshes a stale entry (the answer already went out stale).
fn spawn_refresh(ctx: &ConnCtx, head: Request<()>, pipeline: Pipeline, entry: Arc<Entry>) {
    let mut req = head.map(|()| ClientBody::Empty);
    *req.method_mut() = Method::GET;
    req.extensions_mut().insert(Refresh);
    let detached = Rc::new(ConnCtx {
        listener: Rc::clone(&ctx.listener),
        peer: crate::handler::xforwarded::Peer::new(ctx.peer.ip, ctx.peer.trusted, ctx.peer.proto),
        state: Arc::new(crate::downstream::state::ConnState::new()),
        client: ctx.client,
        local: ctx.local,
        timeouts: ctx.timeouts,
        timer: Default::default(),
    });
    tokio::task::spawn_local(async move {
        let Ok(resp) = pipeline(detached, req).await;
        let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
        entry.refreshing.store(false, Relaxed);
    });
}

/// After the upstream answered (or failed): refresh on 304, stale on error inside
/// stale-if-error, store a storable answer while it streams.
pub fn after(
    pass: Box<Pass>,
    result: Result<Response<ProxyBody>, ProxyError>,
    route: &RouteRt,
) -> Result<Response<ProxyBody>, ProxyError> {
    let now = SystemTime::now();
    let failed = match &result {
        Ok(r) => r.status().is_server_error().then_some(r.status().as_u16()),
        Err(e) => Some(e.status().as_u16()),
    };
    if let (Some(e), Some(code)) = (&pass.stale, failed) {
        if e.serves_if_error(now) {
            pass.store.stats.stale_served.fetch_add(1, Relaxed);
            let status = format!("sluice; hit; fwd=stale; fwd-status={code}; detail=stale-if-error");
            return Ok(answer(e.head(now), e, status, pass.request.method()));
        }
    }
    let mut resp = result?;
    if let Some(raw) = resp.body_mut().take_raw_fields() {
        raw.into_map(resp.headers_mut());
    }
    let Some(rc) = route.config.cache.as_ref() else { return Ok(resp) };
    if let (Some(e), StatusCode::NOT_MODIFIED) = (&pass.stale, resp.status()) {
        return Ok(revalidated(&pass, e, resp, rc, now));
    }
    Ok(maybe_store(*pass, resp, rc, now))
}

fn revalidated(
    pass: &Pass,
    e: &Arc<Entry>,
    resp: Response<ProxyBody>,
    rc: &sluice_config::RouteCache,
    now: SystemTime,
) -> Response<ProxyBody> {
    let canon = Canon { method: pass.request.method(), headers: pass.request.headers() };
    let (policy, head) = match e.policy.after_response(&canon, &resp, now) {
        AfterResponse::NotModified(p, h) | AfterResponse::Modified(p, h) => (p, h),
    };
    let fresh = Arc::new(Entry::new(policy, &head, e.body.clone(), rc, now));
    pass.store.insert(pass.key.clone(), Arc::clone(&fresh), &canon);
    pass.store.stats.revalidated.fetch_add(1, Relaxed);
    answer(fresh.head(now), &fresh, "sluice; fwd=stale; fwd-status=304".into(), pass.request.method())
}

/// Whether a shared cache may keep this answer (RFC 9111 §3, plus: no `Set-Cookie`
/// unless the answer is explicitly public), and it fits.
fn storable(policy: &CachePolicy, req: &Request<()>, resp: &Response<ProxyBody>, max: u64) -> bool {
    let public = resp
        .headers()
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("public")));
    let too_big = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > max);
    req.method() == Method::GET
        && policy.is_storable()
        && (public || !resp.headers().contains_key(header::SET_COOKIE))
        && !too_big
        && !resp.headers().contains_key(header::CONTENT_RANGE)
}

fn maybe_store(
    pass: Pass,
    mut resp: Response<ProxyBody>,
    rc: &sluice_config::RouteCache,
    now: SystemTime,
) -> Response<ProxyBody> {
    let miss = if pass.vary_miss { "vary-miss" } else { "uri-miss" };
    let canon = Canon { method: pass.request.method(), headers: pass.request.headers() };
    let policy = CachePolicy::new_options(&canon, &resp, now, CacheOptions::default());
    if !storable(&policy, &pass.request, &resp, pass.store.config.max_object_size) {
        resp.headers_mut().insert("cache-status", status_header(format!("sluice; fwd={miss}")));
        return resp;
    }
    resp.headers_mut().insert("cache-status", status_header(format!("sluice; fwd={miss}; stored")));
    let (head, body) = resp.into_parts();
    let mut stored_head = http::Response::new(()).into_parts().0;
    stored_head.status = head.status;
    stored_head.headers = head.headers.clone();
    stored_head.headers.remove("cache-status");
    let pending = Pending {
        store: pass.store,
        key: pass.key,
        request: pass.request,
        policy,
        head: stored_head,
        route: rc.clone(),
        guard: pass.guard,
    };
    let body = ProxyBody::Wrapped(Box::new(crate::body::wrapped::Wrapped::new(FillBody::new(body, pending))));
    Response::from_parts(head, body)
}
