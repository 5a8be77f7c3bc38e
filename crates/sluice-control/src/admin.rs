//! The admin listener (loopback by default; a token is required elsewhere):
//! `GET /ui` (live dashboard), `GET /status`, `GET /metrics`, `GET /healthz`, `GET /config`, `POST /reload`,
//! `POST /clusters/{cluster}/endpoints/{addr}/drain` and `/undrain`,
//! `PUT /clusters/{cluster}/endpoints/{addr}/weight` (body or `?value=N`),
//! `PUT /listeners/{listener}/routes/{index}/split` (body `blue=0,green=100`).
//! Runs on its own thread so it answers even when workers are saturated.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use crate::reload::Control;

pub fn start(
    bind: SocketAddr,
    control: Arc<Control>,
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
                        let control = Arc::clone(&control);
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| handle(Arc::clone(&control), req));
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

type Resp = Response<Full<Bytes>>;

/// The live dashboard: one self-contained page (no CDN) polling `/status`.
const UI: &str = include_str!("ui/index.html");

fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn json(v: &serde_json::Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(serde_json::to_vec_pretty(v).unwrap_or_default())));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn authorized<B>(control: &Control, req: &Request<B>) -> bool {
    // The dashboard page itself carries no data; it sends the token with each /status call.
    if req.uri().path() == "/ui" {
        return true;
    }
    let snap = control.shared.load();
    let Some(token) = snap.config.admin.as_ref().and_then(|a| a.token.as_ref()) else { return true };
    let want = format!("Bearer {token}");
    req.headers().get(header::AUTHORIZATION).is_some_and(|v| same_bytes(v.as_bytes(), want.as_bytes()))
}

/// Constant-time equality, so the token cannot be guessed byte by byte from response times.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One admin request, whatever carries its body (hyper's connection, or the fuzzer's
/// `fuzz/fuzz_targets/admin_api.rs`).
pub async fn handle<B>(control: Arc<Control>, req: Request<B>) -> Result<Resp, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !authorized(&control, &req) {
        return Ok(text(StatusCode::UNAUTHORIZED, "401 admin token required (Authorization: Bearer ...)\n"));
    }
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    Ok(match (req.method().clone(), segs.as_slice()) {
        (Method::GET, ["healthz"]) => text(StatusCode::OK, "ok\n"),
        (Method::GET, ["ui"] | [""]) => {
            let mut r = text(StatusCode::OK, UI);
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        (Method::GET, ["metrics"]) => {
            let mut r = text(
                StatusCode::OK,
                crate::metrics::render(
                    &control.metrics,
                    &control.dns_stats,
                    &control.discovery_stats,
                    Some(control.shared.load_full()),
                ),
            );
            let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            r
        }
        (Method::GET, ["status"]) => {
            let mut s = crate::status::status(&control.shared.load(), &control.last_reload());
            s["dns"] = control.dns_status().unwrap_or(serde_json::Value::Null);
            s["overload"] = crate::overload::view(&control.metrics.overload);
            s["anycast"] = (*control.anycast.view()).clone();
            s["discovery"] = crate::discovery::view(&control.discovery_stats);
            json(&s)
        }
        (Method::GET, ["anycast"]) => {
            let q = |k: &str| query_u64(req.uri().query(), k);
            let v = match q("since") {
                Some(seen) => {
                    let wait = std::time::Duration::from_secs(q("wait").unwrap_or(20).min(60));
                    control.anycast.changed_since(seen, wait).await
                }
                None => control.anycast.view(),
            };
            json(&v)
        }
        (Method::POST, ["drain"]) => {
            control.request_exit();
            text(StatusCode::ACCEPTED, "stopping: anycast routes withdrawn, then the drain\n")
        }
        (Method::GET, ["config"]) => match control.source() {
            Some(src) => text(StatusCode::OK, src),
            None => text(StatusCode::NOT_FOUND, "404 no config file (started without one)\n"),
        },
        (Method::POST, ["reload"]) => reload(&control),
        (Method::POST, ["caches", name, "purge"]) => {
            let name = name.to_string();
            let body = Limited::new(req.into_body(), 4096).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let (status, v) = crate::caches::purge(&control.shared.load(), &name, &body);
            let mut r = json(&v);
            *r.status_mut() = status;
            r
        }
        (Method::POST, ["clusters", c, "endpoints", a, op @ ("drain" | "undrain")]) => {
            drain(&control, c, a, *op == "drain")
        }
        (Method::PUT, ["listeners", l, "routes", r, "split"]) => {
            let (l, r) = (l.to_string(), r.to_string());
            split(&control, &l, &r, req).await
        }
        (Method::PUT, ["clusters", c, "endpoints", a, "weight"]) => {
            let (c, a) = (c.to_string(), a.to_string());
            weight(&control, &c, &a, req).await
        }
        _ => text(StatusCode::NOT_FOUND, "404 unknown admin path (try /status)\n"),
    })
}

/// `name=N` from a query string.
fn query_u64(q: Option<&str>, name: &str) -> Option<u64> {
    q?.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

fn reload(control: &Control) -> Resp {
    match control.reload() {
        Ok(summary) => text(StatusCode::OK, format!("reloaded: {summary}\n")),
        Err(errors) => text(StatusCode::BAD_REQUEST, format!("reload rejected, old config kept:\n{errors}")),
    }
}

#[allow(clippy::result_large_err)] // the admin API's cold path: the error is the answer
fn endpoint(addr: &str) -> Result<SocketAddr, Resp> {
    addr.parse().map_err(|_| text(StatusCode::BAD_REQUEST, format!("400 `{addr}` is not an IP:port\n")))
}

fn drain(control: &Control, cluster: &str, addr: &str, on: bool) -> Resp {
    let addr = match endpoint(addr) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match control.set_draining(cluster, addr, on) {
        Ok(()) => text(StatusCode::OK, format!("{} {addr} in {cluster}\n", if on { "draining" } else { "undrained" })),
        Err(e) => text(StatusCode::NOT_FOUND, format!("404 {e}\n")),
    }
}

/// `PUT /listeners/{l}/routes/{i}/split` with a body like `blue=0,green=100`.
async fn split<B>(control: &Control, listener: &str, route: &str, req: Request<B>) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(index) = route.parse::<usize>() else {
        return text(StatusCode::BAD_REQUEST, "400 the route is its index in the listener (0, 1, ...)\n");
    };
    let body = Limited::new(req.into_body(), 4096).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut weights = Vec::new();
    for part in String::from_utf8_lossy(&body).split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=').map(|(c, w)| (c.trim(), w.trim().parse::<u32>())) {
            Some((c, Ok(w))) => weights.push((c.to_string(), w)),
            _ => return text(StatusCode::BAD_REQUEST, format!("400 `{part}` is not cluster=weight\n")),
        }
    }
    match control.set_split(listener, index, weights) {
        Ok(()) => text(StatusCode::OK, "split updated\n"),
        Err(e) => text(StatusCode::BAD_REQUEST, format!("400 {e}\n")),
    }
}

async fn weight<B>(control: &Control, cluster: &str, addr: &str, req: Request<B>) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let addr = match endpoint(addr) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let query = req.uri().query().and_then(|q| sluice_core::route::query_value(q, "value")).map(str::to_string);
    let body = Limited::new(req.into_body(), 64).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let raw = query.unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    let Ok(w) = raw.parse::<u32>() else {
        return text(StatusCode::BAD_REQUEST, format!("400 weight `{raw}` is not a number (body or ?value=N)\n"));
    };
    match control.set_weight(cluster, addr, w) {
        Ok(()) => text(StatusCode::OK, format!("weight of {addr} in {cluster} is {w}\n")),
        Err(e) => text(StatusCode::NOT_FOUND, format!("404 {e}\n")),
    }
}
