//! The DNS server's counters as OpenMetrics: answers by zone and response code (zone `-`
//! for queries that matched no zone or could not be read), queries and fail-open answers
//! per record.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::encode::counter;
use crate::dns::stats::{DnsStats, RCODES};

#[derive(Debug)]
pub(super) struct DnsCollector(pub Arc<DnsStats>);

impl prometheus_client::collector::Collector for DnsCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let zones = self.0.zones();
        let records = self.0.records();
        let mut rows: Vec<_> = zones
            .iter()
            .flat_map(|(z, s)| {
                RCODES
                    .iter()
                    .zip(&s.answers)
                    .map(|(r, n)| (vec![("zone", z.clone()), ("rcode", r.to_string())], n.load(Relaxed)))
            })
            .collect();
        for (r, n) in [("refused", &self.0.refused), ("formerr", &self.0.formerr), ("notimp", &self.0.notimp)] {
            rows.push((vec![("zone", "-".to_string()), ("rcode", r.to_string())], n.load(Relaxed)));
        }
        counter(
            &mut e,
            "dns_responses",
            "DNS answers by zone and response code (nodata: NOERROR without records)",
            rows,
        )?;
        let rec = |(z, n, t, p): &(String, String, String, String)| {
            vec![("zone", z.clone()), ("record", n.clone()), ("type", t.clone()), ("policy", p.clone())]
        };
        counter(
            &mut e,
            "dns_record_queries",
            "DNS queries answered from each record",
            records.iter().map(|(k, s)| (rec(k), s.queries.load(Relaxed))),
        )?;
        counter(
            &mut e,
            "dns_fail_open",
            "Answers that listed every target of a record because none was healthy",
            records.iter().map(|(k, s)| (rec(k), s.fail_open.load(Relaxed))),
        )
    }
}
