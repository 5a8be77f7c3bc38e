//! The seam between the protocol servers and the request handler. sluice's HTTP/1.1 server
//! (`h1::serve`) and the HTTP/2 path through hyper (`downstream::conn`) take a `Handler`
//! as a parameter, as hyper takes a `Service`: a new protocol (HTTP/3 next) plugs in the
//! same way, the handler never names a server, and no server names the handler. The
//! worker passes `handler::proxy::Proxy`; being a generic, it costs nothing per request.

use std::convert::Infallible;
use std::future::Future;
use std::rc::Rc;

use http::{Request, Response};

use crate::body::response::ProxyBody;
use crate::downstream::ctx::ConnCtx;
use crate::h1::ClientBody;

/// Answers one request of a client connection (any protocol).
pub trait Handler: Clone + 'static {
    /// By value (handlers are cheap clones, `Proxy` is zero-sized), so the answer's future
    /// borrows nothing and servers can box or spawn it.
    fn handle(
        self,
        ctx: Rc<ConnCtx>,
        req: Request<ClientBody>,
    ) -> impl Future<Output = Result<Response<ProxyBody>, Infallible>> + 'static;
}
