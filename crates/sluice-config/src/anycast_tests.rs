//! `[anycast]` validation: the contract's routes parse with their defaults; nonsense is
//! rejected at its line and column.

use super::*;
use std::time::Duration;

fn errors(text: &str) -> Vec<String> {
    let d = parse(text, "t.toml").expect_err("config should be rejected");
    d.to_string().lines().map(str::to_string).collect()
}

const BASE: &str =
    "[clusters.seoul]\nendpoints = [\"127.0.0.1:9001\"]\n[anycast]\nlocal_as = 65000\n[[anycast.routes]]\n";

#[test]
fn the_contract_routes_parse_with_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/global.toml");
    let c = load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    let a = c.anycast.expect("anycast");
    assert_eq!(
        (a.speaker, a.local_as, a.withdraw_delay, a.next_hop.as_str()),
        (Speaker::ExaBgp, 65000, Duration::from_secs(5), "self")
    );
    let r = &a.routes[0];
    assert_eq!(r.prefix.to_string(), "203.0.113.10/32");
    assert_eq!((r.min_healthy, r.degraded_below, r.as_path_prepend), (1, Some(2), 3));
    assert_eq!((r.communities.clone(), r.hold), (vec![(65000, 100)], Duration::from_secs(2)));
}

#[test]
fn nonsense_is_rejected_where_it_is() {
    let e = errors(&format!("{BASE}prefix = \"203.0.113.10/24\"\ncluster = \"seoul\"\n"));
    assert!(e.iter().any(|l| l.contains("t.toml:6:10") && l.contains("host bits set")), "{e:?}");
    let e = errors(&format!("{BASE}prefix = \"203.0.113.10/32\"\ncluster = \"tokyo\"\nmin_healthy = 3\ndegraded_below = 2\ncommunities = [\"65000:70000\"]\n"));
    assert!(e.iter().any(|l| l.contains("unknown cluster `tokyo`")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("t.toml:9:18") && l.contains("must be above min_healthy")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("`65000:70000` is not a community")), "{e:?}");
    let e = errors(&format!("{BASE}prefix = \"203.0.113.10\"\ncluster = \"seoul\"\n"));
    assert!(e.iter().any(|l| l.contains("has no prefix length")), "{e:?}");
    let t = BASE.replace("local_as = 65000", "local_as = 0\nspeaker = \"quagga\"");
    let e = errors(&format!("{t}prefix = \"203.0.113.10/32\"\ncluster = \"seoul\"\n"));
    assert!(
        e.iter().any(|l| l.contains("anycast.local_as")) && e.iter().any(|l| l.contains("unknown speaker")),
        "{e:?}"
    );
}
