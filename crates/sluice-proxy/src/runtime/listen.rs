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
    /// An HTTPS listener with HTTP/3: its TCP socket and the UDP socket QUIC uses.
    Http3(TcpListener, std::net::UdpSocket),
}

/// SO_RCVBUF / SO_SNDBUF for UDP sockets (None: the system's default).
type Buffers = (Option<usize>, Option<usize>);

/// Binds `count` sockets (TCP or UDP per the listener's protocol) on its address; an
/// HTTP listener with `http3` gets a UDP socket on the same port beside each TCP one.
pub fn bind_listener(l: &sluice_config::ListenerConfig, count: usize) -> io::Result<(SocketAddr, Vec<Sock>)> {
    match (l.protocol, &l.http3) {
        (sluice_config::ListenerProtocol::Udp, _) => {
            let (a, v) = bind_udp(l.bind, count, (None, None))?;
            Ok((a, v.into_iter().map(Sock::Udp).collect()))
        }
        (_, Some(h3)) => {
            let (a, tcp) = bind_reuseport(l.bind, count)?;
            let (_, udp) = bind_udp(a, count, (h3.udp_recv_buffer, h3.udp_send_buffer))?;
            crate::runtime::steer::steer_by_connection_id(&udp[0], count)
                .map_err(|e| io::Error::new(e.kind(), format!("QUIC packet steering on {a}: {e}")))?;
            Ok((a, tcp.into_iter().zip(udp).map(|(t, u)| Sock::Http3(t, u)).collect()))
        }
        _ => {
            let (a, v) = bind_reuseport(l.bind, count)?;
            Ok((a, v.into_iter().map(Sock::Tcp).collect()))
        }
    }
}

fn bind_udp_one(addr: SocketAddr, (recv, send): Buffers) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if let Some(n) = recv {
        socket.set_recv_buffer_size(n)?;
    }
    if let Some(n) = send {
        socket.set_send_buffer_size(n)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// UDP sockets with SO_REUSEPORT: the kernel keeps each client address on one worker.
fn bind_udp(addr: SocketAddr, count: usize, bufs: Buffers) -> io::Result<(SocketAddr, Vec<std::net::UdpSocket>)> {
    let first = bind_udp_one(addr, bufs).map_err(|e| io::Error::new(e.kind(), format!("bind udp {addr}: {e}")))?;
    let bound = first.local_addr()?;
    let mut out = vec![first];
    for _ in 1..count.max(1) {
        out.push(bind_udp_one(bound, bufs)?);
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

/// Blocking UDP sockets of one reuseport group, for tests of the steering program.
#[cfg(test)]
pub fn bind_udp_for_test(count: usize) -> (SocketAddr, Vec<std::net::UdpSocket>) {
    let (addr, socks) = bind_udp("127.0.0.1:0".parse().unwrap(), count, (None, None)).unwrap();
    for s in &socks {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
    }
    (addr, socks)
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
