//! The certificate views of `/status` (`certificates`) and `/metrics`: every name a listener
//! serves, static or managed by `[acme]`, with its expiry; managed names add their state
//! (valid, ordering, waiting, renewing, failed), next renewal, orders placed and the last error
//! (the CA's problem document when it sent one).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sluice_proxy::Snapshot;

/// One served name.
pub struct CertRow {
    pub name: String,
    pub listener: String,
    pub source: &'static str,
    pub not_after: Option<u64>,
    pub orders: u64,
}

/// Every name of every TLS listener, static certificates first, managed names after.
pub fn rows(snap: &Snapshot) -> Vec<CertRow> {
    let managed = snap.acme.as_ref().map(|s| s.statuses()).unwrap_or_default();
    let mut out = Vec::new();
    for l in &snap.config.listeners {
        let Some(t) = &l.tls else { continue };
        for c in &t.certs {
            for n in &c.names {
                out.push(CertRow {
                    name: n.clone(),
                    listener: l.name.clone(),
                    source: "static",
                    not_after: Some(c.not_after),
                    orders: 0,
                });
            }
        }
        for n in &t.acme {
            let st = managed.get(n);
            let not_after = st.and_then(|s| s.not_after);
            let orders = st.map_or(0, |s| s.orders);
            out.push(CertRow { name: n.clone(), listener: l.name.clone(), source: "acme", not_after, orders });
        }
    }
    out
}

/// `/status` `certificates`: `{ "acme": { NAME: {...} }, "static": [ {...} ] }`.
pub fn view(snap: &Snapshot) -> Value {
    let managed = snap.acme.as_ref().map(|s| s.statuses()).unwrap_or_default();
    let acme: BTreeMap<&String, Value> = managed
        .iter()
        .map(|(n, s)| {
            let v = json!({
                "state": s.state, "not_after": s.not_after, "renew_at": s.renew_at,
                "error": s.error, "orders": s.orders, "source": s.source,
            });
            (n, v)
        })
        .collect();
    let statics: Vec<Value> = rows(snap)
        .into_iter()
        .filter(|r| r.source == "static")
        .map(|r| json!({ "name": r.name, "listener": r.listener, "not_after": r.not_after }))
        .collect();
    json!({ "acme": acme, "static": statics })
}
