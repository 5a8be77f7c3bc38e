//! `sluice demo`: three built-in backends (fast, medium, slow-and-flaky) on loopback, a
//! generated config that routes to them (a p2c API cluster, a 90/10 canary split, a header
//! canary), and the proxy itself — so a newcomer sees sluice work with no file to write.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::Rng;

/// name, added latency, share of requests answered with 500.
const BACKENDS: [(&str, u64, f64); 3] = [("alpha", 0, 0.0), ("bravo", 20, 0.0), ("charlie", 50, 0.2)];

pub fn run(listen: &str, admin: &str, dns: Option<&str>) -> ExitCode {
    let addrs = match start_backends() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sluice demo: cannot start demo backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut text = config_text(listen, admin, &addrs);
    if let Some(dns) = dns {
        text.push_str(&dns_text(dns));
    }
    let cfg = match sluice_config::parse(&text, "(demo config)") {
        Ok(c) => c,
        Err(d) => {
            eprint!("{d}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", intro(listen, admin, &addrs, &text));
    if let Ok(target) = listen.parse() {
        start_traffic(target);
    }
    crate::run(cfg, None)
}

fn config_text(listen: &str, admin: &str, b: &[SocketAddr]) -> String {
    format!(
        r#"workers = 2

[admin]
bind = "{admin}"

[caches.demo]
max_size = "64MiB"

[listeners.web]
bind = "{listen}"
protocol = "http"

[[listeners.web.routes]]
path_prefix = "/api/"
cluster = "api"

[[listeners.web.routes]]
path_prefix = "/static/"
cluster = "app"
cache = {{ store = "demo", stale_while_revalidate = "10s" }}
compress = {{}}

[[listeners.web.routes]]
headers = {{ x-canary = "1" }}
cluster = "canary"

[[listeners.web.routes]]
path_prefix = "/"
split = [{{ cluster = "app", weight = 90 }}, {{ cluster = "canary", weight = 10 }}]

[clusters.api]
balance = "p2c"
endpoints = ["{a}", "{b}", "{c}"]

[clusters.app]
balance = "round_robin"
endpoints = [{{ addr = "{a}", weight = 2 }}, {{ addr = "{b}", weight = 1 }}]

[clusters.canary]
endpoints = ["{c}"]
"#,
        a = b[0],
        b = b[1],
        c = b[2]
    )
}

/// The optional global layer (`--dns ADDR`): GSLB records over the demo clusters, and an
/// anycast route following the api cluster.
fn dns_text(bind: &str) -> String {
    format!(
        r#"
[dns]
bind = "{bind}"

[dns.zones."demo.test"]
ns = ["ns1.demo.test"]

[[dns.zones."demo.test".records]]
name = "www"
type = "A"
ttl = "10s"
policy = "weighted"
targets = [{{ addr = "192.0.2.1", cluster = "app", weight = 90 }}, {{ addr = "192.0.2.2", cluster = "canary", weight = 10 }}]

[[dns.zones."demo.test".records]]
name = "api"
type = "A"
ttl = "10s"
policy = "failover"
targets = [{{ addr = "192.0.2.10", cluster = "api" }}, {{ addr = "192.0.2.20", cluster = "canary" }}]

# What `sluice anycast-feed` would tell ExaBGP (no BGP speaker runs in the demo).
[anycast]
local_as = 65000

[[anycast.routes]]
prefix = "203.0.113.10/32"
cluster = "api"
min_healthy = 1
degraded_below = 3
as_path_prepend = 2
communities = ["65000:100"]
"#
    )
}

fn intro(listen: &str, admin: &str, addrs: &[SocketAddr], text: &str) -> String {
    let backends: Vec<String> = BACKENDS
        .iter()
        .zip(addrs)
        .map(|((n, ms, err), a)| format!("  {n:8} {a}  +{ms}ms latency, {:.0}% errors", err * 100.0))
        .collect();
    format!(
        "sluice demo — built-in backends:\n{}\n\nThe config it runs (save it and edit it for `sluice run -c FILE`):\n\n{text}\nTry:\n  \
curl -s http://{listen}/                          # 90% app (alpha:bravo 2:1), 10% canary\n  \
curl -s -H 'x-canary: 1' http://{listen}/         # header canary -> charlie\n  \
curl -s http://{listen}/api/users                 # p2c across all three\n  \
curl -si http://{listen}/static/app.css | grep -i cache-status   # cached (docs/cache.md)\n  \
curl -s --http2-prior-knowledge http://{listen}/  # HTTP/2 cleartext on the same port\n  \
curl -s http://{admin}/status                     # endpoints, in-flight, failures\n\n\
Dashboard: http://{admin}/ui  (a little demo traffic runs in the background so it has something to show)\n\nCtrl-C drains and stops.\n",
        backends.join("\n")
    )
}

fn start_backends() -> std::io::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    let mut listeners = Vec::new();
    for _ in BACKENDS {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.set_nonblocking(true)?;
        out.push(l.local_addr()?);
        listeners.push(l);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("demo-backends".into()).spawn(move || {
        rt.block_on(async move {
            for ((name, ms, err), l) in BACKENDS.into_iter().zip(listeners) {
                if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                    tokio::spawn(backend(l, name, ms, err));
                }
            }
            std::future::pending::<()>().await;
        })
    })?;
    Ok(out)
}

async fn backend(l: tokio::net::TcpListener, name: &'static str, ms: u64, err: f64) {
    while let Ok((s, _)) = l.accept().await {
        tokio::spawn(async move {
            let svc = service_fn(move |req| answer(req, name, ms, err));
            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(TokioIo::new(s), svc)
                .await;
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    name: &'static str,
    ms: u64,
    err: f64,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let fail = rand::thread_rng().gen_bool(err);
    let xff = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("-");
    let body = if fail {
        format!("{name}: simulated failure for {} {}\n", req.method(), req.uri())
    } else {
        format!("hello from {name}: {} {} (x-forwarded-for: {xff})\n", req.method(), req.uri())
    };
    let is_static = req.uri().path().starts_with("/static/");
    let body =
        if is_static { format!("/* {name}: demo stylesheet */\n{}", "body { margin: 0 }\n".repeat(200)) } else { body };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    if fail {
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    } else if is_static {
        resp.headers_mut().insert("cache-control", http::HeaderValue::from_static("max-age=5"));
        resp.headers_mut().insert("content-type", http::HeaderValue::from_static("text/css"));
    }
    resp.headers_mut().insert("x-backend", http::HeaderValue::from_static(name));
    Ok(resp)
}

/// A gentle background load (about 20 requests per second over the demo's routes) so the
/// dashboard shows the slow and the flaky backend at work.
fn start_traffic(target: SocketAddr) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    let _ = std::thread::Builder::new().name("demo-traffic".into()).spawn(move || {
        rt.block_on(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            for n in 0u64.. {
                tick.tick().await;
                let path = match n % 4 {
                    0 | 2 => "/api/orders",
                    1 => "/",
                    _ => "/static/app.css",
                };
                tokio::spawn(one_request(target, path));
            }
        });
    });
}

async fn one_request(target: SocketAddr, path: &'static str) {
    let Ok(s) = tokio::net::TcpStream::connect(target).await else { return };
    let Ok((mut tx, conn)) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(s)).await else {
        return;
    };
    tokio::spawn(conn);
    if let Ok(req) = Request::get(path).header("host", "demo.local").body(Full::new(Bytes::new())) {
        if let Ok(resp) = tx.send_request(req).await {
            let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
        }
    }
}
