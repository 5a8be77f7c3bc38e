//! The compression stage of a `compress` route, last on the way out: it picks the coding
//! from the client's `Accept-Encoding` (taken before the request went upstream), adds
//! `Vary: Accept-Encoding` to every answer of a compressible type, and encodes — a cached
//! answer from the entry's stored variant (made on its first hit), anything else as a
//! stream.

use http::header::{self, HeaderValue};
use http::{Method, Request, Response};
use sluice_config::{Compress, Encoding};

use crate::body::compress::{add_vary, encode, encode_all, mark, negotiate, qualifies};
use crate::body::response::ProxyBody;
use crate::h1::ClientBody;
use crate::handler::cached::FromCache;

/// What the stage needs of the request: its method and the coding the client prefers.
pub struct Want {
    method: Method,
    enc: Option<Encoding>,
}

pub fn want(cfg: &Compress, req: &Request<ClientBody>) -> Want {
    Want { method: req.method().clone(), enc: negotiate(req.headers().get(header::ACCEPT_ENCODING), &cfg.algorithms) }
}

pub async fn apply(mut resp: Response<ProxyBody>, want: Want, cfg: &Compress) -> Response<ProxyBody> {
    if let Some(raw) = resp.body_mut().take_raw_fields() {
        raw.into_map(resp.headers_mut());
    }
    if !qualifies(&want.method, resp.status(), resp.headers(), cfg) {
        return resp;
    }
    add_vary(resp.headers_mut());
    let Some(enc) = want.enc else { return resp };
    if let Some(FromCache(e)) = resp.extensions().get::<FromCache>().cloned() {
        let b = match e.encoded(enc) {
            Some(b) => b,
            None => match encode_all(e.body.clone(), enc, cfg.level).await {
                Ok(b) => {
                    e.set_encoded(enc, b.clone());
                    b
                }
                Err(_) => return resp,
            },
        };
        mark(resp.headers_mut(), enc);
        resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
        *resp.body_mut() = ProxyBody::full(b);
        return resp;
    }
    mark(resp.headers_mut(), enc);
    let body = std::mem::replace(resp.body_mut(), ProxyBody::Full(None));
    *resp.body_mut() = ProxyBody::Wrapped(Box::new(crate::body::wrapped::Wrapped::new(encode(body, enc, cfg.level))));
    resp
}
