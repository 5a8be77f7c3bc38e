//! One managed name's life: serve what storage or the other instances already have, renew
//! when due (ARI's window when the CA offers one), order under the coordination lease or wait
//! for the instance holding it, and retry failures with jittered backoff. Every step is
//! written to the name's status in the proxy's `AcmeStore` (`/status`, the dashboard).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sluice_config::Challenge;

use crate::certs::{self, Issued};
use crate::coord::Coord;
use crate::order::Ctx;

/// The served certificate and when it is renewed.
struct Current {
    issued: Issued,
    renew_at: u64,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Runs until aborted (the name left the config, or sluice stops).
pub async fn manage(ctx: Arc<Ctx>, name: String) {
    ctx.store.update_status(&name, |s| s.state = "pending");
    let mut current: Option<Current> = None;
    let mut failures = 0u32;
    loop {
        match step(&ctx, &name, &mut current).await {
            Ok(wait) => {
                failures = 0;
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                let wait = sluice_core::acme::retry_after(failures, rand::random());
                failures += 1;
                tracing::error!(name, error = %e, retry_in = ?wait, "ACME certificate not obtained");
                ctx.store.update_status(&name, |s| {
                    s.state = if current.is_some() { "valid" } else { "failed" };
                    s.error = Some(e);
                    s.renew_at = Some(now() + wait.as_secs());
                });
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One pass; returns how long to sleep before the next.
async fn step(ctx: &Ctx, name: &str, current: &mut Option<Current>) -> Result<Duration, String> {
    if current.is_none() {
        if let Some(i) = ctx.storage.load_cert(name).filter(|i| i.not_after > now()) {
            serve(ctx, name, i, "storage", current).await;
        }
    }
    if let Some(c) = &ctx.coord {
        adopt_shared(ctx, c, name, current).await;
    }
    if let Some(at) = current.as_ref().map(|c| c.renew_at).filter(|at| *at > now()) {
        ctx.store.update_status(name, |s| s.state = "valid");
        // Wake at least hourly: a clock jump or a renewal by another instance is seen.
        return Ok(Duration::from_secs(at - now()).min(Duration::from_secs(3600)));
    }
    let Some(c) = &ctx.coord else {
        return order_and_serve(ctx, name, current).await.map(|_| Duration::ZERO);
    };
    if !c.try_lease(name).await? {
        wait_for_holder(ctx, c, name, current).await?;
        return Ok(Duration::ZERO);
    }
    let held = async {
        // Another instance may have finished between our check and the lease.
        adopt_shared(ctx, c, name, current).await;
        if current.as_ref().is_some_and(|c| c.renew_at > now()) {
            return Ok(());
        }
        let renewing = async {
            loop {
                tokio::time::sleep(c.lease / 3).await;
                if !c.renew_lease(name).await.unwrap_or(false) {
                    return Err("lost the coordination lease".to_string());
                }
            }
        };
        tokio::select! {
            r = order_and_serve(ctx, name, current) => r,
            r = renewing => r,
        }
    }
    .await;
    c.release(name).await;
    held.map(|_| Duration::ZERO)
}

async fn order_and_serve(ctx: &Ctx, name: &str, current: &mut Option<Current>) -> Result<(), String> {
    ctx.store.update_status(name, |s| {
        s.state = if current.is_some() { "renewing" } else { "ordering" };
        s.orders += 1;
    });
    let issued = ctx.order(name).await?;
    ctx.storage.save_cert(name, &issued)?;
    if let Some(c) = &ctx.coord {
        c.publish_cert(name, &issued.chain_pem, &issued.key_pem).await?;
    }
    tracing::info!(name, not_after = issued.not_after, "ACME certificate issued");
    serve(ctx, name, issued, "issued", current).await;
    Ok(())
}

/// Takes the certificate another instance published, when it is newer than ours.
async fn adopt_shared(ctx: &Ctx, c: &Coord, name: &str, current: &mut Option<Current>) -> bool {
    let shared = match c.fetch_cert(name).await {
        Ok(Some((chain, key))) => Issued::parse(&chain, &key),
        Ok(None) => return false,
        Err(e) => Err(e),
    };
    match shared {
        Ok(i)
            if i.covers(name)
                && i.not_after > now()
                && current.as_ref().is_none_or(|c| i.not_after > c.issued.not_after) =>
        {
            if let Err(e) = ctx.storage.save_cert(name, &i) {
                tracing::warn!(name, error = %e, "shared certificate not stored");
            }
            serve(ctx, name, i, "shared", current).await;
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(name, error = %e, "shared certificate unreadable");
            false
        }
    }
}

/// Another instance holds the lease: answer the TLS-ALPN-01 challenge it publishes, take
/// its certificate when it is there, and try for the lease again when it is gone.
async fn wait_for_holder(ctx: &Ctx, c: &Coord, name: &str, current: &mut Option<Current>) -> Result<(), String> {
    ctx.store.update_status(name, |s| s.state = "waiting");
    let result = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if ctx.cfg.challenge == Challenge::TlsAlpn01 {
            let cert = c.fetch_alpn(name).await?.map(|d| certs::challenge_cert(name, &d)).transpose()?;
            if cert.is_some() || ctx.store.alpn_cert(name).is_some() {
                ctx.store.set_alpn(name, cert);
            }
        }
        if adopt_shared(ctx, c, name, current).await && current.as_ref().is_some_and(|c| c.renew_at > now()) {
            break Ok(());
        }
        if !c.lease_held(name).await? {
            break Ok(());
        }
    };
    ctx.store.set_alpn(name, None);
    result
}

/// Installs `issued` for the next handshakes and schedules its renewal.
async fn serve(ctx: &Ctx, name: &str, issued: Issued, source: &'static str, current: &mut Option<Current>) {
    ctx.store.install(name, Arc::clone(&issued.key));
    let renew_at = renewal(ctx, &issued).await;
    ctx.store.update_status(name, |s| {
        s.state = "valid";
        s.not_after = Some(issued.not_after);
        s.renew_at = Some(renew_at);
        s.error = None;
        s.source = Some(source);
    });
    *current = Some(Current { issued, renew_at });
}

/// `renew_before` (a window as long as the certificate's life is cut to a third of it, so a
/// mistake cannot order in a loop), or earlier when the CA's ARI window says so.
async fn renewal(ctx: &Ctx, issued: &Issued) -> u64 {
    let lifetime = Duration::from_secs(issued.not_after.saturating_sub(issued.not_before));
    let mut ahead = ctx.cfg.renew_before.ahead(lifetime);
    if ahead >= lifetime {
        ahead = lifetime / 3;
    }
    let at = sluice_core::acme::renew_at(issued.not_before, issued.not_after, ahead, rand::random());
    match crate::ari::window(ctx, issued).await {
        Some((start, end)) => at.min(sluice_core::acme::in_window(start, end, rand::random())),
        None => at,
    }
}
