//! Control: hot reload (routes, clusters, listeners; invalid files; under load) and the
//! admin API (status, config, reload, drain, weight, token).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use sluice_control::{Server, ServerHandle};

use crate::support::*;

fn write(dir: &Path, text: &str, subs: &[(&str, SocketAddr)]) -> PathBuf {
    let mut t = text.to_string();
    for (k, v) in subs {
        t = t.replace(&format!("{{{k}}}"), &v.to_string());
    }
    let p = dir.join("sluice.toml");
    std::fs::write(&p, t).unwrap();
    p
}

fn start(path: &Path) -> ServerHandle {
    let cfg = sluice_config::load(path).unwrap_or_else(|d| panic!("{d}"));
    Server::start_from(cfg, Some(path.to_path_buf())).unwrap()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sluice-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const V1: &str = "workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n";

const V2: &str = "workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/b\"\ncluster = \"b\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n[clusters.b]\nendpoints = [\"{b}\"]\n[listeners.extra]\nbind = \"127.0.0.1:0\"\n[[listeners.extra.routes]]\ncluster = \"b\"\n";

#[tokio::test]
async fn reload_adds_routes_clusters_listeners_and_keeps_endpoint_state() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let dir = tempdir("reload");
    let path = write(&dir, V1, &[("a", a.addr), ("b", b.addr)]);
    let h = start(&path);
    let web = h.addr("web").unwrap();
    assert_eq!(get(web, "/b/x", &[]).await.backend(), "a");
    let state_before = Arc::clone(&h.snapshot().clusters["a"].balancer.endpoints()[0]);
    write(&dir, V2, &[("a", a.addr), ("b", b.addr)]);
    let summary = h.control().reload().expect("valid config reloads");
    assert!(summary.contains("listeners added: extra") && summary.contains("clusters added: b"), "{summary}");
    assert_eq!(get(web, "/b/x", &[]).await.backend(), "b", "new route on the same listener");
    let snap = h.snapshot();
    let state_after = &snap.clusters["a"].balancer.endpoints()[0];
    assert!(Arc::ptr_eq(&state_before, state_after), "endpoint state survives the reload");
    let extra = h.addr("extra").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(extra, "/", &[]).await.backend(), "b", "new listener serves");
    write(&dir, V1, &[("a", a.addr), ("b", b.addr)]);
    h.control().reload().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(extra).await.is_err(), "removed listener stops accepting");
    assert_eq!(get(web, "/b/x", &[]).await.backend(), "a");
    stop(h);
}

#[tokio::test]
async fn an_invalid_reload_is_rejected_and_the_old_config_keeps_serving() {
    let a = Backend::start("a");
    let dir = tempdir("bad");
    let path = write(&dir, V1, &[("a", a.addr)]);
    let h = start(&path);
    std::fs::write(&path, "[listeners.web]\nbind = \"127.0.0.1:0\"\nbogus = 1\n").unwrap();
    let err = h.control().reload().expect_err("invalid config");
    assert!(err.contains("sluice.toml:3:1: listeners.web.bogus: unknown field"), "{err}");
    assert_eq!(get(h.addr("web").unwrap(), "/", &[]).await.status, 200);
    let status = get(h.admin_addr().unwrap(), "/status", &[]).await.json();
    assert_eq!(status["reload"]["ok"], false);
    stop(h);
}

#[tokio::test]
async fn three_reloads_under_load_fail_no_request() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let dir = tempdir("load");
    let path = write(&dir, V1, &[("a", a.addr), ("b", b.addr)]);
    let h = start(&path);
    let web = h.addr("web").unwrap();
    let load = (0..4).map(|_| tokio::spawn(async move { tally(web, 150, &[]).await }));
    let reloads = async {
        for v in [V2, V1, V2] {
            tokio::time::sleep(Duration::from_millis(80)).await;
            write(&dir, v, &[("a", a.addr), ("b", b.addr)]);
            h.control().reload().unwrap();
        }
    };
    let (results, ()) = futures_util::future::join(futures_util::future::join_all(load), reloads).await;
    for r in results {
        let t = r.unwrap();
        assert!(t.keys().all(|k| !k.starts_with("status")), "failed requests during reload: {t:?}");
    }
    stop(h);
}

fn req(method: &str, path: &str, body: &str, token: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::builder().method(method).uri(path).header("host", "admin");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

#[tokio::test]
async fn admin_drain_weight_config_reload_and_token() {
    let bs = [Backend::start("a"), Backend::start("b")];
    let dir = tempdir("admin");
    let text = "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\ntoken = \"s3cret\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"c\"\n[clusters.c]\nendpoints = [\"{a}\", \"{b}\"]\n";
    let path = write(&dir, text, &[("a", bs[0].addr), ("b", bs[1].addr)]);
    let h = start(&path);
    let (admin, web) = (h.admin_addr().unwrap(), h.addr("web").unwrap());
    let tok = Some("s3cret");
    assert_eq!(send(admin, req("GET", "/status", "", None)).await.status, 401);
    assert_eq!(send(admin, req("GET", "/status", "", Some("wrong"))).await.status, 401);
    let st = send(admin, req("GET", "/status", "", tok)).await;
    assert_eq!(st.json()["clusters"]["c"]["endpoints"][0]["state"], "healthy");
    assert!(send(admin, req("GET", "/config", "", tok)).await.body.contains("[clusters.c]"));
    let a = bs[0].addr;
    let r = send(admin, req("POST", &format!("/clusters/c/endpoints/{a}/drain"), "", tok)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(tally(web, 10, &[]).await.get("a"), None, "drained");
    assert_eq!(send(admin, req("POST", &format!("/clusters/c/endpoints/{a}/undrain"), "", tok)).await.status, 200);
    assert_eq!(send(admin, req("PUT", &format!("/clusters/c/endpoints/{a}/weight"), "3", tok)).await.status, 200);
    let t = tally(web, 40, &[]).await;
    assert_eq!((t["a"], t["b"]), (30, 10), "weight 3:1 after the admin change: {t:?}");
    assert_eq!(
        send(admin, req("PUT", &format!("/clusters/c/endpoints/{a}/weight?value=x"), "", tok)).await.status,
        400
    );
    assert_eq!(send(admin, req("POST", "/clusters/c/endpoints/10.9.9.9:1/drain", "", tok)).await.status, 404);
    assert_eq!(send(admin, req("GET", "/metrics", "", None)).await.status, 401);
    assert!(send(admin, req("GET", "/metrics", "", tok)).await.body.contains("sluice_connections_total"));
    let ui = send(admin, req("GET", "/ui", "", None)).await;
    assert_eq!(ui.status, 200, "the page itself needs no token; it sends ?token= with each /status call");
    assert!(
        ui.headers["content-type"].to_str().unwrap().starts_with("text/html") && ui.body.contains("fetch(\"status\"")
    );
    let ep = &send(admin, req("GET", "/status", "", tok)).await.json()["clusters"]["c"]["endpoints"][0];
    assert!(ep["error_rate"].is_number() && ep.get("p95_ms").is_some() && ep["ewma_ms"].is_number(), "{ep}");
    let rl = send(admin, req("POST", "/reload", "", tok)).await;
    assert_eq!((rl.status, rl.body.as_str()), (200, "reloaded: no changes\n"));
    stop(h);
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let a = Backend::start("a");
    let text = "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/dead\"\ncluster = \"dead\"\n[[listeners.web.routes]]\npath_prefix = \"/ok\"\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{a}\"]\n[clusters.dead]\nendpoints = [\"{d}\"]\n";
    let h = proxy(text, &[("a", a.addr), ("d", closed_port())]);
    let web = h.addr("web").unwrap();
    for _ in 0..5 {
        assert_eq!(get(web, "/ok", &[]).await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(web, "/nothing", &[]).await.status, 404);
    }
    assert_eq!(get(web, "/dead", &[]).await.status, 502);
    let m = get(h.admin_addr().unwrap(), "/metrics", &[]).await;
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let t = m.body;
    for line in [
        "sluice_listener_responses_total{listener=\"web\",code=\"200\",class=\"2xx\"} 5",
        "sluice_listener_responses_total{listener=\"web\",code=\"404\",class=\"4xx\"} 2",
        "sluice_listener_responses_total{listener=\"web\",code=\"502\",class=\"5xx\"} 1",
        "sluice_route_responses_total{listener=\"web\",route=\"1\",code=\"200\",class=\"2xx\"} 5",
        "sluice_route_responses_total{listener=\"web\",route=\"0\",code=\"502\",class=\"5xx\"} 1",
        "sluice_cluster_responses_total{cluster=\"a\",code=\"200\",class=\"2xx\"} 5",
        "sluice_connections_total{listener=\"web\"} 8",
        "sluice_request_duration_seconds_count{listener=\"web\"} 8",
        "sluice_upstream_ttfb_seconds_count{cluster=\"a\"} 5",
    ] {
        assert!(t.contains(line), "missing `{line}` in:\n{t}");
    }
    // Pool reuse depends on timing (a connection returns when hyper marks it ready): the
    // five upstream requests used one connection or a few, and every new one was timed.
    let value = |name: &str| -> u64 {
        let line = t.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{t}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let created = value("sluice_upstream_connections_created_total{cluster=\"a\"}");
    assert_eq!(created + value("sluice_upstream_connections_reused_total{cluster=\"a\"}"), 5);
    assert!((1..=3).contains(&created), "most requests reused a pooled connection: {t}");
    assert_eq!(value("sluice_upstream_connect_seconds_count{cluster=\"a\"}"), created);
    stop(h);
}

#[tokio::test]
async fn access_log_writes_one_json_line_per_request() {
    let a = Backend::start("a");
    let dir = tempdir("alog");
    let log = dir.join("access.log");
    let _ = std::fs::remove_file(&log);
    let text = format!("workers = 1\n[access_log]\npath = \"{}\"\nformat = \"json\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath = \"/ok\"\ncluster = \"a\"\n[[listeners.web.routes]]\npath = \"/hi\"\nrespond = {{ status = 200, body = \"hi\" }}\n[clusters.a]\nendpoints = [\"{{a}}\"]\n", log.display());
    let h = proxy(&text, &[("a", a.addr)]);
    let web = h.addr("web").unwrap();
    get(web, "/ok?x=1", &[("user-agent", "probe/1")]).await;
    get(web, "/hi", &[]).await;
    get(web, "/none", &[]).await;
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_string).collect();
        if lines.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lines.len(), 3, "{lines:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["path"], "/ok?x=1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["cluster"], "a");
    assert_eq!(first["endpoint"], a.addr.to_string());
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["user_agent"], "probe/1");
    assert!(first["bytes"].as_u64().unwrap() > 10);
    assert!(first["total_ms"].as_f64().unwrap() >= first["upstream_ttfb_ms"].as_f64().unwrap());
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!((second["route"].as_u64(), second["bytes"].as_u64()), (Some(1), Some(2)));
    let third: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(third["status"], 404);
    stop(h);
}

#[tokio::test]
async fn blue_green_switch_through_the_admin_api_survives_a_reload() {
    let (blue, green) = (Backend::start("blue"), Backend::start("green"));
    let dir = tempdir("bluegreen");
    let text = "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\nsplit = [{ cluster = \"blue\", weight = 100 }, { cluster = \"green\", weight = 0 }]\n[clusters.blue]\nendpoints = [\"{b}\"]\n[clusters.green]\nendpoints = [\"{g}\"]\n";
    let path = write(&dir, text, &[("b", blue.addr), ("g", green.addr)]);
    let h = start(&path);
    let (admin, web) = (h.admin_addr().unwrap(), h.addr("web").unwrap());
    assert_eq!(tally(web, 10, &[]).await.get("blue"), Some(&10));
    let r = send(admin, req("PUT", "/listeners/web/routes/0/split", "blue=0,green=100", None)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(tally(web, 10, &[]).await.get("green"), Some(&10), "switched atomically");
    let status = send(admin, req("GET", "/status", "", None)).await.json();
    assert_eq!(status["listeners"][0]["routes"][0]["split"][1]["weight"], 100, "reported in /status");
    h.control().reload().unwrap();
    assert_eq!(tally(web, 10, &[]).await.get("green"), Some(&10), "the switch survives a reload of the same file");
    let bad = send(admin, req("PUT", "/listeners/web/routes/0/split", "blue=1,purple=1", None)).await;
    assert_eq!(bad.status, 400);
    stop(h);
}
