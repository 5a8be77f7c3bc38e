//! HTTP-01 answers: on a plain-HTTP listener, `GET /.well-known/acme-challenge/TOKEN` is
//! answered with the token's key authorization before routing, when `[acme]` is set and the
//! token is open on this instance or published by another (Redis). Unknown tokens fall
//! through to the routes, so a backend's own ACME client keeps working.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response};

use crate::body::response::ProxyBody;
use crate::runtime::snapshot::{ListenerRt, Snapshot};

pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The challenge answer for this request, if it is one this instance can give.
pub async fn answer<B>(snap: &Snapshot, listener: &ListenerRt, req: &Request<B>) -> Option<Response<ProxyBody>> {
    let store = snap.acme.as_ref()?;
    let token = req.uri().path().strip_prefix(CHALLENGE_PREFIX)?;
    if listener.config.tls.is_some() || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return None;
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    let coordination = snap.config.acme.as_ref().and_then(|a| a.coordination.as_deref());
    let key_authorization = store.http_answer(token, coordination).await?;
    tracing::info!(token, listener = %listener.config.name, "answered an ACME HTTP-01 challenge");
    let mut resp = Response::new(ProxyBody::full(Bytes::from(key_authorization)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Some(resp)
}
