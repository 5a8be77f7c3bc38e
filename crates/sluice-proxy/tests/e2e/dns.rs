//! The authoritative DNS server (GSLB): answers follow health checks within the interval,
//! every policy's shape on the wire, EDNS Client Subnet, negative answers with the SOA,
//! REFUSED outside the zones, truncation and TCP, malformed packets, and reload.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use crate::support::*;

const ZONE: &str = r#"
workers = 1
[admin]
bind = "127.0.0.1:0"
[clusters.seoul]
endpoints = ["{a}"]
health = { kind = "http", path = "/healthz", interval = "100ms", timeout = "80ms", rise = 1, fall = 1 }
[clusters.frankfurt]
endpoints = ["{b}"]
health = { kind = "http", path = "/healthz", interval = "100ms", timeout = "80ms", rise = 1, fall = 1 }
[clusters.both]
endpoints = ["{a}", "{b}"]
health = { kind = "http", path = "/healthz", interval = "100ms", timeout = "80ms", rise = 1, fall = 1 }

[dns]
bind = "127.0.0.1:0"
[dns.regions]
apac = ["203.0.113.0/24", "127.0.0.0/8"]
eu = ["198.51.100.0/24"]

[dns.zones."example.test"]
ns = ["ns1.example.test", "ns2.example.test"]

[[dns.zones."example.test".records]]
name = "api"
type = "A"
ttl = "10s"
policy = "failover"
targets = [{ addr = "192.0.2.10", cluster = "seoul" }, { addr = "192.0.2.30", cluster = "frankfurt" }]

[[dns.zones."example.test".records]]
name = "pair"
type = "A"
policy = "failover"
targets = [{ addr = "192.0.2.50", cluster = "both", min_healthy = 2 }, { addr = "192.0.2.60", cluster = "frankfurt" }]

[[dns.zones."example.test".records]]
name = "www"
type = "A"
ttl = "20s"
policy = "geo"
targets = [{ addr = "192.0.2.10", cluster = "seoul", region = "apac" }, { addr = "192.0.2.30", cluster = "frankfurt", region = "eu" }]

[[dns.zones."example.test".records]]
name = "big"
type = "TXT"
values = ["BIG"]
"#;

fn zone_text() -> String {
    let big = (0..12).map(|i| format!("\"{}{i}\"", "x".repeat(60))).collect::<Vec<_>>().join(", ");
    ZONE.replace("[\"BIG\"]", &format!("[{big}]"))
}

fn query(name: &str, t: RecordType, ecs: Option<(&str, u8)>) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if let Some((ip, source)) = ecs {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(ip.parse().unwrap(), source, 0)));
        m.set_edns(e);
    }
    m
}

fn udp_bytes(dns: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(bytes, dns).unwrap();
    let mut buf = vec![0; 65_535];
    let n = s.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn ask(dns: SocketAddr, m: &Message) -> Message {
    Message::from_vec(&udp_bytes(dns, &m.to_vec().unwrap()).expect("an answer")).unwrap()
}

fn ask_tcp(dns: SocketAddr, m: &Message) -> Message {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(dns).unwrap();
    let b = m.to_vec().unwrap();
    s.write_all(&(b.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&b).unwrap();
    let mut len = [0; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

fn addrs(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

fn start() -> (Vec<Backend>, sluice_control::ServerHandle, SocketAddr) {
    let bs = vec![Backend::start("a"), Backend::start("b")];
    let h = proxy(&zone_text(), &[("a", bs[0].addr), ("b", bs[1].addr)]);
    let dns = h.control().dns_addr().expect("dns server");
    (bs, h, dns)
}

#[tokio::test]
async fn answers_follow_health_within_the_check_interval_and_fail_open_when_all_are_down() {
    let (bs, h, dns) = start();
    let api = query("api.example.test.", RecordType::A, None);
    let pair = query("pair.example.test.", RecordType::A, None);
    assert_eq!(addrs(&ask(dns, &api)), ["192.0.2.10"]);
    assert_eq!(addrs(&ask(dns, &pair)), ["192.0.2.50"]);
    bs[0].set_healthy(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(addrs(&ask(dns, &pair)), ["192.0.2.60"], "one of two endpoints is below min_healthy = 2");
    let r = ask(dns, &api);
    assert_eq!((addrs(&r), r.metadata.authoritative), (vec!["192.0.2.30".to_string()], true));
    assert_eq!(r.answers[0].ttl, 10);
    bs[1].set_healthy(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(addrs(&ask(dns, &api)), ["192.0.2.10", "192.0.2.30"], "fail open: every target");
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    let line = "sluice_dns_fail_open_total{zone=\"example.test\",record=\"api\",type=\"A\",policy=\"failover\"} 1";
    assert!(m.contains(line), "{m}");
    bs[0].set_healthy(true);
    bs[1].set_healthy(true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(addrs(&ask(dns, &api)), ["192.0.2.10"]);
    let s = h.control().dns_status().unwrap();
    let api = s["records"].as_array().unwrap().iter().find(|r| r["name"] == "api.example.test").unwrap().clone();
    assert_eq!(api["answer"], serde_json::json!(["192.0.2.10"]));
    stop(h);
}

#[tokio::test]
async fn geo_answers_by_client_subnet_and_echoes_its_scope() {
    let (_bs, h, dns) = start();
    let eu = ask(dns, &query("www.example.test.", RecordType::A, Some(("198.51.100.0", 24))));
    assert_eq!(addrs(&eu), ["192.0.2.30"]);
    let Some(EdnsOption::Subnet(cs)) = eu.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) else {
        panic!("ECS not echoed: {eu:?}")
    };
    assert_eq!((cs.source_prefix(), cs.scope_prefix()), (24, 24));
    let apac = ask(dns, &query("www.example.test.", RecordType::A, Some(("203.0.113.0", 24))));
    assert_eq!(addrs(&apac), ["192.0.2.10"]);
    // No ECS: the resolver's own address (127.0.0.1, in apac).
    assert_eq!(addrs(&ask(dns, &query("www.example.test.", RecordType::A, None))), ["192.0.2.10"]);
    stop(h);
}

#[tokio::test]
async fn negative_answers_carry_the_soa_and_foreign_names_are_refused() {
    let (_bs, h, dns) = start();
    let nx = ask(dns, &query("nope.example.test.", RecordType::A, None));
    assert_eq!((nx.metadata.response_code, nx.metadata.authoritative), (ResponseCode::NXDomain, true));
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    let nodata = ask(dns, &query("WwW.ExAmPlE.TeSt.", RecordType::AAAA, None));
    assert_eq!((nodata.metadata.response_code, nodata.answers.len()), (ResponseCode::NoError, 0));
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    let out = ask(dns, &query("example.org.", RecordType::A, None));
    assert_eq!((out.metadata.response_code, out.metadata.authoritative), (ResponseCode::Refused, false));
    let soa = ask(dns, &query("example.test.", RecordType::SOA, None));
    assert_eq!(soa.answers[0].record_type(), RecordType::SOA);
    let ns = ask(dns, &query("example.test.", RecordType::NS, None));
    assert_eq!(addrs(&ns), ["ns1.example.test.", "ns2.example.test."]);
    let upper = ask(dns, &query("API.EXAMPLE.TEST.", RecordType::A, None));
    assert_eq!(upper.answers[0].name.to_string(), "API.EXAMPLE.TEST.", "the question's case is kept");
    stop(h);
}

#[tokio::test]
async fn large_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let (_bs, h, dns) = start();
    let q = query("big.example.test.", RecordType::TXT, None);
    let udp = ask(dns, &q);
    assert!(udp.metadata.truncation, "no EDNS: 512 bytes, TC set");
    let tcp = ask_tcp(dns, &q);
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 1);
    assert!(tcp.answers[0].data.to_string().len() > 700);
    stop(h);
}

#[tokio::test]
async fn malformed_packets_do_not_stop_the_server() {
    let (_bs, h, dns) = start();
    assert!(udp_bytes(dns, b"\x01\x02\x03").is_none(), "shorter than a header: dropped");
    // A valid header that promises a question the packet does not hold.
    let formerr = udp_bytes(dns, &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e']).expect("FORMERR");
    assert_eq!(formerr[3] & 0x0f, 1, "rcode FORMERR");
    let junk: Vec<u8> = (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = udp_bytes(dns, &junk);
    assert_eq!(addrs(&ask(dns, &query("api.example.test.", RecordType::A, None))), ["192.0.2.10"]);
    stop(h);
}

#[tokio::test]
async fn a_reload_swaps_the_records() {
    let (bs, h, dns) = start();
    let text = zone_text().replace(
        "addr = \"192.0.2.10\", cluster = \"seoul\" }, { addr",
        "addr = \"192.0.2.11\", cluster = \"seoul\" }, { addr",
    );
    let text = text.replace("{a}", &bs[0].addr.to_string()).replace("{b}", &bs[1].addr.to_string());
    let cfg = sluice_config::parse(&text, "t.toml").unwrap();
    let summary = h.control().apply(cfg).unwrap();
    assert!(summary.contains("dns: updated"), "{summary}");
    assert_eq!(addrs(&ask(dns, &query("api.example.test.", RecordType::A, None))), ["192.0.2.11"]);
    assert_eq!(h.control().dns_addr(), Some(dns), "same bind: same sockets");
    stop(h);
}

#[tokio::test]
async fn a_leaving_instance_takes_its_own_address_out_of_the_answers() {
    let bs = [Backend::start("a"), Backend::start("b")];
    let text = zone_text().replace(
        "{ addr = \"192.0.2.10\", cluster = \"seoul\" }, { addr = \"192.0.2.30\"",
        "{ addr = \"127.0.0.1\", cluster = \"seoul\" }, { addr = \"192.0.2.30\"",
    ) + "[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"seoul\"\n";
    let h = proxy(&text, &[("a", bs[0].addr), ("b", bs[1].addr)]);
    let dns = h.control().dns_addr().unwrap();
    let api = query("api.example.test.", RecordType::A, None);
    assert_eq!(addrs(&ask(dns, &api)), ["127.0.0.1"], "this instance (its listener's address) answers first");
    let delay = h.control().begin_exit();
    assert_eq!(delay, Duration::ZERO, "no [anycast]: nothing to wait for");
    assert_eq!(addrs(&ask(dns, &api)), ["192.0.2.30"], "leaving: the other site");
    let s = h.control().dns_status().unwrap();
    let api = s["records"].as_array().unwrap().iter().find(|r| r["name"] == "api.example.test").unwrap().clone();
    assert_eq!(api["answer"], serde_json::json!(["192.0.2.30"]), "/status shows what a query gets");
    stop(h);
}
