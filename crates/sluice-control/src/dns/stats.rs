//! DNS counters, kept by name across reloads like the data plane's metrics: answers by
//! zone and response code, queries and fail-open answers per record, and the packets
//! refused or malformed before any zone was found. Plain atomics; `/metrics` encodes them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Answers counted per zone (REFUSED, FORMERR and NOTIMP have no zone: `DnsStats` counts
/// them); the indices below name them.
pub const RCODES: [&str; 3] = ["noerror", "nxdomain", "nodata"];
pub const NOERROR: usize = 0;
pub const NXDOMAIN: usize = 1;
pub const NODATA: usize = 2;

#[derive(Debug, Default)]
pub struct ZoneStats {
    /// Indexed like `RCODES`.
    pub answers: [AtomicU64; RCODES.len()],
}

#[derive(Debug, Default)]
pub struct RecordStats {
    pub queries: AtomicU64,
    /// Answers given with every target because none was healthy.
    pub fail_open: AtomicU64,
}

/// The key of a record's counters: zone, name (relative, `@` for the apex), type, policy.
pub type RecordKey = (String, String, String, String);

#[derive(Debug, Default)]
pub struct DnsStats {
    /// Queries for names outside every zone (REFUSED) and unparsable ones (FORMERR): no zone.
    pub refused: AtomicU64,
    pub formerr: AtomicU64,
    /// Queries that are not standard queries (NOTIMP).
    pub notimp: AtomicU64,
    zones: Mutex<BTreeMap<String, Arc<ZoneStats>>>,
    records: Mutex<BTreeMap<RecordKey, Arc<RecordStats>>>,
}

impl DnsStats {
    pub fn zone(&self, name: &str) -> Arc<ZoneStats> {
        let mut g = self.zones.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(g.entry(name.to_string()).or_default())
    }

    pub fn record(&self, key: RecordKey) -> Arc<RecordStats> {
        let mut g = self.records.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(g.entry(key).or_default())
    }

    pub fn zones(&self) -> Vec<(String, Arc<ZoneStats>)> {
        let g = self.zones.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
    }

    pub fn records(&self) -> Vec<(RecordKey, Arc<RecordStats>)> {
        let g = self.records.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
    }
}

impl ZoneStats {
    pub fn count(&self, rcode: usize) {
        self.answers[rcode].fetch_add(1, Relaxed);
    }
}
