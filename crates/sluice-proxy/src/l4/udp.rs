//! L4 UDP balancing (§16.7.3): a flow table keyed by the client's address (the 5-tuple, as
//! the listener's address and protocol are fixed). Each flow is pinned to one endpoint by a
//! hash of the client address — deterministic, so a flow lands on the same endpoint from any
//! worker — and gets its own connected upstream socket; replies go back to the client from
//! the listener socket. Flows expire after the listener's idle timeout; the table is
//! bounded (`limits.max_connections`, default 65,536 flows per worker), and datagrams for
//! new flows beyond it are dropped and counted. QUIC connection migration is not followed:
//! a client whose address changes starts a new flow.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use sluice_core::hash::{hash_key, rehash};
use sluice_core::EndpointState;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::runtime::ctx::ListenerCtx;

const DEFAULT_MAX_FLOWS: usize = 65_536;
const DATAGRAM: usize = 65_535;

struct Flow {
    upstream: Rc<UdpSocket>,
    last: Rc<std::cell::Cell<Instant>>,
}

/// The endpoint for a client address: the same on every worker while membership holds;
/// an unavailable endpoint's flows are rehashed, others never move.
pub fn pick_by_hash(eps: &[Arc<EndpointState>], h: u64) -> Option<usize> {
    let n = eps.len() as u64;
    if n == 0 {
        return None;
    }
    (0..n.max(8)).map(|a| (rehash(h, a) % n) as usize).find(|&i| eps[i].is_available())
}

fn flow_key(a: SocketAddr) -> u64 {
    let mut b = match a.ip() {
        std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
        std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    b.extend_from_slice(&a.port().to_be_bytes());
    hash_key(&b)
}

pub async fn serve(socket: UdpSocket, ctx: Rc<RefCell<Rc<ListenerCtx>>>, mut stop: watch::Receiver<bool>) {
    let socket = Rc::new(socket);
    let flows: Rc<RefCell<HashMap<SocketAddr, Flow>>> = Rc::default();
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let (n, client) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let l = Rc::clone(&ctx.borrow());
        let existing = flows.borrow().get(&client).map(|f| (Rc::clone(&f.upstream), Rc::clone(&f.last)));
        let (upstream, last) = match existing {
            Some(x) => x,
            None => match open_flow(&l, &socket, &flows, client).await {
                Some(x) => x,
                None => continue,
            },
        };
        last.set(Instant::now());
        l.metrics.bytes_in.fetch_add(n as u64, Relaxed);
        let _ = upstream.send(&buf[..n]).await;
    }
}

/// Opens a flow for `client`: picks the endpoint, connects a socket, starts the reply pump.
async fn open_flow(
    l: &Rc<ListenerCtx>,
    socket: &Rc<UdpSocket>,
    flows: &Rc<RefCell<HashMap<SocketAddr, Flow>>>,
    client: SocketAddr,
) -> Option<(Rc<UdpSocket>, Rc<std::cell::Cell<Instant>>)> {
    let max = match l.limits.max_connections {
        0 => DEFAULT_MAX_FLOWS,
        n => n as usize,
    };
    if flows.borrow().len() >= max {
        l.metrics.connections_refused.fetch_add(1, Relaxed);
        return None;
    }
    let snap = l.worker.snapshot();
    let lc = snap.listener(&l.name)?;
    let cluster = lc.config.cluster.as_ref().and_then(|c| snap.clusters.get(c))?;
    let eps = cluster.balancer.endpoints();
    let ep = Arc::clone(&eps[pick_by_hash(eps, flow_key(client))?]);
    let bind: SocketAddr = if ep.addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
    let up = UdpSocket::bind(bind).await.ok()?;
    up.connect(ep.addr).await.ok()?;
    let up = Rc::new(up);
    let last = Rc::new(std::cell::Cell::new(Instant::now()));
    flows.borrow_mut().insert(client, Flow { upstream: Rc::clone(&up), last: Rc::clone(&last) });
    l.metrics.connections.fetch_add(1, Relaxed);
    let idle = lc.config.timeouts.idle;
    let pump = (Rc::clone(&up), Rc::clone(socket), Rc::clone(flows), Rc::clone(&last), Arc::clone(&lc.metrics));
    crate::runtime::exec::spawn_boxed(move || async move {
        let (up, socket, flows, last, metrics) = pump;
        let _in_flight = ep.start_request();
        let mut buf = vec![0u8; DATAGRAM];
        loop {
            let deadline = last.get() + idle;
            tokio::select! {
                r = up.recv(&mut buf) => if let Ok(n) = r {
                    last.set(Instant::now());
                    metrics.bytes_out.fetch_add(n as u64, Relaxed);
                    let _ = socket.send_to(&buf[..n], client).await;
                },
                _ = tokio::time::sleep_until(deadline) => if last.get() + idle <= Instant::now() {
                    flows.borrow_mut().remove(&client);
                    return;
                },
            }
        }
    });
    Some((up, last))
}

#[cfg(test)]
#[path = "udp_test.rs"]
mod tests;
