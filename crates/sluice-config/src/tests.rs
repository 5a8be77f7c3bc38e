//! `check`-level tests: valid configs parse with the documented defaults, and each class
//! of error is reported at the right line and column, all at once.

use super::*;
use std::time::Duration;

fn errors(text: &str) -> Vec<String> {
    let d = parse(text, "t.toml").expect_err("config should be rejected");
    d.to_string().lines().map(str::to_string).collect()
}

const BASE: &str = r#"
[listeners.web]
bind = "127.0.0.1:8080"

[[listeners.web.routes]]
cluster = "a"

[clusters.a]
endpoints = ["127.0.0.1:9001"]
"#;

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(BASE, "t.toml").unwrap();
    let l = &c.listeners[0];
    assert_eq!(l.timeouts.header, Duration::from_secs(10));
    assert_eq!(l.limits.max_header_bytes, 60 * 1024);
    assert_eq!(c.clusters["a"].timeouts.connect, Duration::from_secs(5));
    assert!(c.workers >= 1);
}

#[test]
fn contract_spine_parses() {
    // A copy of the shared contract's spine.toml (`.ci/run` checks the original).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/spine.toml");
    let c = load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(c.workers, 2);
    assert_eq!(c.listeners[0].routes.len(), 5);
    assert_eq!(c.listeners[0].limits.max_body_bytes, 1 << 20);
    assert_eq!(c.listeners[0].routes[3].timeout, Some(Duration::from_millis(300)));
}

#[test]
fn unknown_keys_are_all_reported_with_position() {
    let text = BASE.replace("bind = \"127.0.0.1:8080\"", "bind = \"127.0.0.1:8080\"\nbogus = 1\n  other = 2");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("t.toml:4:1: listeners.web.bogus: unknown field `bogus` (expected"), "{}", e[0]);
    assert!(e[1].starts_with("t.toml:5:3: listeners.web.other: unknown field `other`"), "{}", e[1]);
}

#[test]
fn missing_cluster_is_reported_at_the_name() {
    let e = errors(&BASE.replace("cluster = \"a\"", "cluster = \"nope\""));
    assert_eq!(
        e,
        vec!["t.toml:6:11: listeners.web.routes[0].cluster: cluster `nope` is not defined (defined clusters: a)"]
    );
}

#[test]
fn bad_address_and_duplicate_bind() {
    let text =
        format!("{BASE}\n[listeners.two]\nbind = \"127.0.0.1:8080\"\n\n[listeners.three]\nbind = \"localhost\"\n");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("t.toml:12:8: listeners.two.bind: address 127.0.0.1:8080 is already used by listeners.web"),
        "{}",
        e[0]
    );
    assert!(e[1].starts_with("t.toml:15:8: listeners.three.bind: `localhost` is not a socket address"), "{}", e[1]);
}

#[test]
fn weights_summing_to_zero() {
    let text = BASE
        .replace("endpoints = [\"127.0.0.1:9001\"]", "endpoints = [{ addr = \"127.0.0.1:9001\", weight = 0 }]")
        + "\n[[listeners.web.routes]]\nsplit = [{ cluster = \"a\", weight = 0 }]\n";
    let e = errors(&text);
    assert!(e.iter().any(|l| l.starts_with("t.toml:9:13: clusters.a.endpoints: endpoint weights sum to 0")), "{e:?}");
    assert!(
        e.iter().any(|l| l.starts_with("t.toml:12:9: listeners.web.routes[1].split: split weights sum to 0")),
        "{e:?}"
    );
}

#[test]
fn impossible_timeouts() {
    let text = BASE.replace(
        "bind = \"127.0.0.1:8080\"",
        "bind = \"127.0.0.1:8080\"\ntimeouts = { header = \"0s\", idle = \"10 parsecs\", body = \"30d\" }",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].starts_with("t.toml:4:23: listeners.web.timeouts.header: timeout must be greater than 0"), "{}", e[0]);
    assert!(e[1].starts_with("t.toml:4:36: listeners.web.timeouts.idle: unknown duration unit"), "{}", e[1]);
    assert!(e[2].starts_with("t.toml:4:57: listeners.web.timeouts.body: timeout longer than 7 days"), "{}", e[2]);
}

#[test]
fn syntax_error_has_position() {
    let e = errors("[listeners.web\nbind = 1\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("t.toml:1:"), "{}", e[0]);
}

#[test]
fn bad_regex_balancer_and_admin_without_token() {
    let text = format!("[admin]\nbind = \"0.0.0.0:9901\"\n{BASE}")
        .replace("cluster = \"a\"", "cluster = \"a\"\npath_regex = \"(\"")
        .replace("[clusters.a]", "[clusters.a]\nbalance = \"fastest\"");
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("admin.bind: a non-loopback admin bind needs a token"), "{}", e[0]);
    assert!(e[1].contains("path_regex: invalid regex"), "{}", e[1]);
    assert!(e[2].contains("clusters.a.balance: unknown balancer `fastest` (one of: round_robin"), "{}", e[2]);
}

#[test]
fn route_needs_exactly_one_target() {
    let text = BASE.replace("cluster = \"a\"\n\n[clusters", "cluster = \"a\"\nrespond = { status = 200 }\n\n[clusters")
        + "\n[[listeners.web.routes]]\npath = \"/x\"\n[[listeners.web.routes]]\npath = \"/y\"\nrespond = { status = 99 }\n";
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].starts_with("t.toml:7:11: listeners.web.routes[0]: a route has exactly one of"), "{}", e[0]);
    assert!(e[1].starts_with("t.toml:13:8: listeners.web.routes[1]: route has no target"), "{}", e[1]);
    assert!(e[2].contains("listeners.web.routes[2].respond.status: 99 is out of range"), "{}", e[2]);
}

#[test]
fn resilience_settings_parse_with_defaults_and_errors() {
    let ok = BASE.replace(
        "endpoints = [\"127.0.0.1:9001\"]",
        "endpoints = [\"127.0.0.1:9001\"]\nhealth = { kind = \"http\", path = \"/healthz\", expect_status = [200, 204] }\noutlier = { consecutive_5xx = 3 }\nretries = { attempts = 2 }\nlimits = { max_requests = 4 }",
    );
    let c = parse(&ok, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    let a = &c.clusters["a"];
    let h = a.health.as_ref().unwrap();
    assert_eq!((h.interval, h.rise_fall.rise, h.rise_fall.fall), (Duration::from_secs(2), 2, 3));
    assert!(matches!(&h.check, CheckKind::Http(x) if x.expect_status == (200, 204) && x.path == "/healthz"));
    assert_eq!(a.outlier.unwrap().consecutive_5xx, 3);
    let r = a.retries.as_ref().unwrap();
    assert!(r.on_connect_failure && r.on_reset && r.on_gateway_error && !r.on_5xx);
    assert_eq!((a.limits.max_requests, a.limits.max_pending), (Some(4), 0));
    let bad = BASE.replace(
        "endpoints = [\"127.0.0.1:9001\"]",
        "endpoints = [\"127.0.0.1:9001\"]\nhealth = { kind = \"ping\" }\nretries = { attempts = 2, on = [\"sometimes\"] }\nlimits = { max_connections = 0 }",
    );
    let e = errors(&bad);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("clusters.a.health.kind: unknown health check kind `ping`"), "{}", e[0]);
    assert!(e[1].contains("clusters.a.retries.on: unknown retry condition `sometimes`"), "{}", e[1]);
    assert!(e[2].contains("clusters.a.limits.max_connections: 0 is out of range"), "{}", e[2]);
}

#[test]
fn rate_limits_parse_with_local_and_redis_stores() {
    let ok = BASE.replace(
        "cluster = \"a\"\n",
        "cluster = \"a\"\nrate_limit = { key = [\"source_ip\", \"header:X-Key\"], rate = \"600/m\", burst = 20 }\n",
    );
    let c = parse(&ok, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    let rl = c.listeners[0].routes[0].rate_limit.as_ref().unwrap();
    assert_eq!((rl.rate, rl.burst, &rl.store), (10.0, 20, &None));
    assert_eq!(rl.keys, vec![LimitKey::SourceIp, LimitKey::Header("x-key".into())]);
    let redis = BASE.replace(
        "cluster = \"a\"\n",
        "cluster = \"a\"\nrate_limit = { key = \"route\", rate = \"10/s\", store = \"redis://127.0.0.1:6379\", store_fallback = \"deny\" }\n",
    );
    let c = parse(&redis, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    let store = c.listeners[0].routes[0].rate_limit.as_ref().unwrap().store.clone().unwrap();
    assert_eq!((store.url.as_str(), store.fallback), ("redis://127.0.0.1:6379", StoreFallback::Deny));
    assert_eq!(store.timeout, Duration::from_millis(100));
    let bad = redis.replace("redis://127.0.0.1:6379", "memcached://x").replace("\"deny\"", "\"maybe\"");
    let e = errors(&bad);
    assert!(e[0].contains("rate_limit.store: unsupported store `memcached://x`"), "{e:?}");
    let bad = redis.replace("\"deny\"", "\"maybe\"");
    assert!(errors(&bad)[0].contains("rate_limit.store_fallback: unknown fallback `maybe`"));
}

#[test]
fn listener_rate_limits_are_for_http_listeners() {
    let http = "[listeners.web]\nbind = \"127.0.0.1:1\"\nrate_limit = { key = \"source_ip\", rate = \"5/s\" }\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"127.0.0.1:2\"]\n";
    let c = parse(http, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    let rl = c.listeners[0].rate_limit.as_ref().unwrap();
    assert_eq!((rl.rate, rl.burst), (5.0, 5));
    let tcp = "[listeners.l4]\nbind = \"127.0.0.1:1\"\nprotocol = \"tcp\"\ncluster = \"a\"\nrate_limit = { key = \"source_ip\", rate = \"5/s\" }\n[clusters.a]\nendpoints = [\"127.0.0.1:2\"]\n";
    let e = errors(tcp);
    assert!(e[0].contains("listeners.l4.rate_limit: rate_limit is for http listeners"), "{e:?}");
}

#[test]
fn http3_needs_tls_and_known_settings() {
    let no_tls = BASE.replace("[[listeners.web.routes]]", "[listeners.web.http3]\n\n[[listeners.web.routes]]");
    let e = errors(&no_tls);
    assert!(e.iter().any(|l| l.contains("t.toml:5:1") && l.contains("http3 needs a TLS listener")), "{e:?}");
    let bad = BASE.replace(
        "[[listeners.web.routes]]",
        "[listeners.web.tls]\ncerts = [{ cert = \"none.pem\", key = \"none.key\" }]\nclient_ca = \"none-ca.pem\"\n\
         [listeners.web.http3]\nretry = \"sometimes\"\nearly_data = true\nidle_timeout = \"0s\"\n\n[[listeners.web.routes]]",
    );
    let e = errors(&bad).join("\n");
    assert!(e.contains("unknown retry policy `sometimes`"), "{e}");
    assert!(e.contains("early_data with client_ca"), "{e}");
    assert!(e.contains("listeners.web.http3.idle_timeout: timeout must be greater than 0"), "{e}");
    assert!(!e.contains("http3 needs a TLS listener"), "{e}");
}

#[test]
fn caches_and_compression_parse_with_defaults_and_errors() {
    let ok = BASE.replace(
        "[[listeners.web.routes]]\ncluster = \"a\"",
        "[caches.edge]\nmax_size = \"64MiB\"\n[[listeners.web.routes]]\ncluster = \"a\"\n\
         cache = { store = \"edge\", stale_if_error = \"5m\", key = [\"host\", \"path\", \"header:Accept-Language\"] }\n\
         compress = { algorithms = [\"gzip\"] }",
    );
    let c = parse(&ok, "t.toml").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!((c.caches["edge"].max_size, c.caches["edge"].max_object_size), (64 << 20, 8 << 20));
    let r = &c.listeners[0].routes[0];
    let rc = r.cache.as_ref().unwrap();
    assert_eq!(
        (rc.stale_if_error, rc.stale_while_revalidate, rc.coalesce),
        (Duration::from_secs(300), Duration::ZERO, true)
    );
    assert_eq!(rc.key[2], KeyPart::Header("accept-language".into()));
    let z = r.compress.as_ref().unwrap();
    assert_eq!((z.algorithms.clone(), z.min_size, z.level), (vec![Encoding::Gzip], 1024, None));
    assert!(z.types.iter().any(|t| t == "text/*"));
    let bad = BASE.replace(
        "[[listeners.web.routes]]\ncluster = \"a\"",
        "[caches.edge]\nmax_size = \"1MiB\"\nmax_object_size = \"2MiB\"\n[[listeners.web.routes]]\ncluster = \"a\"\n\
         cache = { store = \"nope\", key = [\"body\"] }\ncompress = { algorithms = [\"lz4\"], level = 12 }",
    );
    let e = errors(&bad).join("\n");
    for want in [
        "larger than max_size",
        "no cache named `nope`",
        "unknown key part `body`",
        "unknown algorithm `lz4`",
        "compress.level",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
}
