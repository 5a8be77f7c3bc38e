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

/// A real gRPC server (tonic's grpc.health.v1) behind sluice: unary Check and streaming
/// Watch pass with their trailers; a dead cluster is answered as UNAVAILABLE.
mod tonic_server {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    use crate::support::*;

    async fn serve() -> (std::net::SocketAddr, tonic_health::server::HealthReporter) {
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter.set_service_status("echo", tonic_health::ServingStatus::Serving).await;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(l);
        tokio::spawn(tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming));
        (addr, reporter)
    }

    #[tokio::test]
    async fn unary_and_streaming_calls_through_sluice_and_unavailable_from_sluice() {
        let (backend, reporter) = serve().await;
        let h = proxy(
            "workers = 1\n[listeners.web]\nbind = \"127.0.0.1:0\"\n[[listeners.web.routes]]\npath_prefix = \"/grpc.health.v1.Health/\"\nheaders = { x-dead = \"1\" }\ncluster = \"dead\"\n[[listeners.web.routes]]\npath_prefix = \"/grpc.health.v1.Health/\"\ncluster = \"grpc\"\n[clusters.grpc]\nprotocol = \"h2c\"\nendpoints = [\"{g}\"]\n[clusters.dead]\nprotocol = \"h2c\"\nendpoints = [\"{d}\"]\n",
            &[("g", backend), ("d", closed_port())],
        );
        let url = format!("http://{}", h.addr("web").unwrap());
        let channel = tonic::transport::Endpoint::from_shared(url).unwrap().connect().await.unwrap();
        let mut client = HealthClient::new(channel);
        let req = || HealthCheckRequest { service: "echo".into() };
        let r = client.check(req()).await.expect("unary call through sluice");
        assert_eq!(r.into_inner().status, ServingStatus::Serving as i32);
        let unknown = client.check(HealthCheckRequest { service: "nope".into() }).await.unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound, "the server's grpc-status trailer passes through");

        let mut stream = client.watch(req()).await.expect("streaming call").into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status, ServingStatus::Serving as i32);
        reporter.set_service_status("echo", tonic_health::ServingStatus::NotServing).await;
        let second = tokio::time::timeout(std::time::Duration::from_secs(5), stream.message()).await.unwrap();
        assert_eq!(second.unwrap().unwrap().status, ServingStatus::NotServing as i32, "streamed update");

        let mut r = tonic::Request::new(req());
        r.metadata_mut().insert("x-dead", "1".parse().unwrap());
        let err = client.check(r).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
        assert_eq!(err.message(), "upstream connection failed");
        // Let the client's tasks (on this runtime) reset the stream before `stop` blocks it.
        drop((stream, client));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stop(h);
    }
}
