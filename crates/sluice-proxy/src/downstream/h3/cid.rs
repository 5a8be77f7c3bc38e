//! Connection IDs that name the worker holding the connection: byte 0 is the worker's index
//! (what `runtime::steer`'s program reads), then four random bytes and three bytes of a keyed
//! hash of the first five. A packet for a connection ID this worker did not issue — misrouted,
//! or forged — fails `validate`, so quinn drops it without a stateless reset.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::time::Duration;

use h3_quinn::quinn::{ConnectionId, ConnectionIdGenerator};
use quinn_proto::InvalidCid;

const LEN: usize = 8;

/// One process-wide hash key, so every worker can check every worker's IDs.
fn key() -> &'static std::collections::hash_map::RandomState {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEY.get_or_init(Default::default)
}

fn tag(head: &[u8]) -> [u8; 3] {
    let mut h = key().build_hasher();
    h.write(head);
    let v = h.finish().to_le_bytes();
    [v[0], v[1], v[2]]
}

/// The connection-ID generator of one worker's endpoint.
pub struct WorkerCid {
    worker: u8,
}

impl WorkerCid {
    pub fn new(worker: u8) -> Self {
        WorkerCid { worker }
    }
}

impl ConnectionIdGenerator for WorkerCid {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut b = [0u8; LEN];
        b[0] = self.worker;
        b[1..5].copy_from_slice(&rand::random::<[u8; 4]>());
        let t = tag(&b[..5]);
        b[5..].copy_from_slice(&t);
        ConnectionId::new(&b)
    }

    fn validate(&self, cid: &ConnectionId) -> Result<(), InvalidCid> {
        let ok = cid.len() == LEN && cid[0] == self.worker && cid[5..] == tag(&cid[..5]);
        if ok {
            Ok(())
        } else {
            Err(InvalidCid)
        }
    }

    fn cid_len(&self) -> usize {
        LEN
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_worker_and_only_it_accepts_them() {
        let (mut w0, w1) = (WorkerCid::new(0), WorkerCid::new(1));
        for _ in 0..100 {
            let id = w0.generate_cid();
            assert_eq!(id[0], 0);
            assert!(w0.validate(&id).is_ok());
            assert!(w1.validate(&id).is_err(), "another worker's id is refused");
            let mut forged = id[..].to_vec();
            forged[2] ^= 1;
            assert!(w0.validate(&ConnectionId::new(&forged)).is_err(), "a changed byte breaks the tag");
        }
    }
}
