//! The admin listener and the access log, as the control plane reads them (`[admin]`,
//! `[access_log]`); re-exported by `model`. Their file forms are in `admin_file.rs`.

use std::net::SocketAddr;

/// One line per request, written by a background thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogConfig {
    /// A file path (relative to the config file), or `-` for standard output.
    pub path: std::path::PathBuf,
    pub format: AccessLogFormat,
    /// Lines queued for the writer before new ones are dropped (and counted).
    pub buffer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    Json,
    /// NGINX/Apache combined log format, plus the timing breakdown.
    Combined,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub bind: SocketAddr,
    pub token: Option<String>,
}
