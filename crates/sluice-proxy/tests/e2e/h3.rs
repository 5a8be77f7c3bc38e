//! HTTP/3: the same routes over QUIC as over TCP, Alt-Svc on TCP answers, bodies both ways,
//! many streams on one connection, certificates by SNI, 0-RTT refused by default and, when
//! on, unsafe methods answered 425 (also for a replayed flight), graceful stop, reloads that
//! add and remove HTTP/3, and the metrics.

use std::time::Duration;

use crate::h3util::*;
use crate::support::*;
use crate::tlsutil::*;

fn config(pki: &Pki, workers: usize, http3: &str) -> String {
    let (a, ak) = pki.leaf("a", &["a.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (b, bk) = pki.leaf("b", &["b.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    format!(
        "workers = {workers}\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n\
         [listeners.web.tls]\ncerts = [{{ cert = \"{a}\", key = \"{ak}\" }}, {{ cert = \"{b}\", key = \"{bk}\" }}]\n\
         {http3}\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{{a}}\"]\n"
    )
}

async fn metric(h: &sluice_control::ServerHandle, line: &str) -> bool {
    get(h.admin_addr().unwrap(), "/metrics", &[]).await.body.lines().any(|l| l == line)
}

#[tokio::test]
async fn requests_bodies_and_alt_svc() {
    let pki = Pki::new("h3-basic");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 2, "[listeners.web.http3]"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    // Over TCP the answer advertises HTTP/3 on the same port.
    let tls = connect(addr, "a.test", &client_config(pki.roots(), &["http/1.1"], None)).await.unwrap();
    let r = get_over(tls, "/").await.unwrap();
    let want = format!("h3=\":{}\"; ma=86400", addr.port());
    assert_eq!(r.headers.get("alt-svc").map(|v| v.to_str().unwrap()), Some(want.as_str()));
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    let r = request(&mut s, "GET", "https://a.test/x?q=1", b"").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.headers.get("alt-svc").is_none(), "no Alt-Svc over HTTP/3 itself");
    let j = r.json();
    assert_eq!((j["path"].as_str(), j["query"].as_str()), (Some("/x"), Some("q=1")));
    assert_eq!(j["headers"]["x-forwarded-proto"], "https");
    assert_eq!(j["headers"]["host"], "a.test");
    assert!(j["headers"].get("transfer-encoding").is_none(), "a bodyless GET goes upstream without a body");
    // A 3 MiB upload (more than the 1 MiB stream window: flow control must turn) and a
    // 1 MiB download.
    let up = vec![7u8; 3 << 20];
    let r = request(&mut s, "POST", "https://a.test/upload", &up).await.unwrap();
    assert_eq!((r.status, r.headers["x-body-len"].to_str().unwrap()), (200, "3145728"));
    let r = request(&mut s, "GET", "https://a.test/bytes/1048576", b"").await.unwrap();
    assert_eq!((r.status, r.body.len()), (200, 1 << 20));
    // 60 requests at once on the one connection.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let mut s = s.clone();
        tasks.push(tokio::spawn(async move { request(&mut s, "GET", &format!("https://a.test/n{i}"), b"").await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, 200);
    }
    assert!(metric(&h, "sluice_h3_requests_total{listener=\"web\"} 63").await);
    assert!(metric(&h, "sluice_h3_connections_total{listener=\"web\"} 1").await);
    assert!(metric(&h, "sluice_requests_by_protocol_total{listener=\"web\",protocol=\"h1\"} 1").await);
    let st = get(h.admin_addr().unwrap(), "/status", &[]).await.json();
    let l = &st["listeners"][0];
    assert_eq!((l["http3"].as_bool(), l["protocols"]["h3"].as_u64()), (Some(true), Some(63)));
    stop(h);
}

#[tokio::test]
async fn certificates_by_sni_and_no_h3_without_the_section() {
    let pki = Pki::new("h3-sni");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 1, "[listeners.web.http3]"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let ep = endpoint(pki.roots());
    // The client verifies the name, so b.test only passes with b's certificate.
    let mut s = connect_h3(&ep, addr, "b.test").await.expect("b.test gets b's certificate");
    assert_eq!(request(&mut s, "GET", "https://b.test/", b"").await.unwrap().status, 200);
    assert!(connect_h3(&ep, addr, "c.test").await.is_err(), "the default (a) does not verify as c.test");
    stop(h);
    let h = proxy(&config(&pki, 1, ""), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let tls = connect(addr, "a.test", &client_config(pki.roots(), &["http/1.1"], None)).await.unwrap();
    assert!(get_over(tls, "/").await.unwrap().headers.get("alt-svc").is_none());
    let t = tokio::time::timeout(Duration::from_secs(3), connect_h3(&ep, addr, "a.test")).await;
    assert!(!matches!(t, Ok(Ok(_))), "no QUIC without [listeners.web.http3]");
    stop(h);
}

#[tokio::test]
async fn zero_rtt_is_refused_by_default() {
    let pki = Pki::new("h3-0rtt-off");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 1, "[listeners.web.http3]"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    assert_eq!(request(&mut s, "GET", "https://a.test/", b"").await.unwrap().status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await; // the session ticket has arrived
    let again = ep.connect(addr, "a.test").unwrap();
    assert!(again.into_0rtt().is_err(), "the server's tickets allow no early data");
    stop(h);
}

/// With `early_data = true`: a GET in 0-RTT is served (the upstream sees `Early-Data: 1`),
/// a POST gets 425 until the handshake is done; a captured flight replayed from another
/// address is served nothing (its session was single-use).
#[tokio::test]
async fn zero_rtt_serves_safe_methods_and_425s_the_rest() {
    let pki = Pki::new("h3-0rtt-on");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 1, "[listeners.web.http3]\nearly_data = true"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    assert_eq!(request(&mut s, "GET", "https://a.test/", b"").await.unwrap().status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(s);
    // The relay holds the server's first answer back, so both requests leave in 0-RTT and
    // reach the server before the handshake can complete.
    let relay = relay(addr, Duration::from_millis(200)).await;
    let (conn, _accepted) = ep.connect(relay.addr, "a.test").unwrap().into_0rtt().expect("0-RTT offered");
    let mut s = h3_over(conn.clone()).await;
    let (mut s2, before) = (s.clone(), b.hits());
    let (post, get_early) = tokio::join!(
        request(&mut s, "POST", "https://a.test/pay", b"x"),
        request(&mut s2, "GET", "https://a.test/early", b"")
    );
    assert_eq!(post.unwrap().status, 425, "unsafe method in early data");
    let g = get_early.unwrap();
    assert_eq!((g.status, g.json()["headers"]["early-data"].as_str()), (200, Some("1")));
    assert_eq!(b.hits(), before + 1, "the POST never reached the upstream");
    // After the handshake the client retries the POST (RFC 8470 §3) and it goes through.
    let post = request(&mut s, "POST", "https://a.test/pay", b"x").await.unwrap();
    assert_eq!(post.status, 200);
    conn.close(0u32.into(), b"");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (flight, hits) = (relay.first_flight.lock().unwrap().clone(), b.hits());
    assert!(!flight.is_empty());
    replay(addr, &flight).await;
    assert_eq!(b.hits(), hits, "a replayed flight cannot resume, so none of its requests is served");
    assert!(metric(&h, "sluice_h3_too_early_total{listener=\"web\"} 1").await);
    assert!(metric(&h, "sluice_h3_early_requests_total{listener=\"web\"} 1").await);
    stop(h);
}

/// A stop lets a request in flight finish (GOAWAY, then close); a reload that removes
/// the section stops HTTP/3, one that adds it starts it.
#[tokio::test]
async fn graceful_stop_and_reloads() {
    let pki = Pki::new("h3-life");
    let b = Backend::start("a");
    let with = config(&pki, 2, "[listeners.web.http3]").replace("{a}", &b.addr.to_string());
    let without = config(&pki, 2, "").replace("{a}", &b.addr.to_string());
    let h = proxy(&without, &[]);
    let ep = endpoint(pki.roots());
    let reload = |text: &str| h.control().apply(sluice_config::parse(text, "t.toml").unwrap()).unwrap();
    reload(&with);
    let addr = h.addr("web").unwrap();
    let mut s = connect_h3(&ep, addr, "a.test").await.expect("HTTP/3 after a reload added it");
    assert_eq!(request(&mut s, "GET", "https://a.test/", b"").await.unwrap().status, 200);
    reload(&without);
    let addr2 = h.addr("web").unwrap();
    let t = tokio::time::timeout(Duration::from_secs(2), connect_h3(&ep, addr2, "a.test")).await;
    assert!(!matches!(t, Ok(Ok(_))), "no HTTP/3 after a reload removed it");
    reload(&with);
    let addr = h.addr("web").unwrap();
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    let slow = tokio::spawn(async move { request(&mut s, "GET", "https://a.test/slow/400", b"").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::task::spawn_blocking(move || stop(h));
    let r = slow.await.unwrap().expect("the request in flight finishes");
    assert_eq!(r.status, 200);
    stopping.await.unwrap();
}

/// `retry = "always"`: every new connection proves its address first (the client follows
/// the Retry by itself); `under_load`: a burst of handshakes past `retry_above` is retried.
#[tokio::test]
async fn retry_always_and_under_load() {
    let pki = Pki::new("h3-retry");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 1, "[listeners.web.http3]\nretry = \"always\""), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    assert_eq!(request(&mut s, "GET", "https://a.test/", b"").await.unwrap().status, 200);
    assert!(metric(&h, "sluice_h3_retries_total{listener=\"web\"} 1").await);
    stop(h);
    let h = proxy(&config(&pki, 1, "[listeners.web.http3]\nretry_above = 1"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let ep = endpoint(pki.roots());
        tasks.push(tokio::spawn(async move {
            let mut s = connect_h3(&ep, addr, "a.test").await?;
            request(&mut s, "GET", "https://a.test/", b"").await.map(|r| r.status)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(200));
    }
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    let retries: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("sluice_h3_retries_total{listener=\"web\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(retries > 0, "a burst of 30 handshakes over retry_above = 1 sends Retry");
    stop(h);
}

/// Two workers: a client that changes its address five times keeps its connection (the
/// kernel steers its packets to the worker that holds it), and each move is counted.
#[tokio::test]
async fn a_client_that_moves_keeps_its_connection() {
    let pki = Pki::new("h3-move");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 2, "[listeners.web.http3]"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, addr, "a.test").await.unwrap();
    assert_eq!(request(&mut s, "GET", "https://a.test/", b"").await.unwrap().status, 200);
    for i in 0..5 {
        ep.rebind(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(5), request(&mut s, "GET", "https://a.test/", b""))
            .await
            .unwrap_or_else(|_| panic!("move {i}: the connection went silent"));
        assert_eq!(r.unwrap().status, 200, "move {i}");
    }
    assert!(metric(&h, "sluice_h3_migrations_total{listener=\"web\"} 5").await);
    stop(h);
}

/// Garbage datagrams (random bytes, short headers naming each worker) change nothing;
/// `max_concurrent_streams` bounds what one connection has in flight upstream.
#[tokio::test]
async fn garbage_and_stream_limits() {
    let pki = Pki::new("h3-abuse");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, 2, "[listeners.web.http3]\nmax_concurrent_streams = 4"), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..3000u32 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = 1 + (rng % 1400) as usize;
        let mut d: Vec<u8> = (0..len).map(|k| (rng >> (k % 56)) as u8).collect();
        if i % 3 == 0 {
            d[0] = 0x40; // a short header, DCID naming worker 0 or 1
            if len > 1 {
                d[1] = (i % 2) as u8;
            }
        }
        let _ = junk.send_to(&d, addr);
    }
    let ep = endpoint(pki.roots());
    let s = connect_h3(&ep, addr, "a.test").await.expect("still serving after the junk");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut s = s.clone();
        tasks.push(tokio::spawn(async move { request(&mut s, "GET", "https://a.test/slow/100", b"").await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, 200);
    }
    assert!(b.peak.load(std::sync::atomic::Ordering::SeqCst) <= 4, "at most 4 streams at once");
    stop(h);
}

/// gRPC over HTTP/3 to an h2c upstream: the message and the trailers pass through.
#[tokio::test]
async fn grpc_over_h3_passes_trailers_from_an_h2c_upstream() {
    let pki = Pki::new("h3-grpc");
    let b = Backend::start("a");
    let text = config(&pki, 1, "[listeners.web.http3]").replace("[clusters.a]\n", "[clusters.a]\nprotocol = \"h2c\"\n");
    let h = proxy(&text, &[("a", b.addr)]);
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, h.addr("web").unwrap(), "a.test").await.unwrap();
    let req = http::Request::post("https://a.test/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let r = request_with(&mut s, req, &[0, 0, 0, 0, 0]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], &[0, 0, 0, 0, 2, 0x08, 1], "SERVING");
    let t = r.trailers.expect("trailers");
    assert_eq!(t.get("grpc-status").map(|v| v.to_str().unwrap()), Some("0"));
    stop(h);
}

/// A request whose body is still arriving when the answer is ready (a direct response that
/// never reads it): the client gets the answer, the stream is stopped, and the connection
/// serves the next request.
#[tokio::test]
async fn an_unread_body_in_flight_is_stopped_cleanly() {
    let pki = Pki::new("h3-unread");
    let b = Backend::start("a");
    let text = config(&pki, 1, "[listeners.web.http3]").replace(
        "[[listeners.web.routes]]\ncluster = \"a\"",
        "[[listeners.web.routes]]\npath_prefix = \"/deny\"\nrespond = { status = 403, body = \"no\\n\" }\n[[listeners.web.routes]]\ncluster = \"a\"",
    );
    let h = proxy(&text, &[("a", b.addr)]);
    let ep = endpoint(pki.roots());
    let mut s = connect_h3(&ep, h.addr("web").unwrap(), "a.test").await.unwrap();
    let req = http::Request::post("https://a.test/deny").body(()).unwrap();
    let mut st = s.send_request(req).await.unwrap();
    st.send_data(bytes::Bytes::from_static(b"first part")).await.unwrap(); // no FIN: more to come
    let resp = tokio::time::timeout(Duration::from_secs(5), st.recv_response()).await.expect("answered").unwrap();
    assert_eq!(resp.status(), 403);
    let r = request(&mut s, "GET", "https://a.test/next", b"").await.unwrap();
    assert_eq!(r.status, 200, "the connection still serves");
    stop(h);
}
