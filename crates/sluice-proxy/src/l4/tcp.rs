//! L4 TCP balancing: accept (with an optional PROXY header from a trusted balancer in
//! front), pick an endpoint with the cluster's balancer (hashing balancers hash the client
//! address), connect — trying another endpoint when one refuses or times out — optionally
//! send a PROXY header, then relay both directions with proper half-close and an idle
//! timeout, counting bytes.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sluice_core::endpoint::InFlight;
use sluice_core::hash::hash_key;
use sluice_core::outlier::Outcome;
use sluice_core::{EndpointState, PickCtx};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::downstream::accept::{accept_proxy, Counted};
use crate::runtime::clock;
use crate::runtime::ctx::ListenerCtx;
use crate::runtime::snapshot::ClusterRt;

/// Relay buffer per direction: 2 × 32 KiB stays within 64 KiB per relayed connection.
const BUF: usize = 32 * 1024;
/// Endpoints tried before a connection is given up.
const CONNECT_TRIES: usize = 3;

/// Relays one accepted connection; `bound`: the listener's own address.
pub async fn serve(
    mut stream: TcpStream,
    (peer, bound): (SocketAddr, Option<SocketAddr>),
    listener: Rc<ListenerCtx>,
    mut stop: watch::Receiver<bool>,
) {
    let _counted = Counted::new(&listener);
    let Some((client, prefix)) = accept_proxy(&mut stream, peer, &listener).await else { return };
    let snap = listener.worker.snapshot();
    let Some(lc) = snap.listener(&listener.name) else { return };
    let (target, prefix, sni) = if lc.routes.is_empty() {
        (lc.config.cluster.clone(), prefix, None)
    } else {
        let (sni, prefix) = read_sni(&mut stream, prefix, lc.config.timeouts.header).await;
        (sni_route(lc, sni.as_deref()), prefix, sni)
    };
    let Some(cluster) = target.as_ref().and_then(|c| snap.clusters.get(c)) else {
        tracing::warn!(listener = %listener.name, %client, "no tcp route for this connection");
        return;
    };
    let Some((mut upstream, ep, _in_flight)) = connect_any(&listener, cluster, client.ip()).await else {
        tracing::warn!(listener = %listener.name, %client, cluster = %cluster.config.name, "no endpoint accepted the connection");
        return;
    };
    if let Some(v) = cluster.config.send_proxy_protocol {
        let local = crate::runtime::listen::local_of(&stream, bound).unwrap_or(peer);
        if upstream.write_all(&crate::downstream::proxyproto::header(v, client, local, sni.as_deref())).await.is_err() {
            return;
        }
    }
    if !prefix.is_empty() && upstream.write_all(&prefix).await.is_err() {
        return;
    }
    let (idle, splice) = (lc.config.timeouts.idle, lc.config.splice);
    let metrics = Arc::clone(&lc.metrics);
    drop(snap);
    tokio::select! {
        r = relay(stream, upstream, idle, splice) => if let Some((up, down)) = r {
            metrics.bytes_in.fetch_add(up, Relaxed);
            metrics.bytes_out.fetch_add(down, Relaxed);
        } else {
            tracing::debug!(listener = %listener.name, %client, endpoint = %ep.addr, "tcp relay idle timeout");
        },
        _ = stop.changed() => {}
    }
}

/// Peeks the TLS ClientHello for its server name (passthrough: nothing is decrypted; the
/// bytes read are replayed upstream). Non-TLS or slow clients get `None`.
async fn read_sni(stream: &mut TcpStream, mut buf: Vec<u8>, timeout: Duration) -> (Option<String>, Vec<u8>) {
    use sluice_core::sni::{parse, Sni};
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            match parse(&buf) {
                Sni::Done(name) => return name,
                Sni::NotTls => return None,
                Sni::NeedMore(n) if n > 16_384 + 5 => return None,
                Sni::NeedMore(_) => {
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return None,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }
    };
    let name = tokio::time::timeout(timeout, read).await.ok().flatten();
    (name, buf)
}

/// The cluster for a server name: the first route whose `sni` matches (a route without
/// `sni` matches everything), else the listener's own `cluster`.
fn sni_route(lc: &crate::runtime::snapshot::ListenerRt, sni: Option<&str>) -> Option<String> {
    let hit = lc.routes.iter().find(|r| match (&r.config.sni, sni) {
        (None, _) => true,
        (Some(m), Some(name)) => m.matches(name),
        (Some(_), None) => false,
    });
    match hit.map(|r| &r.config.target) {
        Some(sluice_config::RouteTarget::Cluster(c)) => Some(c.clone()),
        _ => lc.config.cluster.clone(),
    }
}

/// Connects to an endpoint, trying others when one fails (each failure feeds outlier
/// detection). The in-flight guard counts the connection for least_conn.
async fn connect_any(
    l: &ListenerCtx,
    cluster: &ClusterRt,
    client: IpAddr,
) -> Option<(TcpStream, Arc<EndpointState>, InFlight)> {
    let eps = cluster.balancer.endpoints();
    let key = match client {
        IpAddr::V4(ip) => hash_key(&ip.octets()),
        IpAddr::V6(ip) => hash_key(&ip.octets()),
    };
    let mut tried: Vec<SocketAddr> = Vec::new();
    for attempt in 0..CONNECT_TRIES.min(eps.len().max(1)) {
        let rng = &l.worker.rng;
        let hash = cluster.config.balance.is_hashing().then(|| sluice_core::hash::rehash(key, attempt as u64));
        let ctx = PickCtx {
            r1: rng.next_u64(),
            r2: rng.next_u64(),
            hash: if attempt == 0 { Some(key) } else { hash },
            now_ns: clock::now_ns(),
        };
        let i = cluster.balancer.pick_avoiding(&ctx, |e| tried.contains(&e.addr))?;
        let ep = Arc::clone(&eps[i]);
        let guard = ep.start_request();
        match tokio::time::timeout(cluster.config.timeouts.connect, TcpStream::connect(ep.addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                crate::upstream::outcome::feed_outlier(cluster, &ep, Outcome::Success, clock::now_ns());
                return Some((s, ep, guard));
            }
            _ => {
                ep.record_failure();
                crate::upstream::outcome::feed_outlier(cluster, &ep, Outcome::Gateway, clock::now_ns());
                tracing::warn!(cluster = %cluster.config.name, endpoint = %ep.addr, "tcp connect failed; trying another endpoint");
                tried.push(ep.addr);
            }
        }
    }
    None
}

/// Copies both ways until both sides are done (a half-close is passed on, the other
/// direction keeps flowing) or nothing moved for `idle`. Returns (client→upstream,
/// upstream→client) bytes, or `None` on idle timeout.
async fn relay(client: TcpStream, upstream: TcpStream, idle: Duration, splice: bool) -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    if splice {
        return relay_splice(client, upstream, idle).await;
    }
    let _ = splice;
    relay_copy(client, upstream, idle).await
}

/// The user-space relay between any two streams (also WebSocket tunnels).
pub async fn relay_copy<A, B>(client: A, upstream: B, idle: Duration) -> Option<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let last = Rc::new(Cell::new(Instant::now()));
    let mut a = Active { io: client, last: Rc::clone(&last) };
    let mut b = Active { io: upstream, last: Rc::clone(&last) };
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut a, &mut b, BUF, BUF);
    tokio::pin!(copy);
    loop {
        let deadline = last.get() + idle;
        tokio::select! {
            r = &mut copy => return r.ok().or(Some((0, 0))),
            _ = tokio::time::sleep_until(deadline) => {
                if last.get() + idle <= Instant::now() {
                    return None;
                }
            }
        }
    }
}

/// The zero-copy relay: both directions through splice(2), same half-close and idle rules.
#[cfg(target_os = "linux")]
async fn relay_splice(client: TcpStream, upstream: TcpStream, idle: Duration) -> Option<(u64, u64)> {
    let last = Rc::new(Cell::new(Instant::now()));
    let both = futures_util::future::join(
        crate::io::splice::one_way(&client, &upstream, &last),
        crate::io::splice::one_way(&upstream, &client, &last),
    );
    tokio::pin!(both);
    loop {
        let deadline = last.get() + idle;
        tokio::select! {
            (up, down) = &mut both => return Some((up.unwrap_or(0), down.unwrap_or(0))),
            _ = tokio::time::sleep_until(deadline) => {
                if last.get() + idle <= Instant::now() {
                    return None;
                }
            }
        }
    }
}

/// A stream that stamps the time of every byte moved.
struct Active<IO> {
    io: IO,
    last: Rc<Cell<Instant>>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Active<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if r.is_ready() {
            self.last.set(Instant::now());
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Active<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if r.is_ready() {
            self.last.set(Instant::now());
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
