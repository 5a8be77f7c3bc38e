//! Protocol upgrades (WebSocket, §16.4.1): an HTTP/1.1 request with `Connection: upgrade`
//! goes to the picked endpoint on a dedicated connection with its `Upgrade` header kept;
//! when the upstream answers 101, both sides are handed over by hyper and bytes are
//! relayed until either side closes or nothing moves for the listener's tunnel timeout.
//! Works the same behind TLS termination. Any other answer is relayed as a normal response.
//! WebSocket over HTTP/2 (RFC 8441 extended CONNECT with `:protocol = websocket`) becomes
//! the HTTP/1.1 upgrade upstreams speak (RFC 6455 §4.1, with a fresh `Sec-WebSocket-Key`),
//! and the upstream's 101 becomes the 200 that opens the HTTP/2 stream as the tunnel.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::h1::ClientBody;
use hyper_util::rt::TokioIo;
use sluice_core::EndpointState;

use crate::body::request::RequestBody;
use crate::body::response::ProxyBody;
use crate::downstream::ctx::ConnCtx;
use crate::downstream::state::ActiveGuard;
use crate::handler::errors::ProxyError;
use crate::runtime::snapshot::{ClusterRt, ListenerRt};

/// Largest non-101 answer body relayed for a refused upgrade.
const REFUSAL_BODY_MAX: usize = 64 * 1024;

/// An HTTP/1.1 request asking to switch protocols.
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade"))))
}

/// An HTTP/2 extended CONNECT for WebSocket (RFC 8441).
pub fn wants_h2_websocket<B>(req: &Request<B>) -> bool {
    req.method() == Method::CONNECT
        && req.extensions().get::<hyper::ext::Protocol>().is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
}

/// The client connection once the 101 is out: from sluice's HTTP/1.1 server, or hyper's
/// (an HTTP/1.1 upgrade, or an HTTP/2 stream opened by extended CONNECT).
pub enum ClientUpgrade {
    H1(Option<tokio::sync::oneshot::Receiver<crate::h1::Upgraded>>),
    Hyper(hyper::upgrade::OnUpgrade),
    H2Stream(hyper::upgrade::OnUpgrade),
}

/// Rewrites an RFC 8441 CONNECT into the HTTP/1.1 `GET` + `Upgrade: websocket` an upstream
/// expects and takes the stream's upgrade handle. The subprotocol, extensions and version
/// headers travel as they are.
pub fn from_h2(req: &mut Request<ClientBody>) -> (ClientUpgrade, Option<HeaderValue>) {
    use base64::Engine;
    let on = hyper::upgrade::on(&mut *req);
    *req.method_mut() = Method::GET;
    req.extensions_mut().remove::<hyper::ext::Protocol>();
    *req.body_mut() = ClientBody::Empty;
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    if let Ok(v) = HeaderValue::from_str(&key) {
        req.headers_mut().insert("sec-websocket-key", v);
    }
    (ClientUpgrade::H2Stream(on), Some(HeaderValue::from_static("websocket")))
}

/// Takes the client's upgrade handle from `req` (before the request is rewritten).
pub fn client_side(req: &mut Request<ClientBody>) -> (ClientUpgrade, Option<HeaderValue>) {
    let client = match req.extensions_mut().remove::<crate::h1::H1Upgrade>() {
        Some(h1) => ClientUpgrade::H1(h1.take()),
        None => ClientUpgrade::Hyper(hyper::upgrade::on(&mut *req)),
    };
    (client, req.headers().get(header::UPGRADE).cloned())
}

/// Relays between the upgraded client and upstream connections; bytes up and down.
async fn relay(
    client: ClientUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    idle: std::time::Duration,
) -> Option<(u64, u64)> {
    let upstream = TokioIo::new(upstream.await.ok()?);
    match client {
        ClientUpgrade::H1(rx) => crate::l4::tcp::relay_copy(rx?.await.ok()?, upstream, idle).await,
        ClientUpgrade::Hyper(on) | ClientUpgrade::H2Stream(on) => {
            crate::l4::tcp::relay_copy(TokioIo::new(on.await.ok()?), upstream, idle).await
        }
    }
}

/// Sends the upgrade request upstream and, on 101, starts the tunnel.
pub async fn tunnel(
    ctx: &ConnCtx,
    listener: &ListenerRt,
    cluster: &ClusterRt,
    endpoint: &Arc<EndpointState>,
    (client, upgrade): (ClientUpgrade, Option<HeaderValue>),
    mut req: Request<RequestBody>,
    guard: ActiveGuard,
) -> Result<Response<ProxyBody>, ProxyError> {
    if let Some(u) = upgrade {
        req.headers_mut().insert(header::UPGRADE, u);
        req.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    let c = &cluster.config;
    let header = c.send_proxy_protocol.map(|v| crate::downstream::proxyproto::header(v, ctx.client, ctx.local, None));
    let slot = cluster.conn_limit.acquire()?;
    let mut tx = crate::upstream::pool::connect_tunnel(endpoint.addr, cluster, slot, header).await?;
    let mut resp = match tokio::time::timeout(c.timeouts.response, tx.send_request(req)).await {
        Err(_) => return Err(ProxyError::ResponseTimeout),
        Ok(Err(_)) => return Err(ProxyError::UpstreamReset),
        Ok(Ok(r)) => r,
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return refused(resp).await;
    }
    let upstream = hyper::upgrade::on(&mut resp);
    let h2 = matches!(client, ClientUpgrade::H2Stream(_));
    let metrics = Arc::clone(&listener.metrics);
    let idle = listener.config.timeouts.tunnel;
    metrics.upgrades.fetch_add(1, Relaxed);
    crate::runtime::exec::spawn_boxed(move || async move {
        let _guard = guard;
        metrics.tunnels_active.fetch_add(1, Relaxed);
        let moved = relay(client, upstream, idle).await;
        metrics.tunnels_active.fetch_sub(1, Relaxed);
        if let Some((up, down)) = moved {
            metrics.bytes_in.fetch_add(up, Relaxed);
            metrics.bytes_out.fetch_add(down, Relaxed);
        }
    });
    let (mut parts, _) = resp.into_parts();
    if h2 {
        // RFC 8441 §5: a 2xx opens the stream; the HTTP/1.1 handshake fields stay behind.
        parts.status = StatusCode::OK;
        crate::handler::xforwarded::strip_hop_by_hop(&mut parts.headers, true);
        parts.headers.remove(header::UPGRADE);
        parts.headers.remove("sec-websocket-accept");
    }
    Ok(Response::from_parts(parts, ProxyBody::Full(None)))
}

/// The upstream said no (e.g. 400, 403): its answer goes back as a normal response.
async fn refused(resp: Response<Incoming>) -> Result<Response<ProxyBody>, ProxyError> {
    let (mut parts, body) = resp.into_parts();
    let body = http_body_util::Limited::new(body, REFUSAL_BODY_MAX);
    let bytes: Bytes = body.collect().await.map_err(|_| ProxyError::UpstreamReset)?.to_bytes();
    crate::handler::xforwarded::strip_hop_by_hop(&mut parts.headers, false);
    parts.headers.insert(header::CONTENT_LENGTH, bytes.len().into());
    Ok(Response::from_parts(parts, ProxyBody::full(bytes)))
}
