//! Request body decoding for the HTTP/1.1 server (`h1`): `Content-Length` and chunked
//! bodies (RFC 9112 §7.1, with trailers) cut out of the connection's read buffer as
//! zero-copy `Bytes`. Pure: the caller reads more bytes when asked to.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::head::Framing;

/// Longest chunk-size line (with extensions) accepted.
const MAX_SIZE_LINE: usize = 1024;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug)]
pub enum Decoder {
    Length(u64),
    Chunked(Chunk),
    Done,
}

#[derive(Debug)]
pub enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    /// Boxed when there are any: the decoder lives in request and response bodies that are
    /// moved through the handler's layers, and trailers are rare.
    Trailers {
        map: Option<Box<HeaderMap>>,
        seen: usize,
    },
}

/// One step of decoding.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
    /// The buffer holds no complete next piece: read more.
    NeedMore,
}

impl Decoder {
    pub fn new(f: Framing) -> Self {
        match f {
            Framing::None | Framing::Length(0) => Decoder::Done,
            Framing::Length(n) => Decoder::Length(n),
            Framing::Chunked => Decoder::Chunked(Chunk::Size),
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Decoder::Done)
    }

    /// Exact bytes still to come, when the framing says.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Decoder::Length(n) => Some(*n),
            Decoder::Done => Some(0),
            Decoder::Chunked(_) => None,
        }
    }

    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, &'static str> {
        match self {
            Decoder::Done => Ok(Decoded::End),
            Decoder::Length(rem) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let k = (*rem).min(buf.len() as u64) as usize;
                *rem -= k as u64;
                if *rem == 0 {
                    *self = Decoder::Done;
                }
                Ok(Decoded::Data(buf.split_to(k).freeze()))
            }
            Decoder::Chunked(c) => loop {
                match c.step(buf)? {
                    Step::Again => continue,
                    Step::Out(Decoded::End) => {
                        *self = Decoder::Done;
                        return Ok(Decoded::End);
                    }
                    Step::Out(Decoded::Trailers(t)) => {
                        *self = Decoder::Done;
                        return Ok(Decoded::Trailers(t));
                    }
                    Step::Out(d) => return Ok(d),
                }
            },
        }
    }
}

enum Step {
    Again,
    Out(Decoded),
}

/// Takes one line (without its CRLF) off the front of `buf`. A bare LF ends nothing: it
/// is refused, as HAProxy does (RFC 9112 §7.1 frames chunks with CRLF only; a lenient
/// reader and a strict one behind it would split the body differently).
fn line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, &'static str> {
    let Some(pos) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > max { Err("chunked framing line too long") } else { Ok(None) };
    };
    if pos == 0 || buf[pos - 1] != b'\r' {
        return Err("bare LF in chunked framing");
    }
    let mut l = buf.split_to(pos + 1);
    l.truncate(pos - 1);
    Ok(Some(l))
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1.1): 1–15 hex digits, then nothing or
/// extensions; any other byte (spaces after the size, control bytes, a bare CR) is refused.
fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let end = line.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(line.len());
    if end == 0 || end > 15 {
        return Err("invalid chunk size");
    }
    chunk_ext(&line[end..])?;
    let mut n: u64 = 0;
    for &b in &line[..end] {
        n = n * 16 + (b as char).to_digit(16).unwrap_or(0) as u64;
    }
    Ok(n)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn skip_bws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

fn token(s: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let n = s.iter().take_while(|&&b| is_tchar(b)).count();
    if n == 0 {
        return Err("invalid chunk extension");
    }
    Ok(s.split_at(n))
}

/// The rest of a quoted-string after its opening quote: qdtext and quoted-pairs.
fn quoted(mut s: &[u8]) -> Result<&[u8], &'static str> {
    loop {
        match s {
            [b'"', rest @ ..] => return Ok(rest),
            [b'\\', c, rest @ ..] if *c == b'\t' || (0x20..0x7f).contains(c) || *c >= 0x80 => s = rest,
            [c, rest @ ..] if *c == b'\t' || (*c >= 0x20 && *c != 0x7f && *c != b'\\') => s = rest,
            _ => return Err("invalid chunk extension"),
        }
    }
}

/// `*( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`. Extensions are
/// checked and then ignored, as RFC 9112 lets a recipient do.
fn chunk_ext(mut s: &[u8]) -> Result<(), &'static str> {
    loop {
        if s.is_empty() {
            return Ok(());
        }
        let [b';', rest @ ..] = skip_bws(s) else { return Err("invalid chunk size") };
        let (_, rest) = token(skip_bws(rest))?;
        let after = skip_bws(rest);
        s = match after {
            [b'=', v @ ..] => match skip_bws(v) {
                [b'"', q @ ..] => quoted(q)?,
                v => token(v)?.1,
            },
            _ => rest,
        };
    }
}

/// Fields a trailer section may not carry (RFC 9110 §6.5.1): framing, routing and
/// connection control. Dropped rather than passed on, as a recipient may.
fn forbidden_trailer(name: &HeaderName) -> bool {
    use http::header::*;
    [CONTENT_LENGTH, TRANSFER_ENCODING, HOST, TE, TRAILER, CONNECTION, UPGRADE].contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

impl Chunk {
    fn step(&mut self, buf: &mut BytesMut) -> Result<Step, &'static str> {
        match self {
            Chunk::Size => {
                let Some(l) = line(buf, MAX_SIZE_LINE)? else { return Ok(Step::Out(Decoded::NeedMore)) };
                let n = chunk_size(&l)?;
                *self = if n == 0 { Chunk::Trailers { map: None, seen: 0 } } else { Chunk::Data(n) };
                Ok(Step::Again)
            }
            Chunk::Data(rem) => {
                if buf.is_empty() {
                    return Ok(Step::Out(Decoded::NeedMore));
                }
                let k = (*rem).min(buf.len() as u64) as usize;
                *rem -= k as u64;
                if *rem == 0 {
                    *self = Chunk::DataEnd;
                }
                Ok(Step::Out(Decoded::Data(buf.split_to(k).freeze())))
            }
            Chunk::DataEnd => {
                if buf.starts_with(b"\r\n") {
                    let _ = buf.split_to(2);
                    *self = Chunk::Size;
                    Ok(Step::Again)
                } else if buf.is_empty() || buf[..] == b"\r"[..] {
                    Ok(Step::Out(Decoded::NeedMore))
                } else {
                    Err("missing CRLF after chunk data")
                }
            }
            Chunk::Trailers { map, seen } => {
                let Some(l) = line(buf, MAX_TRAILERS - *seen)? else { return Ok(Step::Out(Decoded::NeedMore)) };
                *seen += l.len() + 2;
                if l.is_empty() {
                    return Ok(Step::Out(match map.take() {
                        Some(m) => Decoded::Trailers(*m),
                        None => Decoded::End,
                    }));
                }
                let colon = l.iter().position(|&b| b == b':').ok_or("malformed trailer")?;
                let name = HeaderName::from_bytes(&l[..colon]).map_err(|_| "malformed trailer")?;
                let value = HeaderValue::from_bytes(l[colon + 1..].trim_ascii()).map_err(|_| "malformed trailer")?;
                if !forbidden_trailer(&name) {
                    map.get_or_insert_with(Box::default).append(name, value);
                }
                Ok(Step::Again)
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_test.rs"]
mod tests;
