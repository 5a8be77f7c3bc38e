//! Toward the endpoints: resilience around a request (bulkhead, breaker, retries), one
//! exchange on a pooled connection, the pools, upstream TLS, active health checks, and the
//! one feedback path from outcomes to endpoint state.

pub mod exchange;
pub mod health;
pub mod outcome;
pub mod pool;
pub mod resilience;
pub mod tls;
