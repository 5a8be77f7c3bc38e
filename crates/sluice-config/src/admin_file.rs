//! `[admin]` and `[access_log]` as users write them (serde, unknown keys refused, spans
//! kept for errors); re-exported by `file`.

use serde::Deserialize;
use toml::Spanned as S;

/// `[access_log] path = "access.log", format = "json"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAccessLog {
    pub path: S<String>,
    pub format: Option<S<String>>,
    pub buffer: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAdmin {
    pub bind: S<String>,
    pub token: Option<S<String>>,
}
