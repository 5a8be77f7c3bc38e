//! Upstream response heads for the fast-path HTTP/1.1 client (`h1::client`): httparse
//! over the connection's buffer, the head frozen once and header values sliced out of it.
//! Hop-by-hop fields are read for what they say about the connection (framing, reuse) and
//! never enter the header map. Pure: no I/O.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName};
use http::{StatusCode, Version};

use super::head::Framing;
use super::names::{header_name, parsed_value};

/// Most response header fields accepted.
const MAX_HEADERS: usize = 100;

/// A parsed upstream response head.
pub struct RespHead {
    pub parts: http::response::Parts,
    /// How the body is delimited; `None`: until the upstream closes.
    pub framing: Option<Framing>,
    /// The upstream keeps the connection open after this response.
    pub keep_alive: bool,
}

/// Parses a complete response head at the front of `buf` (removing it); `Ok(None)` when
/// more bytes are needed. `head_req`: the request was HEAD (no body follows).
pub fn parse_response(buf: &mut BytesMut, head_req: bool) -> Result<Option<RespHead>, &'static str> {
    let mut hs = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    // Offsets of each field's name and value; on the stack for the usual few fields.
    let mut small = [(0u32, 0u32, 0u32, 0u32); 24];
    let mut large = Vec::new();
    let (len, code, version, count) = {
        let mut resp = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut hs) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("malformed upstream response head"),
        };
        let base = buf.as_ptr() as usize;
        let at = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
        let idx: &mut [_] = if resp.headers.len() <= small.len() {
            &mut small[..]
        } else {
            large.resize(resp.headers.len(), (0, 0, 0, 0));
            &mut large[..]
        };
        for (i, h) in idx.iter_mut().zip(resp.headers.iter()) {
            *i = (at(h.name.as_bytes()), h.name.len() as u32, at(h.value), h.value.len() as u32);
        }
        let version = if resp.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
        (len, resp.code.unwrap_or(0), version, resp.headers.len())
    };
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    let (mut chunked, mut length, mut close, mut keep, mut named) = (false, None, false, false, Vec::new());
    let idx = if count <= small.len() { &small[..count] } else { &large[..] };
    for &(n, nl, v, vl) in idx {
        let (n, nl, v, vl) = (n as usize, nl as usize, v as usize, vl as usize);
        let name = header_name(&head[n..n + nl]).map_err(|_| "invalid upstream header name")?;
        let raw = &head[v..v + vl];
        if name == header::CONNECTION {
            for t in raw.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                let (c, k) = (t.eq_ignore_ascii_case(b"close"), t.eq_ignore_ascii_case(b"keep-alive"));
                (close, keep) = (close || c, keep || k);
                if !c && !k {
                    named.extend(HeaderName::from_bytes(t).ok());
                }
            }
            continue;
        }
        if name == header::TRANSFER_ENCODING {
            chunked = raw.trim_ascii_end().ends_with(b"chunked");
            continue;
        }
        if is_hop(&name) {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            length = std::str::from_utf8(raw).ok().and_then(|s| s.trim().parse::<u64>().ok());
        }
        let value = parsed_value(head.slice(v..v + vl));
        headers.append(name, value);
    }
    for n in named {
        headers.remove(n);
    }
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = StatusCode::from_u16(code).map_err(|_| "invalid upstream status")?;
    parts.version = version;
    parts.headers = headers;
    let s = parts.status;
    let framing = if head_req || s.is_informational() || s == StatusCode::NO_CONTENT || s == StatusCode::NOT_MODIFIED {
        Some(Framing::None)
    } else if chunked {
        Some(Framing::Chunked)
    } else {
        length.map(Framing::Length)
    };
    let keep_alive = framing.is_some() && !close && (version == Version::HTTP_11 || keep);
    Ok(Some(RespHead { parts, framing, keep_alive }))
}

/// Hop-by-hop fields other than Connection and Transfer-Encoding (read above).
fn is_hop(n: &HeaderName) -> bool {
    n == header::TE
        || n == header::TRAILER
        || n == header::UPGRADE
        || n.as_str() == "keep-alive"
        || n.as_str().starts_with("proxy")
}

#[cfg(test)]
#[path = "resp_test.rs"]
mod tests;
