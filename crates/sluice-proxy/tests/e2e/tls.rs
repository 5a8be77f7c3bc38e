//! TLS termination: certificates by SNI (ECDSA and RSA), ALPN h2 and http/1.1, session
//! resumption, mTLS accepting and refusing, and the handshake metrics.

use crate::support::*;
use crate::tlsutil::*;

fn config(pki: &Pki, extra: &str) -> String {
    let (a, ak) = pki.leaf("a", &["a.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (b, bk) = pki.leaf("b", &["b.test", "*.b.test"], &rcgen::PKCS_RSA_SHA256);
    format!("workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[listeners.web.tls]\ncerts = [{{ cert = \"{a}\", key = \"{ak}\" }}, {{ cert = \"{b}\", key = \"{bk}\" }}]\n{extra}\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{{a}}\"]\n")
}

fn peer_names(tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sni_picks_the_chain_and_alpn_picks_the_protocol() {
    let pki = Pki::new("sni");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, ""), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let h2 = client_config(pki.roots(), &["h2", "http/1.1"], None);
    let h1 = client_config(pki.roots(), &["http/1.1"], None);
    // The client verifies the name, so a handshake for b.test only passes with b's chain.
    let tls = connect(addr, "b.test", &h2).await.expect("b.test gets b's certificate");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let r = get_over(tls, "/x").await.unwrap();
    assert_eq!((r.status, r.json()["headers"]["x-forwarded-proto"].as_str()), (200, Some("https")));
    let w = connect(addr, "www.b.test", &h1).await.expect("wildcard *.b.test");
    assert_eq!(w.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_over(w, "/y").await.unwrap().json()["version"], "HTTP/1.1");
    let a = connect(addr, "a.test", &h1).await.expect("a.test gets a's certificate");
    let other = connect(addr, "b.test", &h1).await.unwrap();
    assert_ne!(peer_names(&a), peer_names(&other), "two different chains");
    assert!(connect(addr, "c.test", &h1).await.is_err(), "unknown name: the default (a) does not verify as c.test");
    stop(h);
}

#[tokio::test]
async fn a_second_connection_resumes_the_session() {
    let pki = Pki::new("resume");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, ""), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let client = client_config(pki.roots(), &["http/1.1"], None);
    for i in 0..3 {
        let tls = connect(addr, "a.test", &client).await.unwrap();
        let kind = tls.get_ref().1.handshake_kind();
        let want = if i == 0 { rustls::HandshakeKind::Full } else { rustls::HandshakeKind::Resumed };
        assert_eq!(kind, Some(want), "connection {i}");
        assert_eq!(get_over(tls, "/").await.unwrap().status, 200);
    }
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_tls_resumptions_total{listener=\"web\"} 2"), "{m}");
    assert!(m.contains("sluice_tls_handshake_seconds_count{listener=\"web\"} 3"), "{m}");
    stop(h);
}

#[tokio::test]
async fn mtls_admits_signed_clients_and_refuses_others() {
    let pki = Pki::new("mtls");
    let stranger = Pki::new("mtls-stranger");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, &format!("client_ca = \"{}\"", pki.ca_path())), &[("a", b.addr)]);
    let addr = h.addr("web").unwrap();
    let good = client_config(pki.roots(), &["http/1.1"], Some(pki.client_cert()));
    let tls = connect(addr, "a.test", &good).await.unwrap();
    assert_eq!(get_over(tls, "/").await.unwrap().status, 200);
    let none = client_config(pki.roots(), &["http/1.1"], None);
    let wrong = client_config(pki.roots(), &["http/1.1"], Some(stranger.client_cert()));
    for client in [none, wrong] {
        // TLS 1.3: the server's verdict on the client certificate arrives after the client's
        // handshake finished, so it shows on the first read at the latest.
        let refused = match connect(addr, "a.test", &client).await {
            Err(_) => true,
            Ok(tls) => get_over(tls, "/").await.is_err(),
        };
        assert!(refused, "a client without a certificate from the CA is refused");
    }
    // The client can see the refusal before the server has counted it: wait for the count.
    let want = "sluice_tls_handshake_failures_total{listener=\"web\"} 2";
    let mut m = String::new();
    for _ in 0..50 {
        m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
        if m.contains(want) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(m.contains(want), "{m}");
    assert_eq!(b.hits(), 1);
    stop(h);
}

#[tokio::test]
async fn plain_http_to_a_tls_listener_gets_no_response() {
    let pki = Pki::new("plain");
    let b = Backend::start("a");
    let h = proxy(&config(&pki, ""), &[("a", b.addr)]);
    let reply =
        raw(h.addr("web").unwrap(), b"GET / HTTP/1.1\r\nhost: a\r\n\r\n", std::time::Duration::from_millis(300)).await;
    assert!(!reply.contains("200"), "never served in clear text: {reply:?}");
    assert_eq!(b.hits(), 0);
    stop(h);
}

fn upstream(protocol: &str, tls: &str) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"b\"\n[clusters.b]\nprotocol = \"{protocol}\"\nendpoints = [\"{{b}}\"]\n{tls}\n")
}

#[tokio::test]
async fn upstream_tls_verifies_and_fails_closed() {
    let (pki, stranger) = (Pki::new("up"), Pki::new("up-stranger"));
    let backend = tls_backend(&pki, &["backend.test", "127.0.0.1"]);
    let ca = pki.ca_path();
    let cases = [
        ("https", format!("tls = {{ ca = \"{ca}\", sni = \"backend.test\" }}"), 200, "HTTP/1.1", "backend.test"),
        ("h2", format!("tls = {{ ca = \"{ca}\", sni = \"backend.test\" }}"), 200, "HTTP/2.0", "backend.test"),
        ("https", format!("tls = {{ ca = \"{ca}\" }}"), 200, "HTTP/1.1", ""),
        ("https", format!("tls = {{ ca = \"{}\", sni = \"backend.test\" }}", stranger.ca_path()), 502, "", ""),
        ("https", format!("tls = {{ ca = \"{ca}\", sni = \"other.test\" }}"), 502, "", ""),
        ("https", format!("tls = {{ ca = \"{}\", verify = false }}", stranger.ca_path()), 200, "HTTP/1.1", ""),
    ];
    for (protocol, tls, status, version, sni) in cases {
        let h = proxy(&upstream(protocol, &tls), &[("b", backend)]);
        let r = get(h.addr("web").unwrap(), "/", &[]).await;
        assert_eq!(r.status, status, "{protocol} {tls}: {}", r.body);
        if status == 200 {
            assert_eq!((r.json()["version"].as_str(), r.json()["sni"].as_str()), (Some(version), Some(sni)), "{tls}");
        } else {
            assert_eq!(r.headers["x-sluice-error"], "upstream_tls", "fails closed: {tls}");
        }
        stop(h);
    }
}

#[tokio::test]
async fn health_checks_of_a_tls_cluster_speak_tls() {
    let (pki, stranger) = (Pki::new("hc"), Pki::new("hc-stranger"));
    let backend = tls_backend(&pki, &["backend.test"]);
    let check =
        "health = { kind = \"http\", path = \"/\", interval = \"100ms\", timeout = \"100ms\", rise = 1, fall = 1 }";
    for (ca, passes) in [(pki.ca_path(), true), (stranger.ca_path(), false)] {
        let tls = format!("tls = {{ ca = \"{ca}\", sni = \"backend.test\" }}\n{check}");
        let cfg = upstream("https", &tls).replace("workers = 1\n", "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n");
        let h = proxy(&cfg, &[("b", backend)]);
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await.body;
        let count = |result: &str| -> u64 {
            let key = format!("sluice_health_checks_total{{cluster=\"b\",result=\"{result}\"}} ");
            m.lines().find_map(|l| l.strip_prefix(&key)).map_or(0, |v| v.parse().unwrap())
        };
        if passes {
            assert!(count("pass") >= 2 && count("fail") == 0, "checks pass over TLS: {m}");
            assert_eq!(get(h.addr("web").unwrap(), "/", &[]).await.status, 200);
        } else {
            assert!(count("fail") >= 2 && count("pass") == 0, "an untrusted certificate fails the check: {m}");
        }
        stop(h);
    }
}

#[tokio::test]
async fn a_reload_serves_new_certificates_and_a_broken_file_keeps_the_old() {
    let pki = Pki::new("reload");
    let b = Backend::start("a");
    let (c, k) = pki.leaf("live", &["old.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let text = format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[listeners.web.tls]\ncerts = [{{ cert = \"{c}\", key = \"{k}\" }}]\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{}\"]\n", b.addr);
    let path = pki.dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = sluice_config::load(&path).unwrap_or_else(|d| panic!("{d}"));
    let h = sluice_control::Server::start_from(cfg, Some(path.clone())).unwrap();
    let addr = h.addr("web").unwrap();
    let client = client_config(pki.roots(), &["http/1.1"], None);
    let first = connect(addr, "old.test", &client).await.unwrap();
    assert_eq!(get_over(first, "/").await.unwrap().status, 200);
    std::fs::write(pki.dir.join("live.key"), "not a key").unwrap();
    assert!(h.control().reload().is_err(), "a broken key file is refused");
    assert!(connect(addr, "old.test", &client).await.is_ok(), "and the old certificate keeps serving");
    pki.leaf("live", &["new.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    h.control().reload().unwrap();
    let fresh = client_config(pki.roots(), &["http/1.1"], None);
    assert!(connect(addr, "new.test", &fresh).await.is_ok(), "the new certificate after the reload");
    assert!(connect(addr, "old.test", &fresh).await.is_err(), "the old name is gone");
    stop(h);
}

#[tokio::test]
async fn upstream_mtls_presents_the_client_certificate() {
    let pki = Pki::new("up-mtls");
    let backend = tls_backend_mtls(&pki, &["backend.test"]);
    let ca = pki.ca_path();
    let (cc, ck) = pki.leaf("sluice-client", &["sluice.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let with = format!(
        "tls = {{ ca = \"{ca}\", sni = \"backend.test\", client_cert = {{ cert = \"{cc}\", key = \"{ck}\" }} }}"
    );
    let without = format!("tls = {{ ca = \"{ca}\", sni = \"backend.test\" }}");
    for (tls, want) in [(with, 200), (without, 502)] {
        let h = proxy(&upstream("https", &tls), &[("b", backend)]);
        assert_eq!(get(h.addr("web").unwrap(), "/", &[]).await.status, want, "{tls}");
        stop(h);
    }
}
