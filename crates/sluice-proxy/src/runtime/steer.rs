//! QUIC packet steering: a classic BPF program on a listener's SO_REUSEPORT UDP group that
//! sends each short-header packet to the worker named by the first byte of its destination
//! connection ID (`downstream::h3::cid` puts the worker's index there). Long-header packets
//! (handshakes, which RFC 9000 §9 forbids migrating) keep the kernel's 4-tuple hash. So a
//! client that changes address (NAT rebinding, a new network) still reaches the worker that
//! holds its connection — without it, its packets would land on another worker and be lost.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// The program, in the kernel's `sock_filter` form: (code, jt, jf, k). When it runs, the
/// packet data starts at the UDP payload. A return value outside the group (0xffffffff)
/// means "use the hash"; a load past the end of a short packet returns 0 (worker 0).
const PROGRAM: [(u16, u8, u8, u32); 5] = [
    (0x30, 0, 0, 0),           // ldb [0]          first byte of the QUIC packet
    (0x45, 2, 0, 0x80),        // jset #0x80, 4    long header? then the hash
    (0x30, 0, 0, 1),           // ldb [1]          DCID[0]: the worker index
    (0x16, 0, 0, 0),           // ret a
    (0x06, 0, 0, 0xffff_ffff), // ret #-1         the 4-tuple hash
];

/// Attaches the steering program to the reuseport group of `first` (one socket attaches it
/// for the whole group). A group of one needs none.
pub fn steer_by_connection_id(first: &UdpSocket, group: usize) -> io::Result<()> {
    if group <= 1 {
        return Ok(());
    }
    attach(first)
}

#[allow(unsafe_code)] // one setsockopt(SO_ATTACH_REUSEPORT_CBPF) with a program that outlives the call
fn attach(sock: &UdpSocket) -> io::Result<()> {
    let mut filter: Vec<libc::sock_filter> =
        PROGRAM.iter().map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k }).collect();
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: the descriptor is open (borrowed from a live socket); `prog` points at `filter`,
    // which lives until the call returns, and the kernel copies the program during the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sockets of one group; a short-header packet whose DCID starts with 1 reaches the
    /// second socket, with 0 the first, from the same source address.
    #[test]
    fn short_header_packets_follow_the_connection_id_byte() {
        let (addr, socks) = crate::runtime::listen::bind_udp_for_test(2);
        steer_by_connection_id(&socks[0], 2).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for worker in [1u8, 0, 1, 1, 0] {
            client.send_to(&[0x40, worker, 9, 9, 9, 9, 9, 9, 9], addr).unwrap();
            let mut buf = [0u8; 16];
            let got = socks.iter().position(|s| s.recv_from(&mut buf).is_ok());
            assert_eq!(got, Some(worker as usize));
        }
    }
}
