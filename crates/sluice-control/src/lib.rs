//! sluice-control: the control plane. Starts the data plane (`Server`: binds listeners,
//! starts the workers of `sluice_proxy::runtime`), owns the active config and its reloads
//! (`Control`: diff + apply, admin weight/drain/split changes, the health checkers), and
//! serves the admin API, `/status` and the dashboard. It reads the data plane's state
//! (snapshot, endpoint and cluster state, metrics); the data plane never depends on it.
//! `dns/` is the authoritative DNS server (GSLB) answering from the same endpoint state;
//! the anycast feed is to live beside it.

mod acme;
pub mod admin;
pub mod anycast;
mod caches;
pub mod discovery;
pub mod dns;
mod metrics;
mod overload;
mod reload;
mod server;
mod splits;
mod status;

pub use reload::{Control, ReloadStatus};
pub use server::{Server, ServerHandle};
