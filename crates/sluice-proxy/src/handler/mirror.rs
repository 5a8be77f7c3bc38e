//! Shadow mirroring (§16.11): a copy of a route's request goes to another cluster in the
//! background and its answer is dropped. The client's request never waits for it: the copy
//! is a separate task with its own timeout, and at most `max_in_flight` copies run per
//! worker (more are dropped and counted). A request body is copied by a tee on the primary's
//! body as it streams (`BodyTee`): up to `max_body_bytes` are kept, and the copy is sent once
//! the body has ended — a longer or broken body drops the copy, never the primary.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::h1::ClientBody;
use bytes::{Bytes, BytesMut};
use http::{header, Request};
use http_body::Body as _;
use sluice_core::PickCtx;
use tokio::sync::oneshot;

use crate::body::request::{BodyTee, RequestBody};
use crate::downstream::ctx::ConnCtx;
use crate::handler::xforwarded::strip_hop_by_hop;
use crate::runtime::clock;
use crate::runtime::ctx::WorkerCtx;
use crate::runtime::snapshot::{ClusterRt, RouteRt, Snapshot};
use crate::upstream::exchange::exchange;

/// Starts a mirrored copy of `req` if the route mirrors and this request is picked. For a
/// request with a body, returns the tee to put on the primary's body.
pub fn maybe_mirror(ctx: &ConnCtx, snap: &Snapshot, route: &RouteRt, req: &Request<ClientBody>) -> Option<BodyTee> {
    let m = route.config.mirror.as_ref()?;
    let worker = &ctx.listener.worker;
    if (worker.rng.next_u64() % 10_000) as f64 >= m.percent * 100.0 {
        return None;
    }
    let cluster = snap.clusters.get(&m.cluster).map(Arc::clone)?;
    let too_long = req.body().size_hint().lower() > m.max_body_bytes;
    if too_long || worker.mirrors.get() >= m.max_in_flight {
        route.metrics.mirror_dropped.fetch_add(1, Relaxed);
        return None;
    }
    let mut copy = Request::new(());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().path_and_query().map_or("/", |p| p.as_str()).parse().unwrap_or_default();
    *copy.headers_mut() = req.headers().clone();
    strip_hop_by_hop(copy.headers_mut(), false);
    if let Some(host) = crate::handler::request::host_of(req).and_then(|h| header::HeaderValue::from_str(h).ok()) {
        copy.headers_mut().insert(header::HOST, host);
    }
    let (tee, body) = if req.body().is_end_stream() {
        (None, None)
    } else {
        let (tx, rx) = oneshot::channel();
        (Some(BodyTee { buf: BytesMut::new(), limit: m.max_body_bytes as usize, tx: Some(tx) }), Some(rx))
    };
    worker.mirrors.set(worker.mirrors.get() + 1);
    let (worker, metrics) = (Rc::clone(worker), Arc::clone(&route.metrics));
    crate::runtime::exec::spawn_boxed(move || send_copy(worker, cluster, metrics, copy, body));
    tee
}

/// Waits for the body copy (if any), then sends the request and drains the answer.
async fn send_copy(
    worker: Rc<WorkerCtx>,
    cluster: Arc<ClusterRt>,
    metrics: Arc<crate::metrics::RouteMetrics>,
    head: Request<()>,
    body: Option<oneshot::Receiver<Bytes>>,
) {
    let body = match body {
        None => Some(RequestBody::empty()),
        Some(rx) => rx.await.ok().map(RequestBody::full),
    };
    let Some(body) = body else {
        metrics.mirror_dropped.fetch_add(1, Relaxed);
        worker.mirrors.set(worker.mirrors.get() - 1);
        return;
    };
    metrics.mirrored.fetch_add(1, Relaxed);
    let (mut parts, ()) = head.into_parts();
    if let Some(n) = body.size_hint().exact().filter(|n| *n > 0) {
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts.headers.insert(header::CONTENT_LENGTH, n.into());
    }
    let copy = Request::from_parts(parts, body);
    let pick = PickCtx { r1: worker.rng.next_u64(), r2: worker.rng.next_u64(), hash: None, now_ns: clock::now_ns() };
    if let Some(i) = cluster.balancer.pick(&pick) {
        let addr = cluster.balancer.endpoints()[i].addr;
        let mut slot = Some(copy);
        let send = exchange(&worker.pool, addr, &cluster, &mut slot, None, (tokio::time::Instant::now(), true, false));
        if let Ok(Ok((resp, _, _))) = tokio::time::timeout(cluster.config.timeouts.response, send).await {
            let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
        }
    }
    worker.mirrors.set(worker.mirrors.get() - 1);
}
