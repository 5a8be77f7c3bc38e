//! HTTP/3 over QUIC (quinn + h3), the third protocol server beside HTTP/1.1 (`h1`) and
//! HTTP/2 (hyper): it calls the same `Handler`. Each worker runs its own quinn endpoint on
//! its SO_REUSEPORT UDP socket; connection IDs name the worker (`cid`) and the kernel steers
//! packets by them (`runtime::steer`). This module is the accept loop: per new connection,
//! the listener's limits, then Retry (address validation) by the `retry` policy, then a task
//! per connection (`conn`, `streams`, `request`, `body`).

pub mod body;
pub mod cid;
pub mod config;
pub mod conn;
pub mod ctx;
pub mod request;
pub mod streams;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use h3_quinn::quinn;
use sluice_config::QuicRetry;
use tokio::sync::watch;

use crate::downstream::service::Handler;
use crate::runtime::ctx::ListenerCtx;

/// Handshakes this worker has in flight on one listener (`retry = "under_load"` reads it).
#[derive(Clone, Default)]
struct InFlight(Rc<Cell<u32>>);

/// One handshake in flight, until dropped.
struct Handshaking(InFlight);

impl InFlight {
    fn enter(&self) -> Handshaking {
        self.0.set(self.0.get() + 1);
        Handshaking(self.clone())
    }
}

impl Drop for Handshaking {
    fn drop(&mut self) {
        let c = &self.0 .0;
        c.set(c.get().saturating_sub(1));
    }
}

/// Accepts QUIC connections on this worker's endpoint until `stop`; then refuses new ones
/// and lets the open ones finish (each got the same stop signal). `enter` marks a
/// connection live for the worker's drain.
pub async fn serve<H: Handler, G: 'static>(
    handler: H,
    endpoint: quinn::Endpoint,
    ctx: Rc<RefCell<Rc<ListenerCtx>>>,
    mut stop: watch::Receiver<bool>,
    enter: impl Fn() -> G,
) {
    let in_flight = InFlight::default();
    let local = endpoint.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        tokio::select! {
            inc = endpoint.accept() => match inc {
                Some(inc) => {
                    let listener = Rc::clone(&ctx.borrow());
                    if let Some((connecting, a, admitted)) = admit(inc, listener, &in_flight, local) {
                        let (h, rx, live) = (handler.clone(), stop.clone(), enter());
                        let guard = in_flight.enter();
                        crate::runtime::exec::spawn_boxed(move || async move {
                            conn::serve(h, (connecting, a), guard, rx).await;
                            drop((live, admitted));
                        });
                    }
                }
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    endpoint.set_server_config(None);
    endpoint.wait_idle().await;
}

/// Decides one new connection: refused (no QUIC config, connection limits), asked to
/// validate its address first (Retry), or accepted with the listener's current settings.
fn admit(
    inc: quinn::Incoming,
    listener: Rc<ListenerCtx>,
    in_flight: &InFlight,
    local: SocketAddr,
) -> Option<(quinn::Connecting, ctx::Accepted, crate::runtime::gate::Admitted)> {
    let snap = listener.worker.snapshot();
    let m = &listener.metrics.h3;
    let (Some(l), peer) = (snap.listener(&listener.name), inc.remote_address()) else {
        inc.refuse();
        return None;
    };
    let (Some(h3), Some(server_config)) = (&l.config.http3, &l.quic) else {
        inc.refuse();
        return None;
    };
    let retry = match h3.retry {
        QuicRetry::Always => true,
        QuicRetry::UnderLoad => in_flight.0.get() >= h3.retry_above,
        QuicRetry::Never => false,
    };
    if retry && !inc.remote_address_validated() && inc.may_retry() {
        if inc.retry().is_ok() {
            m.retries.fetch_add(1, Relaxed);
        }
        return None;
    }
    let lim = crate::runtime::gate::Limits {
        max_total: l.config.limits.max_connections,
        max_per_ip: l.config.limits.max_connections_per_ip,
        rate_per_ip: l.config.limits.accept_rate_per_ip,
    };
    let Ok(admitted) = listener.gate.enter(peer.ip(), lim, crate::runtime::clock::now_ns()) else {
        m.refused.fetch_add(1, Relaxed);
        inc.refuse();
        return None;
    };
    let connecting = inc.accept_with(std::sync::Arc::clone(server_config)).ok()?;
    let trusted = l.config.trusted_proxies.iter().any(|c| c.contains(peer.ip()));
    let a = ctx::Accepted {
        early_data: h3.early_data,
        idle: h3.idle_timeout,
        trusted,
        timeouts: l.config.timeouts,
        local,
        listener: Rc::clone(&listener),
    };
    Some((connecting, a, admitted))
}
