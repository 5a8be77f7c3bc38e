//! A minimal HTTP/1.1 reverse proxy on hyper 1: one current-thread runtime, each client
//! connection gets its own upstream keep-alive connection (1:1, so no pool logic at all),
//! requests forwarded as they are. The per-request cost floor of any hyper-based proxy.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = args[1].parse().expect("listen address");
    let upstream: SocketAddr = args[2].parse().expect("upstream address");
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let l = TcpListener::bind(listen).await.expect("bind");
        loop {
            let Ok((s, _)) = l.accept().await else { continue };
            let _ = s.set_nodelay(true);
            tokio::task::spawn_local(serve(s, upstream));
        }
    });
}

async fn serve(client: TcpStream, upstream: SocketAddr) {
    let Ok(up) = TcpStream::connect(upstream).await else { return };
    let _ = up.set_nodelay(true);
    let Ok((tx, conn)) = hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(up)).await else { return };
    tokio::task::spawn_local(conn);
    let tx = std::rc::Rc::new(tokio::sync::Mutex::new(tx));
    let svc = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let mut tx = tx.lock().await;
            let _ = tx.ready().await;
            let resp: Response<Incoming> = tx.send_request(req).await?;
            Ok::<_, hyper::Error>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(client), svc).await;
}
