//! One QUIC connection: the handshake (with 0-RTT when the listener allows it), then the
//! HTTP/3 connection's request streams, each served by its own task. The connection closes
//! gracefully (GOAWAY, then the requests in flight finish) on stop, on reload removal, when
//! the handler asks (request limit, glitch budget), or after `idle_timeout` with no request
//! in flight. A client that moves to a new address keeps its connection; requests after
//! the move see the new address.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::FutureExt;
use h3_quinn::quinn;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::downstream::h3::ctx::{Accepted, Established};
use crate::downstream::service::Handler;
use crate::metrics::ListenerMetrics;

/// Serves one connection to its end. `in_handshake` is dropped when the handshake ends
/// (either way): the accept loop counts handshakes in flight with it.
pub async fn serve<H: Handler, G: 'static>(
    handler: H,
    (connecting, a): (quinn::Connecting, Accepted),
    in_handshake: G,
    shutdown: watch::Receiver<bool>,
) {
    let _counted = crate::downstream::accept::Counted::new(&a.listener);
    let metrics = Arc::clone(&a.listener.metrics);
    let established = Rc::new(Established::default());
    let limit = a.timeouts.header;
    let Some(conn) = handshake(connecting, a.early_data, limit, (&established, in_handshake), metrics).await else {
        a.listener.metrics.h3.handshake_failed.fetch_add(1, Relaxed);
        return;
    };
    a.listener.metrics.h3.connections.fetch_add(1, Relaxed);
    let ctx = crate::downstream::h3::ctx::context(&conn, &a);
    let mut builder = h3::server::builder();
    builder.max_field_section_size(a.listener.limits.max_header_bytes as u64);
    let h3conn = match builder.build::<_, Bytes>(h3_quinn::Connection::new(conn.clone())).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(peer = %conn.remote_address(), error = %e, "HTTP/3 connection setup failed");
            return;
        }
    };
    let streams = crate::downstream::h3::streams::Streams { handler, conn, h3: h3conn, ctx, established, idle: a.idle };
    streams.run(shutdown).await;
}

/// The handshake, within the header timeout. With 0-RTT the connection is usable at once;
/// `established` turns true when the handshake completes, in the background.
async fn handshake<G: 'static>(
    connecting: quinn::Connecting,
    early: bool,
    limit: Duration,
    (established, guard): (&Rc<Established>, G),
    metrics: Arc<ListenerMetrics>,
) -> Option<quinn::Connection> {
    let started = Instant::now();
    let connecting = if early {
        match connecting.into_0rtt() {
            Ok((conn, done)) => {
                let done = done.shared();
                *established.pending.borrow_mut() = Some(done.clone());
                tokio::task::spawn_local(async move {
                    if let Ok(true) = tokio::time::timeout(limit, done).await {
                        metrics.h3.handshake.observe_ns(started.elapsed().as_nanos() as u64);
                    }
                    drop(guard);
                });
                return Some(conn);
            }
            Err(c) => c,
        }
    } else {
        connecting
    };
    let r = tokio::time::timeout(limit, connecting).await;
    drop(guard);
    let conn = r.ok()?.ok()?;
    metrics.h3.handshake.observe_ns(started.elapsed().as_nanos() as u64);
    established.done.set(true);
    Some(conn)
}
