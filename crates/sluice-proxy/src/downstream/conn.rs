//! One client connection: HTTP/1.1 on sluice's own server (`h1`), or HTTP/2 (h2c prior
//! knowledge, or ALPN `h2` behind TLS) on hyper's — the first bytes decide. For the hyper
//! path, connection-level timeouts live here: header (from accept until the h2 preface —
//! the slowloris guard for a TLS connection that negotiated h2 and then says nothing) and
//! idle (no stream in flight since the last response ended); `h1` keeps its own.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sluice_config::ListenerTimeouts;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::downstream::accept::{accept_proxy, Counted};
use crate::downstream::ctx::ConnCtx;
use crate::downstream::service::Handler;
use crate::downstream::state::ConnState;
use crate::downstream::stream::{Prefixed, Tracked};
use crate::h1::ClientBody;
use crate::handler::xforwarded::Peer;
use crate::runtime::ctx::ListenerCtx;
use h2guard::Guarded;
pub use h2guard::PrematureReset;

/// How long to wait for the client to take a GOAWAY'd or closing connection down.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Where a connection is in its life, for the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// Graceful shutdown requested; `grace` is when an idle straggler is dropped.
    Closing {
        grace: Option<Instant>,
    },
}

/// What the timer asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Close the socket now (timeouts on HTTP/1.1, end of grace).
    Drop,
    /// Start a graceful shutdown (h2 GOAWAY) and look again after the grace period.
    Shutdown,
    Recheck(Instant),
}

impl ConnState {
    /// When the connection should be closed if nothing changes; `None` while busy.
    fn deadline(&self, t: &ListenerTimeouts) -> Option<Instant> {
        if self.in_flight.load(Relaxed) > 0 {
            return None;
        }
        let last_done = self.at(self.last_done.load(Relaxed));
        if self.requests.load(Relaxed) == 0 && !self.is_h2() {
            return Some(last_done + t.header);
        }
        Some(last_done + t.idle)
    }

    /// What the connection timer does when it fires at `now`.
    fn on_timer(&self, phase: &mut Phase, now: Instant, t: &ListenerTimeouts) -> Action {
        if let Phase::Closing { grace } = phase {
            // hyper ends a gracefully shut connection itself; this is the fallback for a
            // client that keeps an idle connection open after it.
            return match *grace {
                Some(g) if g <= now => Action::Drop,
                _ if self.in_flight.load(Relaxed) > 0 => Action::Recheck(now + CLOSE_GRACE),
                Some(g) => Action::Recheck(g),
                None => {
                    *grace = Some(now + CLOSE_GRACE);
                    Action::Recheck(now + CLOSE_GRACE)
                }
            };
        }
        match self.deadline(t) {
            Some(at) if at <= now && !self.is_h2() => Action::Drop,
            Some(at) if at <= now => {
                *phase = Phase::Closing { grace: None };
                Action::Shutdown
            }
            Some(at) => Action::Recheck(at),
            None => Action::Recheck(now + t.header.min(t.idle)),
        }
    }
}

/// What a connection takes from the listener's settings when it is accepted (looked up once).
struct Accepted {
    peer: SocketAddr,
    local: SocketAddr,
    /// The peer (after a PROXY header) is one of `trusted_proxies`.
    trusted: bool,
    timeouts: ListenerTimeouts,
}

/// Builds the per-connection context.
fn context(a: &Accepted, listener: &Rc<ListenerCtx>, scheme: &'static str) -> Rc<ConnCtx> {
    Rc::new(ConnCtx {
        listener: Rc::clone(listener),
        peer: Peer::new(a.peer.ip(), a.trusted, scheme),
        client: a.peer,
        local: a.local,
        state: Arc::new(ConnState {
            calm: crate::downstream::state::Calm::new(listener.limits.h2_max_glitches),
            ..ConnState::new()
        }),
        timeouts: a.timeouts,
        timer: Default::default(),
    })
}

/// Serves one accepted connection; `bound`: the listener's own address.
pub async fn serve<H: Handler>(
    handler: H,
    mut stream: TcpStream,
    (peer, bound): (SocketAddr, Option<SocketAddr>),
    listener: Rc<ListenerCtx>,
    shutdown: watch::Receiver<bool>,
) {
    let _counted = Counted::new(&listener);
    let Some((peer, prefix)) = accept_proxy(&mut stream, peer, &listener).await else {
        return;
    };
    let local = crate::runtime::listen::local_of(&stream, bound).unwrap_or(peer);
    let (a, tls) = {
        let snap = listener.worker.snapshot();
        let Some(l) = snap.listener(&listener.name) else { return };
        let trusted = l.config.trusted_proxies.iter().any(|c| c.contains(peer.ip()));
        let tls = l.config.tls.as_ref().map(|_| l.tls.clone());
        (Accepted { peer, local, trusted, timeouts: l.config.timeouts }, tls)
    };
    match tls {
        None => serve_plain(handler, stream, BytesMut::from(&prefix[..]), a, listener, shutdown).await,
        Some(None) => {}
        // Boxed, like every path but plain HTTP/1.1: the task's size is its largest path.
        Some(Some(cfg)) => {
            Box::pin(serve_tls(handler, Prefixed::new(stream, prefix), cfg, a, listener, shutdown)).await
        }
    }
}

/// The h2 connection preface's first line: prior-knowledge h2c (or h2 over TLS without ALPN).
const PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// Reads until the first bytes tell HTTP/2 from HTTP/1.x; `None` if the client left or
/// was too slow.
async fn sniff<IO: AsyncRead + Unpin>(io: &mut IO, buf: &mut BytesMut, within: Duration) -> Option<bool> {
    let read = async {
        while buf.len() < PREFACE.len() && PREFACE.starts_with(buf) {
            if crate::h1::read_unbuffered(io, buf).await.ok()? == 0 {
                return None;
            }
        }
        Some(buf.starts_with(PREFACE))
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

async fn serve_plain<H: Handler>(
    handler: H,
    mut stream: TcpStream,
    mut buf: BytesMut,
    a: Accepted,
    listener: Rc<ListenerCtx>,
    shutdown: watch::Receiver<bool>,
) {
    match sniff(&mut stream, &mut buf, a.timeouts.header).await {
        None => {}
        Some(true) => {
            let io = Prefixed::new(stream, buf.to_vec());
            Box::pin(serve_http(handler, io, a, listener, shutdown, "http")).await;
        }
        Some(false) => {
            let ctx = context(&a, &listener, "http");
            let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
            let (r, w) = stream.into_split();
            let reader = crate::h1::Reader { io: Box::new(r), buf };
            crate::h1::serve((ctx, handler), (reader, w, Some(fd)), head_limits(&listener), shutdown).await;
        }
    }
}

async fn serve_tls<H: Handler>(
    handler: H,
    io: Prefixed,
    cfg: Arc<rustls::ServerConfig>,
    a: Accepted,
    listener: Rc<ListenerCtx>,
    shutdown: watch::Receiver<bool>,
) {
    let Some(mut tls) = crate::downstream::tls::handshake(io, cfg, a.timeouts.header, &listener.metrics, a.peer).await
    else {
        return;
    };
    if tls.get_ref().1.alpn_protocol() == Some(crate::downstream::tls::ACME_TLS_ALPN) {
        // A TLS-ALPN-01 validation: the handshake was the answer; no HTTP follows.
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
        return;
    }
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        return serve_http(handler, tls, a, listener, shutdown, "https").await;
    }
    let mut buf = BytesMut::new();
    match sniff(&mut tls, &mut buf, a.timeouts.header).await {
        None => {}
        Some(true) => serve_http(handler, Prefixed::new(tls, buf.to_vec()), a, listener, shutdown, "https").await,
        Some(false) => {
            let ctx = context(&a, &listener, "https");
            let (r, w) = tokio::io::split(tls);
            let reader = crate::h1::Reader { io: Box::new(r), buf };
            crate::h1::serve((ctx, handler), (reader, w, None), head_limits(&listener), shutdown).await;
        }
    }
}

fn head_limits(l: &ListenerCtx) -> crate::h1::HeadLimits {
    crate::h1::HeadLimits { max_bytes: l.limits.max_header_bytes, max_headers: l.limits.max_header_count }
}

/// HTTP/2 (prior knowledge or ALPN) on an accepted (and, for TLS listeners, decrypted)
/// connection, through hyper's h2 server under the glitch guard.
async fn serve_http<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static, H: Handler>(
    handler: H,
    io: IO,
    a: Accepted,
    listener: Rc<ListenerCtx>,
    mut shutdown: watch::Receiver<bool>,
    scheme: &'static str,
) {
    let ctx = context(&a, &listener, scheme);
    let io =
        Guarded::new(Tracked::new(io, Arc::clone(&ctx.state)), Arc::clone(&ctx.state), Arc::clone(&listener.metrics));
    let io = TokioIo::new(io);
    let (peer, timeouts) = (a.peer, a.timeouts);
    let state = Arc::clone(&ctx.state);
    let svc = service_fn(move |req: Request<Incoming>| {
        ctx.listener.metrics.h2_requests.fetch_add(1, Relaxed);
        handler.clone().handle(Rc::clone(&ctx), req.map(ClientBody::Hyper))
    });
    let conn = listener.builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let timer = tokio::time::sleep(timeouts.header.min(timeouts.idle));
    tokio::pin!(timer);
    // Created once: re-creating them on every wake costs a lock each (the watch is shared
    // by all workers).
    let close_requested = state.close_requested.notified();
    tokio::pin!(close_requested);
    let calm = state.calm.tripped_now.notified();
    tokio::pin!(calm);
    let stop = shutdown.changed();
    tokio::pin!(stop);
    let mut phase = Phase::Open;
    loop {
        let begin_close = tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "client connection error");
                }
                return;
            }
            _ = timer.as_mut() => match state.on_timer(&mut phase, Instant::now(), &timeouts) {
                Action::Drop => return,
                Action::Recheck(at) => {
                    timer.as_mut().reset(at);
                    false
                }
                Action::Shutdown => true,
            },
            _ = close_requested.as_mut(), if phase == Phase::Open => true,
            // Over the glitch limit: polling the connection again lets `Guarded` send the
            // GOAWAY(ENHANCE_YOUR_CALM) and end it; the grace timer drops a stuck one.
            _ = calm.as_mut(), if phase == Phase::Open => {
                phase = Phase::Closing { grace: Some(Instant::now() + CLOSE_GRACE) };
                timer.as_mut().reset(Instant::now() + CLOSE_GRACE);
                false
            }
            _ = stop.as_mut(), if phase == Phase::Open => true,
        };
        if begin_close {
            conn.as_mut().graceful_shutdown();
            phase = Phase::Closing { grace: None };
            timer.as_mut().reset(Instant::now() + CLOSE_GRACE);
        }
    }
}

mod h2guard;
#[cfg(test)]
mod tests;
