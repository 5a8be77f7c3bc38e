//! `[acme]` as users write it (serde, unknown keys refused, spans kept for errors). The
//! checked form is `acme::AcmeConfig`; `validate_acme` goes from one to the other.

use serde::Deserialize;
use toml::Spanned as S;

/// `[acme]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAcme {
    pub directory: S<String>,
    #[serde(default)]
    pub contact: Vec<S<String>>,
    pub storage: S<String>,
    pub challenge: Option<S<String>>,
    pub renew_before: Option<S<RenewValue>>,
    pub coordination: Option<S<String>>,
    /// How long a coordination lease lasts unless renewed (default 30s).
    pub lease: Option<S<String>>,
    pub ca: Option<S<String>>,
}

/// `renew_before = "30d"`, `"33%"` or `0.33`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RenewValue {
    Str(String),
    Float(f64),
}
