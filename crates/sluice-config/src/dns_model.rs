//! The validated `[dns]` config the DNS server (sluice-control) runs on: names are
//! lowercase, relative to their zone and without trailing dots; durations are whole
//! seconds.

use std::net::{IpAddr, SocketAddr};

use sluice_core::gslb::Policy;
use sluice_core::net::Cidr;

#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub bind: SocketAddr,
    /// Regions in config order (their index is the region id) with their client subnets.
    pub regions: Vec<(String, Vec<Cidr>)>,
    /// Region → other regions, nearest first.
    pub nearest: Vec<(String, Vec<String>)>,
    pub zones: Vec<ZoneConfig>,
}

#[derive(Debug, Clone)]
pub struct ZoneConfig {
    /// `example.test` (lowercase, no trailing dot).
    pub name: String,
    pub ns: Vec<String>,
    pub hostmaster: String,
    /// None: the time the zone was loaded (so a reload raises it).
    pub serial: Option<u32>,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub negative_ttl: u32,
    pub ttl: u32,
    pub records: Vec<RecordConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    A,
    Aaaa,
    Cname,
    Txt,
}

#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// Relative to the zone; empty for the apex (`@`).
    pub name: String,
    pub kind: RecordKind,
    pub ttl: u32,
    pub data: RecordData,
}

#[derive(Debug, Clone)]
pub enum RecordData {
    /// A/AAAA answered by health.
    Gslb {
        policy: Policy,
        targets: Vec<TargetConfig>,
    },
    /// A/AAAA addresses always answered.
    Addrs(Vec<IpAddr>),
    /// A CNAME's target name (absolute, no trailing dot).
    Cname(String),
    Txt(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub addr: IpAddr,
    pub cluster: String,
    pub region: Option<String>,
    pub weight: u32,
    pub priority: u32,
    /// Healthy while the cluster has at least this many endpoints in rotation.
    pub min_healthy: u32,
}
