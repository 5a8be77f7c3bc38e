//! Moving bytes: the per-connection outbox and the worker's send batching (HTTP/1.1
//! writes), and splice(2) relaying for L4. The crate's unsafe code lives here and in one
//! function of `h1::codec::names`, each with a SAFETY note.

pub mod batch;
#[allow(unsafe_code)] // one non-blocking send(2) on the owner's open socket
pub mod outbox;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // pipe2/splice/fcntl on descriptors owned by live objects
pub mod splice;
