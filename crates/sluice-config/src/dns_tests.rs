//! `[dns]` validation: the contract's zone parses with its defaults; each kind of mistake
//! is reported at its line and column.

use super::*;
use sluice_core::gslb::Policy;

fn errors(text: &str) -> Vec<String> {
    let d = parse(text, "t.toml").expect_err("config should be rejected");
    d.to_string().lines().map(str::to_string).collect()
}

const BASE: &str = r#"
[clusters.seoul]
endpoints = ["127.0.0.1:9001"]
[clusters.tokyo]
endpoints = ["127.0.0.1:9011"]

[dns]
bind = "127.0.0.1:5353"
[dns.regions]
apac = ["203.0.113.0/24"]
eu = ["198.51.100.0/24"]

[dns.zones."Example.Test."]
ns = ["ns1.example.test"]
"#;

fn with_record(rec: &str) -> String {
    format!("{BASE}\n[[dns.zones.\"Example.Test.\".records]]\n{rec}\n")
}

#[test]
fn the_contract_zone_parses_with_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/global.toml");
    let c = load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    let d = c.dns.expect("dns");
    assert_eq!(d.regions.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["apac", "eu"]);
    let z = &d.zones[0];
    assert_eq!(
        (z.name.as_str(), z.hostmaster.as_str(), z.negative_ttl, z.serial),
        ("example.test", "hostmaster.example.test", 60, None)
    );
    let www = &z.records[0];
    assert_eq!((www.name.as_str(), www.kind, www.ttl), ("www", RecordKind::A, 20));
    let RecordData::Gslb { policy, targets } = &www.data else { panic!("gslb") };
    assert_eq!((*policy, targets.len(), targets[2].region.as_deref()), (Policy::Geo, 3, Some("eu")));
    assert_eq!((targets[0].weight, targets[0].priority, targets[0].min_healthy), (1, 0, 1));
}

#[test]
fn names_are_lowercased_and_static_records_parse() {
    let t = with_record("name = \"@\"\ntype = \"txt\"\nvalues = [\"v=spf1 -all\"]")
        + "[[dns.zones.\"Example.Test.\".records]]\nname = \"docs\"\ntype = \"CNAME\"\nvalues = [\"WWW.example.test.\"]\n";
    let c = parse(&t, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    let z = &c.dns.unwrap().zones[0];
    assert_eq!(z.name, "example.test");
    assert!(matches!(&z.records[0].data, RecordData::Txt(v) if v[0] == "v=spf1 -all"));
    assert!(matches!(&z.records[1].data, RecordData::Cname(n) if n == "www.example.test"));
}

#[test]
fn record_mistakes_are_reported_where_they_are() {
    let t = with_record(
        "name = \"www\"\ntype = \"A\"\npolicy = \"nearest\"\ntargets = [{ addr = \"2001:db8::1\", cluster = \"osaka\", region = \"mars\" }]",
    );
    let e = errors(&t);
    assert!(e.iter().any(|l| l.contains("t.toml:19:10") && l.contains("unknown policy `nearest`")), "{e:?}");
    let t = with_record("name = \"www\"\ntype = \"A\"\ntargets = [{ addr = \"2001:db8::1\", cluster = \"osaka\" }]");
    let e = errors(&t);
    assert!(e.iter().any(|l| l.contains("an A record takes IPv4")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("unknown cluster `osaka`")), "{e:?}");
    let t = with_record(
        "name = \"www\"\ntype = \"A\"\ntargets = [{ addr = \"192.0.2.1\", cluster = \"seoul\", region = \"mars\" }]",
    );
    assert!(errors(&t).iter().any(|l| l.contains("unknown region `mars`")));
    let t = with_record("name = \"www\"\ntype = \"MX\"\nvalues = [\"x\"]");
    assert!(errors(&t).iter().any(|l| l.contains("t.toml:18:8") && l.contains("unknown record type `MX`")));
    let t = with_record("name = \"bad name\"\ntype = \"A\"\nvalues = [\"192.0.2.1\"]");
    assert!(errors(&t).iter().any(|l| l.contains("is not a valid domain name")));
}

#[test]
fn a_cname_stands_alone_and_zones_need_servers() {
    let t = with_record("name = \"www\"\ntype = \"A\"\nvalues = [\"192.0.2.1\"]")
        + "[[dns.zones.\"Example.Test.\".records]]\nname = \"www\"\ntype = \"CNAME\"\nvalues = [\"x.example.test\"]\n";
    assert!(errors(&t).iter().any(|l| l.contains("CNAME beside others")));
    let t = BASE.replace("ns = [\"ns1.example.test\"]", "ns = []");
    assert!(errors(&t).iter().any(|l| l.contains("needs at least one name server")));
    let t = BASE.replace("203.0.113.0/24", "203.0.113.0/33");
    assert!(errors(&t).iter().any(|l| l.contains("t.toml:10:9")), "{:?}", errors(&t));
}

#[test]
fn the_dns_bind_may_not_take_a_listeners_port() {
    let t =
        format!("[listeners.web]\nbind = \"127.0.0.1:5353\"\n[[listeners.web.routes]]\ncluster = \"seoul\"\n{BASE}");
    assert!(errors(&t).iter().any(|l| l.contains("dns.bind") && l.contains("already used by listeners.web")));
}
