//! Test support for end-to-end tests: in-process mock backends on loopback (each on its own
//! thread and runtime), a proxy started from TOML text, and small HTTP clients.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_control::{Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A mock upstream. Paths: `/slow/<ms>` waits, `/status/<code>` answers that code,
/// `/stall-body` sends a first chunk then stalls; `/bytes/<n>` answers n bytes; anything else echoes the request as JSON.
/// Every response carries `x-backend: <name>`; request bodies are read and their length
/// returned in `x-body-len`.
pub struct Backend {
    pub addr: SocketAddr,
    pub name: &'static str,
    pub conns: Arc<AtomicUsize>,
    pub hits: Arc<AtomicUsize>,
    /// Request body bytes received (by requests other than health checks).
    pub bytes_in: Arc<AtomicUsize>,
    /// What `/healthz` answers: 200 while true, 503 while false.
    pub healthy: Arc<AtomicBool>,
    /// The most requests (health checks aside) this backend has had in flight at once.
    pub peak: Arc<AtomicUsize>,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How a mock backend behaves.
#[derive(Clone, Copy, Default)]
pub struct Mode {
    pub delay: Duration,
    /// Answer every request (but `/healthz`) with 500.
    pub always_500: bool,
    /// Answer 500 while the `healthy` flag is off.
    pub errors_follow_health: bool,
}

impl Backend {
    pub fn start(name: &'static str) -> Backend {
        Backend::start_mode(name, Mode::default())
    }

    /// A backend that waits `delay` before every answer.
    pub fn start_with(name: &'static str, delay: Duration) -> Backend {
        Backend::start_mode(name, Mode { delay, ..Mode::default() })
    }

    pub fn start_mode(name: &'static str, mode: Mode) -> Backend {
        Backend::start_on(name, mode, std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A backend on a listener of the caller's choosing (a given loopback address).
    pub fn start_on(name: &'static str, mode: Mode, l: std::net::TcpListener) -> Backend {
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let bytes_in = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let peak = Arc::new(AtomicUsize::new(0));
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let (c, h, ok, bin) = (conns.clone(), hits.clone(), healthy.clone(), bytes_in.clone());
        let (pk, now) = (peak.clone(), Arc::new(AtomicUsize::new(0)));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                let serve = async {
                    while let Ok((s, _)) = l.accept().await {
                        c.fetch_add(1, Ordering::SeqCst);
                        let (h, ok, bin, pk, now) = (h.clone(), ok.clone(), bin.clone(), pk.clone(), now.clone());
                        tokio::spawn(async move {
                            let svc = service_fn(move |req: Request<Incoming>| {
                                let (h, ok, bin, pk, now) =
                                    (h.clone(), ok.clone(), bin.clone(), pk.clone(), now.clone());
                                async move {
                                    let counted = req.uri().path() != "/healthz";
                                    if counted {
                                        pk.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                                    }
                                    let r = handle(name, mode, &h, &ok, req).await;
                                    if counted {
                                        now.fetch_sub(1, Ordering::SeqCst);
                                    }
                                    let len = r.as_ref().ok().and_then(|r| r.headers().get("x-body-len"));
                                    let len = len.and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
                                    bin.fetch_add(len, Ordering::SeqCst);
                                    r
                                }
                            });
                            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(s), svc)
                                .await;
                        });
                    }
                };
                tokio::select! { _ = serve => {}, _ = killed => {} }
            });
            // Dropping the runtime closes the listener and every open connection.
        });
        Backend { addr, name, conns, hits, bytes_in, healthy, peak, kill: Some(kill) }
    }

    /// Kills the backend: its port refuses connections, open connections are reset.
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        for _ in 0..100 {
            if std::net::TcpStream::connect(self.addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn set_healthy(&self, on: bool) {
        self.healthy.store(on, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

async fn handle(
    name: &'static str,
    mode: Mode,
    hits: &AtomicUsize,
    healthy: &AtomicBool,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, Infallible> {
    if req.uri().path() == "/healthz" {
        let code = if healthy.load(Ordering::SeqCst) { 200 } else { 503 };
        let mut r = Response::new(Full::new(Bytes::from_static(b"health\n")).boxed());
        *r.status_mut() = StatusCode::from_u16(code).unwrap();
        return Ok(r);
    }
    if req.uri().path() == "/grpc.health.v1.Health/Check" {
        let status = if healthy.load(Ordering::SeqCst) { 1u8 } else { 2 }; // SERVING / NOT_SERVING
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = [
            Ok::<_, Infallible>(Frame::data(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]))),
            Ok(Frame::trailers(trailers)),
        ];
        let mut r = Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed());
        r.headers_mut().insert("content-type", "application/grpc".parse().unwrap());
        return Ok(r);
    }
    hits.fetch_add(1, Ordering::SeqCst);
    if !mode.delay.is_zero() {
        tokio::time::sleep(mode.delay).await;
    }
    let mut r = answer(name, req).await?;
    if mode.always_500 || (mode.errors_follow_health && !healthy.load(Ordering::SeqCst)) {
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(r)
}

async fn answer(name: &'static str, req: Request<Incoming>) -> Result<Response<BoxBody>, Infallible> {
    let path = req.uri().path().to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        headers.insert(k.to_string(), v.to_str().unwrap_or("").into());
    }
    let meta = serde_json::json!({
        "backend": name, "method": req.method().as_str(), "path": path,
        "query": req.uri().query(), "version": format!("{:?}", req.version()), "headers": headers,
    });
    let body_len = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
    let mut status = StatusCode::OK;
    let body: BoxBody = if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        Full::new(Bytes::from(meta.to_string())).boxed()
    } else if let Some(code) = path.strip_prefix("/status/") {
        status = StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap();
        Full::new(Bytes::from(meta.to_string())).boxed()
    } else if let Some(n) = path.strip_prefix("/bytes/") {
        Full::new(Bytes::from(vec![b'x'; n.parse().unwrap_or(0)])).boxed()
    } else if path == "/stall-body" {
        let first = futures_util::stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first")))]);
        let stream = futures_util::StreamExt::chain(first, futures_util::stream::pending());
        StreamBody::new(stream).boxed()
    } else {
        Full::new(Bytes::from(meta.to_string())).boxed()
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert("x-backend", name.parse().unwrap());
    resp.headers_mut().insert("x-body-len", body_len.to_string().parse().unwrap());
    Ok(resp)
}

/// A port that accepts connections and closes them at once (a resetting upstream).
pub fn resetting_backend() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    addr
}

/// A loopback server on its own thread and runtime: every accepted connection goes to
/// `conn` in a task of its own. Returns the address.
pub fn serve_on_thread<F, Fut>(conn: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(conn(s));
            }
        });
    });
    addr
}

/// A loopback port with nothing listening (connection refused).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Starts a proxy from TOML text; `{name}` placeholders are replaced by backend addresses.
pub fn proxy(toml: &str, subs: &[(&str, SocketAddr)]) -> ServerHandle {
    let mut text = toml.to_string();
    for (k, v) in subs {
        text = text.replace(&format!("{{{k}}}"), &v.to_string());
    }
    let cfg = sluice_config::parse(&text, "test.toml").unwrap_or_else(|d| panic!("{d}"));
    Server::start(cfg).expect("proxy starts")
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not json ({e}): {}", self.body))
    }

    pub fn backend(&self) -> &str {
        self.headers.get("x-backend").map_or("-", |v| v.to_str().unwrap())
    }
}

/// One HTTP/1.1 request on a new connection.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Resp {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    collect(tx.send_request(req).await.unwrap()).await
}

pub async fn collect(resp: Response<Incoming>) -> Resp {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Resp { status: parts.status.as_u16(), headers: parts.headers, body: String::from_utf8_lossy(&body).into() }
}

/// GET `path` with extra headers; Host defaults to `test.local`.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut b = Request::get(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        b = b.header("host", "test.local");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(addr, b.body(Full::new(Bytes::new())).unwrap()).await
}

/// Writes raw bytes and reads until the peer closes or `wait` passes.
pub async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into()
}

/// Stops the proxy and waits for it.
pub fn stop(h: ServerHandle) {
    h.shutdown();
    h.join();
}

/// GETs `/` `n` times; counts answers by backend name (or `status CODE ERROR`).
pub async fn tally(addr: std::net::SocketAddr, n: usize, headers: &[(&str, &str)]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        let r = get(addr, "/", headers).await;
        *m.entry(if r.status == 200 {
            r.backend().to_string()
        } else {
            format!("status {} {}", r.status, r.headers.get("x-sluice-error").map_or("-", |v| v.to_str().unwrap()))
        })
        .or_insert(0) += 1;
    }
    m
}
