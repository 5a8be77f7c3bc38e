//! The proxy's side of ACME, driven through its `AcmeStore` as the manager would: HTTP-01
//! answers before routing on plain-HTTP listeners (unknown tokens fall through), managed
//! names refused until their certificate arrives and served from the next handshake after,
//! TLS-ALPN-01 answered with the challenge certificate and closed, and `/status`.
//! (The whole flow against a real CA is `scripts/interop-acme.sh`, with Pebble.)

use tokio::io::AsyncReadExt;

use crate::support::*;
use crate::tlsutil::*;

fn config(storage: &str) -> String {
    format!(
        "[admin]\nbind = \"127.0.0.1:0\"\n[acme]\ndirectory = \"https://127.0.0.1:1/dir\"\nstorage = \"{storage}\"\n\
         [listeners.plain]\nbind = \"127.0.0.1:0\"\n[[listeners.plain.routes]]\nrespond = {{ status = 404, body = \"routed\" }}\n\
         [listeners.web]\nbind = \"127.0.0.1:0\"\n[listeners.web.tls]\nacme = [\"m.test\"]\n\
         [[listeners.web.routes]]\nrespond = {{ status = 200, body = \"managed\" }}\n"
    )
}

fn key(pki: &Pki, file: &str, names: &[&str]) -> std::sync::Arc<rustls::sign::CertifiedKey> {
    let (c, k) = pki.leaf(file, names, &rcgen::PKCS_ECDSA_P256_SHA256);
    sluice_config::tls::load_cert(c.as_ref(), k.as_ref(), None).unwrap().key
}

#[tokio::test]
async fn http01_tokens_are_answered_before_routing() {
    let h = proxy(&config("/nonexistent/acme"), &[]);
    let plain = h.addr("plain").unwrap();
    let store = &h.control().metrics.acme;
    store.set_token("tok-123_A", Some("tok-123_A.thumbprint".into()));
    let r = get(plain, "/.well-known/acme-challenge/tok-123_A", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "tok-123_A.thumbprint"));
    let other = get(plain, "/.well-known/acme-challenge/unknown", &[]).await;
    assert_eq!((other.status, other.body.as_str()), (404, "routed"), "unknown tokens reach the routes");
    store.set_token("tok-123_A", None);
    assert_eq!(get(plain, "/.well-known/acme-challenge/tok-123_A", &[]).await.body, "routed", "closed after the order");
    stop(h);
}

#[tokio::test]
async fn a_managed_name_is_refused_until_its_certificate_then_served_without_reload() {
    let pki = Pki::new("acme-managed");
    let h = proxy(&config("/nonexistent/acme"), &[]);
    let web = h.addr("web").unwrap();
    let client = client_config(pki.roots(), &["http/1.1"], None);
    assert!(connect(web, "m.test", &client).await.is_err(), "no certificate yet: no handshake");
    let store = &h.control().metrics.acme;
    store.install("m.test", key(&pki, "m1", &["m.test"]));
    let tls = connect(web, "m.test", &client).await.expect("served from the next handshake");
    let r = get_over(tls, "/").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "managed"));
    assert!(connect(web, "other.test", &client).await.is_err(), "names not managed get nothing");
    stop(h);
}

#[tokio::test]
async fn tls_alpn01_is_answered_with_the_challenge_certificate_and_closed() {
    let pki = Pki::new("acme-alpn");
    let h = proxy(&config("/nonexistent/acme"), &[]);
    let web = h.addr("web").unwrap();
    let store = &h.control().metrics.acme;
    let acme = client_config(pki.roots(), &["acme-tls/1"], None);
    assert!(connect(web, "m.test", &acme).await.is_err(), "no open challenge: refused");
    store.set_alpn("m.test", Some(key(&pki, "challenge", &["m.test"])));
    let mut tls = connect(web, "m.test", &acme).await.expect("the challenge certificate");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the connection closes after the handshake");
    let normal = client_config(pki.roots(), &["h2", "http/1.1"], None);
    assert!(connect(web, "m.test", &normal).await.is_err(), "the challenge certificate is not served to clients");
    stop(h);
}

#[tokio::test]
async fn status_and_metrics_show_managed_names() {
    let h = proxy(&config("/nonexistent/acme"), &[]);
    let store = &h.control().metrics.acme;
    store.update_status("m.test", |s| {
        s.state = "failed";
        s.error = Some("the CA refused: API error: rate limited (urn:ietf:params:acme:error:rateLimited)".into());
        s.orders = 3;
    });
    let admin = h.admin_addr().unwrap();
    let st = get(admin, "/status", &[]).await.json();
    let m = &st["certificates"]["acme"]["m.test"];
    assert_eq!((m["state"].as_str(), m["orders"].as_u64()), (Some("failed"), Some(3)));
    assert!(m["error"].as_str().unwrap().contains("rateLimited"));
    let metrics = get(admin, "/metrics", &[]).await.body;
    assert!(metrics.contains("sluice_acme_orders_total{name=\"m.test\"} 3"), "{metrics}");
    stop(h);
}
