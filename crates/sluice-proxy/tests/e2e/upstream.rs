//! Upstream side: keep-alive pool reuse, h2c from clients and to upstreams, and the
//! proxy-generated 502 / 503 answers.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::*;

fn one_cluster(extra: &str) -> String {
    format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"{{a}}\"]\n{extra}\n")
}

#[tokio::test]
async fn one_upstream_connection_serves_many_requests() {
    let b = Backend::start("a");
    let h = proxy(&one_cluster(""), &[("a", b.addr)]);
    for _ in 0..50 {
        assert_eq!(get(h.addr("web").unwrap(), "/", &[]).await.status, 200);
    }
    assert_eq!(b.hits(), 50);
    assert_eq!(b.conns(), 1, "sequential requests must reuse one pooled connection");
    stop(h);
}

#[tokio::test]
async fn pool_honours_max_requests_per_upstream_connection() {
    let b = Backend::start("a");
    let h = proxy(&one_cluster("pool = { max_requests = 10 }"), &[("a", b.addr)]);
    for _ in 0..30 {
        get(h.addr("web").unwrap(), "/", &[]).await;
    }
    assert_eq!(b.conns(), 3);
    stop(h);
}

#[tokio::test]
async fn h2c_prior_knowledge_clients_are_served() {
    let b = Backend::start("a");
    let h = proxy(&one_cluster(""), &[("a", b.addr)]);
    let s = TcpStream::connect(h.addr("web").unwrap()).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    for i in 0..5 {
        let req = http::Request::get(format!("http://h2.test/n{i}")).body(Full::new(Bytes::new())).unwrap();
        let r = collect(tx.send_request(req).await.unwrap()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["x-backend"], "a", "the upstream's fields reach an HTTP/2 client");
        let j = r.json();
        assert_eq!(j["path"], format!("/n{i}"));
        assert_eq!(j["version"], "HTTP/1.1", "upstream is HTTP/1.1 by default");
        assert_eq!(j["headers"]["host"], "h2.test");
    }
    stop(h);
}

#[tokio::test]
async fn h2c_cluster_speaks_http2_upstream() {
    let b = Backend::start("a");
    let h = proxy(&one_cluster("protocol = \"h2c\""), &[("a", b.addr)]);
    for _ in 0..10 {
        let r = get(h.addr("web").unwrap(), "/grpc.Echo/Say", &[("te", "trailers")]).await;
        assert_eq!(r.json()["version"], "HTTP/2.0");
        assert_eq!(r.json()["headers"]["te"], "trailers");
    }
    assert_eq!(b.conns(), 1, "one multiplexed h2 connection");
    stop(h);
}

#[tokio::test]
async fn refused_and_reset_upstreams_get_502() {
    let h = proxy(&one_cluster(""), &[("a", closed_port())]);
    let r = get(h.addr("web").unwrap(), "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (502, "502 upstream connection failed\n"));
    assert_eq!(r.headers["x-sluice-error"], "connect_failed");
    stop(h);
    let h = proxy(&one_cluster(""), &[("a", resetting_backend())]);
    let r = get(h.addr("web").unwrap(), "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (502, "502 upstream reset the connection\n"));
    stop(h);
}

#[tokio::test]
async fn empty_cluster_gets_503() {
    let h = proxy("[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"none\"\n[clusters.none]\nendpoints = []\n", &[]);
    let r = get(h.addr("web").unwrap(), "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (503, "503 no healthy endpoint in cluster\n"));
    stop(h);
}

#[tokio::test]
async fn upstream_status_and_body_pass_through() {
    let b = Backend::start("a");
    let h = proxy(&one_cluster(""), &[("a", b.addr)]);
    let r = get(h.addr("web").unwrap(), "/status/418", &[]).await;
    assert_eq!(r.status, 418);
    assert_eq!(r.json()["path"], "/status/418");
    stop(h);
}
