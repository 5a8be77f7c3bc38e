//! Shadow mirroring (§16.11): a copy of a route's request goes to another cluster in the
//! background and its answer is dropped. The client's request never waits for it: the copy
//! is a separate task with its own timeout, and at most `max_in_flight` copies run per
//! worker (more are dropped and counted). Requests with a body are not copied (bodies
//! stream to the primary unbuffered; mirroring them needs a tee, a later step).

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::{header, Request};
use http_body::Body as _;
use hyper::body::Incoming;
use sluice_core::PickCtx;

use crate::body::RequestBody;
use crate::clock;
use crate::conn::ConnCtx;
use crate::exchange::exchange;
use crate::forward::strip_hop_by_hop;
use crate::snapshot::{RouteRt, Snapshot};

/// Starts a mirrored copy of `req` if the route mirrors and this request is picked.
pub fn maybe_mirror(ctx: &ConnCtx, snap: &Snapshot, route: &RouteRt, req: &Request<Incoming>) {
    let Some(m) = &route.config.mirror else { return };
    let worker = &ctx.listener.worker;
    if (worker.rng.next_u64() % 10_000) as f64 >= m.percent * 100.0 {
        return;
    }
    let Some(cluster) = snap.clusters.get(&m.cluster).map(Arc::clone) else { return };
    if !req.body().is_end_stream() || worker.mirrors.get() >= m.max_in_flight {
        route.metrics.mirror_dropped.fetch_add(1, Relaxed);
        return;
    }
    let mut copy = Request::new(RequestBody::empty());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().path_and_query().map_or("/", |p| p.as_str()).parse().unwrap_or_default();
    *copy.headers_mut() = req.headers().clone();
    strip_hop_by_hop(copy.headers_mut(), false);
    if let Some(host) = crate::request::host_of(req).and_then(|h| header::HeaderValue::from_str(h).ok()) {
        copy.headers_mut().insert(header::HOST, host);
    }
    route.metrics.mirrored.fetch_add(1, Relaxed);
    let worker = Rc::clone(worker);
    worker.mirrors.set(worker.mirrors.get() + 1);
    tokio::task::spawn_local(async move {
        let pick =
            PickCtx { r1: worker.rng.next_u64(), r2: worker.rng.next_u64(), hash: None, now_ns: clock::now_ns() };
        if let Some(i) = cluster.balancer.pick(&pick) {
            let addr = cluster.balancer.endpoints()[i].addr;
            let send = exchange(&worker.pool, addr, &cluster, copy, None);
            if let Ok(Ok((resp, _, _))) = tokio::time::timeout(cluster.config.timeouts.response, send).await {
                let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
            }
        }
        worker.mirrors.set(worker.mirrors.get() - 1);
    });
}
