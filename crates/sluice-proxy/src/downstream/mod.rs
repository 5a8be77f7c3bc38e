//! The client side of a connection: accept (PROXY protocol, limits), TLS termination,
//! protocol sniffing, and HTTP/2 served by hyper (HTTP/1.1 is `h1`'s server); HTTP/3 over
//! QUIC in `h3`.

pub mod accept;
pub mod acme;
pub mod conn;
pub mod ctx;
pub mod h3;
pub mod proxyproto;
pub mod service;
pub mod state;
pub mod stream;
pub mod tls;
pub mod tls_sessions;
