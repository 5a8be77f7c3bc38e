//! The zones the DNS server answers for, built once per config from `[dns]`: the SOA and
//! NS records of each apex, every name's records (static data or GSLB targets), the empty
//! non-terminals between them (NODATA, not NXDOMAIN), the region table and each region's
//! nearest-region order. `find` maps a query name to its zone and records.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sluice_config::{DnsConfig, RecordConfig, RecordData, RecordKind, ZoneConfig};
use sluice_core::gslb::regions::RegionTable;
use sluice_core::gslb::Policy;

use super::stats::{DnsStats, RecordStats, ZoneStats};

pub struct Zones {
    pub regions: RegionTable,
    /// By region index: the other regions, nearest first.
    pub nearest: Vec<Vec<u16>>,
    /// Longest origin first, so a delegated-looking child zone wins over its parent.
    pub zones: Vec<Zone>,
}

pub struct Zone {
    /// `example.test` (lowercase, no trailing dot).
    pub origin: String,
    pub soa: Record,
    pub ns: Vec<Record>,
    /// TTL of a negative answer's SOA (RFC 2308: the smaller of its TTL and minimum).
    pub negative_ttl: u32,
    names: HashMap<String, Vec<Entry>>,
    /// Names with records below them but none of their own.
    between: HashSet<String>,
    pub stats: Arc<ZoneStats>,
}

pub struct Entry {
    pub rtype: RecordType,
    pub ttl: u32,
    pub data: EntryData,
    pub stats: Arc<RecordStats>,
    /// The record's config, for `/status`.
    pub config: RecordConfig,
}

pub enum EntryData {
    Static(Vec<RData>),
    Gslb { policy: Policy, targets: Vec<Target> },
}

pub struct Target {
    pub addr: IpAddr,
    pub cluster: String,
    pub region: Option<u16>,
    pub weight: u32,
    pub priority: u32,
    pub min_healthy: u32,
}

/// Where a query name falls.
pub enum Found<'a> {
    /// In no zone of ours.
    Refused,
    NxDomain(&'a Zone),
    /// The name exists; its records (none for an empty non-terminal), and whether it is
    /// the apex.
    Name {
        zone: &'a Zone,
        entries: &'a [Entry],
        apex: bool,
    },
}

impl Zones {
    pub fn build(cfg: &DnsConfig, stats: &DnsStats) -> Result<Zones, String> {
        let regions = RegionTable::new(cfg.regions.clone());
        let mut nearest = vec![Vec::new(); regions.len()];
        for (r, list) in &cfg.nearest {
            if let Some(i) = regions.index(r) {
                nearest[usize::from(i)] = list.iter().filter_map(|n| regions.index(n)).collect();
            }
        }
        for (i, n) in nearest.iter_mut().enumerate() {
            if n.is_empty() {
                *n = (0..regions.len() as u16).filter(|&j| usize::from(j) != i).collect();
            }
        }
        let mut zones = cfg.zones.iter().map(|z| zone(z, &regions, stats)).collect::<Result<Vec<_>, _>>()?;
        zones.sort_by_key(|z| std::cmp::Reverse(z.origin.len()));
        Ok(Zones { regions, nearest, zones })
    }

    /// `qname`: lowercase, without the trailing dot.
    pub fn find(&self, qname: &str) -> Found<'_> {
        let Some((zone, rel)) = self.zones.iter().find_map(|z| relative(qname, &z.origin).map(|r| (z, r))) else {
            return Found::Refused;
        };
        match zone.names.get(rel) {
            Some(entries) => Found::Name { zone, entries, apex: rel.is_empty() },
            None if rel.is_empty() || zone.between.contains(rel) => {
                Found::Name { zone, entries: &[], apex: rel.is_empty() }
            }
            None => Found::NxDomain(zone),
        }
    }
}

impl Zone {
    /// Every record of the zone, in name order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        let mut names: Vec<&String> = self.names.keys().collect();
        names.sort();
        names.into_iter().flat_map(|n| &self.names[n])
    }
}

/// The part of `qname` before `origin` ("" for the apex), if `qname` is in it.
fn relative<'a>(qname: &'a str, origin: &str) -> Option<&'a str> {
    if qname == origin {
        return Some("");
    }
    qname.strip_suffix(origin)?.strip_suffix('.')
}

fn name(s: &str) -> Result<Name, String> {
    Name::from_ascii(format!("{s}.")).map_err(|e| format!("`{s}`: {e}"))
}

fn zone(z: &ZoneConfig, regions: &RegionTable, stats: &DnsStats) -> Result<Zone, String> {
    let origin = name(&z.name)?;
    let serial = z.serial.unwrap_or_else(now_serial);
    let soa = SOA::new(
        name(&z.ns[0])?,
        name(&z.hostmaster)?,
        serial,
        secs(z.refresh),
        secs(z.retry),
        secs(z.expire),
        z.negative_ttl,
    );
    let soa = Record::from_rdata(origin.clone(), z.ttl, RData::SOA(soa));
    let ns =
        z.ns.iter()
            .map(|n| Ok(Record::from_rdata(origin.clone(), z.ttl, RData::NS(NS(name(n)?)))))
            .collect::<Result<_, String>>()?;
    let mut names: HashMap<String, Vec<Entry>> = HashMap::new();
    for r in &z.records {
        names.entry(r.name.clone()).or_default().push(entry(&z.name, r, regions, stats)?);
    }
    let mut between = HashSet::new();
    for n in names.keys() {
        let mut rest = n.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            between.insert(parent.to_string());
            rest = parent;
        }
    }
    let negative_ttl = z.ttl.min(z.negative_ttl);
    Ok(Zone { origin: z.name.clone(), soa, ns, negative_ttl, names, between, stats: stats.zone(&z.name) })
}

fn secs(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Seconds since the epoch: a serial that rises with every reload.
fn now_serial() -> u32 {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
    u32::try_from(s).unwrap_or(u32::MAX)
}

fn entry(zone: &str, r: &RecordConfig, regions: &RegionTable, stats: &DnsStats) -> Result<Entry, String> {
    let (rtype, kind) = match r.kind {
        RecordKind::A => (RecordType::A, "A"),
        RecordKind::Aaaa => (RecordType::AAAA, "AAAA"),
        RecordKind::Cname => (RecordType::CNAME, "CNAME"),
        RecordKind::Txt => (RecordType::TXT, "TXT"),
    };
    let data = match &r.data {
        RecordData::Gslb { policy, targets } => EntryData::Gslb {
            policy: *policy,
            targets: targets
                .iter()
                .map(|t| Target {
                    addr: t.addr,
                    cluster: t.cluster.clone(),
                    region: t.region.as_deref().and_then(|n| regions.index(n)),
                    weight: t.weight,
                    priority: t.priority,
                    min_healthy: t.min_healthy,
                })
                .collect(),
        },
        RecordData::Addrs(a) => EntryData::Static(a.iter().map(|&ip| addr_rdata(ip)).collect()),
        RecordData::Cname(n) => EntryData::Static(vec![RData::CNAME(CNAME(name(n)?))]),
        RecordData::Txt(t) => EntryData::Static(vec![RData::TXT(TXT::new(t.iter().flat_map(|s| chunks(s)).collect()))]),
    };
    let policy = match &data {
        EntryData::Gslb { policy, .. } => policy.as_str(),
        EntryData::Static(_) => "static",
    };
    let shown = if r.name.is_empty() { "@".to_string() } else { r.name.clone() };
    let stats = stats.record((zone.to_string(), shown, kind.to_string(), policy.to_string()));
    Ok(Entry { rtype, ttl: r.ttl, data, stats, config: r.clone() })
}

pub fn addr_rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    }
}

/// A TXT string longer than 255 bytes goes out as several character-strings.
fn chunks(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if cur.len() + c.len_utf8() > 255 {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    out.push(cur);
    out
}
