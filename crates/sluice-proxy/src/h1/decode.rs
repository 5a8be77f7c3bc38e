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

/// Takes one line (without its CRLF / LF) off the front of `buf`.
fn line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, &'static str> {
    let Some(pos) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > max { Err("chunked framing line too long") } else { Ok(None) };
    };
    let mut l = buf.split_to(pos + 1);
    l.truncate(pos);
    if l.last() == Some(&b'\r') {
        l.truncate(pos - 1);
    }
    Ok(Some(l))
}

fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        return Err("invalid chunk size");
    }
    let mut n: u64 = 0;
    for &b in digits {
        let d = (b as char).to_digit(16).ok_or("invalid chunk size")?;
        n = n * 16 + d as u64;
    }
    Ok(n)
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
                if buf.starts_with(b"\r\n") || buf.starts_with(b"\n") {
                    let _ = buf.split_to(if buf[0] == b'\r' { 2 } else { 1 });
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
                map.get_or_insert_with(Box::default).append(name, value);
                Ok(Step::Again)
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_test.rs"]
mod tests;
