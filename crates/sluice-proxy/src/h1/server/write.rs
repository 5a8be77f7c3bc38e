//! Responses on the wire for the HTTP/1.1 server (`h1`): the head (the upstream's
//! wire-form fields, then the map's) is encoded into one buffer with the framing the body
//! allows (`Content-Length` when known, chunked for an HTTP/1.1 client, close-delimited
//! otherwise) and the `Date` and `Connection` headers; the first body bytes that are ready
//! go out in the same write, larger ones straight from their buffers.

use std::cell::RefCell;
use std::io::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{self, HeaderMap, HeaderValue};
use http::{StatusCode, Version};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::body::response::ProxyBody;
use crate::h1::codec::raw::put_fields;
use crate::h1::codec::raw::RawFields;

/// Body bytes copied into the head's buffer rather than written on their own.
pub const COALESCE: usize = 16 * 1024;

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    None,
    Length(u64),
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, length unknown).
    Close,
}

/// What the request said that shapes the response.
#[derive(Debug, Clone, Copy)]
pub struct ReqFacts {
    pub head: bool,
    pub version: Version,
    /// The connection may stay open after this response (client, drain and body permitting).
    pub keep_alive: bool,
}

/// Encodes the head into `out` — the upstream's wire-form fields (`raw`) first, then the
/// map's; returns the framing and whether the connection stays open.
pub fn encode_head(
    status: StatusCode,
    (h, raw): (&mut HeaderMap, Option<&RawFields>),
    hint: Option<u64>,
    req: ReqFacts,
    out: &mut Vec<u8>,
) -> (Out, bool) {
    let mut seen = Seen::of(h);
    if let Some(r) = raw {
        seen.length = r.length.or(seen.length);
        seen.date |= r.date;
        seen.bytes += r.lines().len();
    }
    let mut keep = req.keep_alive && !seen.close;
    let framing = if req.head || status.is_informational() || status == 204 || status == 304 {
        Out::None
    } else if let Some(n) = seen.length {
        Out::Length(n)
    } else if let Some(n) = hint {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        Out::Length(n)
    } else if req.version == Version::HTTP_11 {
        h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        Out::Chunked
    } else {
        keep = false;
        Out::Close
    };
    if status != StatusCode::SWITCHING_PROTOCOLS {
        if !keep && !seen.close {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        } else if keep && req.version == Version::HTTP_10 {
            h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        }
    }
    out.reserve(192 + seen.bytes);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(r) = raw {
        out.extend_from_slice(r.lines());
    }
    put_fields(h, out);
    if !seen.date {
        out.extend_from_slice(b"date: ");
        with_date(|d| out.extend_from_slice(d));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep)
}

/// What encoding a response head needs to know of its fields, from one pass over them
/// (a few entries: cheaper than a hashed lookup per name).
struct Seen {
    /// `Connection: close`.
    close: bool,
    /// A valid `Content-Length`.
    length: Option<u64>,
    date: bool,
    /// Bytes of `name: value\r\n` lines.
    bytes: usize,
}

impl Seen {
    fn of(h: &HeaderMap) -> Seen {
        let mut s = Seen { close: false, length: None, date: false, bytes: 0 };
        let mut first_length = true;
        for (n, v) in h {
            s.bytes += n.as_str().len() + v.len() + 4;
            if n == header::CONNECTION {
                s.close |= v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
            } else if n == header::CONTENT_LENGTH && first_length {
                first_length = false;
                s.length = v.to_str().ok().and_then(|v| v.parse::<u64>().ok());
            } else if n == header::DATE {
                s.date = true;
            }
        }
        s
    }
}

thread_local! {
    static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((0, Vec::new())) };
}

/// The current `Date` value, formatted once per second per thread.
fn with_date(f: impl FnOnce(&[u8])) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs || c.1.is_empty() {
            *c = (secs, httpdate::fmt_http_date(now).into_bytes());
        }
        f(&c.1);
    });
}

/// Pulls a body of known length (at most `COALESCE` bytes) into `out` after its head,
/// without waiting: `Some(true)` when all of it is there, `Some(false)` when it ended short
/// or failed, `None` when the rest is not ready yet (what came stays in `out`, counted in
/// `sent`, for `send` to go on from).
pub fn gather(out: &mut Vec<u8>, body: &mut ProxyBody, framing: Out, sent: &mut u64) -> Option<bool> {
    while framing != Out::None && !body.is_end_stream() {
        match body.frame().now_or_never()? {
            None => break,
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    *sent += data.len() as u64;
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return Some(false),
        }
    }
    Some(match framing {
        Out::Length(n) => *sent == n,
        Out::None => true,
        Out::Chunked | Out::Close => false,
    })
}

/// Writes `out` (the head, and `sent` body bytes already in it) and the rest of the body
/// with `framing`; `Ok(true)` when the body ended as framed, so the connection can carry
/// another request.
pub async fn send<W: AsyncWrite + Unpin>(
    w: &mut W,
    out: &mut Vec<u8>,
    body: &mut ProxyBody,
    framing: Out,
    mut sent: u64,
) -> io::Result<bool> {
    let mut trailers = None;
    while framing != Out::None && !body.is_end_stream() {
        let frame = match body.frame().now_or_never() {
            Some(f) => f,
            None => {
                flush(w, out).await?;
                body.frame().await
            }
        };
        let frame = match frame {
            None => break,
            Some(Err(_)) => {
                flush(w, out).await?;
                return Ok(false);
            }
            Some(Ok(f)) => f,
        };
        match frame.into_data() {
            Ok(data) if !data.is_empty() => {
                sent += data.len() as u64;
                push(w, out, data, framing).await?;
            }
            Ok(_) => {}
            Err(f) => trailers = f.into_trailers().ok(),
        }
    }
    let complete = match framing {
        Out::Length(n) => sent == n,
        Out::Chunked => {
            out.extend_from_slice(b"0\r\n");
            if let Some(t) = &trailers {
                put_fields(t, out);
            }
            out.extend_from_slice(b"\r\n");
            true
        }
        Out::None => true,
        Out::Close => false,
    };
    flush(w, out).await?;
    Ok(complete)
}

async fn push<W: AsyncWrite + Unpin>(w: &mut W, out: &mut Vec<u8>, data: Bytes, framing: Out) -> io::Result<()> {
    if framing == Out::Chunked {
        // Written in place: no allocation per chunk.
        let _ = write!(out, "{:x}\r\n", data.len());
    }
    if data.len() <= COALESCE {
        out.extend_from_slice(&data);
    } else {
        flush(w, out).await?;
        w.write_all(&data).await?;
    }
    if framing == Out::Chunked {
        out.extend_from_slice(b"\r\n");
    }
    if out.len() >= 4 * COALESCE {
        flush(w, out).await?;
    }
    Ok(())
}

async fn flush<W: AsyncWrite + Unpin>(w: &mut W, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        w.write_all(out).await?;
        out.clear();
    }
    w.flush().await
}

#[cfg(test)]
#[path = "write_test.rs"]
mod tests;
