//! What an HTTP/3 connection's request tasks share with it, below both (`conn`, `streams`
//! and `request` import this, never each other in a circle): the per-connection `ConnCtx`
//! as the TCP servers build it (rebuilt when the client moves), and `Established`, whether
//! the handshake has completed (0-RTT requests arrive before it).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{FutureExt, Shared};
use h3_quinn::quinn;
use sluice_config::ListenerTimeouts;

use crate::downstream::ctx::ConnCtx;
use crate::downstream::state::ConnState;
use crate::handler::xforwarded::Peer;
use crate::runtime::ctx::ListenerCtx;

/// What the accept loop hands a connection task.
pub struct Accepted {
    pub listener: Rc<ListenerCtx>,
    pub early_data: bool,
    pub idle: Duration,
    pub trusted: bool,
    pub timeouts: ListenerTimeouts,
    /// The endpoint's address (its IP may be the wildcard).
    pub local: SocketAddr,
}

/// Whether the handshake is complete. Before it, only 0-RTT (replayable) data can have
/// arrived. Asked per request; the answer is read from quinn's own completion signal at
/// that moment, not from a task that may not have run yet.
#[derive(Default)]
pub struct Established {
    pub(super) done: Cell<bool>,
    pub(super) pending: RefCell<Option<Shared<quinn::ZeroRttAccepted>>>,
}

impl Established {
    pub fn check(&self) -> bool {
        if !self.done.get() {
            let mut p = self.pending.borrow_mut();
            if p.as_ref().is_some_and(|f| f.clone().now_or_never().is_some()) {
                self.done.set(true);
                *p = None;
            }
        }
        self.done.get()
    }
}

/// The connection's context, as the TCP servers build it; `rebind` makes the one requests
/// see after the client moved.
pub fn context(conn: &quinn::Connection, a: &Accepted) -> Rc<ConnCtx> {
    let state =
        ConnState { calm: crate::downstream::state::Calm::new(a.listener.limits.h2_max_glitches), ..ConnState::new() };
    state.set_multiplexed();
    let local = conn.local_ip().map_or(a.local, |ip| SocketAddr::new(ip, a.local.port()));
    build(conn.remote_address(), local, Arc::new(state), a.trusted, (&a.listener, a.timeouts))
}

fn build(
    client: SocketAddr,
    local: SocketAddr,
    state: Arc<ConnState>,
    trusted: bool,
    (listener, timeouts): (&Rc<ListenerCtx>, ListenerTimeouts),
) -> Rc<ConnCtx> {
    Rc::new(ConnCtx {
        listener: Rc::clone(listener),
        peer: Peer::new(client.ip(), trusted, "https"),
        client,
        local,
        state,
        timeouts,
        timer: Default::default(),
    })
}

/// The same connection seen from the client's new address (trust is decided again: the
/// new address may not be a trusted proxy).
pub fn rebind(old: &ConnCtx, client: SocketAddr, trusted: bool) -> Rc<ConnCtx> {
    build(client, old.local, Arc::clone(&old.state), trusted, (&old.listener, old.timeouts))
}
