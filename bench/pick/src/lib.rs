//! Benchmarks only; see benches/pick.rs.
