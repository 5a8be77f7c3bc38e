//! `[anycast]` as users write it: the BGP speaker sluice feeds, the AS it speaks for, the
//! exit delay, and the routes announced while their cluster is healthy.

use serde::Deserialize;

use toml::Spanned as S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnycast {
    pub speaker: Option<S<String>>,
    pub local_as: S<i64>,
    pub withdraw_delay: Option<S<String>>,
    /// How long a cluster must stay in a new state before its routes follow (default 2s).
    pub hold: Option<S<String>>,
    pub next_hop: Option<S<String>>,
    #[serde(default)]
    pub routes: Vec<FileAnycastRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnycastRoute {
    pub prefix: S<String>,
    pub cluster: S<String>,
    pub min_healthy: Option<S<i64>>,
    pub degraded_below: Option<S<i64>>,
    pub as_path_prepend: Option<S<i64>>,
    #[serde(default)]
    pub communities: Vec<S<String>>,
    pub hold: Option<S<String>>,
}
