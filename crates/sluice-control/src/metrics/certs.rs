//! `sluice_tls_certificate_expiry_seconds{name, listener, source}`: the notAfter of the
//! certificate each name is served with (Unix seconds; alert on `… - time() < 14 * 86400`),
//! static or obtained by ACME (absent until one is), and `sluice_acme_orders_total{name}`.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use sluice_proxy::Snapshot;

use super::encode::{counter, gauge};

#[derive(Debug)]
pub struct CertCollector(pub Arc<Snapshot>);

impl prometheus_client::collector::Collector for CertCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode(&mut e, &self.0)
    }
}

fn encode(e: &mut DescriptorEncoder, snap: &Snapshot) -> Result<(), std::fmt::Error> {
    let rows = crate::acme::rows(snap);
    let expiry = rows.iter().filter_map(|r| {
        let labels = vec![("name", r.name.clone()), ("listener", r.listener.clone()), ("source", r.source.to_string())];
        Some((labels, r.not_after? as f64))
    });
    gauge(e, "tls_certificate_expiry_seconds", "notAfter of the certificate served for a name (Unix seconds)", expiry)?;
    let orders = rows.iter().filter(|r| r.source == "acme").map(|r| (vec![("name", r.name.clone())], r.orders));
    counter(e, "acme_orders", "ACME orders this instance placed, by name", orders)
}
