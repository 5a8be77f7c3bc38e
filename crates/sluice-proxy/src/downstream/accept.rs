//! Accepting a client connection, shared by L7 (`downstream::conn`) and L4 (`l4::tcp`):
//! the connection counted while it lives, and its PROXY header read when the listener
//! takes one from a trusted peer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use tokio::net::TcpStream;

use crate::runtime::ctx::ListenerCtx;

/// Counts the connection as active (and accepted) while it lives.
pub struct Counted(Rc<ListenerCtx>);

impl Counted {
    pub fn new(l: &Rc<ListenerCtx>) -> Counted {
        l.metrics.connections.fetch_add(1, Relaxed);
        l.metrics.connections_active.fetch_add(1, Relaxed);
        Counted(Rc::clone(l))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.metrics.connections_active.fetch_sub(1, Relaxed);
    }
}

/// Reads a PROXY header when the listener accepts one and the peer is trusted; `None`
/// closes the connection (malformed or too slow header).
pub async fn accept_proxy(
    stream: &mut TcpStream,
    peer: SocketAddr,
    listener: &ListenerCtx,
) -> Option<(SocketAddr, Vec<u8>)> {
    let snap = listener.worker.snapshot();
    let lc = snap.listener(&listener.name)?;
    if !lc.config.proxy_protocol || !lc.config.trusted_proxies.iter().any(|c| c.contains(peer.ip())) {
        return Some((peer, Vec::new()));
    }
    match crate::downstream::proxyproto::read(stream, lc.config.timeouts.header).await {
        Ok(a) => Some((a.source.unwrap_or(peer), a.rest)),
        Err(e) => {
            tracing::warn!(listener = %listener.name, %peer, error = ?e, "PROXY header refused");
            None
        }
    }
}
