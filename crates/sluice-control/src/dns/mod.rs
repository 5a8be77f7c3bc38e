//! The authoritative DNS server (GSLB, seed §16.10.2): hickory-server on UDP and TCP at
//! `[dns] bind`, on its own thread and runtime so a query flood never competes with the
//! admin API. Answers come from the zones of the active config (swapped on reload) and the
//! same endpoint state the balancers read, through the current snapshot.
//!
//! `zones` builds the lookup tables, `handler` answers one query, `facts` reads health and
//! latency, `stats` counts for `/metrics`, `view` is the `/status` part.

mod facts;
mod handler;
pub mod stats;
pub mod view;
mod zones;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use sluice_config::{Config, DnsConfig};
use sluice_core::net::Cidr;
use sluice_proxy::runtime::snapshot::Snapshot;
use tokio::sync::watch;

use stats::DnsStats;
use zones::Zones;

/// How long a TCP client may stay silent before its connection is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// A running DNS server.
pub struct DnsServer {
    bind: SocketAddr,
    addr: SocketAddr,
    zones: Arc<ArcSwap<Zones>>,
    /// This instance's own addresses while it leaves: answered as unhealthy.
    leaving: Arc<ArcSwap<Vec<Cidr>>>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// The DNS handler without sockets, for the fuzzer (`fuzz/fuzz_targets/dns_query.rs`): wire
/// bytes go through hickory's parser and this server's decision; nothing is sent.
#[doc(hidden)]
pub struct Probe(handler::Handler);

impl Probe {
    pub fn new(cfg: &DnsConfig, shared: Arc<ArcSwap<Snapshot>>) -> Result<Probe, String> {
        let stats = Arc::new(DnsStats::default());
        let zones = Arc::new(ArcSwap::from_pointee(Zones::build(cfg, &stats)?));
        let leaving = Arc::new(ArcSwap::from_pointee(Vec::new()));
        Ok(Probe(handler::Handler { zones, shared, stats, leaving, counter: AtomicU64::new(0) }))
    }

    /// The response code the query would get (None: hickory refused to parse it).
    pub fn rcode(&self, wire: &[u8]) -> Option<u16> {
        self.0.decide_wire(wire)
    }
}

impl DnsServer {
    /// Binds UDP, then TCP on the same port, and starts answering.
    pub fn start(cfg: &DnsConfig, shared: Arc<ArcSwap<Snapshot>>, stats: Arc<DnsStats>) -> std::io::Result<DnsServer> {
        let zones = Arc::new(ArcSwap::from_pointee(Zones::build(cfg, &stats).map_err(std::io::Error::other)?));
        let (udp, tcp) = bind(cfg.bind)?;
        let addr = udp.local_addr()?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        let leaving = Arc::new(ArcSwap::from_pointee(Vec::new()));
        let handler = handler::Handler {
            zones: Arc::clone(&zones),
            shared,
            stats,
            leaving: Arc::clone(&leaving),
            counter: AtomicU64::new(0),
        };
        let (stop, mut stopped) = watch::channel(false);
        let thread = std::thread::Builder::new().name("sluice-dns".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return tracing::error!(error = %e, "dns: no runtime"),
            };
            rt.block_on(async move {
                let mut server = hickory_server::Server::new(handler);
                match (tokio::net::UdpSocket::from_std(udp), tokio::net::TcpListener::from_std(tcp)) {
                    (Ok(u), Ok(t)) => {
                        server.register_socket(u);
                        server.register_listener(t, TCP_IDLE, 32);
                    }
                    (Err(e), _) | (_, Err(e)) => return tracing::error!(error = %e, "dns: sockets not registered"),
                }
                let _ = stopped.wait_for(|s| *s).await;
                let _ = server.shutdown_gracefully().await;
            });
        })?;
        tracing::info!(%addr, zones = cfg.zones.len(), "dns server answering (udp, tcp)");
        Ok(DnsServer { bind: cfg.bind, addr, zones, leaving, stop, thread: Some(thread) })
    }

    /// The configured bind address (port 0 stays 0 here).
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// The bound address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Swaps in the zones of a reloaded config; queries in flight finish on the old ones.
    pub fn update(&self, cfg: &DnsConfig, stats: &DnsStats) -> Result<(), String> {
        self.zones.store(Arc::new(Zones::build(cfg, stats)?));
        Ok(())
    }

    /// From now on, targets at these addresses count as unhealthy (the instance leaves; a
    /// record whose every target is here still fails open).
    pub fn leave(&self, own: Vec<Cidr>) {
        tracing::info!(addresses = own.len(), "dns: answers exclude this instance");
        self.leaving.store(Arc::new(own));
    }

    /// The `/status` part: every record and the answer it would give now.
    pub fn status(&self, snap: &Snapshot) -> serde_json::Value {
        view::status(&self.zones.load(), snap, self.addr, &self.leaving.load())
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// This instance's addresses as DNS targets would name them: its listeners' bound IPs
/// (unless unspecified) and its anycast prefixes.
pub fn own_addresses(cfg: &Config, listeners: &[(String, SocketAddr)]) -> Vec<Cidr> {
    let mut own: Vec<Cidr> = listeners
        .iter()
        .filter(|(_, a)| !a.ip().is_unspecified())
        .filter_map(|(_, a)| a.ip().to_string().parse().ok())
        .collect();
    own.extend(cfg.anycast.iter().flat_map(|a| a.routes.iter().map(|r| r.prefix)));
    own
}

/// UDP, then TCP on the same port. With port 0 the kernel picks the UDP port, which may be
/// taken for TCP: then another one is tried.
fn bind(at: SocketAddr) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut tries = 0;
    loop {
        let udp = std::net::UdpSocket::bind(at)?;
        match std::net::TcpListener::bind(udp.local_addr()?) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if at.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Brings the running DNS server in line with a config: starts, stops, rebinds (the new
/// socket first, so a bind error keeps the old server) or swaps the zones.
pub fn reconcile(
    cur: &mut Option<DnsServer>,
    cfg: Option<&DnsConfig>,
    shared: &Arc<ArcSwap<Snapshot>>,
    stats: &Arc<DnsStats>,
) -> Result<(), String> {
    match (cur.as_ref(), cfg) {
        (_, None) => {
            *cur = None;
            Ok(())
        }
        (Some(s), Some(c)) if s.bind() == c.bind => s.update(c, stats),
        (_, Some(c)) => {
            let fresh = DnsServer::start(c, Arc::clone(shared), Arc::clone(stats))
                .map_err(|e| format!("dns {}: {e}", c.bind))?;
            *cur = Some(fresh);
            Ok(())
        }
    }
}
