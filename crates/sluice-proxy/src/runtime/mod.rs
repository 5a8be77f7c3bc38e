//! The runtime: server start and stop, worker threads (current-thread runtimes), listening
//! sockets, spawning, clocks and timers, and the state every worker shares — the snapshot
//! (config and what is built from it) and what survives reloads (cluster state, gates).

pub mod clock;
pub mod cluster_state;
pub mod ctx;
pub mod deadline;
pub mod exec;
pub mod gate;
pub mod listen;
pub mod overload;
pub mod rng;
pub mod snapshot;
pub mod steer;
pub mod worker;
