//! The admin listener (loopback by default): `GET /status` (listeners, routes, clusters
//! and every endpoint's state as JSON) and `GET /healthz`. A non-loopback bind requires
//! the configured bearer token. Runs on its own thread so it answers even when workers
//! are saturated. Metrics, drain controls and reload arrive with issue 7.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sluice_config::RouteTarget;
use tokio::sync::watch;

use crate::snapshot::Snapshot;

pub fn start(
    bind: SocketAddr,
    shared: Arc<ArcSwap<Snapshot>>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let std_listener = std::net::TcpListener::bind(bind)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let t = std::thread::Builder::new().name("sluice-admin".into()).spawn(move || {
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
            let mut shutdown = shutdown;
            loop {
                tokio::select! {
                    r = listener.accept() => if let Ok((s, _)) = r {
                        let shared = Arc::clone(&shared);
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc).await;
                        });
                    },
                    _ = shutdown.changed() => return,
                }
            }
        });
    })?;
    Ok((addr, t))
}

async fn handle(shared: Arc<ArcSwap<Snapshot>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let snap = shared.load_full();
    if let Some(token) = snap.config.admin.as_ref().and_then(|a| a.token.as_ref()) {
        let want = format!("Bearer {token}");
        if req.headers().get(header::AUTHORIZATION).map_or(true, |v| v.as_bytes() != want.as_bytes()) {
            return Ok(text(StatusCode::UNAUTHORIZED, "401 admin token required\n"));
        }
    }
    Ok(match (req.method().as_str(), req.uri().path()) {
        ("GET", "/healthz") => text(StatusCode::OK, "ok\n"),
        ("GET", "/status") => {
            let body = serde_json::to_vec_pretty(&status(&snap)).unwrap_or_default();
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "404 unknown admin path (try /status)\n"),
    })
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// The `/status` document.
pub fn status(snap: &Snapshot) -> Value {
    let listeners: Vec<Value> = snap
        .listeners
        .iter()
        .map(|l| {
            let routes: Vec<Value> = l
                .routes
                .iter()
                .map(|r| match &r.config.target {
                    RouteTarget::Cluster(c) => json!({ "cluster": c }),
                    RouteTarget::Respond { status, .. } => json!({ "respond": status }),
                    RouteTarget::Split(s) => json!({ "split": s.iter().map(|(c, w)| json!({"cluster": c, "weight": w})).collect::<Vec<_>>() }),
                })
                .collect();
            json!({ "name": l.config.name, "bind": l.config.bind.to_string(), "routes": routes })
        })
        .collect();
    let mut clusters = serde_json::Map::new();
    for (name, c) in &snap.clusters {
        let eps: Vec<Value> = c
            .balancer
            .endpoints()
            .iter()
            .map(|e| {
                json!({
                    "addr": e.addr.to_string(), "state": e.health().as_str(), "weight": e.weight(),
                    "backup": e.backup, "in_flight": e.in_flight(), "requests": e.requests(), "failures": e.failures(),
                    "checks_ok": e.checks_ok(), "health_changes": e.health_changes(), "ejections": e.ejections(), "ewma_ms": e.ewma.estimate(crate::clock::now_ns(), &c.config.balance_options.ewma) / 1e6,
                })
            })
            .collect();
        clusters.insert(name.clone(), json!({ "balance": c.config.balance.name(), "open_connections": c.conn_limit.open(), "breaker": format!("{:?}", c.breaker.state()), "endpoints": eps }));
    }
    json!({ "listeners": listeners, "clusters": clusters })
}
