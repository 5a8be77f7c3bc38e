//! `[dns]` as users write it (serde, unknown keys refused, spans kept for errors): the
//! bind address, client-subnet regions, and zones with their GSLB records.

use std::collections::BTreeMap;

use serde::Deserialize;

use toml::Spanned as S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDns {
    /// UDP and TCP.
    pub bind: S<String>,
    /// Region name → CIDR blocks of client subnets.
    #[serde(default)]
    pub regions: BTreeMap<S<String>, Vec<S<String>>>,
    /// Region name → the other regions to try, nearest first, when it has no healthy target.
    #[serde(default)]
    pub nearest: BTreeMap<S<String>, Vec<S<String>>>,
    #[serde(default)]
    pub zones: BTreeMap<S<String>, FileZone>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileZone {
    pub ns: Vec<S<String>>,
    /// The SOA's responsible mailbox, as a name (`hostmaster.example.test`).
    pub hostmaster: Option<S<String>>,
    pub serial: Option<S<i64>>,
    pub refresh: Option<S<String>>,
    pub retry: Option<S<String>>,
    pub expire: Option<S<String>>,
    /// The SOA minimum: how long resolvers cache NXDOMAIN and NODATA.
    pub negative_ttl: Option<S<String>>,
    /// TTL of the SOA and NS records.
    pub ttl: Option<S<String>>,
    #[serde(default)]
    pub records: Vec<FileRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub ttl: Option<S<String>>,
    pub policy: Option<S<String>>,
    #[serde(default)]
    pub targets: Vec<FileTarget>,
    /// Static data: addresses for A/AAAA, one name for CNAME, strings for TXT.
    #[serde(default)]
    pub values: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTarget {
    pub addr: S<String>,
    pub cluster: S<String>,
    pub region: Option<S<String>>,
    pub weight: Option<S<i64>>,
    pub priority: Option<S<i64>>,
    pub min_healthy: Option<S<i64>>,
}
