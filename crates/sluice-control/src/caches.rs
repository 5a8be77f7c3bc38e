//! The cache stores as the control plane shows and manages them: `POST /caches/NAME/purge`
//! (exact path or prefix, optionally one host), and each store's view for `/status`.

use std::sync::atomic::Ordering::Relaxed;

use http::StatusCode;
use serde_json::{json, Value};
use sluice_proxy::Snapshot;

/// Purges from the store `name` what the JSON `body` names: `{"path": "/exact"}` or
/// `{"prefix": "/static/"}`, with an optional `"host"`. Returns the status and a JSON answer.
pub fn purge(snap: &Snapshot, name: &str, body: &[u8]) -> (StatusCode, Value) {
    let Some(store) = snap.caches.get(name) else {
        return (StatusCode::NOT_FOUND, json!({ "error": format!("no cache named `{name}`") }));
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({ "error": "the body must be JSON: {\"path\": \"/x\"} or {\"prefix\": \"/x/\"}" }),
        );
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let (path, prefix, host) = (s("path"), s("prefix"), s("host"));
    if path.is_none() == prefix.is_none() {
        return (StatusCode::BAD_REQUEST, json!({ "error": "give exactly one of \"path\" or \"prefix\"" }));
    }
    let n = store.purge(host, path, prefix);
    (StatusCode::OK, json!({ "cache": name, "purged": n }))
}

/// Every store: size, use and counters.
pub fn view(snap: &Snapshot) -> Value {
    let mut out = serde_json::Map::new();
    for (name, c) in &snap.caches {
        let (bytes, entries) = c.usage();
        let st = &c.stats;
        let (hits, misses) = (st.hits.load(Relaxed), st.misses.load(Relaxed));
        out.insert(
            name.clone(),
            json!({
                "max_size": c.config.max_size, "max_object_size": c.config.max_object_size,
                "bytes": bytes, "entries": entries,
                "hits": hits, "misses": misses, "stale_served": st.stale_served.load(Relaxed),
                "revalidated": st.revalidated.load(Relaxed), "stored": st.stored.load(Relaxed),
                "evictions": st.evictions.load(Relaxed), "coalesced": st.coalesced.load(Relaxed),
                "purged": st.purged.load(Relaxed),
                "hit_ratio": if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            }),
        );
    }
    Value::Object(out)
}
