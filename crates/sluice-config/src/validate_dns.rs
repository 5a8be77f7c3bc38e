//! `[dns]` → `DnsConfig`: the bind address, regions (CIDRs, nearest-region lists), zone
//! names and SOA fields, and every record: its type, TTL, policy and targets (the cluster
//! exists, the address matches the type, the region is declared). Every error carries its
//! span.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::checker::V;
use crate::dns_file::*;
use crate::dns_model::*;
use crate::file::S;

const NAME_HINT: &str = "names are dot-separated labels of letters, digits, `-` or `_`, each at most 63 bytes";

pub fn dns(v: &mut V, d: &FileDns, clusters: &[String]) -> Option<DnsConfig> {
    let bind = v.addr(&d.bind, "dns.bind");
    let mut regions = Vec::new();
    let mut in_order: Vec<_> = d.regions.iter().collect();
    in_order.sort_by_key(|(k, _)| k.span().start);
    for (name, nets) in in_order {
        let path = format!("dns.regions.{}", name.get_ref());
        let cidrs = nets.iter().filter_map(|n| cidr(v, n, &path)).collect();
        regions.push((name.get_ref().clone(), cidrs));
    }
    let region_names: Vec<String> = regions.iter().map(|(n, _)| n.clone()).collect();
    let mut nearest = Vec::new();
    for (name, list) in &d.nearest {
        let path = format!("dns.nearest.{}", name.get_ref());
        known_region(v, name, &path, &region_names);
        list.iter().for_each(|r| known_region(v, r, &path, &region_names));
        nearest.push((name.get_ref().clone(), list.iter().map(|r| r.get_ref().clone()).collect()));
    }
    let ctx = Ctx { clusters, regions: &region_names };
    let mut zones = Vec::new();
    for (name, z) in &d.zones {
        if let Some(zone) = zone(v, name, z, &ctx) {
            zones.push(zone);
        }
    }
    Some(DnsConfig { bind: bind?, regions, nearest, zones })
}

struct Ctx<'a> {
    clusters: &'a [String],
    regions: &'a [String],
}

fn cidr(v: &mut V, n: &S<String>, path: &str) -> Option<sluice_core::net::Cidr> {
    match n.get_ref().parse() {
        Ok(c) => Some(c),
        Err(e) => {
            v.err(n.span(), path, format!("{e}"), Some("CIDR like \"203.0.113.0/24\" or \"2001:db8::/32\""));
            None
        }
    }
}

fn known_region(v: &mut V, r: &S<String>, path: &str, regions: &[String]) {
    if !regions.contains(r.get_ref()) {
        let hint = format!("declared regions: {}", regions.join(", "));
        v.err(r.span(), path, format!("unknown region `{}`", r.get_ref()), Some(&hint));
    }
}

/// A domain name, lowercased and without its trailing dot.
pub fn dns_name(s: &str) -> Result<String, String> {
    let n = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if n.is_empty() || n.len() > 253 || !n.split('.').all(label_ok) {
        return Err(format!("`{s}` is not a valid domain name"));
    }
    Ok(n)
}

fn name(v: &mut V, s: &S<String>, path: &str) -> Option<String> {
    dns_name(s.get_ref()).map_err(|e| v.err(s.span(), path, e, Some(NAME_HINT))).ok()
}

/// A TTL-like duration in whole seconds (1 s .. 7 days).
fn secs(v: &mut V, d: &Option<S<String>>, path: &str, default: u32) -> u32 {
    let got = v.timeout(d, path, Duration::from_secs(u64::from(default)));
    if got.as_secs() == 0 {
        if let Some(d) = d {
            v.err(d.span(), path, "DNS times are whole seconds", Some("at least \"1s\""));
        }
        return default;
    }
    got.as_secs() as u32
}

fn zone(v: &mut V, zname: &S<String>, z: &FileZone, ctx: &Ctx) -> Option<ZoneConfig> {
    let path = format!("dns.zones.\"{}\"", zname.get_ref());
    let zn = name(v, zname, &path)?;
    if z.ns.is_empty() {
        v.err(
            zname.span(),
            &format!("{path}.ns"),
            "a zone needs at least one name server",
            Some("ns = [\"ns1.example.test\"]"),
        );
    }
    let ns = z.ns.iter().filter_map(|n| name(v, n, &format!("{path}.ns"))).collect();
    let hostmaster = match &z.hostmaster {
        Some(h) => name(v, h, &format!("{path}.hostmaster"))?,
        None => format!("hostmaster.{zn}"),
    };
    let serial =
        z.serial.as_ref().map(|_| v.int(&z.serial, &format!("{path}.serial"), 1, i64::from(u32::MAX), 1) as u32);
    let mut records = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, r) in z.records.iter().enumerate() {
        let rpath = format!("{path}.records[{i}]");
        if let Some(rec) = record(v, r, &rpath, ctx) {
            unique(v, r, &rpath, &rec, &mut seen);
            records.push(rec);
        }
    }
    Some(ZoneConfig {
        name: zn,
        ns,
        hostmaster,
        serial,
        refresh: secs(v, &z.refresh, &format!("{path}.refresh"), 3600),
        retry: secs(v, &z.retry, &format!("{path}.retry"), 600),
        expire: secs(v, &z.expire, &format!("{path}.expire"), 604_800),
        negative_ttl: secs(v, &z.negative_ttl, &format!("{path}.negative_ttl"), 60),
        ttl: secs(v, &z.ttl, &format!("{path}.ttl"), 300),
        records,
    })
}

/// One record per (name, type); a CNAME stands alone at its name.
fn unique(v: &mut V, r: &FileRecord, path: &str, rec: &RecordConfig, seen: &mut BTreeSet<(String, bool, String)>) {
    let cname = rec.kind == RecordKind::Cname;
    let clash = seen.iter().any(|(n, c, k)| n == &rec.name && (*k == format!("{:?}", rec.kind) || cname || *c));
    if clash {
        let msg = format!("`{}` already has a record of this type, or a CNAME beside others", r.name.get_ref());
        v.err(r.name.span(), &format!("{path}.name"), msg, Some("list every target of a name in one record"));
    }
    seen.insert((rec.name.clone(), cname, format!("{:?}", rec.kind)));
}

fn record(v: &mut V, r: &FileRecord, path: &str, ctx: &Ctx) -> Option<RecordConfig> {
    let rel = if r.name.get_ref() == "@" { String::new() } else { name(v, &r.name, &format!("{path}.name"))? };
    let kind = match r.kind.get_ref().to_ascii_uppercase().as_str() {
        "A" => RecordKind::A,
        "AAAA" => RecordKind::Aaaa,
        "CNAME" => RecordKind::Cname,
        "TXT" => RecordKind::Txt,
        other => {
            v.err(
                r.kind.span(),
                &format!("{path}.type"),
                format!("unknown record type `{other}`"),
                Some("A, AAAA, CNAME or TXT"),
            );
            return None;
        }
    };
    let ttl = secs(v, &r.ttl, &format!("{path}.ttl"), 30);
    let data = match kind {
        RecordKind::A | RecordKind::Aaaa => addresses(v, r, path, kind, ctx)?,
        RecordKind::Cname | RecordKind::Txt => static_data(v, r, path, kind)?,
    };
    Some(RecordConfig { name: rel, kind, ttl, data })
}

#[path = "validate_dns_records.rs"]
mod records;
use records::{addresses, static_data};
