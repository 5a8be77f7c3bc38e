//! Upstream connection pools, one per worker (so no lock and no shared cache line): idle
//! HTTP/1.1 connections per endpoint, reused LIFO, bounded by `max_idle`, expired after
//! `idle_timeout` and retired after `max_requests`; one multiplexed HTTP/2 (h2c)
//! connection per endpoint. A connection returns to the pool only after its response
//! body was read to the end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use sluice_config::{PoolConfig, UpstreamProtocol};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::request::RequestBody;
use crate::h1::client::UpConn;
use crate::handler::errors::ProxyError;
use crate::runtime::cluster_state::ConnSlot;
use crate::runtime::exec::LocalExec;
use crate::runtime::snapshot::ClusterRt;
use crate::upstream::tls::{Connector, UpstreamIo};

/// An idle HTTP/1.1 upstream connection.
pub struct IdleConn {
    pub tx: http1::SendRequest<RequestBody>,
    pub uses: u64,
    expires: Instant,
}

/// An HTTP/1.1 connection to hand back once its response body has been read.
pub struct PoolReturn {
    pub pool: Rc<Pool>,
    pub addr: SocketAddr,
    pub tx: http1::SendRequest<RequestBody>,
    pub uses: u64,
    pub cfg: PoolConfig,
}

impl PoolReturn {
    pub fn checkin(self) {
        self.pool.checkin(self.addr, self.tx, self.uses, self.cfg);
    }
}

/// A connection checked out for one request.
pub enum Upstream {
    H1(http1::SendRequest<RequestBody>, u64),
    H2(http2::SendRequest<RequestBody>),
}

/// A worker's idle upstream connections per endpoint address (looked up on every request,
/// hence the cheap hasher).
#[derive(Default)]
pub struct Pool {
    h1: RefCell<AddrMap<Vec<IdleConn>>>,
    h2: RefCell<AddrMap<http2::SendRequest<RequestBody>>>,
    /// Idle connections of sluice's own HTTP/1.1 client (`h1::client`, the fast path).
    own: RefCell<AddrMap<Vec<(UpConn, Instant)>>>,
}

type AddrMap<V> = HashMap<SocketAddr, V, sluice_core::hash::FastBuild>;

impl Pool {
    /// An idle connection to `addr` if one is usable (and `fresh` is not asked for: HTTP/1.1
    /// only, an h2 connection is shared anyway), else a new one (within `limit`).
    pub async fn checkout(
        &self,
        addr: SocketAddr,
        rt: &ClusterRt,
        proxy_header: Option<Vec<u8>>,
        fresh: bool,
    ) -> Result<(Upstream, bool), ProxyError> {
        let (cluster, limit, m) = (&rt.config, &rt.conn_limit, &rt.metrics);
        if proxy_header.is_some() {
            // A PROXY header names one client: such connections are never pooled or shared.
            let slot = limit.acquire()?;
            let up = Box::pin(connect_h1(addr, rt, slot, proxy_header)).await?;
            m.connections_created.fetch_add(1, Relaxed);
            return Ok((up, false));
        }
        let reused = match cluster.protocol {
            UpstreamProtocol::Http1 if fresh => None,
            UpstreamProtocol::Http1 => self.ready_idle(addr).await,
            UpstreamProtocol::H2 => {
                let h2 = self.h2.borrow();
                h2.get(&addr).filter(|tx| !tx.is_closed()).cloned().map(Upstream::H2)
            }
        };
        if let Some(up) = reused {
            m.connections_reused.fetch_add(1, Relaxed);
            return Ok((up, true));
        }
        // The cold path is boxed so that the hot path's future stays small (a large future
        // is memmoved on every request).
        let slot = limit.acquire().inspect_err(|_| {
            m.shed_limit.fetch_add(1, Relaxed);
        })?;
        let started = Instant::now();
        let up = match cluster.protocol {
            UpstreamProtocol::Http1 => Box::pin(connect_h1(addr, rt, slot, None)).await?,
            UpstreamProtocol::H2 => {
                let tx = Box::pin(connect_h2(addr, rt, slot)).await?;
                self.h2.borrow_mut().insert(addr, tx.clone());
                Upstream::H2(tx)
            }
        };
        m.connections_created.fetch_add(1, Relaxed);
        m.upstream_connect.observe_ns(started.elapsed().as_nanos() as u64);
        Ok((up, false))
    }

    /// The most recent idle connection that is (or becomes) ready; closed ones are dropped.
    async fn ready_idle(&self, addr: SocketAddr) -> Option<Upstream> {
        while let Some(mut c) = self.take_idle(addr) {
            if c.tx.is_ready() || c.tx.ready().await.is_ok() {
                return Some(Upstream::H1(c.tx, c.uses));
            }
        }
        None
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<IdleConn> {
        let mut map = self.h1.borrow_mut();
        let list = map.get_mut(&addr)?;
        let now = Instant::now();
        while let Some(c) = list.pop() {
            if c.expires > now && !c.tx.is_closed() {
                return Some(c);
            }
        }
        None
    }

    /// Returns a connection whose response finished; keeps it if the pool has room.
    pub fn checkin(self: &Rc<Self>, addr: SocketAddr, tx: http1::SendRequest<RequestBody>, uses: u64, cfg: PoolConfig) {
        if (cfg.max_requests != 0 && uses >= cfg.max_requests) || cfg.max_idle == 0 || tx.is_closed() {
            return;
        }
        // hyper marks the connection ready a moment after the body ends; checkout waits
        // for that instead of a task per request doing it here.
        self.put(addr, tx, uses, cfg);
    }

    fn put(&self, addr: SocketAddr, tx: http1::SendRequest<RequestBody>, uses: u64, cfg: PoolConfig) {
        let mut map = self.h1.borrow_mut();
        let list = map.entry(addr).or_default();
        if list.len() < cfg.max_idle {
            list.push(IdleConn { tx, uses, expires: Instant::now() + cfg.idle_timeout });
        }
    }

    /// A fast-path connection to `addr`: the most recent idle one that is still open and
    /// quiet (idle expiry judged at `now`) unless `fresh`, else a new one (within the
    /// cluster's connection limit).
    pub async fn checkout_own(
        &self,
        addr: SocketAddr,
        rt: &ClusterRt,
        now: Instant,
        fresh: bool,
    ) -> Result<(UpConn, bool), ProxyError> {
        let idle = if fresh {
            None
        } else {
            let mut map = self.own.borrow_mut();
            let list = map.entry(addr).or_default();
            std::iter::from_fn(|| list.pop()).find(|(c, expires)| *expires > now && c.is_reusable())
        };
        if let Some((c, _)) = idle {
            rt.metrics.connections_reused.fetch_add(1, Relaxed);
            return Ok((c, true));
        }
        Box::pin(self.connect_own(addr, rt)).await.map(|c| (c, false))
    }

    async fn connect_own(&self, addr: SocketAddr, rt: &ClusterRt) -> Result<UpConn, ProxyError> {
        let slot = rt.conn_limit.acquire().inspect_err(|_| {
            rt.metrics.shed_limit.fetch_add(1, Relaxed);
        })?;
        let started = Instant::now();
        let UpstreamIo::Plain(s) = connect(addr, rt.config.timeouts.connect, None, None).await?.into_inner() else {
            return Err(ProxyError::ConnectRefused);
        };
        rt.metrics.connections_created.fetch_add(1, Relaxed);
        rt.metrics.upstream_connect.observe_ns(started.elapsed().as_nanos() as u64);
        Ok(UpConn::new(s, slot))
    }

    /// Returns a fast-path connection whose response ended as framed.
    pub fn checkin_own(&self, addr: SocketAddr, mut c: UpConn, cfg: PoolConfig) {
        if (cfg.max_requests != 0 && c.uses >= cfg.max_requests) || cfg.max_idle == 0 {
            return;
        }
        c.shed_buffer();
        let mut map = self.own.borrow_mut();
        let list = map.entry(addr).or_default();
        if list.len() < cfg.max_idle {
            list.push((c, Instant::now() + cfg.idle_timeout));
        }
    }

    /// Drops expired and closed idle connections; run periodically by the worker.
    pub fn sweep(&self) {
        let now = Instant::now();
        for list in self.h1.borrow_mut().values_mut() {
            list.retain(|c| c.expires > now && !c.tx.is_closed());
        }
        for list in self.own.borrow_mut().values_mut() {
            list.retain(|(c, expires)| *expires > now && c.is_reusable());
        }
        self.h2.borrow_mut().retain(|_, tx| !tx.is_closed());
    }
}

async fn connect(
    addr: SocketAddr,
    timeout: Duration,
    header: Option<Vec<u8>>,
    tls: Option<&Connector>,
) -> Result<TokioIo<UpstreamIo>, ProxyError> {
    let connected = tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| {
            tracing::warn!(%addr, error = %e, "upstream connect failed");
            ProxyError::ConnectRefused
        })?;
        let _ = s.set_nodelay(true);
        if let Some(h) = header {
            use tokio::io::AsyncWriteExt;
            s.write_all(&h).await.map_err(|_| ProxyError::UpstreamReset)?;
        }
        match tls {
            None => Ok(UpstreamIo::Plain(s)),
            Some(c) => c.wrap(s, addr).await.map(|t| UpstreamIo::Tls(Box::new(t))).map_err(|e| {
                tracing::warn!(%addr, error = %e, "upstream TLS handshake failed");
                ProxyError::UpstreamTls
            }),
        }
    });
    match connected.await {
        Err(_) => Err(ProxyError::ConnectTimeout),
        Ok(r) => r.map(TokioIo::new),
    }
}

async fn connect_h1(
    addr: SocketAddr,
    cluster: &ClusterRt,
    slot: ConnSlot,
    header: Option<Vec<u8>>,
) -> Result<Upstream, ProxyError> {
    let io = connect(addr, cluster.config.timeouts.connect, header, cluster.tls.as_deref()).await?;
    let (tx, conn) = http1::Builder::new().writev(false).handshake(io).await.map_err(|_| ProxyError::ConnectRefused)?;
    crate::runtime::exec::spawn_boxed(move || async move {
        let _slot = slot;
        if let Err(e) = conn.await {
            tracing::debug!(%addr, error = %e, "upstream connection ended");
        }
    });
    Ok(Upstream::H1(tx, 0))
}

/// A dedicated HTTP/1.1 connection for one upgrade (WebSocket): never pooled; its driver
/// hands the socket over once the upstream answers 101.
pub async fn connect_tunnel(
    addr: SocketAddr,
    cluster: &ClusterRt,
    slot: ConnSlot,
    header: Option<Vec<u8>>,
) -> Result<http1::SendRequest<RequestBody>, ProxyError> {
    let io = connect(addr, cluster.config.timeouts.connect, header, cluster.tls.as_deref()).await?;
    let (tx, conn) = http1::Builder::new().handshake(io).await.map_err(|_| ProxyError::ConnectRefused)?;
    crate::runtime::exec::spawn_boxed(move || async move {
        let _slot = slot;
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(%addr, error = %e, "upstream upgrade connection ended");
        }
    });
    Ok(tx)
}

async fn connect_h2(
    addr: SocketAddr,
    cluster: &ClusterRt,
    slot: ConnSlot,
) -> Result<http2::SendRequest<RequestBody>, ProxyError> {
    let io = connect(addr, cluster.config.timeouts.connect, None, cluster.tls.as_deref()).await?;
    let (tx, conn) = http2::Builder::new(LocalExec)
        .timer(TokioTimer::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .handshake(io)
        .await
        .map_err(|_| ProxyError::ConnectRefused)?;
    crate::runtime::exec::spawn_boxed(move || async move {
        let _slot = slot;
        if let Err(e) = conn.await {
            tracing::debug!(%addr, error = %e, "upstream h2 connection ended");
        }
    });
    Ok(tx)
}
