//! `[overload]` as users write it (serde, unknown keys refused, spans kept for errors). The
//! checked form and the check are in `overload.rs`.

use serde::Deserialize;
use toml::Spanned as S;

/// `[overload] max_connections = 50000, max_memory = "2GiB", max_fds = 65536,
/// keepalive_off_at = 0.8, refuse_at = 0.95`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOverload {
    pub max_connections: Option<S<i64>>,
    pub max_memory: Option<S<crate::units::SizeValue>>,
    pub max_fds: Option<S<i64>>,
    pub keepalive_off_at: Option<S<f64>>,
    pub refuse_at: Option<S<f64>>,
}
