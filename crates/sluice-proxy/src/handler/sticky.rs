//! Sticky sessions (§16.6): the first response of a client sets a cookie whose value is an
//! opaque token for the endpoint that served it; later requests carrying the token go to
//! that endpoint while it is available, and re-pin (new cookie) when it is not. Tokens are
//! a keyed hash of (cluster, address): they reveal no address, and a client can only ever
//! choose among tokens the cluster issued — editing the cookie cannot aim at an arbitrary
//! address.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use http::HeaderValue;
use sluice_config::StickyConfig;
use sluice_core::hash::{hash_key, hash_seeded};
use sluice_core::EndpointState;

/// Token key when the config gives no `secret`: random per process.
fn process_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5117_u64))
}

#[derive(Debug)]
pub struct Sticky {
    pub cookie: String,
    tokens: HashMap<String, usize>,
    /// `Set-Cookie` value per endpoint index.
    set_cookie: Vec<HeaderValue>,
}

impl Sticky {
    pub fn build(cfg: &StickyConfig, cluster: &str, eps: &[Arc<EndpointState>]) -> Sticky {
        let key = cfg.secret.as_ref().map_or_else(process_key, |s| hash_key(s.as_bytes()));
        let mut tokens = HashMap::new();
        let mut set_cookie = Vec::new();
        for (i, e) in eps.iter().enumerate() {
            let token = format!("{:016x}", hash_seeded(format!("{cluster}|{}", e.addr).as_bytes(), key));
            let v = format!("{}={token}; Path=/; Max-Age={}; HttpOnly", cfg.cookie, cfg.ttl.as_secs());
            set_cookie.push(HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("")));
            tokens.insert(token, i);
        }
        Sticky { cookie: cfg.cookie.clone(), tokens, set_cookie }
    }

    /// The endpoint a cookie value pins to, if it is one of ours.
    pub fn lookup(&self, value: &str) -> Option<usize> {
        self.tokens.get(value).copied()
    }

    pub fn set_cookie(&self, idx: usize) -> Option<&HeaderValue> {
        self.set_cookie.get(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn eps() -> Vec<Arc<EndpointState>> {
        (1..=3).map(|i| Arc::new(EndpointState::new(format!("10.0.0.{i}:80").parse().unwrap(), 1, false))).collect()
    }

    fn cfg(secret: Option<&str>) -> StickyConfig {
        StickyConfig { cookie: "srv".into(), ttl: Duration::from_secs(3600), secret: secret.map(str::to_string) }
    }

    #[test]
    fn tokens_round_trip_and_hide_the_address() {
        let s = Sticky::build(&cfg(None), "web", &eps());
        for i in 0..3 {
            let v = s.set_cookie(i).unwrap().to_str().unwrap().to_string();
            assert!(v.starts_with("srv=") && v.contains("Max-Age=3600") && !v.contains("10.0.0"), "{v}");
            let token = v.trim_start_matches("srv=").split(';').next().unwrap();
            assert_eq!(s.lookup(token), Some(i));
        }
        assert_eq!(s.lookup("10.0.0.1:80"), None, "an address is not a token");
        assert_eq!(s.lookup("0000000000000000"), None);
    }

    #[test]
    fn a_shared_secret_gives_the_same_tokens_everywhere() {
        let a = Sticky::build(&cfg(Some("k")), "web", &eps());
        let b = Sticky::build(&cfg(Some("k")), "web", &eps());
        let c = Sticky::build(&cfg(Some("other")), "web", &eps());
        assert_eq!(a.set_cookie(0), b.set_cookie(0));
        assert_ne!(a.set_cookie(0), c.set_cookie(0));
    }
}
