//! Response compression: which coding a client gets (`Accept-Encoding` with q-values, among
//! the route's algorithms), which responses qualify (size, media type, not already encoded,
//! not `no-transform`, not HEAD/204/304, not an event stream), and the streaming encoder
//! (async-compression over the body, no whole-body buffering). A compressed response drops
//! `Content-Length`, gains `Content-Encoding` and `Vary: Accept-Encoding`, and its strong
//! `ETag` becomes weak (the bytes differ; the meaning does not).

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use http_body::{Body, Frame};
use sluice_config::{Compress, Encoding};

use crate::body::BoxError;

/// The measured default level per algorithm (docs/performance.md, "Compression levels":
/// the knee of CPU per MiB against ratio). Brotli 2 beats 3 and 4 on both; 5 and up cost
/// 1.3–2.7× the CPU for ~12 % smaller output. Gzip 3 is within 1–3 % of 6 at twice the speed.
pub fn default_level(enc: Encoding) -> u32 {
    match enc {
        Encoding::Br => 2,
        Encoding::Zstd => 3,
        Encoding::Gzip => 3,
    }
}

/// The coding to use: the client's highest q-value among `offer` (ties: the route's order);
/// None when the client accepts none of them (or sent no `Accept-Encoding`).
pub fn negotiate(accept: Option<&HeaderValue>, offer: &[Encoding]) -> Option<Encoding> {
    let accept = accept?.to_str().ok()?;
    let mut star = None;
    let mut q_of = |enc: Encoding| -> Option<f32> {
        let mut q = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let name = parts.next()?.trim();
            let qv = parts
                .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .and_then(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if name.eq_ignore_ascii_case(enc.token()) {
                q = Some(qv);
            } else if name == "*" {
                star = Some(qv);
            }
        }
        q.or(star)
    };
    let mut best: Option<(Encoding, f32)> = None;
    for &enc in offer {
        if let Some(q) = q_of(enc).filter(|q| *q > 0.0) {
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((enc, q));
            }
        }
    }
    best.map(|(e, _)| e)
}

/// Whether a response qualifies for compression under `cfg`.
pub fn qualifies(method: &Method, status: StatusCode, h: &HeaderMap, cfg: &Compress) -> bool {
    if *method == Method::HEAD || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return false;
    }
    if status.is_informational() || h.contains_key(header::CONTENT_ENCODING) || h.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    let no_transform = h
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-transform")));
    let small = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n < cfg.min_size);
    !no_transform && !small && type_listed(h, &cfg.types)
}

fn type_listed(h: &HeaderMap, types: &[String]) -> bool {
    let Some(ct) = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct == "text/event-stream" {
        return false; // each event must go out as it comes; an encoder would hold it back
    }
    types.iter().any(|t| match t.strip_suffix("/*") {
        Some(major) => ct.split('/').next() == Some(major),
        None => *t == ct,
    })
}

/// Rewrites the head for an encoded body: coding, no length, `Vary`, weak `ETag`.
pub fn mark(h: &mut HeaderMap, enc: Encoding) {
    h.remove(header::CONTENT_LENGTH);
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc.token()));
    add_vary(h);
    if let Some(tag) = h.get(header::ETAG).and_then(|v| v.to_str().ok()).filter(|t| t.starts_with('"')) {
        if let Ok(weak) = HeaderValue::from_str(&format!("W/{tag}")) {
            h.insert(header::ETAG, weak);
        }
    }
}

/// `Vary: Accept-Encoding` (once), on every answer of a compressing route.
pub fn add_vary(h: &mut HeaderMap) {
    let has = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("accept-encoding") || t.trim() == "*"));
    if !has {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// `body` encoded with `enc`, as a stream (trailers are dropped: they would follow data
/// whose length changed).
pub fn encode<B>(body: B, enc: Encoding, level: Option<u32>) -> impl Body<Data = Bytes, Error = BoxError> + 'static
where
    B: Body<Data = Bytes, Error = BoxError> + 'static,
{
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
    use async_compression::Level;
    use tokio::io::AsyncRead;
    let level = Level::Precise(level.unwrap_or_else(|| default_level(enc)) as i32);
    let data = http_body_util::BodyDataStream::new(body).map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(data);
    let encoder: std::pin::Pin<Box<dyn AsyncRead>> = match enc {
        Encoding::Br => Box::pin(BrotliEncoder::with_quality(reader, level)),
        Encoding::Zstd => Box::pin(ZstdEncoder::with_quality(reader, level)),
        Encoding::Gzip => Box::pin(GzipEncoder::with_quality(reader, level)),
    };
    let frames = tokio_util::io::ReaderStream::new(encoder).map(|r| r.map(Frame::data).map_err(BoxError::from));
    http_body_util::StreamBody::new(frames)
}

/// A whole body encoded at once (a cached answer's variant, made on its first hit).
pub async fn encode_all(body: Bytes, enc: Encoding, level: Option<u32>) -> Result<Bytes, BoxError> {
    use http_body_util::BodyExt;
    let full = http_body_util::Full::new(body).map_err(|never| match never {});
    Ok(encode(full, enc, level).collect().await?.to_bytes())
}

#[cfg(test)]
#[path = "compress_test.rs"]
mod tests;
