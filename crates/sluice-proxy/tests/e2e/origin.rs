//! A programmable origin for the cache and compression tests: `/cc/<cache-control>/<name>`
//! answers with that `Cache-Control` (`_` for spaces), a version-stamped body and `ETag`
//! (304 to a matching `If-None-Match`), and counts requests per path. Switches: fail (503
//! to everything), bump (a new version of every answer), delay.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

#[derive(Default)]
pub struct State {
    pub fail: AtomicBool,
    pub version: AtomicU64,
    pub delay_ms: AtomicU64,
    pub hits: Mutex<HashMap<String, u64>>,
}

pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl Origin {
    pub fn hits(&self, path: &str) -> u64 {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

pub fn start() -> Origin {
    let state = Arc::new(State::default());
    let st = state.clone();
    let addr = crate::support::serve_on_thread(move |s| {
        let st = st.clone();
        async move {
            let svc = hyper::service::service_fn(move |req| answer(st.clone(), req));
            let _ =
                hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
        }
    });
    Origin { addr, state }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

async fn answer(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    *st.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let delay = st.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let r = Response::builder();
    if st.fail.load(SeqCst) {
        return Ok(r.status(503).body(full(&b"down\n"[..])).unwrap());
    }
    let v = st.version.load(SeqCst);
    let etag = format!("\"v{v}\"");
    let lang = req.headers().get("accept-language").map(|h| h.to_str().unwrap_or("").to_string());
    let inm = req.headers().get("if-none-match").map(|h| h.to_str().unwrap_or("").to_string());
    let _ = req.into_body().collect().await;
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let (kind, cc) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").replace('_', " "));
    let mut r = r.header("etag", &etag).header("content-type", "text/plain");
    if !cc.is_empty() {
        r = r.header("cache-control", cc);
    }
    let body = match kind {
        "vary" => {
            r = r.header("vary", "Accept-Language");
            format!("{path} v{v} lang={}", lang.unwrap_or_default())
        }
        "cookie" => {
            r = r.header("set-cookie", "s=1");
            format!("{path} v{v}")
        }
        "big" => "x".repeat(2 << 20),
        "drip" => {
            // Ten chunks, 50 ms apart: a client can leave in the middle.
            let chunks = futures_util::stream::unfold(0u32, |i| async move {
                (i < 10).then_some(())?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from(format!("chunk{i};")))), i + 1))
            });
            return Ok(r.body(http_body_util::StreamBody::new(chunks).boxed()).unwrap());
        }
        "text" => format!("{path} v{v} ").repeat(1000),
        _ => format!("{path} v{v}"),
    };
    if inm.as_deref() == Some(etag.as_str()) {
        return Ok(r.status(StatusCode::NOT_MODIFIED).body(full(Bytes::new())).unwrap());
    }
    Ok(r.body(full(body)).unwrap())
}
