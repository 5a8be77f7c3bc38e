//! Snapshot: the whole validated config plus what is built from it (balancers over shared
//! EndpointState, split tables), as one immutable value behind an ArcSwap. A request loads
//! it once and uses that one value to the end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use sluice_config::{ClusterConfig, Config, ListenerConfig, RouteConfig, RouteTarget};
use sluice_core::split::WeightedChoice;
use sluice_core::{Balancer, EndpointState};

use crate::handler::sticky::Sticky;
use crate::metrics::{ClusterMetrics, ListenerMetrics, RouteMetrics, Store};
use crate::runtime::cluster_state::ConnLimit;
use crate::runtime::cluster_state::{Bulkhead, ClusterState};

/// Endpoint states keyed by (cluster, address): kept across snapshots so that state
/// survives a reload for endpoints that stay.
pub type EndpointRegistry = HashMap<(String, SocketAddr), Arc<EndpointState>>;

#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub listeners: Vec<ListenerRt>,
    pub clusters: HashMap<String, Arc<ClusterRt>>,
    /// The `[caches.NAME]` stores (kept across reloads while their sizes stay).
    pub caches: HashMap<String, Arc<crate::cache::CacheStore>>,
    /// Set when `[acme]` is: plain-HTTP listeners answer HTTP-01 challenges from it.
    pub acme: Option<Arc<crate::downstream::acme::AcmeStore>>,
}

#[derive(Debug)]
pub struct ListenerRt {
    pub config: ListenerConfig,
    /// The listener-wide rate limit, checked before routing.
    pub limit: Option<crate::handler::ratelimit::LimitRt>,
    /// TLS termination, built from `config.tls` (None with `config.tls` set: refuse).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// QUIC (HTTP/3), built from `tls` and `config.http3` (None: no HTTP/3, or it failed).
    pub quic: Option<Arc<h3_quinn::quinn::ServerConfig>>,
    pub routes: Vec<RouteRt>,
    pub metrics: Arc<ListenerMetrics>,
    pub gate: Arc<crate::runtime::gate::Gate>,
    pub overload: Arc<crate::runtime::overload::Overload>,
}

#[derive(Debug)]
pub struct RouteRt {
    pub config: RouteConfig,
    /// The cache store of a `cache` route.
    pub cache: Option<Arc<crate::cache::CacheStore>>,
    /// Position in the listener's route list (the `route` label and log field).
    pub index: usize,
    pub metrics: Arc<RouteMetrics>,
    /// For split routes: the weighted table and the clusters it picks from.
    pub split: Option<(WeightedChoice, Vec<Arc<ClusterRt>>)>,
    /// For single-cluster routes.
    pub cluster: Option<Arc<ClusterRt>>,
    /// The route's rate limit, when it has `rate_limit`.
    pub limit: Option<crate::handler::ratelimit::LimitRt>,
    /// For direct-response routes: status, body and content type, built once.
    pub respond: Option<(StatusCode, Bytes, HeaderValue)>,
}

#[derive(Debug)]
pub struct ClusterRt {
    pub config: ClusterConfig,
    pub metrics: Arc<ClusterMetrics>,
    pub balancer: Balancer,
    pub sticky: Option<Sticky>,
    /// Breaker, retry budget, bulkhead: kept across snapshots (`cluster_state`).
    pub state: Arc<ClusterState>,
    /// `limits.max_requests` as permits shared by all workers (the state's bulkhead,
    /// sized to the config), when set.
    pub bulkhead: Option<Arc<Bulkhead>>,
    /// Open upstream connections (counted in `state`) and `limits.max_connections`.
    pub conn_limit: ConnLimit,
    /// TLS to the endpoints (`protocol = "https"` / `"h2"`).
    pub tls: Option<Arc<crate::upstream::tls::Connector>>,
}

impl Snapshot {
    /// Builds a snapshot, reusing endpoint states from `registry` and adding new ones.
    pub fn build(config: Config, registry: &mut EndpointRegistry, metrics: &Store) -> Snapshot {
        Snapshot::build_with(config, registry, metrics, false)
    }

    /// As `build`; with `keep_weights` the endpoints' current (admin-set) weights are kept
    /// instead of the config's. Registry entries for endpoints no longer configured are
    /// dropped.
    pub fn build_with(
        config: Config,
        registry: &mut EndpointRegistry,
        metrics: &Store,
        keep_weights: bool,
    ) -> Snapshot {
        registry.retain(|(c, a), _| {
            config.clusters.get(c).is_some_and(|cl| cl.endpoints.iter().chain(&cl.resolved).any(|e| e.addr == *a))
        });
        let clusters: HashMap<String, Arc<ClusterRt>> = config
            .clusters
            .values()
            .map(|c| {
                let shared = (metrics.cluster(&c.name), metrics.cluster_state(&c.name));
                (c.name.clone(), Arc::new(cluster(c, registry, keep_weights, shared)))
            })
            .collect();
        let caches: HashMap<String, Arc<crate::cache::CacheStore>> =
            config.caches.values().map(|c| (c.name.clone(), metrics.cache_store(c))).collect();
        let listeners = config
            .listeners
            .iter()
            .map(|l| {
                let tls = l.tls.as_ref().and_then(|t| {
                    crate::downstream::tls::server_config(t, &metrics.tls_sessions(&l.name), &metrics.acme)
                        .map_err(|e| tracing::error!(listener = %l.name, error = %e, "TLS setup failed; refusing"))
                        .ok()
                });
                (l, tls)
            })
            .map(|(l, tls)| ListenerRt {
                config: l.clone(),
                limit: l.rate_limit.as_ref().map(|r| {
                    let counters = Arc::clone(&metrics.listener(&l.name).limit);
                    crate::handler::ratelimit::LimitRt::build(r, &format!("{}/*", l.name), counters)
                }),
                quic: quic(l, tls.as_deref(), metrics),
                tls,
                routes: l
                    .routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| route(r, (&l.name, i), (&clusters, &caches), metrics.route(&l.name, i)))
                    .collect(),
                metrics: metrics.listener(&l.name),
                gate: metrics.gate(&l.name),
                overload: Arc::clone(&metrics.overload),
            })
            .collect();
        let acme = config.acme.as_ref().map(|_| Arc::clone(&metrics.acme));
        metrics.overload.configure(config.overload.thresholds(), config.overload.max_connections);
        Snapshot { config: Arc::new(config), listeners, clusters, caches, acme }
    }

    pub fn listener(&self, name: &str) -> Option<&ListenerRt> {
        self.listeners.iter().find(|l| l.config.name == name)
    }
}

/// The listener's QUIC configuration when it serves HTTP/3 (an error is logged and HTTP/3
/// refused, as a TLS error refuses TLS).
fn quic(
    l: &ListenerConfig,
    tls: Option<&rustls::ServerConfig>,
    metrics: &Store,
) -> Option<Arc<h3_quinn::quinn::ServerConfig>> {
    let (h3, tls) = (l.http3.as_ref()?, tls?);
    crate::downstream::h3::config::server_config(tls, h3, &metrics.quic_keys(&l.name))
        .map_err(|e| tracing::error!(listener = %l.name, error = %e, "QUIC setup failed; HTTP/3 refused"))
        .ok()
}

type Caches = HashMap<String, Arc<crate::cache::CacheStore>>;

fn cluster(
    c: &ClusterConfig,
    registry: &mut EndpointRegistry,
    keep_weights: bool,
    (metrics, state): (Arc<ClusterMetrics>, Arc<ClusterState>),
) -> ClusterRt {
    let endpoints: Vec<Arc<EndpointState>> = c
        .endpoints
        .iter()
        .chain(&c.resolved)
        .map(|e| {
            let key = (c.name.clone(), e.addr);
            if registry.get(&key).is_some_and(|s| s.backup != e.backup) {
                registry.remove(&key);
            }
            let state = registry.entry(key).or_insert_with(|| Arc::new(EndpointState::new(e.addr, e.weight, e.backup)));
            if !keep_weights {
                state.set_weight(e.weight);
            }
            Arc::clone(state)
        })
        .collect();
    let sticky = c.sticky.as_ref().map(|s| Sticky::build(s, &c.name, &endpoints));
    ClusterRt {
        config: c.clone(),
        metrics,
        balancer: Balancer::build_with(c.balance, c.balance_options, endpoints),
        sticky,
        bulkhead: c.limits.max_requests.map(|n| {
            state.bulkhead.resize(n);
            Arc::clone(&state.bulkhead)
        }),
        conn_limit: ConnLimit::shared(Arc::clone(&state.conns_open), c.limits.max_connections),
        state,
        tls: c.tls.as_ref().and_then(|t| {
            crate::upstream::tls::Connector::build(t, c.protocol == sluice_config::UpstreamProtocol::H2)
                .map(Arc::new)
                .map_err(|e| tracing::error!(cluster = %c.name, error = %e, "upstream TLS setup failed"))
                .ok()
        }),
    }
}

fn route(
    r: &RouteConfig,
    (listener, index): (&str, usize),
    (clusters, caches): (&HashMap<String, Arc<ClusterRt>>, &Caches),
    metrics: Arc<RouteMetrics>,
) -> RouteRt {
    let mut respond = None;
    let (split, cluster) = match &r.target {
        RouteTarget::Cluster(name) => (None, clusters.get(name).cloned()),
        RouteTarget::Respond { status, body, content_type } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            let ct = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain"));
            respond = Some((status, Bytes::from(body.clone()), ct));
            (None, None)
        }
        RouteTarget::Split(parts) => {
            let weights: Vec<u32> = parts.iter().map(|(_, w)| *w).collect();
            let targets = parts.iter().filter_map(|(n, _)| clusters.get(n).cloned()).collect();
            (WeightedChoice::new(&weights).map(|w| (w, targets)), None)
        }
    };
    let limit = r.rate_limit.as_ref().map(|l| {
        crate::handler::ratelimit::LimitRt::build(l, &format!("{listener}/{index}"), Arc::clone(&metrics.limit))
    });
    let cache = r.cache.as_ref().and_then(|c| caches.get(&c.store).cloned());
    RouteRt { config: r.clone(), cache, index, metrics, limit, split, cluster, respond }
}
