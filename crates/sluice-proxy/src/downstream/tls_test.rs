//! Unit tests of `tls.rs`: certificate choice by SNI.

use super::*;

/// A self-signed certificate for `names`, written to a temp folder and loaded.
pub fn cert(names: &[&str]) -> sluice_config::TlsCert {
    let ck = rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let dir = std::env::temp_dir().join(format!("sluice-tls-unit-{}-{}", std::process::id(), names.join("_")));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("k.pem"), ck.key_pair.serialize_pem()).unwrap();
    sluice_config::tls::load_cert(&dir.join("c.pem"), &dir.join("k.pem"), None).unwrap()
}

fn config(certs: Vec<sluice_config::TlsCert>) -> TlsConfig {
    TlsConfig {
        certs,
        acme: Vec::new(),
        alpn: vec!["h2".into(), "http/1.1".into()],
        tls12: false,
        client_ca: None,
        client_auth_required: true,
        session_tickets: true,
        ticket_rotation: Duration::from_secs(3600),
        session_cache: 100,
    }
}

#[test]
fn sni_picks_exact_then_wildcard_then_default() {
    let (a, w, b) = (cert(&["a.test"]), cert(&["*.w.test", "w.test"]), cert(&["b.test"]));
    assert_eq!(w.names, vec!["*.w.test", "w.test"], "names come from the subjectAltName");
    let r = SniResolver::new(&config(vec![a.clone(), w.clone(), b.clone()]), &Arc::default()).unwrap();
    let same = |k: Option<Arc<CertifiedKey>>, c: &sluice_config::TlsCert| Arc::ptr_eq(&k.unwrap(), &c.key);
    assert!(same(r.pick(Some("b.test")), &b));
    assert!(same(r.pick(Some("B.TEST")), &b), "names are case-insensitive");
    assert!(same(r.pick(Some("x.w.test")), &w));
    assert!(same(r.pick(Some("w.test")), &w));
    assert!(same(r.pick(Some("y.x.w.test")), &a), "a wildcard covers one label only; else the default");
    assert!(same(r.pick(None), &a), "no SNI: the first certificate");
    assert!(same(r.pick(Some("other.test")), &a));
}

#[test]
fn sessions_survive_a_rebuild_with_the_same_settings() {
    let cfg = config(vec![cert(&["s.test"])]);
    let sessions = TlsSessions::default();
    let one = server_config(&cfg, &sessions, &Arc::default()).unwrap();
    let two = server_config(&cfg, &sessions, &Arc::default()).unwrap();
    assert!(Arc::ptr_eq(&one.ticketer, &two.ticketer), "ticket keys kept across reloads");
    let other =
        server_config(&TlsConfig { ticket_rotation: Duration::from_secs(60), ..cfg }, &sessions, &Arc::default())
            .unwrap();
    assert!(!Arc::ptr_eq(&one.ticketer, &other.ticketer));
}

#[test]
fn an_ocsp_response_is_stapled_as_is() {
    let ck = rcgen::generate_simple_self_signed(vec!["ocsp.test".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("sluice-tls-ocsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("k.pem"), ck.key_pair.serialize_pem()).unwrap();
    std::fs::write(dir.join("r.ocsp"), [0x30, 0x03, 0x0a, 0x01, 0x00]).unwrap();
    let c = sluice_config::tls::load_cert(&dir.join("c.pem"), &dir.join("k.pem"), Some(&dir.join("r.ocsp"))).unwrap();
    assert_eq!(c.key.ocsp.as_deref(), Some(&[0x30, 0x03, 0x0a, 0x01, 0x00][..]));
    let missing = sluice_config::tls::load_cert(&dir.join("c.pem"), &dir.join("k.pem"), Some(&dir.join("nope")));
    assert!(missing.unwrap_err().contains("cannot read"));
}

#[test]
fn managed_names_serve_their_certificate_once_obtained_and_are_refused_before() {
    let store = Arc::new(AcmeStore::default());
    let cfg = TlsConfig { acme: vec!["m.test".into()], ..config(Vec::new()) };
    let r = SniResolver::new(&cfg, &store).unwrap();
    assert!(r.pick(Some("m.test")).is_none(), "no certificate yet and no static one: refused");
    assert!(r.pick(None).is_none());
    let issued = cert(&["m.test"]);
    store.install("m.test", Arc::clone(&issued.key));
    assert!(Arc::ptr_eq(&r.pick(Some("M.test")).unwrap(), &issued.key), "served without a rebuild");
    assert!(r.pick(Some("other.test")).is_none(), "only the managed names");
    let renewed = cert(&["m.test", "renewed.test"]);
    store.install("m.test", Arc::clone(&renewed.key));
    assert!(Arc::ptr_eq(&r.pick(Some("m.test")).unwrap(), &renewed.key), "a renewal swaps in place");
}

#[test]
fn a_static_certificate_covers_a_managed_name_until_its_own_arrives() {
    let store = Arc::new(AcmeStore::default());
    let fallback = cert(&["fallback.test"]);
    let cfg = TlsConfig { acme: vec!["m.test".into()], ..config(vec![fallback.clone()]) };
    let r = SniResolver::new(&cfg, &store).unwrap();
    assert!(Arc::ptr_eq(&r.pick(Some("m.test")).unwrap(), &fallback.key));
    let sc = server_config(&cfg, &TlsSessions::default(), &store).unwrap();
    assert!(sc.alpn_protocols.contains(&ACME_TLS_ALPN.to_vec()), "acme-tls/1 offered for TLS-ALPN-01");
}
