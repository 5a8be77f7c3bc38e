//! DNS service discovery against a programmable DNS server in the test: endpoints follow
//! the A records of a name (join, leave) under load with no failed request; a failing DNS
//! keeps the last good set; SRV records give targets, ports and weights.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record};

use crate::support::*;

/// Answers A and SRV questions from `zone` (name → records, TTL 1); SERVFAIL while `fail`.
struct Dns {
    addr: SocketAddr,
    zone: Arc<Mutex<HashMap<String, Vec<RData>>>>,
    fail: Arc<AtomicBool>,
}

fn dns_server() -> Dns {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let zone: Arc<Mutex<HashMap<String, Vec<RData>>>> = Arc::default();
    let fail = Arc::new(AtomicBool::new(false));
    let (z, f) = (zone.clone(), fail.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            let mut resp = Message::response(q.id, q.op_code);
            resp.metadata.message_type = MessageType::Response;
            resp.metadata.authoritative = true;
            resp.metadata.recursion_available = true;
            resp.metadata.recursion_desired = q.metadata.recursion_desired;
            resp.queries = q.queries.clone();
            if f.load(SeqCst) {
                resp.metadata.response_code = ResponseCode::ServFail;
            } else if let Some(query) = q.queries.first() {
                let name = query.name().to_ascii().to_ascii_lowercase();
                let records = z.lock().unwrap().get(&name).cloned().unwrap_or_default();
                for r in records.into_iter().filter(|r| r.record_type() == query.query_type()) {
                    resp.answers.push(Record::from_rdata(query.name().clone(), 1, r));
                }
                if resp.answers.is_empty() {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                }
            }
            let _ = sock.send_to(&resp.to_vec().unwrap(), from);
        }
    });
    Dns { addr, zone, fail }
}

fn set_a(d: &Dns, name: &str, ips: &[Ipv4Addr]) {
    d.zone.lock().unwrap().insert(name.into(), ips.iter().map(|ip| RData::A(A(*ip))).collect());
}

/// Backends on 127.0.0.2.. sharing one port (what one DNS name with several A records is).
fn backends(names: [&'static str; 3]) -> (u16, Vec<Backend>) {
    let first = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let port = first.local_addr().unwrap().port();
    let mut out = vec![Backend::start_on(names[0], Mode::default(), first)];
    for (i, n) in names.iter().enumerate().skip(1) {
        let l = std::net::TcpListener::bind(format!("127.0.0.{}:{port}", i + 2)).unwrap();
        out.push(Backend::start_on(n, Mode::default(), l));
    }
    (port, out)
}

#[tokio::test]
async fn endpoints_follow_the_name_under_load() {
    let dns = dns_server();
    let (port, b) = backends(["b2", "b3", "b4"]);
    set_a(&dns, "app.test.", &[Ipv4Addr::new(127, 0, 0, 2)]);
    let h = proxy(
        &format!("workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"app\"\n\
         [clusters.app]\nendpoints = [\"app.test:{port}\"]\ndiscovery = {{ resolvers = [\"{}\"], refresh = \"100ms\" }}\n", dns.addr),
        &[],
    );
    let addr = h.addr("web").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Load through every change: no request may fail.
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (f, s) = (failed.clone(), stop.clone());
    let load = tokio::spawn(async move {
        let mut n = 0;
        while !s.load(SeqCst) {
            if get(addr, "/", &[]).await.status != 200 {
                f.fetch_add(1, SeqCst);
            }
            n += 1;
        }
        n
    });
    let wait = || tokio::time::sleep(Duration::from_millis(500));
    wait().await;
    assert!(b[0].hits() > 0 && b[1].hits() == 0, "only b2 at first");
    set_a(&dns, "app.test.", &[Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)]);
    wait().await;
    assert!(b[1].hits() > 0, "b3 joined");
    set_a(&dns, "app.test.", &[Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4)]);
    wait().await;
    let b2_before = b[0].hits();
    wait().await;
    assert_eq!(b[0].hits(), b2_before, "b2 left");
    assert!(b[2].hits() > 0, "b4 joined");
    dns.fail.store(true, SeqCst);
    wait().await;
    let (b3, b4) = (b[1].hits(), b[2].hits());
    wait().await;
    assert!(b[1].hits() > b3 && b[2].hits() > b4, "a failing DNS keeps the last good set");
    stop.store(true, SeqCst);
    let total = load.await.unwrap();
    assert!(total > 50, "the load ran ({total} requests)");
    assert_eq!(failed.load(SeqCst), 0, "no request failed while endpoints changed");
    let st = get(h.admin_addr().unwrap(), "/status", &[]).await.json();
    assert!(st["discovery"]["app"]["failures"].as_u64().unwrap() > 0, "{}", st["discovery"]);
    assert_eq!(st["discovery"]["app"]["endpoints"].as_u64(), Some(2));
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_discovery_endpoints{cluster=\"app\"} 2"), "{m}");
    assert!(m.contains("sluice_discovery_resolutions_total{cluster=\"app\",result=\"failed\"}"), "{m}");
    stop_proxy(h);
}

#[tokio::test]
async fn srv_records_give_targets_ports_and_weights() {
    let dns = dns_server();
    let (port, b) = backends(["s2", "s3", "s4"]);
    let target = |n: &str| RData::SRV(SRV::new(0, 3, port, Name::from_ascii(n).unwrap()));
    let backup = RData::SRV(SRV::new(10, 1, port, Name::from_ascii("c.app.test.").unwrap()));
    dns.zone
        .lock()
        .unwrap()
        .insert("_http._tcp.app.test.".into(), vec![target("a.app.test."), target("b.app.test."), backup]);
    set_a(&dns, "a.app.test.", &[Ipv4Addr::new(127, 0, 0, 2)]);
    set_a(&dns, "b.app.test.", &[Ipv4Addr::new(127, 0, 0, 3)]);
    set_a(&dns, "c.app.test.", &[Ipv4Addr::new(127, 0, 0, 4)]);
    let h = proxy(
        &format!(
            "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"app\"\n\
         [clusters.app]\nendpoints = [{{ srv = \"_http._tcp.app.test\" }}]\ndiscovery = {{ resolvers = [\"{}\"] }}\n",
            dns.addr
        ),
        &[],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snap = h.snapshot();
    let eps: Vec<_> =
        snap.clusters["app"].balancer.endpoints().iter().map(|e| (e.addr, e.weight(), e.backup)).collect();
    let a = |i: u8| SocketAddr::from(([127, 0, 0, i], port));
    assert_eq!(eps, vec![(a(2), 3, false), (a(3), 3, false), (a(4), 1, true)], "priority 10 is the backup");
    let t = tally(h.addr("web").unwrap(), 20, &[]).await;
    assert_eq!(t.get("s4"), None, "the backup waits while the primaries are up");
    assert!(t.contains_key("s2") && t.contains_key("s3"), "{t:?}");
    let _ = b;
    stop_proxy(h);
}

fn stop_proxy(h: sluice_control::ServerHandle) {
    stop(h);
}
