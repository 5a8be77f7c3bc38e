//! Unit tests of the outbox on loopback sockets: what the flusher writes, what it leaves
//! to the owner (a full window, no flusher or a stopped one), and what it must not touch
//! (a closed owner).

use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::io::batch::tests::on_own_thread;

/// A connected pair: (ours, the peer's).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ours = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (peer, _) = l.accept().await.unwrap();
    (ours, peer)
}

/// A flusher running on this thread, and a connected pair.
async fn flusher_and_pair() -> (TcpStream, TcpStream) {
    tokio::task::spawn_local(crate::io::batch::flusher());
    tokio::task::yield_now().await;
    pair().await
}

async fn read_exact(peer: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    tokio::time::timeout(Duration::from_secs(5), peer.read_exact(&mut got)).await.unwrap().unwrap();
    got
}

/// Lets the flusher run its round.
async fn round() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn the_flusher_writes_queued_messages_in_order() {
    on_own_thread(|| async {
        let (ours, mut peer) = flusher_and_pair().await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Client);
        o.buf().extend_from_slice(b"first ");
        o.send();
        assert!(o.unsent());
        round().await;
        assert!(o.is_idle(), "written by the flusher");
        o.buf().extend_from_slice(b"second");
        o.send();
        round().await;
        assert_eq!(read_exact(&mut peer, 12).await, b"first second");
        o.close();
    });
}

#[test]
fn without_a_flusher_the_owner_writes() {
    on_own_thread(|| async {
        let (mut ours, mut peer) = pair().await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Upstream);
        o.buf().extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        o.send();
        assert!(!o.is_idle());
        o.flushed(&mut ours).await.unwrap();
        assert_eq!(read_exact(&mut peer, 18).await, b"GET / HTTP/1.1\r\n\r\n");
        o.close();
    });
}

#[test]
fn what_the_window_cannot_take_the_owner_finishes() {
    on_own_thread(|| async {
        let (mut ours, mut peer) = flusher_and_pair().await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Client);
        let big: Vec<u8> = (0..16 << 20).map(|i| (i % 251) as u8).collect();
        o.buf().extend_from_slice(&big);
        o.send();
        round().await;
        assert!(!o.is_idle() && !o.unsent(), "part went out, the rest is the owner's");
        let reader = tokio::task::spawn_local(async move { read_exact(&mut peer, 16 << 20).await });
        o.flushed(&mut ours).await.unwrap();
        assert!(reader.await.unwrap() == big, "every byte, in order");
        o.close();
    });
}

#[test]
fn a_closed_outbox_is_not_written() {
    on_own_thread(|| async {
        let (ours, mut peer) = flusher_and_pair().await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Client);
        o.buf().extend_from_slice(b"stale");
        o.send();
        o.close();
        // The socket is still open while the flusher runs: had it sent, the peer would
        // read the bytes below.
        round().await;
        drop(ours);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty(), "nothing after the owner closed");
    });
}

#[test]
fn a_failed_send_reaches_the_owner() {
    on_own_thread(|| async {
        let (mut ours, peer) = flusher_and_pair().await;
        // The peer resets the connection: lingering on with a zero timeout sends RST.
        peer.set_zero_linger().unwrap();
        drop(peer);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Upstream);
        o.buf().extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        o.send();
        round().await;
        assert!(o.unsent(), "nothing reached the peer");
        assert!(o.flushed(&mut ours).await.is_err());
        let _ = ours.shutdown().await;
        o.close();
    });
}

#[test]
fn a_stopped_flusher_hands_queued_messages_back() {
    on_own_thread(|| async {
        let f = tokio::task::spawn_local(crate::io::batch::flusher());
        tokio::task::yield_now().await;
        let (mut ours, mut peer) = pair().await;
        let o = Outbox::new(ours.as_raw_fd(), Side::Client);
        o.buf().extend_from_slice(b"hello");
        o.send();
        f.abort();
        let _ = f.await;
        tokio::time::timeout(Duration::from_secs(5), o.flushed(&mut ours)).await.unwrap().unwrap();
        assert_eq!(read_exact(&mut peer, 5).await, b"hello");
        o.close();
    });
}
