//! Upstream response heads for the fast-path HTTP/1.1 client (`h1::client`): httparse
//! over the connection's buffer, then the end-to-end fields either copied out in wire form
//! (`h1::raw`, for an HTTP/1.1 client) or put in a header map with values sliced from the
//! frozen head. Hop-by-hop fields are read for what they say about the connection
//! (framing, reuse) and never kept. Pure: no I/O.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName};
use http::{StatusCode, Version};

use crate::h1::codec::head::Framing;
use crate::h1::codec::names::{header_name, parsed_value};
use crate::h1::codec::raw::{kind, parse_length, Kind, RawFields};

/// Most response header fields accepted.
const MAX_HEADERS: usize = 100;

/// A parsed upstream response head.
pub struct RespHead {
    /// Its headers are empty when `raw` holds the fields.
    pub parts: http::response::Parts,
    /// The end-to-end fields in wire form, when asked for (an HTTP/1.1 client's answer).
    pub raw: Option<RawFields>,
    /// How the body is delimited; `None`: until the upstream closes.
    pub framing: Option<Framing>,
    /// The upstream keeps the connection open after this response.
    pub keep_alive: bool,
}

/// Parses a complete response head at the front of `buf` (removing it); `Ok(None)` when
/// more bytes are needed. `head_req`: the request was HEAD (no body follows). `raw`: the
/// fields may stay in wire form (`RespHead::raw`) rather than go into the header map.
pub fn parse_response(buf: &mut BytesMut, head_req: bool, raw: bool) -> Result<Option<RespHead>, &'static str> {
    let mut hs = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    // Offsets of each field's name and value; on the stack for the usual few fields.
    let mut small: [Idx; 24] = [(0, 0, 0, 0); 24];
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
    let idx = if count <= small.len() { &small[..count] } else { &large[..] };
    let mut facts = Facts::default();
    let mut fields = if raw { raw_fields(&buf[..len], idx, &mut facts) } else { None };
    let headers = match fields {
        // Copied out: the buffer stays whole (no shared view of it is kept).
        Some(_) => {
            buf.advance(len);
            HeaderMap::new()
        }
        None => {
            facts = Facts::default();
            map_fields(&buf.split_to(len).freeze(), idx, &mut facts)?
        }
    };
    if facts.bad_length {
        return Err("invalid upstream content-length");
    }
    let Facts { chunked, length, close, keep, .. } = facts;
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
    if fields.as_ref().is_some_and(|f| f.lines().is_empty()) {
        fields = None;
    }
    Ok(Some(RespHead { parts, raw: fields, framing, keep_alive }))
}

/// Offsets of a field's name and value in the head.
type Idx = (u32, u32, u32, u32);

/// What the hop-by-hop fields say about the body and the connection.
#[derive(Default)]
struct Facts {
    chunked: bool,
    length: Option<u64>,
    /// A `Content-Length` was among the fields.
    saw_length: bool,
    /// One was not a number, or two disagreed (RFC 9112 §6.3: a 502, not a guess).
    bad_length: bool,
    close: bool,
    keep: bool,
}

impl Facts {
    /// Reads a `Connection` value; `other` gets each token that names another field.
    fn connection(&mut self, value: &[u8], mut other: impl FnMut(&[u8])) {
        for t in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            let (c, k) = (t.eq_ignore_ascii_case(b"close"), t.eq_ignore_ascii_case(b"keep-alive"));
            (self.close, self.keep) = (self.close || c, self.keep || k);
            if !c && !k {
                other(t);
            }
        }
    }

    /// Reads a hop-by-hop or framing field; `false` for an end-to-end one.
    fn hop(&mut self, kind: Kind, value: &[u8], other: impl FnMut(&[u8])) -> bool {
        match kind {
            Kind::Connection => self.connection(value, other),
            Kind::TransferEncoding => self.chunked = value.trim_ascii_end().ends_with(b"chunked"),
            Kind::Hop => {}
            Kind::ContentLength => {
                let n = parse_length(value);
                self.bad_length |= n.is_none() || (self.saw_length && n != self.length);
                (self.length, self.saw_length) = (n, true);
                return false;
            }
            Kind::Date | Kind::Other => return false,
        }
        true
    }
}

/// The end-to-end fields in wire form; `None` when a field must be dropped (one that
/// `Connection` names, a `Content-Length` beside chunked framing; rare: the map does that).
fn raw_fields(head: &[u8], idx: &[Idx], facts: &mut Facts) -> Option<RawFields> {
    let mut out = RawFields::with_capacity(head.len());
    let mut names_one = false;
    for &(n, nl, v, vl) in idx {
        let (n, nl, v, vl) = (n as usize, nl as usize, v as usize, vl as usize);
        let (name, value) = (&head[n..n + nl], &head[v..v + vl]);
        let k = kind(name);
        if !facts.hop(k, value, |_| names_one = true) {
            out.push(k, name, value);
        }
    }
    out.length = facts.length;
    // With chunked framing a Content-Length must not be passed on (RFC 9112 §6.3): the map
    // drops it.
    (!(names_one || facts.chunked && facts.saw_length)).then_some(out)
}

/// The end-to-end fields in a map, values sliced from the head.
fn map_fields(head: &Bytes, idx: &[Idx], facts: &mut Facts) -> Result<HeaderMap, &'static str> {
    let mut headers = HeaderMap::with_capacity(idx.len());
    let mut named = Vec::new();
    for &(n, nl, v, vl) in idx {
        let (n, nl, v, vl) = (n as usize, nl as usize, v as usize, vl as usize);
        let (name, value) = (&head[n..n + nl], &head[v..v + vl]);
        if facts.hop(kind(name), value, |t| named.extend(HeaderName::from_bytes(t).ok())) {
            continue;
        }
        let name = header_name(name).map_err(|_| "invalid upstream header name")?;
        headers.append(name, parsed_value(head.slice(v..v + vl)));
    }
    for n in named {
        headers.remove(n);
    }
    if facts.chunked {
        headers.remove(http::header::CONTENT_LENGTH);
    }
    Ok(headers)
}

#[cfg(test)]
#[path = "resp_test.rs"]
mod tests;
