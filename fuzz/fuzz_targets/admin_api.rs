//! Fuzzes the admin API's request handling: the input is `METHOD PATH?QUERY\nBODY`, sent to
//! the handler of a server started once (weights, drains, splits, purges, status, metrics,
//! reload) — an answer for everything, never a panic.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
workers = 1
[admin]
bind = "127.0.0.1:0"
[caches.c]
max_size = "1MiB"
[listeners.web]
bind = "127.0.0.1:0"
[[listeners.web.routes]]
path = "/s"
split = [{ cluster = "app", weight = 90 }, { cluster = "canary", weight = 10 }]
[[listeners.web.routes]]
cluster = "app"
cache = { store = "c" }
[clusters.app]
endpoints = ["127.0.0.1:9001", "127.0.0.1:9002"]
[clusters.canary]
endpoints = ["127.0.0.1:9003"]
"#;

fn server() -> &'static (sluice_control::ServerHandle, tokio::runtime::Runtime) {
    static S: OnceLock<(sluice_control::ServerHandle, tokio::runtime::Runtime)> = OnceLock::new();
    S.get_or_init(|| {
        let cfg = sluice_config::parse(CONFIG, "fuzz.toml").expect("the config parses");
        let h = sluice_control::Server::start(cfg).expect("starts");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        (h, rt)
    })
}

fuzz_target!(|data: &[u8]| {
    let (h, rt) = server();
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (method, target) = head.split_once(' ').unwrap_or(("GET", head));
    // The long poll waits up to `wait` seconds, and /drain starts the exit: not per input.
    if target.contains("wait=") || target.contains("drain") && !target.contains("endpoints") {
        return;
    }
    let Ok(method) = http::Method::from_bytes(method.as_bytes()) else { return };
    let Ok(req) = http::Request::builder()
        .method(method)
        .uri(target)
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
    else {
        return;
    };
    let _ = rt.block_on(sluice_control::admin::handle(std::sync::Arc::clone(h.control()), req));
});
