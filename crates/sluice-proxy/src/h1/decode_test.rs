//! Body decoding: lengths, chunks split anywhere, trailers, and malformed framing.

use bytes::BytesMut;

use super::{Decoded, Decoder};
use crate::h1::head::Framing;

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
