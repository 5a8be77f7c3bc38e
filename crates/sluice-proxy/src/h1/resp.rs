//! Upstream response heads for the fast-path HTTP/1.1 client (`h1::client`): httparse
//! over the connection's buffer, the head frozen once and header values sliced out of it.
//! Pure: no I/O.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

/// Most response header fields accepted.
const MAX_HEADERS: usize = 100;

/// Parses a complete response head at the front of `buf` (removing it); `Ok(None)` when
/// more bytes are needed.
pub fn parse_response(buf: &mut BytesMut) -> Result<Option<http::response::Parts>, &'static str> {
    let mut hs = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut idx = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let (len, code, version, count) = {
        let mut resp = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut hs) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("malformed upstream response head"),
        };
        let base = buf.as_ptr() as usize;
        let at = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
        for (i, h) in idx.iter_mut().zip(resp.headers.iter()) {
            *i = (at(h.name.as_bytes()), h.name.len() as u32, at(h.value), h.value.len() as u32);
        }
        let version = if resp.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
        (len, resp.code.unwrap_or(0), version, resp.headers.len())
    };
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    for &(n, nl, v, vl) in &idx[..count] {
        let (n, nl, v, vl) = (n as usize, nl as usize, v as usize, vl as usize);
        let name = HeaderName::from_bytes(&head[n..n + nl]).map_err(|_| "invalid upstream header name")?;
        let value =
            HeaderValue::from_maybe_shared(head.slice(v..v + vl)).map_err(|_| "invalid upstream header value")?;
        headers.append(name, value);
    }
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = StatusCode::from_u16(code).map_err(|_| "invalid upstream status")?;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(parts))
}
