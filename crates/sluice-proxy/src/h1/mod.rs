//! sluice's own HTTP/1.1 (HTTP/2 stays with hyper). Why not hyper's: hyper keeps an
//! 8 KiB read buffer, an 8 KiB write buffer and a box the size of the handler's future for
//! as long as a connection lives; here an idle keep-alive connection holds no buffer at all
//! (HAProxy and NGINX do the same), and a request's head is parsed in place.
//! By role: `codec/` (pure parsing and encoding, shared), `server/` (client connections:
//! `serve`, request bodies, upgrades) and `client/` (the upstream side's fast path for
//! bodyless requests to plain HTTP/1.1 upstreams; everything else upstream uses hyper's
//! client). `server` and `client` both import `codec`, never each other.

pub mod client;
pub mod codec;
mod server;

use bytes::BytesMut;

pub use codec::head::HeadLimits;
pub use server::{read_unbuffered, serve, ClientBody, H1Upgrade, Reader, Upgraded};

/// Reads `data` as pipelined requests (heads, then bodies) the way the server does and
/// returns how many were complete; also as an upstream response head. For fuzzing:
/// whatever the bytes, it returns (no panic, no endless loop: every step consumes input
/// or stops).
pub fn read_requests(data: &[u8]) -> usize {
    let _ = client::resp::parse_response(&mut BytesMut::from(data), false, false);
    let _ = client::resp::parse_response(&mut BytesMut::from(data), false, true);
    let lim = HeadLimits { max_bytes: 8192, max_headers: 100 };
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    while let Ok(Some(h)) = codec::head::parse(&mut buf, lim) {
        let mut body = codec::decode::Decoder::new(h.framing);
        loop {
            let before = buf.len();
            match body.decode(&mut buf) {
                Ok(codec::decode::Decoded::Data(_)) => assert!(buf.len() < before, "data consumes input"),
                Ok(codec::decode::Decoded::Trailers(_) | codec::decode::Decoded::End) => break,
                Ok(codec::decode::Decoded::NeedMore) | Err(_) => return n,
            }
        }
        n += 1;
    }
    n
}
