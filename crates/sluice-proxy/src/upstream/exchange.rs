//! One upstream exchange: a pooled (or new) connection and one request on it. The request
//! stays in the caller's slot (the fast path reads it by reference; hyper's path takes it
//! and puts it back if it was never sent), so a connect failure can be retried even for a
//! POST with a streamed body, and the request is not moved through every layer.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

use futures_util::future::Either;

use http::{Request, Response};
use http_body::Body as _;
use hyper::client::conn::http1;
use sluice_config::UpstreamProtocol;

use crate::body::request::RequestBody;
use crate::body::{is_body_too_large, BadFraming, BodyIdle};
use crate::h1::client::{self, TripError, UpIncoming};
use crate::handler::errors::ProxyError;
use crate::runtime::snapshot::ClusterRt;
use crate::upstream::pool::{Pool, Upstream};

/// An HTTP/1.1 connection to hand back to the pool, with its use count.
pub type H1Back = (http1::SendRequest<RequestBody>, u64);

/// The response, the connection to return, and the connect time (0 when reused).
pub type Exchanged = (Response<UpIncoming>, Option<H1Back>, u64);

/// Why an exchange failed, and whether the request can still be sent elsewhere.
pub enum Failure {
    /// Nothing reached the upstream (connect failed); the request is back in its slot.
    Unsent(ProxyError),
    /// Sent, but the upstream closed or reset the connection without a byte of answer
    /// (an endpoint dying under the request; HAProxy's `empty-response`), or refused the
    /// h2 stream: a replayable request may go elsewhere without drawing on the retry
    /// budget, like a connect failure.
    Dropped(ProxyError),
    Sent(ProxyError),
}

impl Failure {
    pub fn error(&self) -> ProxyError {
        match self {
            Failure::Unsent(e) | Failure::Dropped(e) | Failure::Sent(e) => *e,
        }
    }
}

/// Sends one request on a pooled (or new) connection, begun at `t`: bodyless requests to
/// plain HTTP/1.1 upstreams on sluice's own client (`exchange_own`), the rest on hyper's
/// (boxed, so that the fast path's future — moved at every layer above — stays small).
/// `raw`: the answer goes to an HTTP/1.1 client, so the fast path may leave its fields in
/// wire form (`h1::raw`). `fresh`: no idle HTTP/1.1 connection is reused (HAProxy's
/// `http-reuse safe`: a non-idempotent first request of a client connection cannot be
/// retried by anyone if a reused connection closes under it).
pub fn exchange<'a>(
    pool: &'a Rc<Pool>,
    addr: SocketAddr,
    cluster: &'a ClusterRt,
    req: &'a mut Option<Request<RequestBody>>,
    proxy_header: Option<Vec<u8>>,
    (t, raw, fresh): (tokio::time::Instant, bool, bool),
) -> impl Future<Output = Result<Exchanged, Failure>> + 'a {
    let c = &cluster.config;
    if c.protocol == UpstreamProtocol::Http1
        && cluster.tls.is_none()
        && proxy_header.is_none()
        && req.as_ref().is_some_and(|r| r.body().is_end_stream())
    {
        return Either::Left(exchange_own(pool, addr, cluster, req, (t, raw, fresh)));
    }
    Either::Right(Box::pin(exchange_hyper(pool, addr, cluster, req, proxy_header, (t, fresh))))
}

/// hyper's client: a reused HTTP/1.1 connection that the upstream closed while idle gives
/// the request back unsent; it is retried once on a fresh connection, which is always safe
/// because nothing reached the upstream.
async fn exchange_hyper(
    pool: &Rc<Pool>,
    addr: SocketAddr,
    cluster: &ClusterRt,
    slot: &mut Option<Request<RequestBody>>,
    proxy_header: Option<Vec<u8>>,
    (t, fresh): (tokio::time::Instant, bool),
) -> Result<Exchanged, Failure> {
    let private = proxy_header.is_some();
    let (upstream, reused) = match pool.checkout(addr, cluster, proxy_header, fresh).await {
        Ok(x) => x,
        Err(e) => return Err(Failure::Unsent(e)),
    };
    let Some(req) = slot.take() else {
        return Err(Failure::Sent(ProxyError::UpstreamReset));
    };
    let connect_ns = if reused { 0 } else { t.elapsed().as_nanos() as u64 };
    match upstream {
        Upstream::H2(mut tx) => {
            let r = tx.send_request(req).await.map_err(|e| match refused_stream(&e) {
                true => Failure::Dropped(ProxyError::UpstreamReset),
                false => Failure::Sent(classify(&e)),
            })?;
            Ok((r.map(UpIncoming::Left), None, connect_ns))
        }
        Upstream::H1(mut tx, uses) => match tx.try_send_request(req).await {
            Ok(resp) => Ok((resp.map(UpIncoming::Left), (!private).then_some((tx, uses + 1)), connect_ns)),
            Err(mut e) => match e.take_message() {
                Some(req) if reused => Box::pin(retry_fresh(pool, addr, cluster, req, slot)).await,
                Some(req) => {
                    *slot = Some(req);
                    Err(Failure::Unsent(ProxyError::UpstreamReset))
                }
                None => Err(Failure::Sent(classify(&e.into_error()))),
            },
        },
    }
}

/// The stale-connection retry: a new connection, one more try (boxed: it is the cold path).
async fn retry_fresh(
    pool: &Pool,
    addr: SocketAddr,
    cluster: &ClusterRt,
    req: Request<RequestBody>,
    slot: &mut Option<Request<RequestBody>>,
) -> Result<Exchanged, Failure> {
    let (up, _) = match pool.checkout(addr, cluster, None, true).await {
        Ok(x) => x,
        Err(e) => {
            *slot = Some(req);
            return Err(Failure::Unsent(e));
        }
    };
    let Upstream::H1(mut tx, uses) = up else {
        return Err(Failure::Sent(ProxyError::UpstreamReset));
    };
    let resp = tx.send_request(req).await.map_err(|e| Failure::Sent(classify(&e)))?;
    Ok((resp.map(UpIncoming::Left), Some((tx, uses + 1)), 0))
}

/// The fast path (`h1::client`): a bodyless request to a plain HTTP/1.1 upstream, on a
/// connection read and written by this task. A reused connection that could not take the
/// request, or (idempotent requests) answered nothing, gets one more try on a fresh one.
/// `t`: when the try began (the clock read it shares).
async fn exchange_own(
    pool: &Rc<Pool>,
    addr: SocketAddr,
    cluster: &ClusterRt,
    req: &Option<Request<RequestBody>>,
    (t, raw, fresh): (tokio::time::Instant, bool, bool),
) -> Result<Exchanged, Failure> {
    let Some(req) = req.as_ref() else {
        return Err(Failure::Sent(ProxyError::UpstreamReset));
    };
    let mut fresh_tried = false;
    loop {
        let (mut conn, reused) = match pool.checkout_own(addr, cluster, t, fresh || fresh_tried).await {
            Ok(x) => x,
            Err(e) => return Err(Failure::Unsent(e)),
        };
        let connect_ns = if reused { 0 } else { t.elapsed().as_nanos() as u64 };
        match conn.round_trip(req, raw).await {
            Ok(head) => {
                let home =
                    head.keep_alive.then(|| client::Home { pool: Rc::clone(pool), addr, cfg: cluster.config.pool });
                let (parts, body) = client::OwnBody::new(conn, head, home);
                return Ok((Response::from_parts(parts, UpIncoming::Right(Box::new(body))), None, connect_ns));
            }
            Err(TripError::Unsent) if !reused => return Err(Failure::Unsent(ProxyError::UpstreamReset)),
            // Nothing left, or nothing came back on a connection the upstream had closed
            // while idle; the latter could also be an upstream that died on the request,
            // so only an idempotent one is sent again.
            Err(TripError::Unsent) if reused && !fresh_tried => fresh_tried = true,
            Err(TripError::Empty) if reused && !fresh_tried && req.method().is_idempotent() => fresh_tried = true,
            Err(TripError::Empty) => return Err(Failure::Dropped(ProxyError::UpstreamReset)),
            Err(_) => return Err(Failure::Sent(ProxyError::UpstreamReset)),
        }
    }
}

/// An h2 upstream refused the stream (RST_STREAM or GOAWAY with REFUSED_STREAM): RFC 9113
/// §8.7 says it did no processing, so it may be retried like a connect failure.
fn refused_stream(e: &hyper::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h2e) = err.downcast_ref::<h2::Error>() {
            return h2e.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        cur = err.source();
    }
    false
}

fn classify(e: &hyper::Error) -> ProxyError {
    if is_body_too_large(e) {
        return ProxyError::BodyTooLarge;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyIdle>() {
            return ProxyError::ClientBodyTimeout;
        }
        if let Some(BadFraming(why)) = err.downcast_ref::<BadFraming>() {
            return ProxyError::BadRequest(why);
        }
        cur = err.source();
    }
    ProxyError::UpstreamReset
}
