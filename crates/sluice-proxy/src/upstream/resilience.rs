//! Forwarding with resilience: the cluster's bulkhead (max_requests, a bounded wait for
//! max_pending), then tries — each with its own timeout, recorded for peak-EWMA and
//! outlier detection — and retries on another endpoint when the policy, the request
//! (idempotent and bodyless, or never sent at all) and the retry budget all allow.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, Uri, Version};
use sluice_config::RetryConfig;
use sluice_core::breaker::Admission;
use sluice_core::endpoint::InFlight;
use sluice_core::outlier::Outcome;
use sluice_core::retry::backoff;
use sluice_core::{EndpointState, PickCtx};
use tokio::time::Instant;

use crate::body::request::RequestBody;
use crate::downstream::ctx::ConnCtx;
use crate::h1::client::UpIncoming;
use crate::handler::errors::ProxyError;
use crate::runtime::clock;
use crate::runtime::cluster_state::BulkheadPermit;
use crate::runtime::snapshot::ClusterRt;
use crate::upstream::exchange::{exchange, Exchanged, Failure, H1Back};

/// A successful forward: the response, its connection and the guards it must keep.
pub struct Forwarded {
    pub resp: Response<UpIncoming>,
    pub back: Option<H1Back>,
    pub in_flight: InFlight,
    pub addr: SocketAddr,
    pub permit: Option<BulkheadPermit>,
    /// Tries made (1 without retries), and the timing of the one that answered.
    pub attempts: u32,
    pub connect_ns: u64,
    pub queue_ns: u64,
    pub ttfb_ns: u64,
    /// When the answering try's response head arrived.
    pub answered: Instant,
}

/// How a request is to be forwarded: its overall timeout (from `started`, when the request
/// arrived) and whether non-idempotent requests may be retried. `ready`: when forwarding
/// began (`started` itself unless something was awaited first) — the first try's start, so
/// one clock read serves the whole request.
#[derive(Clone, Copy)]
pub struct Plan {
    pub timeout: Duration,
    pub any_method: bool,
    pub started: Instant,
    pub ready: Instant,
}

/// Takes a slot under the cluster's `max_requests`, waiting up to `pending_timeout` if
/// fewer than `max_pending` requests already wait; otherwise a fast 503. With the time
/// spent waiting (ns).
pub async fn admit(cluster: &ClusterRt) -> Result<(Option<BulkheadPermit>, u64), ProxyError> {
    let Some(bulkhead) = &cluster.bulkhead else {
        return Ok((None, 0));
    };
    if let Some(p) = bulkhead.try_acquire() {
        return Ok((Some(p), 0));
    }
    let limits = &cluster.config.limits;
    if bulkhead.pending.fetch_add(1, Relaxed) >= limits.max_pending {
        bulkhead.pending.fetch_sub(1, Relaxed);
        cluster.metrics.shed_limit.fetch_add(1, Relaxed);
        return Err(ProxyError::CircuitBreaker);
    }
    let since = Instant::now();
    let waited = tokio::time::timeout(limits.pending_timeout, bulkhead.acquire()).await;
    bulkhead.pending.fetch_sub(1, Relaxed);
    let queue_ns = since.elapsed().as_nanos() as u64;
    cluster.metrics.queue_wait.observe_ns(queue_ns);
    match waited {
        Ok(Some(p)) => Ok((Some(p), queue_ns)),
        _ => {
            cluster.metrics.shed_limit.fetch_add(1, Relaxed);
            Err(ProxyError::CircuitBreaker)
        }
    }
}

/// A bodyless request's head, kept to send it again.
struct Replay {
    method: Method,
    uri: Uri,
    version: Version,
    headers: http::HeaderMap,
}

impl Replay {
    fn capture(req: &Request<RequestBody>, any_method: bool) -> Option<Replay> {
        use http_body::Body as _;
        let idempotent = matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
        );
        ((idempotent || any_method) && req.body().is_end_stream()).then(|| Replay {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
        })
    }

    fn build(&self) -> Request<RequestBody> {
        let mut r = Request::new(RequestBody::empty());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = self.version;
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// The cluster's error-rate breaker before a request (`None`: the cluster has none); a
/// denied request fails fast. Sync, around `forward`, so no async layer is added for it.
pub fn breaker_admit(cluster: &ClusterRt, plan: &Plan) -> Result<Option<Admission>, ProxyError> {
    let Some(policy) = &cluster.config.breaker else {
        return Ok(None);
    };
    let admission = cluster.state.breaker.admit(clock::ns_at(plan.started), policy);
    if admission == Admission::Deny {
        cluster.metrics.shed_breaker.fetch_add(1, Relaxed);
        return Err(ProxyError::BreakerOpen);
    }
    Ok(Some(admission))
}

/// The breaker after the request: its outcome, and the state change if any.
pub fn breaker_record(cluster: &ClusterRt, admission: Admission, res: &Result<Forwarded, ProxyError>) {
    let Some(policy) = &cluster.config.breaker else {
        return;
    };
    let failed = match res {
        Ok(f) => f.resp.status().is_server_error(),
        Err(e) => !e.is_client_fault() && *e != ProxyError::CircuitBreaker,
    };
    let breaker = &cluster.state.breaker;
    let before = breaker.state();
    let now = res.as_ref().map_or_else(|_| clock::now_ns(), |f| clock::ns_at(f.answered));
    breaker.record(admission, failed, now, policy);
    let after = breaker.state();
    if after == sluice_core::breaker::State::Open && before != after {
        cluster.metrics.breaker_opens.fetch_add(1, Relaxed);
    }
    if before != after {
        tracing::warn!(cluster = %cluster.config.name, from = ?before, to = ?after, "circuit breaker changed state");
    }
}

/// Sends `req` to `first`, retrying per the cluster's policy within the plan's timeout
/// (counted from when the request arrived). Callers wrap it in `breaker_admit` and
/// `breaker_record`.
pub async fn forward(
    ctx: &ConnCtx,
    cluster: &ClusterRt,
    first: &Arc<EndpointState>,
    req: &mut Option<Request<RequestBody>>,
    plan: Plan,
) -> Result<Forwarded, ProxyError> {
    let (permit, queue_ns) = admit(cluster).await?;
    let _active = cluster.state.budget.request();
    let deadline = plan.started + plan.timeout;
    let retry = cluster.config.retries.as_ref();
    let replay = retry.zip(req.as_ref()).and_then(|(_, r)| Replay::capture(r, plan.any_method));
    let max = retry.map_or(0, |r| r.attempts);
    // The request stays in this slot across tries: the fast path reads it in place, hyper's
    // path takes it (and puts it back if unsent); a sent one is rebuilt from `replay`.
    let (mut ep, mut tried) = (Arc::clone(first), Vec::new());
    let mut _retry_slot = None;
    for attempt in 0..=max {
        if req.is_none() {
            *req = replay.as_ref().map(Replay::build);
        }
        if req.is_none() {
            break;
        }
        let tried_at = if attempt == 0 && queue_ns == 0 { plan.ready } else { Instant::now() };
        let (in_flight, res, answered) = try_once(ctx, cluster, &ep, req, deadline, tried_at).await;
        let again =
            attempt < max && answered < deadline && retry.is_some_and(|p| wants_retry(p, &res, replay.is_some()));
        let slot = if again { retry_slot(cluster, &ep, &res) } else { None };
        let Some(slot) = slot else {
            return match res {
                Ok((resp, back, connect_ns)) => Ok(Forwarded {
                    resp,
                    back,
                    in_flight,
                    addr: ep.addr,
                    permit,
                    attempts: attempt + 1,
                    connect_ns,
                    queue_ns,
                    ttfb_ns: answered.saturating_duration_since(tried_at).as_nanos() as u64,
                    answered,
                }),
                Err(f) => Err(f.error()),
            };
        };
        if slot.is_some() {
            _retry_slot = slot;
        }
        tried.push(ep.addr);
        cluster.metrics.retries.fetch_add(1, Relaxed);
        let pause = retry.map_or(Duration::ZERO, |p| {
            backoff(p.backoff, p.max_backoff, attempt + 1, ctx.listener.worker.rng.next_u64())
        });
        tokio::time::sleep(pause).await;
        let rng = &ctx.listener.worker.rng;
        let pick = PickCtx { r1: rng.next_u64(), r2: rng.next_u64(), hash: None, now_ns: clock::now_ns() };
        if let Some(i) = cluster.balancer.pick_avoiding(&pick, |e| tried.contains(&e.addr)) {
            ep = Arc::clone(&cluster.balancer.endpoints()[i]);
        }
    }
    Err(ProxyError::UpstreamReset)
}

/// Whether a retry the policy wants may go: `Some(None)` when it is free, `Some(slot)`
/// when it holds a retry-budget slot, `None` when the budget refuses it (counted, logged).
/// A request that never reached the upstream adds no load when sent elsewhere, and one
/// whose connection died without an answer met a dying endpoint, not an overloaded one:
/// only retries of answered or timed-out requests draw on the budget.
fn retry_slot<'c>(
    cluster: &'c ClusterRt,
    ep: &EndpointState,
    res: &Result<Exchanged, Failure>,
) -> Option<Option<sluice_core::retry::Active<'c>>> {
    if matches!(res, Err(Failure::Unsent(..) | Failure::Dropped(..))) {
        return Some(None);
    }
    let p = cluster.config.retries.as_ref()?;
    let slot =
        cluster.state.budget.try_retry(p.budget_percent, p.min_retry_concurrency, cluster.config.limits.max_retries);
    if slot.is_none() {
        cluster.metrics.retry_overflow.fetch_add(1, Relaxed);
        tracing::warn!(cluster = %cluster.config.name, endpoint = %ep.addr, "retry refused: retry budget exhausted");
    }
    slot.map(Some)
}

/// One try (begun at `tried_at`) with its timeout; its outcome feeds peak-EWMA and outlier
/// detection. With when it ended.
async fn try_once(
    ctx: &ConnCtx,
    cluster: &ClusterRt,
    ep: &Arc<EndpointState>,
    req: &mut Option<Request<RequestBody>>,
    deadline: Instant,
    tried_at: Instant,
) -> (InFlight, Result<Exchanged, Failure>, Instant) {
    let in_flight = ep.start_request();
    let per_try = cluster.config.retries.as_ref().and_then(|r| r.per_try_timeout);
    let until = per_try.map_or(deadline, |t| deadline.min(tried_at + t));
    let started = clock::ns_at(tried_at);
    let header = cluster.config.send_proxy_protocol.zip(req.as_ref()).map(|(v, req)| {
        let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).or(req.uri().host());
        crate::downstream::proxyproto::header(v, ctx.client, ctx.local, host)
    });
    let pool = &ctx.listener.worker.pool;
    let h1 = !ctx.state.is_h2();
    let first = h1 && ctx.state.requests.load(std::sync::atomic::Ordering::Relaxed) <= 1;
    let fresh = first && req.as_ref().is_some_and(|r| !r.method().is_idempotent());
    let exchanged = exchange(pool, ep.addr, cluster, req, header, (tried_at, h1, fresh));
    let res = match crate::runtime::deadline::within(&ctx.timer, until, exchanged).await {
        Some(r) => r,
        None => Err(Failure::Sent(ProxyError::ResponseTimeout)),
    };
    let answered = Instant::now();
    let now = clock::ns_at(answered);
    if res.is_ok() {
        cluster.metrics.upstream_ttfb.observe_ns(now.saturating_sub(started));
    }
    record(ctx, cluster, ep, (started, now), &res);
    (in_flight, res, answered)
}

/// Feeds a try's outcome, over `(started, now)` in `clock` ns, to the endpoint's state.
fn record(ctx: &ConnCtx, cluster: &ClusterRt, ep: &EndpointState, span: (u64, u64), res: &Result<Exchanged, Failure>) {
    let (started, now) = span;
    let outcome = match res {
        Ok((resp, _, _)) if resp.status().is_server_error() => Some(Outcome::Status5xx),
        Ok(_) => Some(Outcome::Success),
        Err(f) if f.error().is_client_fault() => None,
        Err(_) => Some(Outcome::Gateway),
    };
    let Some(o) = outcome else {
        return; // the client's fault says nothing about the endpoint
    };
    let failed = o != Outcome::Success;
    if matches!(outcome, Some(Outcome::Success | Outcome::Status5xx)) {
        ep.recent.record(now.saturating_sub(started));
    }
    ep.ewma.observe(now.saturating_sub(started) as f64, failed, now, &cluster.balancer.options().ewma);
    if outcome == Some(Outcome::Status5xx) {
        ep.record_failure();
    }
    if let Err(f) = res {
        ep.record_failure();
        tracing::warn!(listener = %ctx.listener.name, peer = %ctx.peer.ip, cluster = %cluster.config.name,
            endpoint = %ep.addr, error = f.error().code(), "{}", f.error().reason());
    }
    let slow_p95 = cluster.config.outlier.as_ref().is_some_and(|p| p.slow_p95_ns.is_some());
    if slow_p95 && o != Outcome::Gateway {
        ep.latency.record(now.saturating_sub(started));
    }
    crate::upstream::outcome::feed_outlier(cluster, ep, o, now);
}

/// Whether the policy retries this result (a sent request needs a replayable head).
fn wants_retry(p: &RetryConfig, res: &Result<Exchanged, Failure>, replayable: bool) -> bool {
    match res {
        Ok((resp, _, _)) => {
            let s = resp.status().as_u16();
            replayable
                && ((p.on_5xx && s >= 500) || (p.on_gateway_error && matches!(s, 502..=504)) || p.statuses.contains(&s))
        }
        Err(Failure::Unsent(e)) => match e {
            ProxyError::ConnectRefused | ProxyError::ConnectTimeout => p.on_connect_failure || p.on_gateway_error,
            ProxyError::UpstreamReset => p.on_reset || p.on_gateway_error,
            _ => false,
        },
        Err(Failure::Sent(e) | Failure::Dropped(e)) => {
            replayable
                && match e {
                    ProxyError::UpstreamReset => p.on_reset || p.on_gateway_error || p.on_5xx,
                    ProxyError::ResponseTimeout => p.on_gateway_error || p.on_5xx,
                    _ => false,
                }
        }
    }
}
