//! The control-plane thread for endpoint health: one prober task per (cluster, endpoint)
//! with an active check (TCP connect, or an HTTP request whose status and body are
//! checked), feeding the rise/fall state machine into the shared EndpointState; and one
//! sweeper per cluster with outlier detection, releasing ejections whose time is up.
//! Runs apart from the workers so that checks keep their rhythm under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use sluice_config::{BodyMatch, CheckKind, HealthCheckConfig, HttpCheck};
use sluice_core::health::{jittered, Streak};
use sluice_core::outlier::{self, OutlierPolicy};
use sluice_core::EndpointState;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::metrics::ClusterMetrics;
use crate::runtime::clock;
use crate::runtime::snapshot::Snapshot;
use crate::upstream::tls::{Connector, UpstreamIo};

/// How often ejections are checked for release.
const SWEEP: Duration = Duration::from_millis(100);
/// Largest health-check response body read.
const MAX_BODY: usize = 64 * 1024;

/// Starts the health thread if any cluster has a health check or outlier detection.
pub fn start(snap: &Snapshot, shutdown: watch::Receiver<bool>) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let mut probes = Vec::new();
    let mut sweeps = Vec::new();
    for c in snap.clusters.values() {
        let eps = c.balancer.endpoints().to_vec();
        if let Some(h) = &c.config.health {
            probes.extend(eps.iter().map(|e| Probe {
                cluster: c.config.name.clone(),
                ep: Arc::clone(e),
                cfg: h.clone(),
                m: Arc::clone(&c.metrics),
                tls: c.tls.clone(),
            }));
        }
        if let Some(policy) = c.config.outlier {
            sweeps.push((c.config.name.clone(), eps, policy, Arc::clone(&c.metrics)));
        }
    }
    if probes.is_empty() && sweeps.is_empty() {
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let t = std::thread::Builder::new().name("sluice-health".into()).spawn(move || {
        rt.block_on(async move {
            for (i, p) in probes.into_iter().enumerate() {
                tokio::spawn(probe_loop(p, i as u64));
            }
            for (cluster, eps, policy, m) in sweeps {
                tokio::spawn(sweep_loop(cluster, eps, policy, m));
            }
            let mut shutdown = shutdown;
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        });
    })?;
    Ok(Some(t))
}

/// One endpoint's prober: what to check and where results go.
struct Probe {
    cluster: String,
    ep: Arc<EndpointState>,
    cfg: HealthCheckConfig,
    m: Arc<ClusterMetrics>,
    /// The cluster's upstream TLS: checks of an `https` / `h2` cluster go over TLS too.
    tls: Option<Arc<Connector>>,
}

async fn probe_loop(p: Probe, seed: u64) {
    let Probe { cluster, ep, cfg, m, tls } = p;
    let target = SocketAddr::new(ep.addr.ip(), cfg.port.unwrap_or(ep.addr.port()));
    let mut streak = Streak::default();
    let mut r = sluice_core::hash::rehash(seed, clock::now_ns());
    // Start at a random point of the first interval so checks never march in step.
    tokio::time::sleep(jittered(cfg.interval / 2, cfg.interval / 2, r)).await;
    loop {
        let started = clock::now_ns();
        let passed =
            matches!(tokio::time::timeout(cfg.timeout, check(target, &cfg.check, tls.as_deref())).await, Ok(true));
        if passed {
            ep.record_check_rtt(clock::now_ns().saturating_sub(started));
        }
        let counter = if passed { &m.health_ok } else { &m.health_failed };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(healthy) = streak.observe(passed, ep.checks_ok(), &cfg.rise_fall) {
            ep.set_checks_ok(healthy);
            let state = if healthy { "healthy" } else { "unhealthy" };
            tracing::warn!(%cluster, endpoint = %ep.addr, state, "health check changed endpoint state");
        }
        r = sluice_core::hash::rehash(r, 1);
        tokio::time::sleep(jittered(cfg.interval, cfg.jitter, r)).await;
    }
}

/// Releases ejections whose time is up, and once per `interval` runs the slow-response
/// detector (when configured).
async fn sweep_loop(cluster: String, eps: Vec<Arc<EndpointState>>, policy: OutlierPolicy, m: Arc<ClusterMetrics>) {
    let mut next_slow_check = clock::now_ns() + policy.interval_ns;
    loop {
        tokio::time::sleep(SWEEP).await;
        let now = clock::now_ns();
        for e in outlier::sweep(&eps, now) {
            tracing::warn!(%cluster, endpoint = %e.addr, "outlier ejection ended");
        }
        if policy.slow_p95_ns.is_some() && now >= next_slow_check {
            next_slow_check = now + policy.interval_ns;
            for e in outlier::detect_slow(&eps, now, &policy) {
                m.ejections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(%cluster, endpoint = %e.addr, ejections = e.ejections(), "outlier ejected: slow responses (P95 over threshold)");
            }
        }
    }
}

/// One check; true when it passes.
pub async fn check(addr: SocketAddr, kind: &CheckKind, tls: Option<&Connector>) -> bool {
    let Ok(tcp) = TcpStream::connect(addr).await else {
        return false;
    };
    let stream = match tls {
        None => UpstreamIo::Plain(tcp),
        Some(c) => match c.wrap(tcp, addr).await {
            Ok(t) => UpstreamIo::Tls(Box::new(t)),
            Err(_) => return false,
        },
    };
    match kind {
        CheckKind::Tcp => true,
        CheckKind::Http(h) => http_check(stream, addr, h).await.unwrap_or(false),
        CheckKind::Grpc { service, authority } => {
            let authority = authority.clone().unwrap_or_else(|| addr.to_string());
            grpc_check(stream, &authority, service).await.unwrap_or(false)
        }
    }
}

async fn http_check(
    stream: UpstreamIo,
    addr: SocketAddr,
    h: &HttpCheck,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = h.host.clone().unwrap_or_else(|| addr.to_string());
    let req = http::Request::builder()
        .method(h.method.as_str())
        .uri(h.path.as_str())
        .header(http::header::HOST, host)
        .header(http::header::USER_AGENT, "sluice-health")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())?;
    let resp = tx.send_request(req).await?;
    let status = resp.status().as_u16();
    if status < h.expect_status.0 || status > h.expect_status.1 {
        return Ok(false);
    }
    let Some(want) = &h.expect_body else {
        return Ok(true);
    };
    let body = Limited::new(resp.into_body(), MAX_BODY).collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body);
    Ok(match want {
        BodyMatch::Contains(s) => text.contains(s.as_str()),
        BodyMatch::Regex(re) => re.is_match(&text),
    })
}

/// grpc.health.v1.Health/Check: a unary call over h2c (or h2 over the cluster's TLS); passes when grpc-status is 0 and
/// the answer is SERVING (field 1 = 1).
async fn grpc_check(
    stream: UpstreamIo,
    authority: &str,
    service: &str,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let scheme = if matches!(stream, UpstreamIo::Tls(_)) { "https" } else { "http" };
    let exec = hyper_util::rt::TokioExecutor::new();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(exec, TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::post(format!("{scheme}://{authority}/grpc.health.v1.Health/Check"))
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(http_body_util::Full::new(Bytes::from(grpc_frame(service))))?;
    let resp = tx.send_request(req).await?;
    if resp.status() != http::StatusCode::OK {
        return Ok(false);
    }
    let head_status = resp.headers().get("grpc-status").cloned();
    let collected = Limited::new(resp.into_body(), MAX_BODY).collect().await?;
    let status = collected.trailers().and_then(|t| t.get("grpc-status").cloned()).or(head_status);
    if status.as_ref().map(|v| v.as_bytes()) != Some(b"0") {
        return Ok(false);
    }
    Ok(serving(&collected.to_bytes()))
}

/// A length-prefixed gRPC message holding HealthCheckRequest { service }.
fn grpc_frame(service: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0A); // field 1, length-delimited
        let mut n = service.len();
        while n >= 0x80 {
            msg.push((n as u8 & 0x7F) | 0x80);
            n >>= 7;
        }
        msg.push(n as u8);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    frame
}

/// Whether a framed HealthCheckResponse says SERVING (status = 1).
fn serving(frame: &[u8]) -> bool {
    let Some(msg) = frame.get(5..) else { return false };
    msg.first() == Some(&0x08) && msg.get(1) == Some(&0x01)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_health_frames() {
        assert_eq!(grpc_frame(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(grpc_frame("ab"), vec![0, 0, 0, 0, 4, 0x0A, 2, b'a', b'b']);
        assert!(serving(&[0, 0, 0, 0, 2, 0x08, 0x01]));
        assert!(!serving(&[0, 0, 0, 0, 2, 0x08, 0x02]), "NOT_SERVING");
        assert!(!serving(&[0, 0, 0, 0, 0]), "UNKNOWN (empty message)");
    }
}
