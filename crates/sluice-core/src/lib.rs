//! sluice-core: the pure heart of sluice. Endpoint state, balancers, route matching and
//! weighted choice. No tokio, no hyper, no clocks, no I/O: time and randomness are inputs,
//! so every piece here is tested by plain unit and property tests.
#![forbid(unsafe_code)]

pub mod acme;
pub mod anycast;
pub mod balance;
pub mod breaker;
pub mod bucket;
pub mod endpoint;
pub mod ewma;
pub mod gslb;
pub mod h2glitch;
pub mod hash;
pub mod health;
pub mod latency;
pub mod lease;
pub mod net;
pub mod outlier;
pub mod overload;
pub mod ratelimit;
pub mod retry;
pub mod route;
pub mod sim;
pub mod sni;
pub mod split;

pub use balance::{Balance, Balancer, PickCtx};
pub use endpoint::{EndpointState, Health};
pub use route::{HostMatch, RequestView, RouteMatch, ValueMatch};
