//! The validated configuration the proxy runs on: typed addresses, durations and enums,
//! every default already applied. The defaults and the anchor each matches are listed in
//! docs/defaults.md — change both together.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use sluice_core::balance::{BalanceOptions, HashKey};
use sluice_core::breaker::BreakerPolicy;
use sluice_core::health::RiseFall;
use sluice_core::net::Cidr;
use sluice_core::outlier::OutlierPolicy;
use sluice_core::{Balance, RouteMatch};

/// Grace period for in-flight requests on SIGTERM/SIGINT.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Config {
    pub workers: usize,
    pub drain_timeout: Duration,
    pub admin: Option<AdminConfig>,
    pub access_log: Option<AccessLogConfig>,
    pub listeners: Vec<ListenerConfig>,
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// The authoritative DNS server (GSLB), when `[dns]` is set.
    pub dns: Option<crate::dns_model::DnsConfig>,
    /// Anycast routes announced through BGP while healthy, when `[anycast]` is set.
    pub anycast: Option<crate::anycast_model::AnycastConfig>,
    /// Named cache stores (`[caches.NAME]`).
    pub caches: BTreeMap<String, crate::cache::CacheConfig>,
    /// Automatic certificates (`[acme]`), for the listeners' `tls.acme` names.
    pub acme: Option<crate::acme::AcmeConfig>,
    /// Process-wide limits and the overload manager's thresholds (`[overload]`).
    pub overload: crate::overload::OverloadConfig,
}

pub use crate::model_admin::{AccessLogConfig, AccessLogFormat, AdminConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerProtocol {
    Http,
    /// L4: every connection is relayed to an endpoint of `ListenerConfig::cluster`.
    Tcp,
    /// L4: datagram flows (by client address) pinned to an endpoint of the cluster.
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocolVersion {
    V1,
    V2,
}

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub name: String,
    pub bind: SocketAddr,
    pub protocol: ListenerProtocol,
    /// Peers whose X-Forwarded-For is kept (appended to); others have it replaced.
    pub trusted_proxies: Vec<Cidr>,
    pub forwarded: bool,
    /// Set X-Forwarded-For/-Proto/-Host (else they pass through as received).
    pub x_forwarded: bool,
    /// Accept a PROXY v1/v2 header from `trusted_proxies`.
    pub proxy_protocol: bool,
    /// The cluster of a TCP listener.
    pub cluster: Option<String>,
    /// TCP listeners: relay with splice(2) instead of user-space copies.
    pub splice: bool,
    pub timeouts: ListenerTimeouts,
    pub limits: ListenerLimits,
    /// A rate limit on every request, checked before the route's (HTTP listeners).
    pub rate_limit: Option<RateLimitConfig>,
    /// TLS termination (`[listeners.X.tls]`).
    pub tls: Option<crate::tls::TlsConfig>,
    /// HTTP/3 over QUIC on the same address (`[listeners.X.http3]`).
    pub http3: Option<crate::http3::Http3Config>,
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerTimeouts {
    /// Whole request head must arrive within this (slowloris guard).
    pub header: Duration,
    /// A keep-alive client connection with no request in flight is closed after this.
    pub idle: Duration,
    /// Longest pause between two chunks of a request or response body.
    pub body: Duration,
    /// An upgraded connection (WebSocket) with no byte either way for this long is closed.
    pub tunnel: Duration,
}

impl Default for ListenerTimeouts {
    fn default() -> Self {
        ListenerTimeouts {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            body: Duration::from_secs(60),
            tunnel: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListenerLimits {
    pub max_header_bytes: usize,
    pub max_header_count: usize,
    pub max_body_bytes: u64,
    /// 0 means unlimited.
    pub max_requests_per_connection: u64,
    pub max_concurrent_streams: u32,
    /// HTTP/2 protocol glitches (client resets of streams already forwarded, empty DATA
    /// frames, tiny CONTINUATION frames, control-frame floods) one connection may commit
    /// before it gets GOAWAY(ENHANCE_YOUR_CALM) and is closed; 0: no limit.
    pub h2_max_glitches: u32,
    /// Open client connections on this listener (all workers); 0: unlimited.
    pub max_connections: u32,
    /// Open client connections per source address; 0: unlimited.
    pub max_connections_per_ip: u32,
    /// New connections per second per source address (burst: one second's worth).
    pub accept_rate_per_ip: Option<f64>,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_header_bytes: 60 * 1024,
            max_header_count: 100,
            max_body_bytes: 10 << 20,
            max_requests_per_connection: 0,
            max_concurrent_streams: 100,
            h2_max_glitches: 100,
            max_connections: 0,
            max_connections_per_ip: 0,
            accept_rate_per_ip: None,
        }
    }
}

/// Shadow traffic (§16.11): copies of a route's requests sent to another cluster,
/// asynchronously, with the answers discarded.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    pub cluster: String,
    /// Share of requests copied, 0..=100.
    pub percent: f64,
    /// Copies in flight per worker at most; more are dropped and counted.
    pub max_in_flight: u32,
    /// Request bodies up to this size are copied too; a longer body drops the copy.
    pub max_body_bytes: u64,
}

/// A token bucket per key on a route (`rate_limit = { ... }`).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    pub keys: Vec<LimitKey>,
    /// Requests per second.
    pub rate: f64,
    pub burst: u32,
    /// Keys remembered at most (idle ones are dropped first).
    pub max_keys: usize,
    /// A shared store (Redis) holding the buckets for every instance; `None` = local.
    pub store: Option<LimitStore>,
}

/// `store = "redis://host:port"`: the bucket shared through Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitStore {
    pub url: String,
    /// How long a request waits for the store before the fallback decides.
    pub timeout: Duration,
    pub fallback: StoreFallback,
}

/// What decides while the store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFallback {
    /// This instance's own bucket with the same rate and burst (fail-open, the default).
    Local,
    /// Admit everything.
    Allow,
    /// Refuse everything with 429 (fail-closed).
    Deny,
}

/// One part of a rate-limit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKey {
    /// The client address (after PROXY protocol / trusted X-Forwarded-For handling).
    SourceIp,
    /// Header name, lowercase.
    Header(String),
    Cookie(String),
    /// One bucket for the whole route.
    Route,
}

/// Where a matched request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    Cluster(String),
    /// Weighted split across clusters (canary, blue/green); weights sum to more than 0.
    Split(Vec<(String, u32)>),
    /// Answer directly without an upstream (NGINX `return`), e.g. a health endpoint.
    Respond {
        status: u16,
        body: String,
        content_type: String,
    },
}

#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub matcher: RouteMatch,
    /// TCP passthrough routes: the TLS server name to match.
    pub sni: Option<sluice_core::HostMatch>,
    pub target: RouteTarget,
    /// Overrides the cluster's response timeout.
    pub timeout: Option<Duration>,
    pub host_rewrite: Option<String>,
    pub retry_non_idempotent: bool,
    pub rate_limit: Option<RateLimitConfig>,
    pub mirror: Option<MirrorConfig>,
    pub add_request_headers: Vec<(String, String)>,
    pub remove_request_headers: Vec<String>,
    pub add_response_headers: Vec<(String, String)>,
    pub remove_response_headers: Vec<String>,
    /// Answers kept in a cache store (`cache = { store = ... }`).
    pub cache: Option<crate::cache::RouteCache>,
    /// Response compression (`compress = { ... }`).
    pub compress: Option<crate::cache::Compress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    Http1,
    /// HTTP/2: prior knowledge in clear text (`h2c`), or negotiated by ALPN over TLS (`h2`).
    H2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointConfig {
    pub addr: SocketAddr,
    pub weight: u32,
    pub backup: bool,
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub send_proxy_protocol: Option<ProxyProtocolVersion>,
    pub balance: Balance,
    /// What ring_hash / maglev hash (default: the client address).
    pub hash_key: Option<HashKey>,
    pub balance_options: BalanceOptions,
    pub sticky: Option<StickyConfig>,
    pub protocol: UpstreamProtocol,
    pub endpoints: Vec<EndpointConfig>,
    pub timeouts: ClusterTimeouts,
    pub pool: PoolConfig,
    pub health: Option<HealthCheckConfig>,
    pub outlier: Option<OutlierPolicy>,
    pub retries: Option<RetryConfig>,
    pub limits: ClusterLimits,
    pub breaker: Option<BreakerPolicy>,
    /// TLS to the endpoints (`protocol = "https"` or `"h2"`).
    pub tls: Option<crate::tls::UpstreamTls>,
    /// Endpoints by DNS name (`"NAME:PORT"`, `{ srv = ... }`) and how they are resolved.
    pub discovery: Option<crate::discovery::Discovery>,
    /// The endpoints discovery found last (filled at run time, never from the file); the
    /// balancer serves `endpoints` and these.
    pub resolved: Vec<EndpointConfig>,
}

/// Active health check of every endpoint of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheckConfig {
    pub check: CheckKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise_fall: RiseFall,
    pub jitter: Duration,
    /// Check this port instead of the endpoint's.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// The TCP connect succeeds.
    Tcp,
    Http(HttpCheck),
    /// grpc.health.v1 `Check` over HTTP/2 cleartext; SERVING passes.
    Grpc {
        service: String,
        authority: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    /// Inclusive status range that passes.
    pub expect_status: (u16, u16),
    pub expect_body: Option<BodyMatch>,
}

#[derive(Debug, Clone)]
pub enum BodyMatch {
    Contains(String),
    Regex(regex::Regex),
}

impl PartialEq for BodyMatch {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (BodyMatch::Contains(a), BodyMatch::Contains(b)) => a == b,
            (BodyMatch::Regex(a), BodyMatch::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// `retries = { attempts, on, statuses, per_try_timeout, backoff, ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first try.
    pub attempts: u32,
    pub on_connect_failure: bool,
    pub on_reset: bool,
    pub on_5xx: bool,
    pub on_gateway_error: bool,
    pub statuses: Vec<u16>,
    pub per_try_timeout: Option<Duration>,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub budget_percent: u32,
    pub min_retry_concurrency: u32,
}

/// Bulkhead of a cluster (§16.9.2); `None` fields are unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterLimits {
    pub max_requests: Option<u32>,
    pub max_pending: u32,
    pub pending_timeout: Duration,
    pub max_retries: Option<u32>,
    /// Open upstream connections per cluster, across workers.
    pub max_connections: Option<u32>,
}

/// Sticky sessions (§16.6): `sticky = { cookie = "srv", ttl = "1h" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickyConfig {
    pub cookie: String,
    pub ttl: Duration,
    /// Keys the cookie tokens; instances sharing it accept each other's cookies. Absent: a
    /// random key per process (cookies re-pin after a restart).
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterTimeouts {
    pub connect: Duration,
    /// From request sent to response head received.
    pub response: Duration,
}

impl Default for ClusterTimeouts {
    fn default() -> Self {
        ClusterTimeouts { connect: Duration::from_secs(5), response: Duration::from_secs(60) }
    }
}

/// Upstream keep-alive pool, per worker and per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    pub max_idle: usize,
    pub idle_timeout: Duration,
    /// 0 means unlimited.
    pub max_requests: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { max_idle: 1024, idle_timeout: Duration::from_secs(60), max_requests: 0 }
    }
}
