//! Body decoding: lengths, chunks split anywhere, trailers, and malformed framing.

use bytes::BytesMut;

use super::{Decoded, Decoder};
use crate::h1::codec::head::Framing;

/// Feeds `raw` one byte at a time (the worst split) and collects what comes out.
fn trickle(f: Framing, raw: &[u8]) -> Result<(Vec<u8>, Option<http::HeaderMap>, usize), &'static str> {
    let mut d = Decoder::new(f);
    let mut buf = BytesMut::new();
    let (mut body, mut trailers) = (Vec::new(), None);
    for &b in raw {
        buf.extend_from_slice(&[b]);
        loop {
            match d.decode(&mut buf)? {
                Decoded::Data(x) => body.extend_from_slice(&x),
                Decoded::Trailers(t) => trailers = Some(t),
                Decoded::End | Decoded::NeedMore => break,
            }
        }
    }
    assert!(d.is_done(), "body not finished");
    Ok((body, trailers, buf.len()))
}

#[test]
fn a_length_body_stops_at_its_length() {
    let (body, _, left) = trickle(Framing::Length(5), b"helloGET").unwrap();
    assert_eq!(body, b"hello");
    assert_eq!(left, 3, "the next request's bytes are left in the buffer");
}

#[test]
fn chunks_reassemble_whatever_the_split() {
    let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT";
    let (body, trailers, left) = trickle(Framing::Chunked, raw).unwrap();
    assert_eq!(body, b"hello, world");
    assert!(trailers.is_none());
    assert_eq!(left, 4);
}

#[test]
fn trailers_are_returned() {
    let raw = b"3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-sum: 42\r\n\r\n";
    let (body, trailers, _) = trickle(Framing::Chunked, raw).unwrap();
    assert_eq!(body, b"abc");
    let t = trailers.unwrap();
    assert_eq!(t["grpc-status"], "0");
    assert_eq!(t["x-sum"], "42");
}

#[test]
fn malformed_chunks_are_errors() {
    for raw in [&b"zz\r\n"[..], b"5\r\nhelloXX", b"1234567890abcdef0\r\n", b"3\r\nabc\r\n0\r\nno colon\r\n\r\n"] {
        assert!(trickle(Framing::Chunked, raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn a_chunk_size_line_without_end_is_bounded() {
    let mut d = Decoder::new(Framing::Chunked);
    let mut buf = BytesMut::from(&[b'1'; 2000][..]);
    assert!(d.decode(&mut buf).is_err());
}

#[test]
fn a_bare_lf_anywhere_in_chunked_framing_is_refused() {
    for raw in [
        &b"5\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r\n0\n\r\n",
        b"5\r\nhello\r\n0\r\n\n",
        b"5\r\nhello\r\n0\r\nx-a: 1\n\r\n",
    ] {
        assert_eq!(
            trickle(Framing::Chunked, raw).err(),
            Some(if raw.starts_with(b"5\r\nhello\n") {
                "missing CRLF after chunk data"
            } else {
                "bare LF in chunked framing"
            }),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn chunk_sizes_follow_the_grammar() {
    let ok = |line: &str| trickle(Framing::Chunked, format!("{line}\r\nabc\r\n0\r\n\r\n").as_bytes()).map(|r| r.0);
    assert_eq!(ok("3").unwrap(), b"abc");
    assert_eq!(ok("003").unwrap(), b"abc", "leading zeros are hex digits");
    assert_eq!(ok("3;a").unwrap(), b"abc");
    assert_eq!(ok("3 ; a = b ;c=\"q \\\" d\"").unwrap(), b"abc", "BWS, tokens, quoted strings");
    assert!(ok("3;a ").is_err(), "whitespace only before \";\" or \"=\"");
    for bad in
        ["", " 3", "3 ", "+3", "-3", "0x3", "3;", "3;=a", "3;a=", "3;a=\"open", "3;a b", "3\x00", "3\r", "3;a=\"\x01\""]
    {
        assert!(ok(bad).is_err(), "{bad:?} is accepted");
    }
}

#[test]
fn sizes_beyond_fifteen_hex_digits_are_refused() {
    assert!(trickle(Framing::Chunked, b"1000000000000000\r\n").is_err());
}

#[test]
fn the_last_chunk_and_trailers_need_crlf_and_lose_framing_fields() {
    let raw = b"0;done\r\nx-sum: 42\r\ncontent-length: 9\r\ntransfer-encoding: chunked\r\n\r\n";
    let (_, trailers, _) = trickle(Framing::Chunked, raw).unwrap();
    let t = trailers.unwrap();
    assert_eq!(t["x-sum"], "42");
    assert!(t.get("content-length").is_none() && t.get("transfer-encoding").is_none());
    for bad in [&b"0\r\n folded: x\r\n\r\n"[..], b"0\r\nname : x\r\n\r\n", b"0\r\nx: a\rb\r\n\r\n"] {
        assert!(trickle(Framing::Chunked, bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}
