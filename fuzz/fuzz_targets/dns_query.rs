//! Fuzzes the authoritative DNS server's query path: any datagram goes through hickory's
//! parser and sluice's decision (zones, GSLB policies, EDNS Client Subnet) for the zones of
//! `examples/gslb-active-active.toml` — an answer code or a parse refusal, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use libfuzzer_sys::fuzz_target;
use sluice_control::dns::Probe;

const CONFIG: &str = include_str!("../../examples/gslb-active-active.toml");

fn probe() -> &'static Probe {
    static P: OnceLock<Probe> = OnceLock::new();
    P.get_or_init(|| {
        let cfg = sluice_config::parse(CONFIG, "gslb-active-active.toml").expect("the example parses");
        let dns = cfg.dns.clone().expect("the example has [dns]");
        let store = sluice_proxy::metrics::Store::default();
        let snap = sluice_proxy::Snapshot::build(cfg, &mut Default::default(), &store);
        Probe::new(&dns, Arc::new(ArcSwap::from_pointee(snap))).expect("zones build")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = probe().rcode(data);
});
