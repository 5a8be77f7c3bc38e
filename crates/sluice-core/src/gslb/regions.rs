//! The client-subnet → region table of `[dns.regions]`: longest-prefix match over the
//! configured CIDR blocks, and the EDNS Client Subnet scope an answer may be cached for
//! (RFC 7871 §7.2.1). Pure.

use std::net::IpAddr;

use crate::net::Cidr;

/// Regions by index (the order of the config) and their networks, most specific first.
#[derive(Debug, Clone, Default)]
pub struct RegionTable {
    names: Vec<String>,
    nets: Vec<(Cidr, u16)>,
}

/// Where a client address falls: its region, and the prefix length an answer chosen for
/// that region is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub region: Option<u16>,
    pub scope: u8,
}

impl RegionTable {
    /// Builds the table from (region name, networks) in config order.
    pub fn new(regions: Vec<(String, Vec<Cidr>)>) -> Self {
        let mut names = Vec::new();
        let mut nets = Vec::new();
        for (i, (name, cidrs)) in regions.into_iter().enumerate() {
            names.push(name);
            nets.extend(cidrs.into_iter().map(|c| (c, i as u16)));
        }
        nets.sort_by_key(|(c, _)| std::cmp::Reverse(c.prefix()));
        RegionTable { names, nets }
    }

    /// The index of a region name.
    pub fn index(&self, name: &str) -> Option<u16> {
        self.names.iter().position(|n| n == name).map(|i| i as u16)
    }

    pub fn name(&self, i: u16) -> &str {
        self.names.get(usize::from(i)).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The region of `ip`, seen through a client subnet of `source` bits (32 or 128 for a
    /// plain address). The scope is the matched network's length when no more specific
    /// network of the table lies inside it (else the source length, which is always
    /// safe); an unmatched address gets the source length too.
    pub fn place(&self, ip: IpAddr, source: u8) -> Placed {
        let Some(&(net, region)) = self.nets.iter().find(|(c, _)| c.prefix() <= source && c.contains(ip)) else {
            return Placed { region: None, scope: source };
        };
        let nested = self.nets.iter().any(|(c, r)| *r != region && c.prefix() > net.prefix() && overlaps(&net, c));
        let scope = if nested { source } else { net.prefix() };
        Placed { region: Some(region), scope }
    }
}

/// True when `inner` (longer prefix) lies inside `outer`.
fn overlaps(outer: &Cidr, inner: &Cidr) -> bool {
    outer.is_v4() == inner.is_v4() && outer.contains(inner.network())
}
