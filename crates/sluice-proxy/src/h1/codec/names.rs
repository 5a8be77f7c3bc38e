//! Header names off the wire: the fields nearly every request and response carry are
//! recognised by length and a case-insensitive compare and given as `http`'s constants;
//! anything else goes through `HeaderName::from_bytes` (which lowercases into a scratch
//! buffer and matches the full standard table — several times the cost). Pure.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue, InvalidHeaderName};

/// The header name for `raw` (as sent, any case).
pub fn header_name(raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    match common(raw) {
        Some(n) => Ok(n.clone()),
        None => HeaderName::from_bytes(raw),
    }
}

/// A field value httparse has already accepted, without checking its bytes again.
#[allow(unsafe_code)]
pub fn parsed_value(raw: Bytes) -> HeaderValue {
    // SAFETY: httparse accepts in a field value exactly the bytes `HeaderValue` allows —
    // HTAB, SP to `~` and 0x80–0xFF (`is_header_value_token`; test
    // `httparse_and_header_value_accept_the_same_bytes`) — so this cannot make an invalid value.
    unsafe { HeaderValue::from_maybe_shared_unchecked(raw) }
}

type Known = (&'static [u8], &'static HeaderName);

/// Candidates by length and first letter (folded), then an exact case-insensitive compare.
fn common(raw: &[u8]) -> Option<&'static HeaderName> {
    let candidates: &[Known] = match (raw.len(), raw.first()? | 0x20) {
        (4, b'h') => &[(b"host", &header::HOST)],
        (4, b'd') => &[(b"date", &header::DATE)],
        (4, b'e') => &[(b"etag", &header::ETAG)],
        (4, b'v') => &[(b"vary", &header::VARY)],
        (6, b's') => &[(b"server", &header::SERVER)],
        (6, b'a') => &[(b"accept", &header::ACCEPT)],
        (6, b'c') => &[(b"cookie", &header::COOKIE)],
        (6, b'e') => &[(b"expect", &header::EXPECT)],
        (7, b'e') => &[(b"expires", &header::EXPIRES)],
        (7, b'r') => &[(b"referer", &header::REFERER)],
        (8, b'l') => &[(b"location", &header::LOCATION)],
        (10, b'c') => &[(b"connection", &header::CONNECTION)],
        (10, b'u') => &[(b"user-agent", &header::USER_AGENT)],
        (10, b's') => &[(b"set-cookie", &header::SET_COOKIE)],
        (12, b'c') => &[(b"content-type", &header::CONTENT_TYPE)],
        (13, b'c') => &[(b"cache-control", &header::CACHE_CONTROL)],
        (13, b'l') => &[(b"last-modified", &header::LAST_MODIFIED)],
        (13, b'a') => &[(b"authorization", &header::AUTHORIZATION), (b"accept-ranges", &header::ACCEPT_RANGES)],
        (14, b'c') => &[(b"content-length", &header::CONTENT_LENGTH)],
        (15, b'a') => &[(b"accept-encoding", &header::ACCEPT_ENCODING), (b"accept-language", &header::ACCEPT_LANGUAGE)],
        (16, b'c') => &[(b"content-encoding", &header::CONTENT_ENCODING)],
        (17, b't') => &[(b"transfer-encoding", &header::TRANSFER_ENCODING)],
        _ => return None,
    };
    candidates.iter().find(|(lower, _)| folded_eq(raw, lower)).map(|&(_, n)| n)
}

/// `raw == lower` ignoring ASCII case, where `lower` (4 bytes or more) is lowercase letters
/// and `-`, compared a word at a time (overlapping words cover the tail): a letter's case
/// bit is folded in, a `-` must match exactly.
fn folded_eq(raw: &[u8], lower: &[u8]) -> bool {
    fn word(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    }
    fn half(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    }
    // Letters (0x61..=0x7a) have 0x40 set and `-` (0x2d) has not: 0x20 where a letter is.
    let same = |r: u64, l: u64| r | ((l & 0x4040_4040_4040_4040) >> 1) == l;
    let n = raw.len();
    if n != lower.len() || n < 4 {
        return false;
    }
    if n < 8 {
        return same(half(raw, 0), half(lower, 0)) && same(half(raw, n - 4), half(lower, n - 4));
    }
    (0..n - 8).step_by(8).all(|at| same(word(raw, at), word(lower, at))) && same(word(raw, n - 8), word(lower, n - 8))
}

#[cfg(test)]
#[path = "names_test.rs"]
mod tests;
