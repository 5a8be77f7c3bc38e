//! Where a request goes: limits checked, first matching route, the route's cluster (or
//! split pick), and the endpoint — by sticky cookie when it pins an available endpoint,
//! else by the cluster's balancer fed with the request's hash key, randomness and time.

use std::net::IpAddr;
use std::sync::Arc;

use crate::h1::ClientBody;
use http::header::{self, HeaderValue};
use http::{Request, Response};
use sluice_config::LimitKey;
use sluice_core::balance::HashKey;
use sluice_core::hash::hash_key;
use sluice_core::route::query_value;
use sluice_core::{Balance, EndpointState, PickCtx, RequestView};

use crate::body::response::ProxyBody;
use crate::downstream::ctx::ConnCtx;
use crate::handler::errors::ProxyError;
use crate::handler::ratelimit::{Ask, LimitRt};
use crate::handler::request::{self, View};
use crate::runtime::clock;
use crate::runtime::snapshot::{ClusterRt, ListenerRt, RouteRt};

/// Where a request goes: its route, cluster and endpoint.
pub struct Target<'s> {
    pub route: &'s RouteRt,
    pub cluster: &'s ClusterRt,
    pub endpoint: &'s Arc<EndpointState>,
    /// A sticky cookie to set on the response (new or re-pinned session).
    pub set_cookie: Option<&'s HeaderValue>,
}

/// A route that answers itself, or an upstream target; and, for shared rate limits, the
/// questions still to put to their stores.
pub enum Selected<'s> {
    Direct(&'s RouteRt, Asks),
    Upstream(Target<'s>, Asks),
}

/// Store questions of the listener's and the route's shared limits.
#[derive(Default)]
pub struct Asks {
    pub listener: Option<Ask>,
    pub route: Option<Ask>,
}

/// The answer of a `respond` route (NGINX `return`).
pub fn direct(route: &RouteRt) -> Response<ProxyBody> {
    let Some((status, body, ct)) = &route.respond else {
        return ProxyError::NoRoute.response();
    };
    let mut resp = Response::new(ProxyBody::full(body.clone()));
    *resp.status_mut() = *status;
    resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    edit_response_headers(route, resp.headers_mut());
    resp
}

/// Limits, route match and endpoint pick (as of `now`, when the request arrived); failures
/// are logged with the request line.
pub fn select<'s>(
    ctx: &ConnCtx,
    listener: &'s ListenerRt,
    req: &Request<ClientBody>,
    now: tokio::time::Instant,
) -> Result<Selected<'s>, ProxyError> {
    let picked = request::check(req, &listener.config.limits).and_then(|()| {
        let view = View::new(req);
        let on_listener = limit(ctx, listener, listener.limit.as_ref(), &view)?;
        let route = listener.routes.iter().find(|r| r.config.matcher.matches(&view)).ok_or(ProxyError::NoRoute)?;
        let ask = Asks { listener: on_listener, route: limit(ctx, listener, route.limit.as_ref(), &view)? };
        if route.respond.is_some() {
            return Ok(Selected::Direct(route, ask));
        }
        let cluster = pick_cluster(route, ctx.listener.worker.rng.next_u64()).ok_or(ProxyError::NoEndpoint)?;
        let (idx, set_cookie) = pick_endpoint(ctx, cluster, &view, now).ok_or(ProxyError::NoEndpoint)?;
        let target = Target { route, cluster, endpoint: &cluster.balancer.endpoints()[idx], set_cookie };
        Ok(Selected::Upstream(target, ask))
    });
    if let Err(e) = &picked {
        tracing::warn!(listener = %ctx.listener.name, peer = %ctx.peer.ip, method = %req.method(),
            uri = %req.uri(), error = e.code(), "{}", e.reason());
    }
    picked
}

/// A rate limit (the listener's or the route's): one token per request from the bucket of
/// this request's key (for a shared limit: a leased token, or the question for the store).
fn limit(
    ctx: &ConnCtx,
    listener: &ListenerRt,
    limit: Option<&LimitRt>,
    view: &View<'_, ClientBody>,
) -> Result<Option<Ask>, ProxyError> {
    let Some(limit) = limit else { return Ok(None) };
    let mut key = String::new();
    for part in &limit.cfg.keys {
        match part {
            LimitKey::SourceIp => key.push_str(&client_ip(ctx, listener, view).to_string()),
            LimitKey::Header(n) => key.push_str(view.header(n).unwrap_or("")),
            LimitKey::Cookie(n) => key.push_str(view.cookie(n).unwrap_or("")),
            LimitKey::Route => {}
        }
        key.push('|');
    }
    limit.check(key)
}

/// The client address for policy: the peer (or its PROXY source); from a trusted peer, the
/// right-most X-Forwarded-For entry that is not itself a trusted proxy.
fn client_ip(ctx: &ConnCtx, listener: &ListenerRt, view: &View<'_, ClientBody>) -> IpAddr {
    if !ctx.peer.trusted {
        return ctx.peer.ip;
    }
    let trusted = &listener.config.trusted_proxies;
    let xff = view.req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = xff.flat_map(|v| v.split(',')).filter_map(|h| h.trim().parse().ok()).collect();
    hops.into_iter().rev().find(|ip| !trusted.iter().any(|c| c.contains(*ip))).unwrap_or(ctx.peer.ip)
}

fn pick_cluster(route: &RouteRt, r: u64) -> Option<&Arc<ClusterRt>> {
    match &route.split {
        Some((choice, targets)) => targets.get(choice.pick(r)),
        None => route.cluster.as_ref(),
    }
}

/// The sticky endpoint if the cookie pins an available one; else the balancer's pick,
/// with the cookie to set when the cluster is sticky.
fn pick_endpoint<'s>(
    ctx: &ConnCtx,
    cluster: &'s ClusterRt,
    view: &View<'_, ClientBody>,
    now: tokio::time::Instant,
) -> Option<(usize, Option<&'s HeaderValue>)> {
    let eps = cluster.balancer.endpoints();
    if let Some(sticky) = &cluster.sticky {
        let pinned = view.cookie(&sticky.cookie).and_then(|v| sticky.lookup(v));
        if let Some(i) = pinned.filter(|&i| eps[i].is_available()) {
            return Some((i, None));
        }
    }
    let rng = &ctx.listener.worker.rng;
    let pick = PickCtx {
        r1: rng.next_u64(),
        r2: rng.next_u64(),
        hash: request_hash(cluster, view, ctx.peer.ip),
        now_ns: clock::ns_at(now),
    };
    let idx = cluster.balancer.pick(&pick)?;
    Some((idx, cluster.sticky.as_ref().and_then(|s| s.set_cookie(idx))))
}

/// The hash key of a request for the hashing balancers (`None`: key absent, or not hashing).
fn request_hash(cluster: &ClusterRt, view: &View<'_, ClientBody>, peer: IpAddr) -> Option<u64> {
    let ip_hash = || match peer {
        IpAddr::V4(ip) => hash_key(&ip.octets()),
        IpAddr::V6(ip) => hash_key(&ip.octets()),
    };
    match (cluster.config.balance, &cluster.config.hash_key) {
        (b, _) if !b.is_hashing() => None,
        (Balance::SourceIp, _) | (_, None | Some(HashKey::SourceIp)) => Some(ip_hash()),
        (_, Some(HashKey::Header(n))) => view.header(n).map(|v| hash_key(v.as_bytes())),
        (_, Some(HashKey::Cookie(n))) => view.cookie(n).map(|v| hash_key(v.as_bytes())),
        (_, Some(HashKey::Query(n))) => view.query().and_then(|q| query_value(q, n)).map(|v| hash_key(v.as_bytes())),
        (_, Some(HashKey::Path)) => Some(hash_key(view.path().as_bytes())),
    }
}

/// The route's response header edits (removals, then additions).
pub fn edit_response_headers(route: &RouteRt, h: &mut http::HeaderMap) {
    let rc = &route.config;
    for name in &rc.remove_response_headers {
        h.remove(name.as_str());
    }
    for (name, value) in &rc.add_response_headers {
        if let (Ok(n), Ok(v)) = (header::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            h.insert(n, v);
        }
    }
}
