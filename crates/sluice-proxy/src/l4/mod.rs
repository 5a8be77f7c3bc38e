//! L4 balancing: TCP relaying (PROXY protocol, TLS passthrough by SNI, splice) and UDP
//! flows.

pub mod tcp;
pub mod udp;
