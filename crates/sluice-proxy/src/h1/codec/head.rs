//! HTTP/1.x request heads for sluice's own HTTP/1.1 server (`h1`): httparse finds the
//! head in the read buffer, the head is frozen once and the method, target and header
//! values become slices of it (no copy per header), and the message framing (RFC 9112 §6)
//! and connection semantics are decided here. Pure: no I/O.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Uri, Version};

use super::names::{header_name, parsed_value};

/// Headers parsed on the stack; a larger `max_header_count` falls back to the heap.
const STACK_HEADERS: usize = 128;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// One parsed request head.
#[derive(Debug)]
pub struct Head {
    pub parts: http::request::Parts,
    pub framing: Framing,
    /// The client wants the connection kept after this exchange.
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// Why a head could not be read; each maps to the answer a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Malformed; the reason goes into the 400 body.
    Bad(&'static str),
    /// The head is larger than `max_header_bytes` (431), or its request line alone (414).
    TooLarge,
    UriTooLong,
    TooManyHeaders,
    /// An HTTP version other than 1.0 / 1.1 (505).
    Version,
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_bytes: usize,
    pub max_headers: usize,
}

/// Parses a complete head at the front of `buf` and removes it from `buf`; `Ok(None)`
/// when more bytes are needed (and the limit leaves room for them).
pub fn parse(buf: &mut BytesMut, lim: HeadLimits) -> Result<Option<Head>, HeadError> {
    // Leading empty lines before a request line are allowed (RFC 9112 §2.2).
    while buf.starts_with(b"\r\n") || buf.starts_with(b"\n") {
        let k = if buf[0] == b'\r' { 2 } else { 1 };
        let _ = buf.split_to(k);
    }
    let mut small = [(0, 0, 0, 0); 32];
    let mut large = Vec::new();
    let n = lim.max_headers.max(1);
    // Uninitialized slots: initializing 128 headers per request would cost more than parsing.
    let scanned = if n <= STACK_HEADERS {
        let mut hs = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        scan(buf, lim, &mut hs[..n], &mut small, &mut large)?
    } else {
        let mut hs: Vec<_> = (0..n).map(|_| MaybeUninit::uninit()).collect();
        scan(buf, lim, &mut hs, &mut small, &mut large)?
    };
    let Some(s) = scanned else { return Ok(None) };
    let idx = if s.count <= small.len() { &small[..s.count] } else { &large[..] };
    let head = buf.split_to(s.len).freeze();
    build(head, s.method, s.path, s.version, idx).map(Some)
}

/// Offsets of one header's name and value in the head.
type Idx = (u32, u32, u32, u32);

/// What a scan of a complete head found (offsets into the buffer).
struct Scanned {
    len: usize,
    method: Method,
    path: (usize, usize),
    version: Version,
    count: usize,
}

fn scan<'b>(
    data: &'b [u8],
    lim: HeadLimits,
    hs: &mut [MaybeUninit<httparse::Header<'b>>],
    small: &mut [Idx],
    large: &mut Vec<Idx>,
) -> Result<Option<Scanned>, HeadError> {
    let mut req = httparse::Request::new(&mut []);
    let status = req.parse_with_uninit_headers(data, hs).map_err(|e| match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::Version if names_a_version(data) => HeadError::Version,
        _ => HeadError::Bad("malformed request head"),
    })?;
    let len = match status {
        httparse::Status::Complete(len) if len <= lim.max_bytes => len,
        httparse::Status::Partial if data.len() < lim.max_bytes => return Ok(None),
        _ => {
            // The request line alone over the limit is 414, the head as a whole 431.
            let line = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            return Err(if line >= lim.max_bytes { HeadError::UriTooLong } else { HeadError::TooLarge });
        }
    };
    let base = data.as_ptr() as usize;
    let at = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| HeadError::Bad("bad method"))?;
    let path = req.path.unwrap_or("");
    let path = (at(path.as_bytes()) as usize, path.len());
    let version = if req.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let count = req.headers.len();
    let idx: &mut [Idx] = if count <= small.len() {
        &mut small[..count]
    } else {
        large.resize(count, (0, 0, 0, 0));
        large
    };
    for (i, h) in idx.iter_mut().zip(req.headers.iter()) {
        *i = (at(h.name.as_bytes()), h.name.len() as u32, at(h.value), h.value.len() as u32);
    }
    Ok(Some(Scanned { len, method, path, version, count }))
}

/// The request line ends in `HTTP/x.y` (so an unsupported version, not garbage).
fn names_a_version(data: &[u8]) -> bool {
    let line = data.split(|&b| b == b'\n').next().unwrap_or(data).trim_ascii_end();
    let v = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
    v.len() == 8 && v.starts_with(b"HTTP/") && v[5].is_ascii_digit() && v[6] == b'.' && v[7].is_ascii_digit()
}

fn build(head: Bytes, method: Method, path: (usize, usize), version: Version, idx: &[Idx]) -> Result<Head, HeadError> {
    let uri = Uri::from_maybe_shared(head.slice(path.0..path.0 + path.1))
        .map_err(|_| HeadError::Bad("invalid request target"))?;
    // Room for the forwarding headers the proxy adds, so the map never grows.
    let mut headers = HeaderMap::with_capacity(idx.len() + 4);
    // Which fields that shape the exchange are present, noted while building the map, so a
    // request without them (most) costs no lookups of absent names afterwards.
    let (mut body, mut connection, mut expect) = (false, false, false);
    for &(n, nl, v, vl) in idx {
        let (n, nl, v, vl) = (n as usize, nl as usize, v as usize, vl as usize);
        let name = header_name(&head[n..n + nl]).map_err(|_| HeadError::Bad("invalid header name"))?;
        body |= name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING;
        connection |= name == header::CONNECTION;
        expect |= name == header::EXPECT;
        let value = parsed_value(head.slice(v..v + vl));
        headers.append(name, value);
    }
    let framing = if body { framing(&headers, version)? } else { Framing::None };
    let keep_alive = if connection { keep_alive(&headers, version) } else { version == Version::HTTP_11 };
    let expect_continue = expect
        && version == Version::HTTP_11
        && headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Head { parts, framing, keep_alive, expect_continue })
}

/// The body's framing (RFC 9112 §6.1–6.3). Requests that could be read two ways are
/// refused rather than guessed at: that is how request smuggling starts.
fn framing(h: &HeaderMap, version: Version) -> Result<Framing, HeadError> {
    if h.contains_key(header::TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(HeadError::Bad("transfer-encoding in an HTTP/1.0 request"));
        }
        if h.contains_key(header::CONTENT_LENGTH) {
            return Err(HeadError::Bad("both content-length and transfer-encoding"));
        }
        let last = h.get_all(header::TRANSFER_ENCODING).iter().next_back().and_then(|v| v.to_str().ok());
        let chunked_last =
            last.and_then(|v| v.rsplit(',').next()).is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        return if chunked_last { Ok(Framing::Chunked) } else { Err(HeadError::Bad("unsupported transfer-encoding")) };
    }
    let mut len: Option<u64> = None;
    for v in h.get_all(header::CONTENT_LENGTH) {
        for part in v.to_str().map_err(|_| HeadError::Bad("invalid content-length"))?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HeadError::Bad("invalid content-length"));
            }
            let n: u64 = part.parse().map_err(|_| HeadError::Bad("invalid content-length"))?;
            if len.is_some_and(|l| l != n) {
                return Err(HeadError::Bad("conflicting content-length"));
            }
            len = Some(n);
        }
    }
    Ok(match len {
        None | Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
    })
}

/// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 only when told `keep-alive`.
fn keep_alive(h: &HeaderMap, version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for v in h.get_all(header::CONNECTION) {
        for t in v.to_str().unwrap_or("").split(',') {
            let t = t.trim();
            close |= t.eq_ignore_ascii_case("close");
            keep |= t.eq_ignore_ascii_case("keep-alive");
        }
    }
    !close && (version == Version::HTTP_11 || keep)
}

#[cfg(test)]
#[path = "head_test.rs"]
mod tests;
