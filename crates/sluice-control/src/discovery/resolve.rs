//! One resolution of a cluster's named endpoints with hickory-resolver: every A/AAAA record
//! of a `"NAME:PORT"` endpoint, and an SRV record's targets (their addresses), ports and
//! weights — the lowest SRV priority serves, higher ones are backups. Returns the endpoints
//! (sorted, at most `max_endpoints`) and when the shortest answer expires.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use sluice_config::{Discovery, EndpointConfig, Named};

/// A resolver asking `servers` (the system's when empty), without a cache of its own:
/// each refresh sees the zone as it is.
pub fn resolver(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let mut b = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| e.to_string())?
    } else {
        let ns = servers
            .iter()
            .map(|s| {
                let mut c = NameServerConfig::udp_and_tcp(s.ip());
                for conn in &mut c.connections {
                    conn.port = s.port();
                }
                c
            })
            .collect();
        TokioResolver::builder_with_config(ResolverConfig::from_name_servers(ns), TokioRuntimeProvider::default())
    };
    b.options_mut().cache_size = 0;
    b.options_mut().timeout = Duration::from_secs(2);
    b.options_mut().attempts = 2;
    b.build().map_err(|e| e.to_string())
}

/// The endpoints `d` names now, and the shortest TTL among the answers.
pub async fn resolve(r: &TokioResolver, d: &Discovery) -> Result<(Vec<EndpointConfig>, Duration), String> {
    let mut out = Vec::new();
    let mut ttl = sluice_config::discovery::MAX_REFRESH;
    for n in &d.names {
        match &n.what {
            Named::Host { name, port } => {
                let ips = r.lookup_ip(fqdn(name)).await.map_err(|e| format!("{name}: {e}"))?;
                ttl = ttl.min(ips.valid_until().saturating_duration_since(std::time::Instant::now()));
                for ip in ips.iter() {
                    out.push(EndpointConfig { addr: SocketAddr::new(ip, *port), weight: n.weight, backup: n.backup });
                }
            }
            Named::Srv(name) => {
                let srv = r.srv_lookup(fqdn(name)).await.map_err(|e| format!("{name}: {e}"))?;
                ttl = ttl.min(srv.valid_until().saturating_duration_since(std::time::Instant::now()));
                let records: Vec<_> = srv
                    .answers()
                    .iter()
                    .filter_map(|rec| match &rec.data {
                        RData::SRV(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                let best = records.iter().map(|s| s.priority).min().unwrap_or(0);
                for s in records {
                    let target = s.target.to_ascii();
                    let ips = r.lookup_ip(target.as_str()).await.map_err(|e| format!("{target}: {e}"))?;
                    for ip in ips.iter() {
                        let weight = u32::from(s.weight.max(1));
                        out.push(EndpointConfig {
                            addr: SocketAddr::new(ip, s.port),
                            weight,
                            backup: n.backup || s.priority > best,
                        });
                    }
                }
            }
        }
    }
    out.sort_by_key(|e| e.addr);
    out.dedup_by_key(|e| e.addr);
    out.truncate(d.max_endpoints);
    Ok((out, ttl))
}

/// Names are absolute: no search domains appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}
