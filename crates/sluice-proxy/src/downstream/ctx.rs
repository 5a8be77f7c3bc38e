//! What every request handler gets about its connection (`ConnCtx`): the listener, the
//! client's address and trust, the shared `ConnState`, timeouts and the reusable
//! response timer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use sluice_config::ListenerTimeouts;

use crate::downstream::state::ConnState;
use crate::handler::xforwarded::Peer;
use crate::runtime::ctx::ListenerCtx;

/// Per-connection context handed to every request handler.
pub struct ConnCtx {
    pub listener: Rc<ListenerCtx>,
    pub peer: Peer,
    pub state: Arc<ConnState>,
    /// The client (after a PROXY header) and the address it reached, for PROXY upstream.
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub timeouts: ListenerTimeouts,
    /// The response timer its requests reuse (`deadline::within`).
    pub timer: crate::runtime::deadline::SpareTimer,
}
