//! Listening sockets: one SO_REUSEPORT socket per worker per listener, so the kernel
//! spreads new connections across workers without a shared accept queue or lock.
//! Port 0 is resolved by the first bind and reused by the others (tests use it).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Accept backlog; NGINX and HAProxy default to 511 / somaxconn.
const BACKLOG: i32 = 1024;

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The address a connection reached: the listener's own when it is bound to one address
/// (no system call), else the kernel's answer (`getsockname`) for a wildcard bind.
pub fn local_of(stream: &tokio::net::TcpStream, bound: Option<SocketAddr>) -> Option<SocketAddr> {
    match bound {
        Some(b) if !b.ip().is_unspecified() => Some(b),
        _ => stream.local_addr().ok(),
    }
}

/// A listening socket for one worker.
#[derive(Debug)]
pub enum Sock {
    Tcp(TcpListener),
    Udp(std::net::UdpSocket),
}

/// Binds `count` sockets (TCP or UDP per the listener's protocol) on its address.
pub fn bind_listener(l: &sluice_config::ListenerConfig, count: usize) -> io::Result<(SocketAddr, Vec<Sock>)> {
    match l.protocol {
        sluice_config::ListenerProtocol::Udp => {
            let (a, v) = bind_udp(l.bind, count)?;
            Ok((a, v.into_iter().map(Sock::Udp).collect()))
        }
        _ => {
            let (a, v) = bind_reuseport(l.bind, count)?;
            Ok((a, v.into_iter().map(Sock::Tcp).collect()))
        }
    }
}

fn bind_udp_one(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// UDP sockets with SO_REUSEPORT: the kernel keeps each client address on one worker.
fn bind_udp(addr: SocketAddr, count: usize) -> io::Result<(SocketAddr, Vec<std::net::UdpSocket>)> {
    let first = bind_udp_one(addr).map_err(|e| io::Error::new(e.kind(), format!("bind udp {addr}: {e}")))?;
    let bound = first.local_addr()?;
    let mut out = vec![first];
    for _ in 1..count.max(1) {
        out.push(bind_udp_one(bound)?);
    }
    Ok((bound, out))
}

/// Binds `count` sockets on `addr` and returns them with the address actually bound.
pub fn bind_reuseport(addr: SocketAddr, count: usize) -> io::Result<(SocketAddr, Vec<TcpListener>)> {
    let first = bind_one(addr).map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?;
    let bound = first.local_addr()?;
    let mut out = vec![first];
    for _ in 1..count.max(1) {
        out.push(bind_one(bound).map_err(|e| io::Error::new(e.kind(), format!("bind {bound}: {e}")))?);
    }
    Ok((bound, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_every_worker_to_one_port() {
        let (addr, socks) = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_ne!(addr.port(), 0);
        assert_eq!(socks.len(), 3);
        for s in &socks {
            assert_eq!(s.local_addr().unwrap(), addr);
        }
    }

    #[test]
    fn accepted_connections_have_nagle_off_without_a_call_of_their_own() {
        let (addr, socks) = bind_reuseport("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap();
        socks[0].set_nonblocking(false).unwrap();
        let (accepted, _) = socks[0].accept().unwrap();
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is inherited from the listener");
    }
}
