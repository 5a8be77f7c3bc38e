//! PROXY protocol (HAProxy's spec, v1 text and v2 binary) through the `ppp` crate: reading
//! the header a trusted L4 balancer puts in front of a connection, and writing one in front
//! of an upstream connection so the backend learns the real client address.
//!
//! Only peers in `trusted_proxies` are read: from anyone else a PROXY header is treated as
//! ordinary data (an HTTP listener then answers 400; a TCP listener relays it as is), so a
//! client can never claim another address. A trusted peer that sends no header is taken as a
//! direct client.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::v2::{Builder, Command, Protocol, Version};
use ppp::HeaderResult;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use sluice_config::ProxyProtocolVersion;

/// Longest header read: v1 is at most 107 bytes, v2 is 16 bytes plus its length field.
const MAX_HEADER: usize = 16 + 65_535;
const V1_PREFIX: &[u8] = b"PROXY ";

/// Why a trusted peer's header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    Malformed,
    Timeout,
    Io,
}

/// The outcome of reading a connection's start: the source address from the header (if
/// the peer sent one) and the bytes read after it, to be replayed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    pub source: Option<SocketAddr>,
    pub rest: Vec<u8>,
}

/// Parses `buf`: `Ok(None)` when more bytes are needed.
pub fn parse(buf: &[u8]) -> Result<Option<Accepted>, HeaderError> {
    let sig = ppp::v2::PROTOCOL_PREFIX;
    let n = buf.len();
    let maybe_v1 = buf[..n.min(V1_PREFIX.len())] == V1_PREFIX[..n.min(V1_PREFIX.len())];
    let maybe_v2 = buf[..n.min(sig.len())] == sig[..n.min(sig.len())];
    if !maybe_v1 && !maybe_v2 {
        return Ok(Some(Accepted { source: None, rest: buf.to_vec() }));
    }
    let header = HeaderResult::parse(buf);
    if ppp::PartialResult::is_incomplete(&header) {
        return if n >= MAX_HEADER { Err(HeaderError::Malformed) } else { Ok(None) };
    }
    let (source, len) = match header {
        HeaderResult::V1(Ok(h)) => (v1_source(&h.addresses), h.header.len()),
        HeaderResult::V2(Ok(h)) => (v2_source(&h.addresses), h.len()),
        _ => return Err(HeaderError::Malformed),
    };
    Ok(Some(Accepted { source, rest: buf[len..].to_vec() }))
}

fn v1_source(a: &ppp::v1::Addresses) -> Option<SocketAddr> {
    match a {
        ppp::v1::Addresses::Tcp4(x) => Some(SocketAddr::new(x.source_address.into(), x.source_port)),
        ppp::v1::Addresses::Tcp6(x) => Some(SocketAddr::new(x.source_address.into(), x.source_port)),
        ppp::v1::Addresses::Unknown => None,
    }
}

fn v2_source(a: &ppp::v2::Addresses) -> Option<SocketAddr> {
    match a {
        ppp::v2::Addresses::IPv4(x) => Some(SocketAddr::new(x.source_address.into(), x.source_port)),
        ppp::v2::Addresses::IPv6(x) => Some(SocketAddr::new(x.source_address.into(), x.source_port)),
        _ => None,
    }
}

/// Reads a PROXY header from a trusted peer within `timeout`.
pub async fn read(stream: &mut TcpStream, timeout: Duration) -> Result<Accepted, HeaderError> {
    let read = async {
        let mut buf = Vec::with_capacity(256);
        loop {
            let mut chunk = [0u8; 512];
            let n = stream.read(&mut chunk).await.map_err(|_| HeaderError::Io)?;
            if n == 0 {
                return if buf.is_empty() { Ok(Accepted::default()) } else { Err(HeaderError::Malformed) };
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(a) = parse(&buf)? {
                return Ok(a);
            }
        }
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| HeaderError::Timeout)?
}

/// The header to send upstream for a connection from `source` to `destination`; v2 carries
/// the authority (TLS SNI or HTTP Host) as a PP2_TYPE_AUTHORITY TLV when it is known.
pub fn header(
    version: ProxyProtocolVersion,
    source: SocketAddr,
    destination: SocketAddr,
    authority: Option<&str>,
) -> Vec<u8> {
    match version {
        ProxyProtocolVersion::V1 => {
            let fam = if source.is_ipv4() && destination.is_ipv4() { "TCP4" } else { "TCP6" };
            let (s, d) = (canonical(source, fam), canonical(destination, fam));
            format!("PROXY {fam} {} {} {} {}\r\n", s.ip(), d.ip(), s.port(), d.port()).into_bytes()
        }
        ProxyProtocolVersion::V2 => {
            let (s, d) = if source.is_ipv4() == destination.is_ipv4() {
                (source, destination)
            } else {
                (canonical(source, "TCP6"), canonical(destination, "TCP6"))
            };
            let b = Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (s, d));
            let b = match authority.filter(|a| !a.is_empty() && a.len() < 256) {
                Some(a) => b.write_tlv(ppp::v2::Type::Authority, a.as_bytes()),
                None => Ok(b),
            };
            b.and_then(|b| b.build()).unwrap_or_default()
        }
    }
}

/// Mixed families are sent as IPv6 (IPv4-mapped).
fn canonical(a: SocketAddr, fam: &str) -> SocketAddr {
    match (a, fam) {
        (SocketAddr::V4(v4), "TCP6") => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        _ => a,
    }
}

#[cfg(test)]
#[path = "proxyproto_test.rs"]
mod tests;
