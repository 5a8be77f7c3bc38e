//! An upstream response's end-to-end fields kept in wire form for an HTTP/1.1 client:
//! `h1::client::resp` builds them while it parses the head, `h1::server::write` copies them out in one
//! piece. A response that nothing edits never enters a `HeaderMap` (no name lookups, no
//! hashing, no `Bytes` per value, no second pass to write them). Route header edits and
//! anything that needs a map turn them into one (`into_map`). Pure: no I/O.

use bytes::Bytes;
use http::header::HeaderMap;

use super::names::{header_name, parsed_value};

/// What a field's name means to a response head (any case, as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Connection,
    TransferEncoding,
    /// The other hop-by-hop fields: TE, Trailer, Upgrade, Keep-Alive, Proxy-*.
    Hop,
    ContentLength,
    Date,
    Other,
}

/// The kind of the field named `name`.
pub fn kind(name: &[u8]) -> Kind {
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        2 if is("te") => Kind::Hop,
        4 if is("date") => Kind::Date,
        7 if is("trailer") || is("upgrade") => Kind::Hop,
        10 if is("connection") => Kind::Connection,
        10 if is("keep-alive") => Kind::Hop,
        14 if is("content-length") => Kind::ContentLength,
        17 if is("transfer-encoding") => Kind::TransferEncoding,
        n if n >= 5 && name[..5].eq_ignore_ascii_case(b"proxy") => Kind::Hop,
        _ => Kind::Other,
    }
}

/// The end-to-end fields of a response head, in the order the upstream sent them.
#[derive(Debug, Default)]
pub struct RawFields {
    /// `name: value\r\n` per field; names as sent, values as httparse accepted them.
    lines: Vec<u8>,
    /// Their `Content-Length`, as the head's parser read it (`h1::resp`, which refuses
    /// conflicting ones).
    pub length: Option<u64>,
    /// A `Date` is among them.
    pub date: bool,
}

impl RawFields {
    pub fn with_capacity(bytes: usize) -> Self {
        RawFields { lines: Vec::with_capacity(bytes), length: None, date: false }
    }

    /// Adds a field of kind `k` (`name` and `value` as httparse accepted them).
    pub fn push(&mut self, k: Kind, name: &[u8], value: &[u8]) {
        self.date |= k == Kind::Date;
        self.lines.extend_from_slice(name);
        self.lines.extend_from_slice(b": ");
        self.lines.extend_from_slice(value);
        self.lines.extend_from_slice(b"\r\n");
    }

    /// The fields as they go on the wire.
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }

    /// Appends every field to `h`, in order.
    pub fn into_map(self, h: &mut HeaderMap) {
        let all = Bytes::from(self.lines);
        let mut at = 0;
        while let Some(end) = find(&all[at..], b"\r\n").map(|e| at + e) {
            if let Some(colon) = find(&all[at..end], b": ").map(|c| at + c) {
                if let Ok(name) = header_name(&all[at..colon]) {
                    h.append(name, parsed_value(all.slice(colon + 2..end)));
                }
            }
            at = end + 2;
        }
    }
}

/// A `Content-Length` value as a number; a list of equal numbers (`5, 5`) is that number.
/// `None` when it is not one.
pub fn parse_length(value: &[u8]) -> Option<u64> {
    let mut n = None;
    for part in std::str::from_utf8(value).ok()?.split(',') {
        let p = part.trim();
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = p.parse().ok()?;
        if n.is_some_and(|n| n != v) {
            return None;
        }
        n = Some(v);
    }
    n
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Writes every field as `name: value\r\n` (heads and trailers, both directions).
pub fn put_fields(h: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in h {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
#[path = "raw_test.rs"]
mod tests;
