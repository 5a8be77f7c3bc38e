//! The HTTP cache (RFC 9111 shared cache): named in-memory stores shared by every worker,
//! between `handler/` (which decides hit, stale, revalidate or fill per request, in
//! `handler/cached.rs`) and `body/` (whose response bodies a fill tees into the store).
//!
//! - `store`: the store (quick_cache: sharded, weighted by bytes, CLOCK-Pro eviction — the
//!   least valuable entries go first), keys, variants by `Vary`, purge, counters, and the
//!   fills in flight (who fetches a key while others wait).
//! - `entry`: one stored answer: its RFC 9111 policy (http-cache-semantics), body, the
//!   stale windows, encoded variants, and how a hit is answered.
//! - `fill`: waiting on another request's fill (coalescing) and the body that stores an
//!   answer while it streams to the client.

pub mod entry;
pub mod fill;
pub mod store;

pub use entry::Entry;
pub use store::{CacheStats, CacheStore, Key};
