//! The validated `[anycast]` config: routes announced to BGP through a speaker (ExaBGP's
//! process API, fed by `sluice anycast-feed`) while their cluster is healthy.

use std::time::Duration;

use sluice_core::net::Cidr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    ExaBgp,
}

#[derive(Debug, Clone)]
pub struct AnycastConfig {
    pub speaker: Speaker,
    pub local_as: u32,
    /// On stop: routes are withdrawn, then sluice keeps serving this long before draining.
    pub withdraw_delay: Duration,
    /// `self` or an address.
    pub next_hop: String,
    pub routes: Vec<AnycastRoute>,
}

#[derive(Debug, Clone)]
pub struct AnycastRoute {
    pub prefix: Cidr,
    pub cluster: String,
    /// Withdrawn below this many endpoints in rotation.
    pub min_healthy: u32,
    /// Below this (and at least `min_healthy`): announced with the prepends and communities.
    pub degraded_below: Option<u32>,
    pub as_path_prepend: u32,
    /// (AS, value) pairs.
    pub communities: Vec<(u16, u16)>,
    pub hold: Duration,
}
