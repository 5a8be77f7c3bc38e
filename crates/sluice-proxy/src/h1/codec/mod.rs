//! The HTTP/1.1 codec both sides share, pure (no I/O): `head` parses request heads,
//! `decode` cuts bodies (length and chunked) out of a buffer,
//! `names` turns wire names into `http` constants, `raw` keeps fields in wire form and writes a map as wire lines.

pub mod decode;
pub mod head;
pub mod names;
pub mod raw;
