//! One HTTP/3 request stream: wait for its head (within the header timeout), answer 425 Too
//! Early to an unsafe method that arrived in 0-RTT data (RFC 8470), hand the request to the
//! `Handler` like any other protocol, and send the response back frame by frame — `send_data`
//! waits on QUIC flow control, so a slow client slows the upstream read (no buffering).

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use h3::error::Code;
use h3::server::{RequestResolver, RequestStream};
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;

use crate::body::response::ProxyBody;
use crate::downstream::ctx::ConnCtx;
use crate::downstream::h3::body::H3Body;
use crate::downstream::h3::ctx::Established;
use crate::downstream::service::Handler;
use crate::h1::ClientBody;

/// How long a bodyless-looking request waits for its stream's end (see `serve`).
const END_WAIT: Duration = Duration::from_millis(2);

type Resolver = RequestResolver<h3_quinn::Connection, Bytes>;
type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// Methods that may be served from replayable early data (RFC 9110 §9.2.1 safe methods).
fn safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Serves one request stream. `established`: the handshake is complete (before it, only
/// 0-RTT data can have arrived).
pub async fn serve<H: Handler>(handler: H, ctx: Rc<ConnCtx>, resolver: Resolver, established: Rc<Established>) {
    let head = tokio::time::timeout(ctx.timeouts.header, resolver.resolve_request()).await;
    let Ok(Ok((req, stream))) = head else { return };
    let (mut send, recv) = stream.split();
    let m = &ctx.listener.metrics.h3;
    m.requests.fetch_add(1, Relaxed);
    let head_only = req.method() == Method::HEAD;
    let mut req = req;
    if !established.check() {
        if !safe(req.method()) {
            m.too_early.fetch_add(1, Relaxed);
            let _ = send_head(&mut send, too_early()).await;
            let _ = send.finish().await;
            return;
        }
        m.early_requests.fetch_add(1, Relaxed);
        // RFC 8470 §5.1: the upstream learns the request came in early data.
        req.headers_mut().insert("early-data", HeaderValue::from_static("1"));
    }
    let declared = req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    // A client may send the end of a bodyless request's stream just after its head: wait
    // that long for it, so such a request goes upstream without a body.
    let bodyless =
        declared.is_none() && matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE);
    let mut body = H3Body::new(recv, declared);
    let wait = if bodyless { END_WAIT } else { Duration::ZERO };
    let client_body =
        if body.ended_within(wait).await { ClientBody::Empty } else { ClientBody::Boxed(body.boxed_unsync()) };
    let Ok(resp) = handler.handle(ctx, req.map(|()| client_body)).await;
    respond(&mut send, resp, head_only).await;
}

fn too_early() -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::TOO_EARLY;
    r.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

async fn send_head(send: &mut SendHalf, head: Response<()>) -> Result<(), h3::error::StreamError> {
    send.send_response(head).await
}

/// Sends the head, then the body's frames as they come, then FIN; an error mid-body
/// resets the stream (the client sees a broken response, not a short one).
async fn respond(send: &mut SendHalf, resp: Response<ProxyBody>, head_only: bool) {
    let (mut parts, body) = resp.into_parts();
    crate::handler::xforwarded::strip_hop_by_hop(&mut parts.headers, false);
    let no_body = head_only
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED
        || parts.status.is_informational();
    if send_head(send, Response::from_parts(parts, ())).await.is_err() {
        return;
    }
    if !no_body {
        let mut body = std::pin::pin!(body);
        while let Some(frame) = body.as_mut().frame().await {
            let sent = match frame {
                Ok(f) if f.is_data() => match f.into_data() {
                    Ok(d) if d.is_empty() => Ok(()),
                    Ok(d) => send.send_data(d).await,
                    Err(_) => Ok(()),
                },
                Ok(f) => match f.into_trailers() {
                    Ok(t) => send.send_trailers(t).await,
                    Err(_) => Ok(()),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "response body failed; resetting the HTTP/3 stream");
                    send.stop_stream(Code::H3_INTERNAL_ERROR);
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    }
    let _ = send.finish().await;
}
