//! Shared rate limits against a real redis-server (interop: `scripts/interop-redis.sh`
//! runs these with `--ignored`; they fail, not skip, when redis-server is missing).
//! Two sluice instances share one bucket; when Redis dies they fall back to their own.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

struct Redis {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Redis {
    #[allow(clippy::zombie_processes)] // killed and waited for in Drop
    fn start() -> Redis {
        let addr = closed_port();
        let child = Command::new("redis-server")
            .args(["--port", &addr.port().to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this interop test (apt-get install -y redis-server)");
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Redis { child, addr };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start on {addr}");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CFG: &str = "workers = 2\n[admin]\nbind = \"127.0.0.1:0\"\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\nrate_limit = { key = \"header:x-api-key\", rate = \"1/m\", burst = 10, store = \"redis://{r}\", store_timeout = \"500ms\" }\n[clusters.a]\nendpoints = [\"{a}\"]\n";

#[tokio::test]
#[ignore = "interop: needs redis-server (scripts/interop-redis.sh)"]
async fn two_instances_share_one_bucket_and_survive_redis_going_away() {
    let mut redis = Redis::start();
    let b = Backend::start("a");
    let one = proxy(CFG, &[("a", b.addr), ("r", redis.addr)]);
    let two = proxy(CFG, &[("a", b.addr), ("r", redis.addr)]);
    let (a1, a2) = (one.addr("web").unwrap(), two.addr("web").unwrap());
    let mut admitted = 0;
    for i in 0..30 {
        let r = get(if i % 2 == 0 { a1 } else { a2 }, "/", &[("x-api-key", "k1")]).await;
        match r.status {
            200 => admitted += 1,
            429 => assert!(r.headers.contains_key("retry-after")),
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(admitted, 10, "one burst of 10 between both instances, not 10 each");
    assert_eq!(get(a2, "/", &[("x-api-key", "k2")]).await.status, 200, "another key, another bucket");

    let _ = redis.child.kill();
    let _ = redis.child.wait();
    let mut statuses = Vec::new();
    for i in 0..12 {
        statuses.push(get(if i % 2 == 0 { a1 } else { a2 }, "/", &[("x-api-key", "k3")]).await.status);
    }
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "no request fails: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 12, "each instance's local bucket (10 each)");
    let m = get(one.admin_addr().unwrap(), "/metrics", &[]).await.body;
    assert!(m.contains("sluice_route_rate_limit_store_errors_total{listener=\"web\",route=\"0\"} 6"), "{m}");
    stop(one);
    stop(two);
}
