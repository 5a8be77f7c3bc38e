//! Endpoints found through DNS (HAProxy `server-template` + `resolvers`, Envoy
//! `STRICT_DNS`): `"NAME:PORT"` endpoints (every A/AAAA record), `{ srv = "_svc._tcp.NAME" }`
//! endpoints (SRV targets, ports, weights), and the cluster's `discovery` settings.

use std::net::SocketAddr;
use std::time::Duration;

use crate::checker::V;
use crate::file::{FileDiscovery, S};

/// What a named endpoint resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// Every A/AAAA record of `name`, on `port`.
    Host { name: String, port: u16 },
    /// The SRV record's targets (their A/AAAA records), ports and weights.
    Srv(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEndpoint {
    pub what: Named,
    /// For `Host` names: each address's weight (SRV records carry their own).
    pub weight: u32,
    pub backup: bool,
}

/// A cluster's named endpoints and how to resolve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub names: Vec<NamedEndpoint>,
    /// Name servers to ask (port 53 unless given); empty: the system's (`/etc/resolv.conf`).
    pub resolvers: Vec<SocketAddr>,
    /// Re-resolve this often; None: when the answer's TTL runs out, bounded to [1 s, 5 min].
    pub refresh: Option<Duration>,
    /// At most this many discovered endpoints per cluster.
    pub max_endpoints: usize,
}

/// TTL bounds when `refresh` is not set.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
pub const MAX_REFRESH: Duration = Duration::from_secs(300);

/// Whether `s` can be a DNS name (letters, digits, `-`, `_`, dots; not an IP).
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.parse::<std::net::IpAddr>().is_err()
        && s.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `"NAME:PORT"` as a named endpoint (None: not of that form).
pub fn host_port(s: &str) -> Option<(String, u16)> {
    let (name, port) = s.rsplit_once(':')?;
    let port = port.parse().ok()?;
    is_dns_name(name).then(|| (name.to_ascii_lowercase(), port))
}

/// The cluster's `discovery` (needed when it has named endpoints).
pub fn discovery(v: &mut V, names: Vec<NamedEndpoint>, d: Option<&S<FileDiscovery>>, path: &str) -> Option<Discovery> {
    let p = format!("{path}.discovery");
    if names.is_empty() {
        if let Some(d) = d {
            v.err(
                d.span(),
                &p,
                "discovery without a named endpoint",
                Some("endpoints = [\"app.svc:8080\"] or [{ srv = \"_http._tcp.app.svc\" }]"),
            );
        }
        return None;
    }
    let f = d.map(|d| d.get_ref());
    let resolvers = f.and_then(|f| f.resolvers.as_ref()).map_or_else(Vec::new, |list| {
        list.iter()
            .filter_map(|r| {
                let s = r.get_ref();
                let parsed = s
                    .parse::<SocketAddr>()
                    .ok()
                    .or_else(|| s.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)));
                if parsed.is_none() {
                    v.err(r.span(), &format!("{p}.resolvers"), format!("`{s}` is not an IP or IP:port"), None);
                }
                parsed
            })
            .collect()
    });
    let refresh =
        f.and_then(|f| f.refresh.as_ref()).map(|r| v.timeout(&Some(r.clone()), &format!("{p}.refresh"), MIN_REFRESH));
    let max = f.map_or(&None, |f| &f.max_endpoints);
    let max_endpoints = v.int(max, &format!("{p}.max_endpoints"), 1, 10_000, 64) as usize;
    Some(Discovery { names, resolvers, refresh, max_endpoints })
}
