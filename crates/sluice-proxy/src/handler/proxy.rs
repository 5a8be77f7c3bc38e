//! The request handler: limits, route match, cluster and endpoint pick, header rewriting,
//! one upstream exchange through the worker's pool, and the response on its way back.
//! Every failure becomes a `ProxyError` response here; nothing in this path panics.

use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;

use tokio::time::Instant;

use http::header::{self, HeaderValue};
use http::{Request, Response, Uri, Version};
use hyper::body::Body;
use sluice_config::UpstreamProtocol;

use crate::body::request::RequestBody;
use crate::body::response::{ProxyBody, ResponseEnd, UpstreamBody};
use crate::downstream::conn::PrematureReset;
use crate::downstream::ctx::ConnCtx;
use crate::downstream::state::ActiveGuard;
use crate::h1::client::UpIncoming;
use crate::h1::ClientBody;
use crate::handler::accesslog::{entry, Entry, RequestInfo, Trace};
use crate::handler::cached::Before;
use crate::handler::errors::ProxyError;
use crate::handler::ratelimit::settle;
use crate::handler::select::{direct, select, Selected, Target};
use crate::handler::xforwarded::{add_forwarding, strip_hop_by_hop, Forwarding};
use crate::runtime::snapshot::{ClusterRt, ListenerRt, RouteRt};
use crate::upstream::pool::PoolReturn;
use crate::upstream::resilience::{breaker_admit, breaker_record, forward, Plan};

/// The proxy handler the workers pass to the protocol servers (`downstream::service`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Proxy;

impl crate::downstream::service::Handler for Proxy {
    fn handle(
        self,
        ctx: Rc<ConnCtx>,
        req: Request<ClientBody>,
    ) -> impl std::future::Future<Output = Result<Response<ProxyBody>, Infallible>> + 'static {
        handle(ctx, req)
    }
}

pub async fn handle(ctx: Rc<ConnCtx>, req: Request<ClientBody>) -> Result<Response<ProxyBody>, Infallible> {
    let started = Instant::now();
    let (guard, nth) = ctx.state.begin_request();
    let snap = ctx.listener.worker.snapshot();
    let Some(listener) = snap.listener(&ctx.listener.name) else {
        return Ok(ProxyError::NoRoute.response());
    };
    if ctx.listener.overload.shed() {
        ctx.state.close_requested.notify_one();
        let e = ProxyError::Overloaded;
        return Ok(if crate::handler::request::is_grpc(&req) { e.grpc_response() } else { e.response() });
    }
    if snap.acme.is_some() {
        if let Some(resp) = crate::handler::acme::answer(&snap, listener, &req).await {
            return Ok(resp);
        }
    }
    let max = listener.config.limits.max_requests_per_connection;
    if ctx.state.is_h2() {
        // Counted when a stream starts, not when it is answered: a client that resets
        // every stream would never be answered (NGINX counts the same way).
        if max != 0 && nth >= max {
            ctx.state.close_requested.notify_one();
        }
        if ctx.state.calm.is_tripped() || (max != 0 && nth > max) {
            return Ok(ProxyError::BadRequest("connection is closing: request or HTTP/2 glitch limit").response());
        }
    }
    let reset = PrematureReset::arm(&ctx.state, &ctx.listener.metrics);
    let info = ctx.listener.worker.access_log.as_ref().map(|_| RequestInfo::of(&req));
    let mut trace = Trace::default();
    let grpc = crate::handler::request::is_grpc(&req);
    let over_tcp = req.version() != Version::HTTP_3;
    let mut resp = match proxy(&ctx, listener, req, guard, (started, grpc), &mut trace).await {
        Ok(r) => r,
        Err(e) if grpc => e.grpc_response(),
        Err(e) => e.response(),
    };
    reset.disarm();
    let m = &listener.metrics;
    m.responses.inc(resp.status().as_u16());
    let head_at = trace.answered.unwrap_or_else(Instant::now);
    let elapsed = head_at.saturating_duration_since(started).as_nanos() as u64;
    m.ttfb.observe_ns(elapsed);
    if matches!(resp.body(), ProxyBody::Full(_)) {
        m.duration.observe_ns(elapsed);
    }
    if let (Some(log), Some(info)) = (&ctx.listener.worker.access_log, info) {
        let e = entry(info, trace, ctx.peer.ip, &ctx.listener.name, resp.status().as_u16(), elapsed);
        match resp.body_mut() {
            ProxyBody::Upstream(u) => u.set_log(Arc::clone(log), Box::new(e)),
            ProxyBody::Full(b) => log.log(Entry { bytes: b.as_ref().map_or(0, |b| b.len() as u64), ..e }),
            ProxyBody::Wrapped(w) => w.set_log(Arc::clone(log), Box::new(e), started),
        }
    }
    if ctx.state.is_h2() {
        // hyper writes only the map. Never asked for on HTTP/2 (`exchange`), wire-form
        // fields (`h1::raw`) would join it here.
        if let Some(raw) = resp.body_mut().take_raw_fields() {
            raw.into_map(resp.headers_mut());
        }
    }
    if let Some(alt) = ctx.listener.alt_svc(ctx.local.port()).filter(|_| over_tcp) {
        resp.headers_mut().insert(header::ALT_SVC, alt.clone());
    }
    let keepalive = !over_tcp || ctx.listener.overload.keepalive();
    if (!keepalive || (max != 0 && nth >= max)) && !ctx.state.is_h2() {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        ctx.state.close_requested.notify_one();
    } else if !keepalive {
        // HTTP/2: GOAWAY; streams in flight finish, the client opens a new connection.
        ctx.state.close_requested.notify_one();
    }
    Ok(resp)
}

async fn proxy(
    ctx: &ConnCtx,
    listener: &ListenerRt,
    mut req: Request<ClientBody>,
    guard: ActiveGuard,
    (started, grpc): (Instant, bool),
    trace: &mut Trace,
) -> Result<Response<ProxyBody>, ProxyError> {
    let worker = &ctx.listener.worker;
    let (Target { route, cluster, endpoint, set_cookie }, ask) = match select(ctx, listener, &req, started)? {
        Selected::Direct(route, asks) => {
            trace.route = Some(route.index);
            if asks.listener.is_some() || asks.route.is_some() {
                Box::pin(settle_all(worker, listener, route, asks)).await?;
            }
            let r = direct(route);
            route.metrics.responses.inc(r.status().as_u16());
            return Ok(r);
        }
        Selected::Upstream(t, asks) => (t, asks),
    };
    // When the first try starts: the request's arrival, unless a shared rate-limit store
    // was asked first (that wait is no part of the upstream's time to first byte).
    let mut ready = started;
    if ask.listener.is_some() || ask.route.is_some() {
        Box::pin(settle_all(worker, listener, route, ask)).await?;
        ready = Instant::now();
    }
    let want = route.config.compress.as_ref().map(|c| crate::handler::encode::want(c, &req));
    let mut pass = None;
    if crate::handler::cached::applies(route, &req) {
        match crate::handler::cached::before(ctx, route, &mut req, refresh_pipeline).await {
            Before::Answer(r) => {
                route.metrics.responses.inc(r.status().as_u16());
                return Ok(compressed(*r, route, want).await);
            }
            Before::Forward(p) => pass = Some(p),
            Before::Bypass => {}
        }
    }
    let target = Target { route, cluster, endpoint, set_cookie };
    let result = Box::pin(upstream(ctx, listener, target, req, guard, (started, ready, grpc), trace)).await;
    let result = match pass {
        Some(p) => crate::handler::cached::after(p, result, route),
        None => result,
    };
    Ok(compressed(result?, route, want).await)
}

/// The compression stage, when the route has one.
async fn compressed(
    resp: Response<ProxyBody>,
    route: &RouteRt,
    want: Option<crate::handler::encode::Want>,
) -> Response<ProxyBody> {
    match (want, &route.config.compress) {
        (Some(w), Some(cfg)) => crate::handler::encode::apply(resp, w, cfg).await,
        _ => resp,
    }
}

/// A background refresh of a stale cache entry runs the whole pipeline again.
fn refresh_pipeline(
    ctx: Rc<ConnCtx>,
    req: Request<ClientBody>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<ProxyBody>, Infallible>>>> {
    Box::pin(handle(ctx, req))
}

/// Mirror, upgrade or forward: the request goes to the picked endpoint (with the
/// cluster's retries), and the answer comes back rewritten.
async fn upstream(
    ctx: &ConnCtx,
    listener: &ListenerRt,
    Target { route, cluster, endpoint, set_cookie }: Target<'_>,
    mut req: Request<ClientBody>,
    guard: ActiveGuard,
    (started, ready, grpc): (Instant, Instant, bool),
    trace: &mut Trace,
) -> Result<Response<ProxyBody>, ProxyError> {
    let worker = &ctx.listener.worker;
    let tee = match route.config.mirror {
        Some(_) => crate::handler::mirror::maybe_mirror(ctx, &worker.snapshot(), route, &req),
        None => None,
    };
    if worker.access_log.is_some() {
        trace.route = Some(route.index);
        trace.cluster = Some(cluster.config.name.clone());
        trace.endpoint = Some(endpoint.addr);
    }
    let configured = route.config.timeout.unwrap_or(cluster.config.timeouts.response);
    let timeout = grpc.then(|| crate::handler::request::grpc_timeout(&req)).flatten().unwrap_or(configured);
    let http1 = cluster.config.protocol == UpstreamProtocol::Http1;
    let upgrade = if crate::handler::upgrade::wants_h2_websocket(&req) {
        if !http1 {
            return Err(ProxyError::BadRequest("WebSocket over HTTP/2 needs an HTTP/1.1 cluster"));
        }
        Some(crate::handler::upgrade::from_h2(&mut req))
    } else {
        (http1 && crate::handler::upgrade::wants_upgrade(&req)).then(|| crate::handler::upgrade::client_side(&mut req))
    };
    let mut upstream_req = rewrite_request(ctx, listener, route, cluster, req)?;
    if let Some(tee) = tee {
        upstream_req.body_mut().set_tee(tee);
    }
    if let Some(up) = upgrade {
        let tunnel = crate::handler::upgrade::tunnel(ctx, listener, cluster, endpoint, up, upstream_req, guard);
        return Box::pin(tunnel).await;
    }
    let plan = Plan { timeout, any_method: route.config.retry_non_idempotent, started, ready };
    let forwarded = match breaker_admit(cluster, &plan) {
        Ok(admission) => {
            let mut slot = Some(upstream_req);
            let res = forward(ctx, cluster, endpoint, &mut slot, plan).await;
            if let Some(a) = admission {
                breaker_record(cluster, a, &res);
            }
            res
        }
        Err(e) => Err(e),
    };
    let status = forwarded.as_ref().map_or_else(|e| e.status().as_u16(), |f| f.resp.status().as_u16());
    route.metrics.responses.inc(status);
    let f = forwarded?;
    *trace = Trace {
        endpoint: Some(f.addr),
        attempts: f.attempts,
        connect_ns: f.connect_ns,
        queue_ns: f.queue_ns,
        upstream_ttfb_ns: f.ttfb_ns,
        answered: Some(f.answered),
        ..std::mem::take(trace)
    };
    cluster.metrics.responses.inc(status);
    let pool_return = f.back.map(|(tx, uses)| {
        Box::new(PoolReturn { pool: Rc::clone(&worker.pool), addr: f.addr, tx, uses, cfg: cluster.config.pool })
    });
    let timing = (started, Arc::clone(&listener.metrics));
    let end = ResponseEnd { _in_flight: f.in_flight, _active: guard, pool_return, _permit: f.permit, timing };
    let resp = f.resp;
    let mut resp = rewrite_response(route, resp, listener.config.timeouts.body, end);
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    Ok(resp)
}

/// Puts the shared rate limits' questions to their stores (listener first, then route).
async fn settle_all(
    worker: &crate::runtime::ctx::WorkerCtx,
    listener: &ListenerRt,
    route: &RouteRt,
    asks: crate::handler::select::Asks,
) -> Result<(), ProxyError> {
    if let (Some(limit), Some(ask)) = (&listener.limit, asks.listener) {
        settle(&worker.stores, limit, ask).await?;
    }
    if let (Some(limit), Some(ask)) = (&route.limit, asks.route) {
        settle(&worker.stores, limit, ask).await?;
    }
    Ok(())
}

/// Turns the client's request into the upstream's: hop-by-hop headers out, forwarding
/// headers and route edits in, URI and version for the upstream protocol, body limits.
fn rewrite_request(
    ctx: &ConnCtx,
    listener: &ListenerRt,
    route: &RouteRt,
    cluster: &ClusterRt,
    req: Request<ClientBody>,
) -> Result<Request<RequestBody>, ProxyError> {
    let (mut parts, body) = req.into_parts();
    let h2 = cluster.config.protocol == UpstreamProtocol::H2;
    // The one authority (`request::authority_of`): the URI's when it has one, so an
    // absolute-form target's Host header is replaced, not passed on beside it.
    let from_uri = parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    let replace_host = from_uri.is_some();
    let host = from_uri.or_else(|| parts.headers.get(header::HOST).cloned());
    strip_hop_by_hop(&mut parts.headers, h2);
    let which = Forwarding { x: listener.config.x_forwarded, rfc7239: listener.config.forwarded };
    add_forwarding(&mut parts.headers, &ctx.peer, host.as_ref(), which);
    let rc = &route.config;
    for name in &rc.remove_request_headers {
        parts.headers.remove(name.as_str());
    }
    for (name, value) in &rc.add_request_headers {
        if let (Ok(n), Ok(v)) = (header::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            parts.headers.insert(n, v);
        }
    }
    let rewritten = rc.host_rewrite.is_some();
    let host = match &rc.host_rewrite {
        Some(h) => HeaderValue::from_str(h).ok(),
        None => host,
    };
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if h2 {
        let authority = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        parts.uri = Uri::builder()
            .scheme(if cluster.tls.is_some() { "https" } else { "http" })
            .authority(authority)
            .path_and_query(pq)
            .build()
            .map_err(|_| ProxyError::BadRequest("invalid request target"))?;
        parts.headers.remove(header::HOST);
        parts.version = Version::HTTP_2;
    } else {
        // Origin-form (`/path?q`, nearly every HTTP/1.1 request) is already what goes out.
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            parts.uri = Uri::try_from(pq).map_err(|_| ProxyError::BadRequest("invalid request target"))?;
        }
        match host {
            Some(h) if rewritten || replace_host || !parts.headers.contains_key(header::HOST) => {
                parts.headers.insert(header::HOST, h);
            }
            _ => {}
        }
        parts.version = Version::HTTP_11;
    }
    let limits = &listener.config.limits;
    let body = if body.is_end_stream() {
        RequestBody::empty()
    } else {
        RequestBody::new(body, limits.max_body_bytes, listener.config.timeouts.body)
    };
    Ok(Request::from_parts(parts, body))
}

fn rewrite_response(
    route: &RouteRt,
    resp: Response<UpIncoming>,
    body_idle: std::time::Duration,
    end: ResponseEnd,
) -> Response<ProxyBody> {
    let (mut parts, mut body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let rc = &route.config;
    if !rc.remove_response_headers.is_empty() || !rc.add_response_headers.is_empty() {
        // Edits work on the map: wire-form fields (`h1::raw`) go into it first.
        if let Some(raw) = crate::body::response::take_raw(&mut body) {
            raw.into_map(&mut parts.headers);
        }
    }
    crate::handler::select::edit_response_headers(route, &mut parts.headers);
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, ProxyBody::Upstream(UpstreamBody::new(body, body_idle, end)))
}
