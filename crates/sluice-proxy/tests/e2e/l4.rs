//! L4: TCP relay (large transfers, half-close both ways), failover on refusal, the per-IP
//! connection limit, PROXY protocol accepted (trusted only) and sent in both versions.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use sluice_proxy::proxyproto;

use crate::support::*;

/// A blocking upstream: for each connection runs `f` on its own thread.
fn upstream(f: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || f(s));
        }
    });
    addr
}

/// Reads to EOF, then answers with the count and 1 MiB, then closes.
fn sink_then_source(mut s: TcpStream) {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let _ = s.write_all(format!("{}\n", buf.len()).as_bytes());
    let _ = s.write_all(&vec![7u8; 1 << 20]);
}

/// Sends 1 MiB and half-closes, then reads what the client sends until EOF and echoes its length.
fn source_then_sink(mut s: TcpStream) {
    let _ = s.write_all(&vec![9u8; 1 << 20]);
    let _ = s.shutdown(Shutdown::Write);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
}

fn tcp_config(endpoints: &str, extra_listener: &str, extra_cluster: &str) -> String {
    format!("workers = 1\n[listeners.db]\nbind = \"127.0.0.1:0\"\nprotocol = \"tcp\"\ncluster = \"c\"\n{extra_listener}\n[clusters.c]\nendpoints = {endpoints}\n{extra_cluster}\n")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn tcp_relays_large_transfers_with_half_close_both_ways() {
    let a = upstream(sink_then_source);
    let h = proxy(&tcp_config("[\"{a}\"]", "", ""), &[("a", a)]);
    let mut c = connect(h.addr("db").unwrap());
    c.write_all(&vec![1u8; 3 << 20]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    let text_end = back.iter().position(|b| *b == b'\n').unwrap();
    assert_eq!(&back[..text_end], (3usize << 20).to_string().as_bytes(), "upstream saw every byte and our EOF");
    assert_eq!(back.len() - text_end - 1, 1 << 20, "the other direction kept flowing after the half-close");
    stop(h);

    let b = upstream(source_then_sink);
    let h = proxy(&tcp_config("[\"{a}\"]", "", ""), &[("a", b)]);
    let mut c = connect(h.addr("db").unwrap());
    let mut got = vec![0u8; 1 << 20];
    c.read_exact(&mut got).unwrap();
    let mut extra = [0u8; 1];
    assert_eq!(c.read(&mut extra).unwrap(), 0, "upstream's half-close reaches the client");
    c.write_all(b"still open this way").unwrap();
    stop(h);
}

#[test]
fn tcp_fails_over_when_an_endpoint_refuses() {
    let good = upstream(sink_then_source);
    let h = proxy(&tcp_config("[\"{dead}\", \"{good}\"]", "", ""), &[("dead", closed_port()), ("good", good)]);
    for _ in 0..4 {
        let mut c = connect(h.addr("db").unwrap());
        c.write_all(b"ping").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert!(back.starts_with(b"4\n"), "every connection reaches the live endpoint");
    }
    stop(h);
}

#[test]
fn per_ip_connection_limit_refuses_the_extra_connection() {
    let a = upstream(sink_then_source);
    let h = proxy(&tcp_config("[\"{a}\"]", "limits = { max_connections_per_ip = 2 }", ""), &[("a", a)]);
    let addr = h.addr("db").unwrap();
    let _one = connect(addr);
    let _two = connect(addr);
    std::thread::sleep(Duration::from_millis(100));
    let mut three = connect(addr);
    let mut buf = [0u8; 1];
    assert!(matches!(three.read(&mut buf), Ok(0) | Err(_)), "the third connection is closed at once");
    drop((_one, _two));
    std::thread::sleep(Duration::from_millis(100));
    let mut again = connect(addr);
    again.write_all(b"x").unwrap();
    again.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    again.read_to_end(&mut back).unwrap();
    assert!(back.starts_with(b"1\n"), "slots come back when connections close");
    stop(h);
}

/// Reads the PROXY header an upstream receives and reports its source address.
fn report_proxy_source(mut s: TcpStream) {
    let mut buf = vec![0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    let src = proxyproto::parse(&buf[..n]).ok().flatten().and_then(|a| a.source);
    let _ = s.write_all(format!("{src:?}").as_bytes());
}

#[test]
fn proxy_protocol_is_sent_upstream_in_both_versions() {
    for v in ["v1", "v2"] {
        let a = upstream(report_proxy_source);
        let h = proxy(&tcp_config("[\"{a}\"]", "", &format!("send_proxy_protocol = \"{v}\"")), &[("a", a)]);
        let mut c = connect(h.addr("db").unwrap());
        let me = c.local_addr().unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).unwrap();
        assert_eq!(back, format!("Some({me})"), "{v}");
        stop(h);
    }
}

#[tokio::test]
async fn proxy_protocol_is_believed_only_from_trusted_peers() {
    let b = Backend::start("a");
    for (trusted, version) in [
        ("127.0.0.0/8", sluice_config::ProxyProtocolVersion::V1),
        ("127.0.0.0/8", sluice_config::ProxyProtocolVersion::V2),
        ("10.0.0.0/8", sluice_config::ProxyProtocolVersion::V1),
    ] {
        let text = format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\nproxy_protocol = \"accept\"\ntrusted_proxies = [\"{trusted}\"]\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{{a}}\"]\n");
        let h = proxy(&text, &[("a", b.addr)]);
        let mut bytes =
            proxyproto::header(version, "203.0.113.5:4000".parse().unwrap(), "10.0.0.1:80".parse().unwrap(), None);
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
        let r = raw(h.addr("web").unwrap(), &bytes, Duration::from_secs(2)).await;
        if trusted.starts_with("127") {
            assert!(
                r.starts_with("HTTP/1.1 200") && r.contains("\"x-forwarded-for\":\"203.0.113.5\""),
                "{version:?}: {r}"
            );
        } else {
            assert!(r.starts_with("HTTP/1.1 400"), "an untrusted peer's header is data, and bad data: {r}");
        }
        stop(h);
    }
}

/// A UDP upstream answering each datagram with `<name>:<payload>`.
fn udp_echo(name: &'static str) -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut out = format!("{name}:").into_bytes();
            out.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&out, from);
        }
    });
    addr
}

#[test]
fn udp_flows_stick_to_one_endpoint_and_expire_when_idle() {
    let (a, b) = (udp_echo("a"), udp_echo("b"));
    let text = "workers = 2\n[listeners.dns]\nbind = \"127.0.0.1:0\"\nprotocol = \"udp\"\ncluster = \"r\"\ntimeouts = { idle = \"300ms\" }\n[clusters.r]\nendpoints = [\"{a}\", \"{b}\"]\n";
    let h = proxy(text, &[("a", a), ("b", b)]);
    let lb = h.addr("dns").unwrap();
    let mut seen = std::collections::HashSet::new();
    let clients: Vec<std::net::UdpSocket> =
        (0..30).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for c in &clients {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut first = None;
        for i in 0..3 {
            c.send_to(format!("q{i}").as_bytes(), lb).unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, lb, "replies come from the listener address");
            let reply = String::from_utf8_lossy(&buf[..n]).to_string();
            let who = reply.split(':').next().unwrap().to_string();
            assert_eq!(reply, format!("{who}:q{i}"));
            assert_eq!(*first.get_or_insert(who.clone()), who, "a flow stays on one endpoint");
            seen.insert(who);
        }
    }
    assert_eq!(seen.len(), 2, "30 flows use both endpoints");
    let m = h.control().metrics.listener("dns");
    let flows = m.connections.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(flows, 30);
    std::thread::sleep(Duration::from_millis(700));
    clients[0].send_to(b"again", lb).unwrap();
    let mut buf = [0u8; 64];
    clients[0].recv_from(&mut buf).unwrap();
    assert_eq!(m.connections.load(std::sync::atomic::Ordering::Relaxed), 31, "the idle flow expired; a new one opened");
    stop(h);
}

/// Answers with a fixed name after reading the first bytes (the replayed ClientHello).
fn named(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let ok = sluice_core::sni::parse(&buf[..n]) != sluice_core::sni::Sni::NotTls;
            let _ = s.write_all(format!("{name}:{ok}").as_bytes());
        }
    });
    addr
}

#[test]
fn tls_passthrough_routes_by_sni() {
    let (a, b) = (named("a"), named("b"));
    let text = "workers = 1\n[listeners.tls]\nbind = \"127.0.0.1:0\"\nprotocol = \"tcp\"\ncluster = \"b\"\n[[listeners.tls.routes]]\nsni = \"*.a.test\"\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n[clusters.b]\nendpoints = [\"{b}\"]\n";
    let h = proxy(text, &[("a", a), ("b", b)]);
    for (sni, want) in [("www.a.test", "a:true"), ("other.test", "b:true")] {
        let mut c = connect(h.addr("tls").unwrap());
        c.write_all(&sluice_core::sni::client_hello(sni)).unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).unwrap();
        assert_eq!(back, want, "{sni}: routed by SNI, ClientHello replayed intact");
    }
    stop(h);
}

/// An HTTP/1.1 upstream that reports the PROXY source it received, then serves requests.
fn http_reporting_proxy_source(mut s: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let src = proxyproto::parse(&buf[..n]).ok().flatten().and_then(|a| a.source);
    let body = format!("{src:?}");
    let _ = s.write_all(
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes(),
    );
}

#[tokio::test]
async fn http_clusters_send_proxy_protocol_on_private_connections() {
    let up = upstream(http_reporting_proxy_source);
    let text = "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\nsend_proxy_protocol = \"v2\"\nendpoints = [\"{a}\"]\n";
    let h = proxy(text, &[("a", up)]);
    let web = h.addr("web").unwrap();
    let s = tokio::net::TcpStream::connect(web).await.unwrap();
    let me = s.local_addr().unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..2 {
        let req =
            http::Request::get("/").header("host", "t").body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
        let r = collect(tx.send_request(req).await.unwrap()).await;
        assert_eq!(r.body, format!("Some({me})"), "each upstream connection carries this client's address");
    }
    stop(h);
}

#[test]
fn splice_relay_moves_large_transfers_with_half_close() {
    let a = upstream(sink_then_source);
    let h = proxy(&tcp_config("[\"{a}\"]", "relay = \"splice\"", ""), &[("a", a)]);
    let mut c = connect(h.addr("db").unwrap());
    c.write_all(&vec![1u8; 5 << 20]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    let text_end = back.iter().position(|b| *b == b'\n').unwrap();
    assert_eq!(&back[..text_end], (5usize << 20).to_string().as_bytes());
    assert_eq!(back.len() - text_end - 1, 1 << 20);
    stop(h);
}
