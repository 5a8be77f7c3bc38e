//! The file format, exactly as users write it (DESIGN.md §3): serde structs with
//! `deny_unknown_fields` and spans on every value that validation may complain about.
//! Nothing here is used past `validate`; the proxy only sees the typed `Config`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

pub use crate::units::SizeValue;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub workers: Option<S<i64>>,
    pub drain_timeout: Option<S<String>>,
    pub admin: Option<FileAdmin>,
    pub access_log: Option<FileAccessLog>,
    #[serde(default)]
    pub listeners: BTreeMap<S<String>, FileListener>,
    #[serde(default)]
    pub clusters: BTreeMap<S<String>, FileCluster>,
    pub dns: Option<crate::dns_file::FileDns>,
    pub anycast: Option<crate::anycast_file::FileAnycast>,
    /// Named HTTP cache stores (`[caches.NAME]`), used by routes' `cache`.
    #[serde(default)]
    pub caches: BTreeMap<S<String>, FileCache>,
    /// Automatic certificates (`[acme]`).
    pub acme: Option<S<crate::acme_file::FileAcme>>,
    /// Process-wide limits and what to do near them (`[overload]`).
    pub overload: Option<crate::overload_file::FileOverload>,
}

/// `[caches.NAME] max_size = "256MiB", max_object_size = "8MiB"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCache {
    pub max_size: Option<S<SizeValue>>,
    pub max_object_size: Option<S<SizeValue>>,
}

/// A route's `cache = { store, stale_while_revalidate, stale_if_error, coalesce, key }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRouteCache {
    pub store: S<String>,
    pub stale_while_revalidate: Option<S<String>>,
    pub stale_if_error: Option<S<String>>,
    pub coalesce: Option<bool>,
    pub key: Option<Vec<S<String>>>,
}

/// A route's `compress = { algorithms, min_size, types, level }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCompress {
    pub algorithms: Option<Vec<S<String>>>,
    pub min_size: Option<S<SizeValue>>,
    pub types: Option<Vec<S<String>>>,
    pub level: Option<S<i64>>,
}

pub use crate::admin_file::{FileAccessLog, FileAdmin};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListener {
    pub bind: S<String>,
    pub protocol: Option<S<String>>,
    pub trusted_proxies: Option<Vec<S<String>>>,
    /// Also send an RFC 7239 `Forwarded` header upstream.
    pub forwarded: Option<bool>,
    /// Set X-Forwarded-For/-Proto/-Host (default); `false` passes them through as received.
    pub x_forwarded: Option<bool>,
    /// `"accept"`: read a PROXY v1/v2 header from peers in `trusted_proxies`.
    pub proxy_protocol: Option<S<String>>,
    /// The cluster of a `tcp` listener.
    pub cluster: Option<S<String>>,
    /// TCP listeners: `"copy"` (default, measured faster here) or `"splice"` (zero-copy).
    pub relay: Option<S<String>>,
    pub timeouts: Option<FileListenerTimeouts>,
    pub limits: Option<FileListenerLimits>,
    /// A rate limit on every request of the listener, before routing.
    pub rate_limit: Option<S<FileRateLimit>>,
    pub tls: Option<S<FileTls>>,
    /// HTTP/3 over QUIC on the same address (UDP).
    pub http3: Option<S<FileHttp3>>,
    #[serde(default)]
    pub routes: Vec<FileRoute>,
}

/// `[listeners.X.http3]`: HTTP/3 over QUIC on the listener's address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp3 {
    pub alt_svc_max_age: Option<S<String>>,
    pub early_data: Option<bool>,
    pub retry: Option<S<String>>,
    /// Handshakes in flight (per worker) above which `retry = "under_load"` sends Retry.
    pub retry_above: Option<S<i64>>,
    pub max_concurrent_streams: Option<S<i64>>,
    pub idle_timeout: Option<S<String>>,
    pub udp_recv_buffer: Option<S<SizeValue>>,
    pub udp_send_buffer: Option<S<SizeValue>>,
}

/// `[listeners.X.tls]`: TLS termination.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    #[serde(default)]
    pub certs: Vec<S<FileCert>>,
    /// Names whose certificates `[acme]` obtains and renews.
    pub acme: Option<Vec<S<String>>>,
    pub alpn: Option<Vec<S<String>>>,
    /// `"1.3"` (default) or `"1.2"`.
    pub min_version: Option<S<String>>,
    pub client_ca: Option<S<String>>,
    /// `"required"` (default with `client_ca`) or `"optional"`.
    pub client_auth: Option<S<String>>,
    pub session_tickets: Option<bool>,
    pub ticket_rotation: Option<S<String>>,
    pub session_cache: Option<S<i64>>,
}

/// `{ cert = "a.pem", key = "a.key", ocsp = "a.ocsp" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCert {
    pub cert: S<String>,
    pub key: S<String>,
    pub ocsp: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListenerTimeouts {
    pub header: Option<S<String>>,
    pub idle: Option<S<String>>,
    pub body: Option<S<String>>,
    pub tunnel: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListenerLimits {
    pub max_header_bytes: Option<S<SizeValue>>,
    pub max_header_count: Option<S<i64>>,
    pub max_body_bytes: Option<S<SizeValue>>,
    pub max_requests_per_connection: Option<S<i64>>,
    pub max_concurrent_streams: Option<S<i64>>,
    /// HTTP/2 protocol glitches a connection may commit before GOAWAY(ENHANCE_YOUR_CALM).
    pub h2_max_glitches: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
    pub max_connections_per_ip: Option<S<i64>>,
    /// New connections per source address, as a rate: `"50/s"`, `"600/m"`.
    pub accept_rate_per_ip: Option<S<String>>,
}

/// A header/cookie/query condition: `"value"` (exact) or `true` / `false` (present / absent).
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum MatchValue {
    Exact(String),
    Present(bool),
}

/// `method = "GET"` or `method = ["GET", "HEAD"]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoute {
    /// TCP listeners: the TLS server name (SNI) of the ClientHello, exact or `*.suffix`.
    pub sni: Option<S<String>>,
    pub host: Option<S<String>>,
    pub path: Option<S<String>>,
    pub path_prefix: Option<S<String>>,
    pub path_regex: Option<S<String>>,
    pub method: Option<S<OneOrMany>>,
    pub headers: Option<BTreeMap<String, S<MatchValue>>>,
    pub cookies: Option<BTreeMap<String, S<MatchValue>>>,
    pub query: Option<BTreeMap<String, S<MatchValue>>>,
    pub cluster: Option<S<String>>,
    pub split: Option<S<Vec<FileSplit>>>,
    pub respond: Option<S<FileRespond>>,
    pub timeout: Option<S<String>>,
    pub host_rewrite: Option<S<String>>,
    /// Let the cluster's retry policy also retry non-idempotent methods (POST, PATCH).
    pub retry_non_idempotent: Option<bool>,
    pub rate_limit: Option<S<FileRateLimit>>,
    pub mirror: Option<S<FileMirror>>,
    pub add_request_headers: Option<BTreeMap<String, S<String>>>,
    pub remove_request_headers: Option<Vec<S<String>>>,
    pub add_response_headers: Option<BTreeMap<String, S<String>>>,
    pub remove_response_headers: Option<Vec<S<String>>>,
    pub cache: Option<S<FileRouteCache>>,
    pub compress: Option<S<FileCompress>>,
}

/// `mirror = { cluster = "shadow", percent = 100 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMirror {
    pub cluster: S<String>,
    pub percent: Option<S<f64>>,
    pub max_in_flight: Option<S<i64>>,
    pub max_body_bytes: Option<S<SizeValue>>,
}

/// `rate_limit = { key = "source_ip", rate = "10/s", burst = 10 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRateLimit {
    pub key: S<OneOrMany>,
    pub rate: S<String>,
    pub burst: Option<S<i64>>,
    pub store: Option<S<String>>,
    pub store_timeout: Option<S<String>>,
    pub store_fallback: Option<S<String>>,
    pub max_keys: Option<S<i64>>,
}

/// `respond = { status = 200, body = "ok\n", content_type = "text/plain" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRespond {
    pub status: S<i64>,
    pub body: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSplit {
    pub cluster: S<String>,
    pub weight: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    pub balance: Option<S<String>>,
    /// `"v1"` or `"v2"`: send a PROXY header with the client's address on each upstream connection.
    pub send_proxy_protocol: Option<S<String>>,
    pub hash_key: Option<S<String>>,
    pub ring_vnodes: Option<S<i64>>,
    pub maglev_table_size: Option<S<i64>>,
    pub peak_ewma: Option<FilePeakEwma>,
    pub sticky: Option<S<FileSticky>>,
    pub protocol: Option<S<String>>,
    pub endpoints: S<Vec<S<FileEndpoint>>>,
    pub timeouts: Option<FileClusterTimeouts>,
    pub pool: Option<FilePool>,
    pub health: Option<S<FileHealth>>,
    pub outlier: Option<S<FileOutlier>>,
    pub retries: Option<S<FileRetries>>,
    pub limits: Option<S<FileClusterLimits>>,
    pub breaker: Option<S<FileBreaker>>,
    pub tls: Option<S<FileUpstreamTls>>,
    /// How named endpoints are resolved (`discovery = { resolvers, refresh, max_endpoints }`).
    pub discovery: Option<S<FileDiscovery>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDiscovery {
    pub resolvers: Option<Vec<S<String>>>,
    pub refresh: Option<S<String>>,
    pub max_endpoints: Option<S<i64>>,
}

/// `tls = { ca = "ca.pem", sni = "api.internal", verify = true, client_cert = { cert, key } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstreamTls {
    pub ca: Option<S<String>>,
    pub sni: Option<S<String>>,
    pub verify: Option<bool>,
    pub client_cert: Option<S<FileCert>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBreaker {
    pub error_rate: Option<S<f64>>,
    pub min_requests: Option<S<i64>>,
    pub window: Option<S<String>>,
    pub open_for: Option<S<String>>,
    pub half_open_probes: Option<S<i64>>,
}

/// `health = { kind = "http", path = "/healthz", interval = "2s", ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHealth {
    pub kind: S<String>,
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub rise: Option<S<i64>>,
    pub fall: Option<S<i64>>,
    pub jitter: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub host: Option<S<String>>,
    /// `200`, or a range `[200, 399]`.
    pub expect_status: Option<S<Vec<i64>>>,
    pub expect_body: Option<S<String>>,
    pub expect_body_regex: Option<S<String>>,
    /// gRPC: the service name asked about (empty: the server as a whole).
    pub service: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutlier {
    pub consecutive_5xx: Option<S<i64>>,
    pub consecutive_gateway_failures: Option<S<i64>>,
    pub base_ejection_time: Option<S<String>>,
    pub max_ejection_time: Option<S<String>>,
    pub max_ejection_percent: Option<S<i64>>,
    pub slow_p95: Option<S<String>>,
    pub slow_min_requests: Option<S<i64>>,
    pub interval: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRetries {
    pub attempts: S<i64>,
    pub on: Option<Vec<S<String>>>,
    pub statuses: Option<Vec<S<i64>>>,
    pub per_try_timeout: Option<S<String>>,
    pub backoff: Option<S<String>>,
    pub max_backoff: Option<S<String>>,
    pub budget_percent: Option<S<i64>>,
    pub min_retry_concurrency: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClusterLimits {
    pub max_requests: Option<S<i64>>,
    pub max_pending: Option<S<i64>>,
    pub pending_timeout: Option<S<String>>,
    pub max_retries: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePeakEwma {
    pub default_rtt: Option<S<String>>,
    pub decay: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSticky {
    pub cookie: S<String>,
    pub ttl: Option<S<String>>,
    pub secret: Option<String>,
}

/// `"127.0.0.1:9001"` or `{ addr = "127.0.0.1:9001", weight = 3, backup = true }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileEndpoint {
    Addr(String),
    Full(FileEndpointFull),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpointFull {
    /// `"IP:PORT"`, or `"NAME:PORT"` (every A/AAAA record of the name).
    pub addr: Option<String>,
    /// `"_service._proto.NAME"`: the SRV record's targets, ports and weights.
    pub srv: Option<String>,
    pub weight: Option<i64>,
    pub backup: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClusterTimeouts {
    pub connect: Option<S<String>>,
    pub response: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePool {
    pub max_idle: Option<S<i64>>,
    pub idle_timeout: Option<S<String>>,
    pub max_requests: Option<S<i64>>,
}
