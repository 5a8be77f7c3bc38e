//! gRPC through sluice: errors sluice generates for a gRPC request are gRPC statuses
//! (HTTP 200, trailers-only), and `grpc-timeout` is the upstream deadline.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::*;

/// One gRPC-style call over h2c: status, grpc-status, grpc-message.
async fn call(addr: std::net::SocketAddr, path: &str, timeout: Option<&str>) -> (u16, String, String) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let mut b = http::Request::post(format!("http://grpc.test{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = timeout {
        b = b.header("grpc-timeout", t);
    }
    let r =
        collect(tx.send_request(b.body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))).unwrap()).await.unwrap()).await;
    let h = |n: &str| r.headers.get(n).map_or(String::new(), |v| v.to_str().unwrap().to_string());
    (r.status, h("grpc-status"), h("grpc-message"))
}

#[tokio::test]
async fn sluice_errors_are_grpc_statuses_for_grpc_requests() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/dead.\"\ncluster = \"dead\"\n[[listeners.web.routes]]\npath_prefix = \"/limited.\"\ncluster = \"a\"\nrate_limit = { key = \"route\", rate = \"1/m\", burst = 1 }\n[[listeners.web.routes]]\npath_prefix = \"/ok.\"\ncluster = \"a\"\n[clusters.a]\nprotocol = \"h2c\"\nendpoints = [\"{a}\"]\n[clusters.dead]\nendpoints = [\"{d}\"]\n",
        &[("a", b.addr), ("d", closed_port())],
    );
    let addr = h.addr("web").unwrap();
    let (status, code, msg) = call(addr, "/dead.Svc/Call", None).await;
    assert_eq!((status, code.as_str(), msg.as_str()), (200, "14", "upstream connection failed"), "UNAVAILABLE");
    assert_eq!(call(addr, "/limited.Svc/Call", None).await.0, 200);
    let (status, code, _) = call(addr, "/limited.Svc/Call", None).await;
    assert_eq!((status, code.as_str()), (200, "8"), "RESOURCE_EXHAUSTED");
    let (status, code, _) = call(addr, "/nowhere.Svc/Call", None).await;
    assert_eq!((status, code.as_str()), (200, "12"), "UNIMPLEMENTED for no route");
    let plain = get(addr, "/dead.Svc/Call", &[]).await;
    assert_eq!(plain.status, 502, "a plain HTTP request keeps its HTTP error");
    stop(h);
}

#[tokio::test]
async fn grpc_timeout_is_the_upstream_deadline() {
    let b = Backend::start("a");
    let h = proxy(
        "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nprotocol = \"h2c\"\nendpoints = [\"{a}\"]\n",
        &[("a", b.addr)],
    );
    let addr = h.addr("web").unwrap();
    let t = std::time::Instant::now();
    let (status, code, _) = call(addr, "/slow/2000", Some("200m")).await;
    assert_eq!((status, code.as_str()), (200, "4"), "DEADLINE_EXCEEDED");
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
    let (status, code, _) = call(addr, "/slow/100", Some("5S")).await;
    assert_eq!((status, code.as_str()), (200, ""), "in time: the backend's answer");
    stop(h);
}
