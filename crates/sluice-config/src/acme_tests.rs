//! `[acme]` and `tls.acme` validation: the defaults, renewal windows in each form, and each
//! mistake reported at its line and column.

use std::time::Duration;

use super::*;
use crate::parse;

fn errors(text: &str) -> Vec<String> {
    let d = parse(text, "t.toml").expect_err("config should be rejected");
    d.to_string().lines().map(str::to_string).collect()
}

fn with(acme: &str, tls: &str, plain: bool) -> String {
    let plain = if plain {
        "[listeners.http]\nbind = \"127.0.0.1:80\"\n[[listeners.http.routes]]\nrespond = { status = 200 }\n"
    } else {
        ""
    };
    format!("{acme}\n{plain}[listeners.https]\nbind = \"127.0.0.1:443\"\n[listeners.https.tls]\n{tls}\n[[listeners.https.routes]]\nrespond = {{ status = 200 }}\n")
}

const ACME: &str =
    "[acme]\ndirectory = \"https://ca.test/dir\"\nstorage = \"acme\"\ncontact = [\"mailto:ops@example.test\"]";

#[test]
fn managed_names_need_no_static_certificate_and_get_defaults() {
    let cfg =
        parse(&with(ACME, "acme = [\"WWW.example.test\", \"api.example.test\"]", true), "/etc/sluice/t.toml").unwrap();
    let a = cfg.acme.unwrap();
    assert_eq!(a.challenge, Challenge::Http01);
    assert_eq!(a.renew_before, RenewBefore::Fraction(1.0 / 3.0));
    assert_eq!(a.lease, Duration::from_secs(30));
    assert_eq!(a.storage, std::path::Path::new("/etc/sluice/acme"), "relative to the config file");
    let tls = cfg.listeners.iter().find(|l| l.name == "https").unwrap().tls.as_ref().unwrap();
    assert_eq!(tls.acme, vec!["www.example.test", "api.example.test"], "lowercased");
    assert!(tls.certs.is_empty());
}

#[test]
fn renew_before_takes_a_time_a_percentage_or_a_fraction() {
    for (v, want) in [
        ("\"30d\"", RenewBefore::Time(Duration::from_secs(30 * 86_400))),
        ("\"25%\"", RenewBefore::Fraction(0.25)),
        ("0.5", RenewBefore::Fraction(0.5)),
    ] {
        let cfg = parse(&with(&format!("{ACME}\nrenew_before = {v}"), "acme = [\"a.example.test\"]", true), "t.toml")
            .unwrap();
        assert_eq!(cfg.acme.unwrap().renew_before, want, "{v}");
    }
    assert_eq!(RenewBefore::Fraction(0.25).ahead(Duration::from_secs(400)), Duration::from_secs(100));
    assert_eq!(RenewBefore::Time(Duration::from_secs(900)).ahead(Duration::from_secs(400)), Duration::from_secs(400));
    let e = errors(&with(&format!("{ACME}\nrenew_before = 1.5"), "acme = [\"a.example.test\"]", true));
    assert!(e.iter().any(|l| l.contains("t.toml:5:16") && l.contains("acme.renew_before")), "{e:?}");
}

#[test]
fn each_mistake_is_reported_where_it_is() {
    let e = errors(&with("", "acme = [\"a.example.test\"]", true));
    assert!(
        e.iter().any(|l| l.contains("listeners.https.tls.acme") && l.contains("without an [acme] section")),
        "{e:?}"
    );
    let e = errors(&with(ACME, "acme = [\"a.example.test\"]", false));
    assert!(e.iter().any(|l| l.contains("http-01 needs a plain-HTTP listener")), "{e:?}");
    let alpn = format!("{ACME}\nchallenge = \"tls-alpn-01\"");
    assert!(
        parse(&with(&alpn, "acme = [\"a.example.test\"]", false), "t.toml").is_ok(),
        "tls-alpn-01 needs no port 80"
    );
    let e = errors(&with(ACME, "acme = [\"*.example.test\", \"10.0.0.1\", \"a..test\", \"b.test\", \"b.test\"]", true));
    for want in ["DNS-01", "IP address", "not a DNS name", "listed twice"] {
        assert!(e.iter().any(|l| l.contains(want)), "{want}: {e:?}");
    }
    let bad = "[acme]\ndirectory = \"ca.test\"\nstorage = \"s\"\ncontact = [\"ops@example.test\"]\nchallenge = \"dns-01\"\ncoordination = \"mysql://x\"";
    let e = errors(&with(bad, "acme = [\"a.example.test\"]", true));
    for want in ["t.toml:2:13", "mailto:", "unknown challenge", "redis://"] {
        assert!(e.iter().any(|l| l.contains(want)), "{want}: {e:?}");
    }
    let e = errors(&with(ACME, "", true));
    assert!(e.iter().any(|l| l.contains("no certificate")), "neither certs nor acme: {e:?}");
}
