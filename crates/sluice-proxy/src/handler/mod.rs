//! The proxy handler, the same for every client protocol: route selection, limits and
//! rate limits, header rewriting (X-Forwarded-*), sticky sessions, shadow mirroring,
//! protocol upgrades, the cache and compression stages, proxy-generated errors and the
//! access log. It calls `upstream` to forward.

pub mod accesslog;
pub mod acme;
pub mod cached;
pub mod encode;
pub mod errors;
pub mod mirror;
pub mod proxy;
pub mod ratelimit;
pub mod request;
pub mod select;
pub mod sticky;
pub mod upgrade;
pub mod xforwarded;
