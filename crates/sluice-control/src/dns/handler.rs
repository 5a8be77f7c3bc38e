//! The request handler hickory-server calls for every query (UDP and TCP): standard
//! queries only, one question, class IN; names outside every zone are REFUSED, unknown
//! names NXDOMAIN and missing types NODATA (both with the SOA for negative caching); GSLB
//! records answer from the shared endpoint state at the moment of the query. The client
//! is the EDNS Client Subnet when present (echoed with its scope), else the resolver.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use sluice_core::gslb::{self, Client, Policy};
use sluice_proxy::runtime::snapshot::Snapshot;

use super::facts;
use super::stats::{DnsStats, NODATA, NOERROR, NXDOMAIN};
use super::zones::{addr_rdata, Entry, EntryData, Found, Zone, Zones};

/// Our UDP payload limit (the DNS flag day 2020 value): larger answers are truncated (TC)
/// and the resolver retries over TCP.
const MAX_UDP_PAYLOAD: u16 = 1232;

pub struct Handler {
    pub zones: Arc<ArcSwap<Zones>>,
    pub shared: Arc<ArcSwap<Snapshot>>,
    pub stats: Arc<DnsStats>,
    /// This instance's addresses while it leaves (empty otherwise).
    pub leaving: Arc<ArcSwap<Vec<sluice_core::net::Cidr>>>,
    pub counter: AtomicU64,
}

/// One answer before encoding.
struct Reply {
    rcode: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
    /// The ECS scope to echo (when the query carried ECS).
    scope: u8,
}

impl Reply {
    fn bare(rcode: ResponseCode) -> Reply {
        Reply { rcode, authoritative: false, answers: Vec::new(), authority: Vec::new(), scope: 0 }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut handle: R) -> ResponseInfo {
        let subnet = client_subnet(request);
        let reply = self.decide(request, subnet);
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = reply.authoritative;
        meta.recursion_available = false;
        meta.response_code = reply.rcode;
        let edns = request.edns.as_ref().map(|theirs| {
            let mut e = Edns::new();
            e.set_max_payload(theirs.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            if let Some((ip, source)) = subnet {
                e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(ip, source, reply.scope)));
            }
            e
        });
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let msg = builder.build(meta, reply.answers.iter(), reply.authority.iter(), [], []);
        match handle.send_response(msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "dns: response not sent");
                ResponseInfo::from(Header { metadata: meta, counts: HeaderCounts::default() })
            }
        }
    }
}

/// The EDNS Client Subnet of the query, as (address, source prefix length); a source
/// length of 0 asks for an answer that does not depend on the client's subnet.
fn client_subnet(request: &Request) -> Option<(IpAddr, u8)> {
    match request.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(cs) => Some((cs.addr(), cs.source_prefix())),
        _ => None,
    }
}

impl Handler {
    /// A query's wire bytes through hickory's parser and `decide`, as from 192.0.2.1 over
    /// UDP; the response code it would get (None: hickory refused the bytes). For the fuzzer.
    pub(super) fn decide_wire(&self, wire: &[u8]) -> Option<u16> {
        let src = std::net::SocketAddr::from(([192, 0, 2, 1], 5353));
        let req = Request::from_bytes(wire.to_vec(), src, hickory_server::net::xfer::Protocol::Udp).ok()?;
        let reply = self.decide(&req, client_subnet(&req));
        Some(u16::from(reply.rcode))
    }

    fn decide(&self, request: &Request, subnet: Option<(IpAddr, u8)>) -> Reply {
        if request.metadata.op_code != OpCode::Query {
            self.stats.notimp.fetch_add(1, Relaxed);
            return Reply::bare(ResponseCode::NotImp);
        }
        let [q] = request.queries.queries() else {
            self.stats.formerr.fetch_add(1, Relaxed);
            return Reply::bare(ResponseCode::FormErr);
        };
        let qname = q.name().to_string();
        let qname = qname.strip_suffix('.').unwrap_or(&qname);
        let zones = self.zones.load();
        let (zone, entries, apex) = match (q.query_class(), zones.find(qname)) {
            (DNSClass::IN, Found::Name { zone, entries, apex }) => (zone, entries, apex),
            (DNSClass::IN, Found::NxDomain(zone)) => return negative(zone, ResponseCode::NXDomain, NXDOMAIN),
            _ => {
                self.stats.refused.fetch_add(1, Relaxed);
                return Reply::bare(ResponseCode::Refused);
            }
        };
        let client = match subnet {
            Some((ip, source)) if source > 0 => (ip, source),
            _ => (request.src().ip(), if request.src().is_ipv4() { 32 } else { 128 }),
        };
        let owner = q.original().name().clone();
        let mut reply = Reply {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: Vec::new(),
            authority: Vec::new(),
            scope: 0,
        };
        let qtype = q.query_type();
        if apex && matches!(qtype, RecordType::SOA | RecordType::ANY) {
            reply.answers.push(zone.soa.clone());
        }
        if apex && matches!(qtype, RecordType::NS | RecordType::ANY) {
            reply.answers.extend(zone.ns.iter().cloned());
        }
        for e in entries.iter().filter(|e| e.rtype == qtype || qtype == RecordType::ANY || e.rtype == RecordType::CNAME)
        {
            self.answer(e, &owner, client, subnet.is_some_and(|s| s.1 > 0), &zones, &mut reply);
        }
        if reply.answers.is_empty() {
            return negative(zone, ResponseCode::NoError, NODATA);
        }
        zone.stats.count(NOERROR);
        reply
    }

    /// Adds one record's answer; a GSLB record consults the endpoint state now.
    fn answer(&self, e: &Entry, owner: &Name, client: (IpAddr, u8), ecs: bool, zones: &Zones, reply: &mut Reply) {
        e.stats.queries.fetch_add(1, Relaxed);
        let (policy, targets) = match &e.data {
            EntryData::Static(rd) => {
                reply.answers.extend(rd.iter().map(|rd| Record::from_rdata(owner.clone(), e.ttl, rd.clone())));
                return;
            }
            EntryData::Gslb { policy, targets } => (policy, targets),
        };
        let views = facts::views(&self.shared.load(), targets, &self.leaving.load());
        let placed = zones.regions.place(client.0, client.1);
        let nearest = placed.region.and_then(|r| zones.nearest.get(usize::from(r))).map_or(&[][..], |v| v);
        let who = Client { region: placed.region, nearest };
        let n = self.counter.fetch_add(1, Relaxed);
        let a = gslb::answer(*policy, &views, who, sluice_core::hash::rehash(0x5EED, n));
        if a.fail_open {
            e.stats.fail_open.fetch_add(1, Relaxed);
        }
        if *policy == Policy::Geo && ecs {
            reply.scope = reply.scope.max(placed.scope);
        }
        let answer = a.picks.iter().map(|&i| Record::from_rdata(owner.clone(), e.ttl, addr_rdata(targets[i].addr)));
        reply.answers.extend(answer);
    }
}

/// NXDOMAIN or NODATA: authoritative, with the zone's SOA for negative caching.
fn negative(zone: &Zone, rcode: ResponseCode, stat: usize) -> Reply {
    zone.stats.count(stat);
    let mut soa = zone.soa.clone();
    soa.ttl = zone.negative_ttl;
    Reply { rcode, authoritative: true, answers: Vec::new(), authority: vec![soa], scope: 0 }
}
