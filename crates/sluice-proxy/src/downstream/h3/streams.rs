//! The request streams of one established HTTP/3 connection: each accepted stream becomes a
//! request task (`request::serve`); the loop also watches the reasons to close — stop or
//! reload removal, the handler's request, the glitch budget, idleness — and closes
//! gracefully: GOAWAY naming the last request taken, the requests in flight finish, then the
//! connection closes with H3_NO_ERROR if the client has not closed it first.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use h3_quinn::quinn;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::downstream::ctx::ConnCtx;
use crate::downstream::service::Handler;

/// After GOAWAY with nothing in flight, how long the client has to close before we do.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// H3_NO_ERROR (RFC 9114 §8.1).
const NO_ERROR: u32 = 0x100;

pub struct Streams<H> {
    pub handler: H,
    pub conn: quinn::Connection,
    pub h3: h3::server::Connection<h3_quinn::Connection, Bytes>,
    pub ctx: Rc<ConnCtx>,
    pub established: Rc<crate::downstream::h3::ctx::Established>,
    pub idle: Duration,
}

impl<H: Handler> Streams<H> {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Streams { handler, conn, mut h3, mut ctx, established, idle } = self;
        let state = std::sync::Arc::clone(&ctx.state);
        let timer = tokio::time::sleep(idle);
        tokio::pin!(timer);
        let close_requested = state.close_requested.notified();
        tokio::pin!(close_requested);
        let calm = state.calm.tripped_now.notified();
        tokio::pin!(calm);
        let stop = shutdown.changed();
        tokio::pin!(stop);
        let mut closing = false;
        loop {
            let goaway = tokio::select! {
                r = h3.accept() => match r {
                    Ok(Some(resolver)) => {
                        ctx = follow_client(&conn, ctx);
                        let (h, c, e) = (handler.clone(), Rc::clone(&ctx), Rc::clone(&established));
                        crate::runtime::exec::spawn_boxed(move || crate::downstream::h3::request::serve(h, c, resolver, e));
                        false
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(peer = %ctx.client, error = %e, "HTTP/3 connection ended");
                        return;
                    }
                },
                _ = timer.as_mut() => {
                    let now = Instant::now();
                    let busy = state.in_flight.load(Relaxed) > 0;
                    match (closing, busy) {
                        (true, false) => break,
                        (true, true) => timer.as_mut().reset(now + CLOSE_GRACE),
                        (false, true) => timer.as_mut().reset(now + idle),
                        (false, false) => {
                            let quiet_until = state.at(state.last_done.load(Relaxed)) + idle;
                            if quiet_until > now {
                                timer.as_mut().reset(quiet_until);
                            }
                        }
                    }
                    !closing && !busy && timer.deadline() <= now
                }
                _ = close_requested.as_mut(), if !closing => true,
                _ = calm.as_mut(), if !closing => true,
                _ = stop.as_mut(), if !closing => true,
            };
            if goaway {
                closing = true;
                // 1: the GOAWAY's stream ID is the first request *not* taken; h3 counts
                // from the last one accepted, so 0 would disown it.
                let _ = h3.shutdown(1).await;
                timer.as_mut().reset(Instant::now() + CLOSE_GRACE);
            }
        }
        conn.close(quinn::VarInt::from_u32(NO_ERROR), b"");
    }
}

/// The client's address after a migration (NAT rebinding, a new network): counted, and
/// requests from now on see it (X-Forwarded-For, access log, per-IP limits).
fn follow_client(conn: &quinn::Connection, ctx: Rc<ConnCtx>) -> Rc<ConnCtx> {
    let now = conn.remote_address();
    if now == ctx.client {
        return ctx;
    }
    ctx.listener.metrics.h3.migrations.fetch_add(1, Relaxed);
    let snap = ctx.listener.worker.snapshot();
    let trusted = snap
        .listener(&ctx.listener.name)
        .is_some_and(|l| l.config.trusted_proxies.iter().any(|c| c.contains(now.ip())));
    crate::downstream::h3::ctx::rebind(&ctx, now, trusted)
}
