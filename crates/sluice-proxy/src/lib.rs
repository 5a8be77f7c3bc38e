//! sluice-proxy: the data plane. Binds listeners, runs thread-per-core workers (each a
//! current-thread tokio runtime with its own SO_REUSEPORT sockets and upstream pools), and
//! proxies HTTP/1.1 and h2c through the routes and clusters of the current `Snapshot`.
//! The admin listener (status JSON) lives here until the control crate takes it (issue 7).

pub mod accesslog;
pub mod admin;
mod attempt;
mod batch;
mod body;
mod clock;
mod cluster_state;
mod conn;
pub mod control;
mod deadline;
mod errors;
mod exchange;
mod exec;
mod forward;
mod gate;
mod h1;
mod health;
mod limitstore;
mod listen;
pub mod metrics;
mod mirror;
#[allow(unsafe_code)] // one non-blocking send(2) on the owner's open socket
mod outbox;
mod outcome;
mod pool;
pub mod proxyproto;
mod request;
mod rng;
mod select;
mod server;
mod service;
pub mod snapshot;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // pipe2/splice/fcntl on descriptors owned by live objects
mod splice;
mod status;
mod sticky;
mod tcp;
pub mod tls;
mod udp;
mod upgrade;
mod upstream_tls;
mod worker;

pub use h1::read_requests as read_h1_requests;
pub use server::{Server, ServerHandle};
pub use snapshot::Snapshot;
