//! Two sluice instances behind one anycast VIP (seed §16.10.3): a flow that BGP moves from
//! one edge to the other must land on the same endpoint. Maglev with the same endpoints gives
//! every instance the same pick for a key — shown here at L7 (a header key) and at L4 (the
//! client address; clients on 127.0.0.2..=127.0.0.41).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn two_instances_pick_the_same_endpoint_for_a_key_at_l7() {
    let bs = [Backend::start("a"), Backend::start("b"), Backend::start("c"), Backend::start("d")];
    let subs: Vec<(&str, SocketAddr)> = ["a", "b", "c", "d"].into_iter().zip(bs.iter().map(|b| b.addr)).collect();
    let cfg = "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n\
               [clusters.c]\nbalance = \"maglev\"\nhash_key = \"header:x-user\"\nendpoints = [\"{a}\", \"{b}\", \"{c}\", \"{d}\"]\n";
    let (one, two) = (proxy(cfg, &subs), proxy(cfg, &subs));
    let mut spread = std::collections::HashSet::new();
    for u in 0..40 {
        let user = format!("user-{u}");
        let at_one = get(one.addr("web").unwrap(), "/", &[("x-user", &user)]).await;
        let at_two = get(two.addr("web").unwrap(), "/", &[("x-user", &user)]).await;
        assert_eq!(at_one.backend(), at_two.backend(), "{user} moved between instances");
        spread.insert(at_one.backend().to_string());
    }
    assert_eq!(spread.len(), 4, "40 users should reach every endpoint: {spread:?}");
    stop(one);
    stop(two);
}

/// A TCP upstream that writes its name to every connection.
fn named(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(name.as_bytes());
        }
    });
    addr
}

/// Connects from `from` (any 127/8 address) and reads the upstream's name.
fn who(from: &str, to: SocketAddr) -> String {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    sock.connect(&to.into()).unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut name = String::new();
    let _ = s.read_to_string(&mut name);
    name
}

#[test]
fn two_instances_pick_the_same_endpoint_for_a_client_at_l4() {
    let ups = [("a", named("a")), ("b", named("b")), ("c", named("c"))];
    let cfg = "workers = 1\n[listeners.db]\nbind = \"127.0.0.1:0\"\nprotocol = \"tcp\"\ncluster = \"c\"\n\
               [clusters.c]\nbalance = \"maglev\"\nendpoints = [\"{a}\", \"{b}\", \"{c}\"]\n";
    let (one, two) = (proxy(cfg, &ups), proxy(cfg, &ups));
    let mut spread = std::collections::HashSet::new();
    for i in 2..=41 {
        let from = format!("127.0.0.{i}");
        let (x, y) = (who(&from, one.addr("db").unwrap()), who(&from, two.addr("db").unwrap()));
        assert_eq!(x, y, "client {from} moved between instances");
        assert_eq!(x, who(&from, one.addr("db").unwrap()), "client {from} moved between connections");
        spread.insert(x);
    }
    assert_eq!(spread.len(), 3, "40 clients should reach every endpoint: {spread:?}");
    stop(one);
    stop(two);
}
