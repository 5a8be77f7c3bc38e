//! sluice-proxy: the data plane. Thread-per-core workers (each a current-thread tokio
//! runtime with its own SO_REUSEPORT sockets and upstream pools) proxy HTTP/1.1, h2 and L4
//! TCP/UDP through the routes and clusters of the current `Snapshot`. Layers, each
//! importing only those below it (docs/architecture.md walks a request through them):
//!
//! - `runtime/`: workers (started by `sluice-control`, the control plane crate), listening sockets, spawning, clocks, the snapshot
//!   and the state kept across reloads
//! - `downstream/`: client connections: accept, protocol sniffing, TLS, PROXY protocol,
//!   HTTP/2 through hyper
//! - `l4/`: TCP and UDP balancing
//! - `handler/`: the proxy handler: route, limits, rate limits, headers, sticky, mirror,
//!   upgrades, errors, access log
//! - `cache/`: the HTTP cache stores, their entries and fills (the stage that uses them is
//!   `handler/cached.rs`)
//! - `upstream/`: resilience (bulkhead, breaker, retries), one exchange, pools, upstream
//!   TLS, health checks, outcome feedback
//! - `h1/`: sluice's own HTTP/1.1: codec, server side, client side
//! - `io/`: the outbox and send batching, splice
//! - `body.rs`, `metrics.rs`: body types and counters every layer shares

mod body;
pub mod cache;
mod downstream;
mod h1;
mod handler;
mod io;
mod l4;
pub mod metrics;
pub mod runtime;
pub mod upstream;

pub use downstream::{acme, proxyproto, tls};
pub use h1::read_requests as read_h1_requests;
pub use handler::accesslog;
pub use runtime::snapshot::{self, Snapshot};
