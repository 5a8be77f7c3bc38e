//! Balancing config of a cluster: the algorithm, its hash key, table sizes, peak-EWMA
//! tuning and sticky sessions — checked together because they constrain each other.

use std::time::Duration;

use sluice_core::balance::{BalanceOptions, HashKey};
use sluice_core::Balance;

use crate::checker::V;
use crate::file::*;
use crate::model::StickyConfig;

pub struct BalanceConfig {
    pub balance: Balance,
    pub hash_key: Option<HashKey>,
    pub options: BalanceOptions,
    pub sticky: Option<StickyConfig>,
}

pub fn balance(v: &mut V, c: &FileCluster, path: &str) -> BalanceConfig {
    let balance = kind(v, c, path);
    let hash_key = c.hash_key.as_ref().and_then(|k| match HashKey::parse(k.get_ref()) {
        Err(e) => {
            let hint = Some("header:NAME, cookie:NAME, query:NAME, path or source_ip");
            v.err(k.span(), &format!("{path}.hash_key"), e, hint);
            None
        }
        Ok(_) if !matches!(balance, Balance::RingHash | Balance::Maglev) => {
            let msg = format!("hash_key does nothing with balance = \"{}\"", balance.name());
            v.err(k.span(), &format!("{path}.hash_key"), msg, Some("use ring_hash or maglev"));
            None
        }
        Ok(h) => Some(h),
    });
    let d = BalanceOptions::default();
    let vnodes = v.int(&c.ring_vnodes, &format!("{path}.ring_vnodes"), 1, 10_000, d.ring_vnodes as i64) as usize;
    let table = maglev_size(v, c, path, d.maglev_table_size);
    let ewma = ewma(v, c.peak_ewma.as_ref(), path, d.ewma);
    let sticky = c.sticky.as_ref().and_then(|s| sticky(v, s, path));
    BalanceConfig {
        balance,
        hash_key,
        options: BalanceOptions { ring_vnodes: vnodes, maglev_table_size: table, ewma },
        sticky,
    }
}

fn kind(v: &mut V, c: &FileCluster, path: &str) -> Balance {
    let Some(b) = &c.balance else {
        return Balance::default();
    };
    Balance::parse(b.get_ref()).unwrap_or_else(|| {
        let names: Vec<&str> = Balance::ALL.iter().map(|b| b.name()).collect();
        let hint = format!("one of: {}", names.join(", "));
        v.err(b.span(), &format!("{path}.balance"), format!("unknown balancer `{}`", b.get_ref()), Some(&hint));
        Balance::default()
    })
}

fn maglev_size(v: &mut V, c: &FileCluster, path: &str, default: usize) -> usize {
    let p = format!("{path}.maglev_table_size");
    let n = v.int(&c.maglev_table_size, &p, 2, 10_000_019, default as i64) as usize;
    if let Some(s) = &c.maglev_table_size {
        if !is_prime(n) {
            v.err(
                s.span(),
                &p,
                format!("{n} is not prime"),
                Some("Maglev needs a prime table size, e.g. 65537 or 655373"),
            );
        }
    }
    n
}

fn is_prime(n: usize) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

fn ewma(
    v: &mut V,
    e: Option<&FilePeakEwma>,
    path: &str,
    d: sluice_core::ewma::EwmaParams,
) -> sluice_core::ewma::EwmaParams {
    let Some(e) = e else { return d };
    let ns = |x: Duration| x.as_nanos() as f64;
    sluice_core::ewma::EwmaParams {
        default_rtt_ns: ns(v.timeout(
            &e.default_rtt,
            &format!("{path}.peak_ewma.default_rtt"),
            Duration::from_nanos(d.default_rtt_ns as u64),
        )),
        decay_ns: ns(v.timeout(&e.decay, &format!("{path}.peak_ewma.decay"), Duration::from_nanos(d.decay_ns as u64))),
    }
}

fn sticky(v: &mut V, s: &S<FileSticky>, path: &str) -> Option<StickyConfig> {
    let f = s.get_ref();
    let name = f.cookie.get_ref();
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        v.err(f.cookie.span(), &format!("{path}.sticky.cookie"), format!("`{name}` is not a valid cookie name"), None);
        return None;
    }
    let ttl = v.timeout(&f.ttl, &format!("{path}.sticky.ttl"), Duration::from_secs(3600));
    Some(StickyConfig { cookie: name.clone(), ttl, secret: f.secret.clone() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn primes() {
        assert!(super::is_prime(65537));
        assert!(!super::is_prime(65536));
        assert!(super::is_prime(2));
    }
}
