//! End-to-end tests: a real sluice (in-process, on loopback) in front of in-process mock
//! backends. One test binary, one module per area.

mod support;

mod acme;
mod balancing;
mod cache;
mod control;
mod discovery;
mod dns;
mod dying;
mod forwarding;
mod grpc;
mod h2raw;
mod h3;
mod h3util;
mod http1;
mod l4;
mod lifecycle;
mod limits;
mod origin;
mod overload;
mod policy;
mod redis;
mod reload_state;
mod resilience;
mod routing;
mod security;
mod timeouts;
mod tls;
mod tlsutil;
mod twins;
mod upstream;
mod upstream_h1;
mod websocket;
