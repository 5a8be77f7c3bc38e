//! The HTTP cache end to end against a programmable origin: hits with Age and
//! Cache-Status, what is never stored, Vary variants, revalidation by 304,
//! stale-while-revalidate, stale-if-error, coalescing, objects over the size limit, purge,
//! and compression with cached encoded variants.

use std::io::Read;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::origin;
use crate::support::*;

const CONFIG: &str = "workers = 1\n[admin]\nbind = \"127.0.0.1:0\"\n[caches.edge]\nmax_size = \"16MiB\"\nmax_object_size = \"1MiB\"\n\
    [listeners.web]\nbind = \"127.0.0.1:0\"\n\
    [[listeners.web.routes]]\npath_prefix = \"/text/\"\ncluster = \"o\"\ncache = { store = \"edge\" }\ncompress = { algorithms = [\"br\", \"gzip\"] }\n\
    [[listeners.web.routes]]\ncluster = \"o\"\ncache = { store = \"edge\", stale_while_revalidate = \"30s\", stale_if_error = \"60s\" }\n\
    [clusters.o]\nendpoints = [\"{o}\"]\n";

fn status(r: &Resp) -> String {
    r.headers.get("cache-status").map_or("-".into(), |v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn hits_misses_and_what_is_never_stored() {
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/cc/max-age=60/a";
    let first = get(addr, p, &[]).await;
    assert_eq!(status(&first), "sluice; fwd=uri-miss; stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = get(addr, p, &[]).await;
    assert!(status(&second).starts_with("sluice; hit; ttl="), "{}", status(&second));
    assert_eq!(second.body, first.body);
    assert!(second.headers["age"].to_str().unwrap().parse::<u64>().unwrap() >= 1, "Age counts");
    let cond = get(addr, p, &[("if-none-match", "W/\"x\", \"v0\"")]).await;
    assert_eq!((cond.status, cond.body.as_str()), (304, ""), "the client's validator matches: 304 from the cache");
    assert_eq!(cond.headers["etag"], "\"v0\"");
    assert_eq!(get(addr, p, &[("if-none-match", "\"v9\"")]).await.status, 200, "another validator: the answer");
    let head = send(addr, http::Request::head(p).header("host", "test.local").body(Default::default()).unwrap()).await;
    assert_eq!((head.status, head.body.as_str()), (200, ""), "HEAD from the stored GET");
    assert_eq!(o.hits(p), 1);
    for p in ["/cc/no-store/b", "/cc/private,_max-age=60/c", "/cookie/max-age=60/d"] {
        get(addr, p, &[]).await;
        let again = get(addr, p, &[]).await;
        assert_eq!(status(&again), "sluice; fwd=uri-miss", "{p}");
        assert_eq!(o.hits(p), 2, "{p} is never stored");
    }
    let auth = "/cc/max-age=60/e";
    get(addr, auth, &[("authorization", "Bearer x")]).await;
    get(addr, auth, &[("authorization", "Bearer x")]).await;
    assert_eq!(o.hits(auth), 2, "an Authorization answer is not shared without public/s-maxage");
    let post = send(addr, http::Request::post(p).header("host", "test.local").body(Default::default()).unwrap()).await;
    assert_eq!((post.status, o.hits(p)), (200, 2), "POST goes to the origin");
    stop(h);
}

#[tokio::test]
async fn vary_variants_and_revalidation() {
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/vary/max-age=60/a";
    let de = get(addr, p, &[("accept-language", "de")]).await;
    let fr = get(addr, p, &[("accept-language", "fr")]).await;
    assert_eq!(status(&fr), "sluice; fwd=vary-miss; stored");
    assert!(get(addr, p, &[("accept-language", "de")]).await.body == de.body);
    assert!(get(addr, p, &[("accept-language", "fr")]).await.body.ends_with("lang=fr"));
    assert_eq!(o.hits(p), 2, "one origin request per variant");
    // no-cache: stored, but every use revalidates; the origin's 304 refreshes the entry.
    let q = "/cc/no-cache/b";
    get(addr, q, &[]).await;
    let r = get(addr, q, &[]).await;
    assert_eq!((r.status, status(&r).as_str()), (200, "sluice; fwd=stale; fwd-status=304"));
    assert_eq!(r.body, "/cc/no-cache/b v0");
    o.state.version.store(1, SeqCst);
    let r = get(addr, q, &[]).await;
    assert_eq!((r.body.as_str(), status(&r).as_str()), ("/cc/no-cache/b v1", "sluice; fwd=uri-miss; stored"));
    stop(h);
}

#[tokio::test]
async fn stale_while_revalidate_and_stale_if_error() {
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/cc/max-age=1/a";
    get(addr, p, &[]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    o.state.version.store(1, SeqCst);
    let stale = get(addr, p, &[]).await;
    assert!(
        status(&stale).contains("fwd=stale") && status(&stale).contains("stale-while-revalidate"),
        "{}",
        status(&stale)
    );
    assert_eq!(stale.body, format!("{p} v0"), "served stale at once");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = get(addr, p, &[]).await;
    assert_eq!(fresh.body, format!("{p} v1"), "refreshed in the background");
    assert_eq!(o.hits(p), 2);
    // stale-if-error: the answer turns stale-while-revalidate off (0 s), and the origin fails.
    let q = "/cc/max-age=1,_stale-while-revalidate=0,_stale-if-error=60/b";
    get(addr, q, &[]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    o.state.fail.store(true, SeqCst);
    let r = get(addr, q, &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, format!("{q} v1").as_str()));
    assert_eq!(status(&r), "sluice; hit; fwd=stale; fwd-status=503; detail=stale-if-error");
    let uncached = get(addr, "/cc/max-age=1/never-stored", &[]).await;
    assert_eq!(uncached.status, 503, "nothing stored: the failure passes through");
    stop(h);
}

#[tokio::test]
async fn concurrent_misses_send_one_request() {
    let o = origin::start();
    o.state.delay_ms.store(300, SeqCst);
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/cc/max-age=60/slow";
    let tasks: Vec<_> = (0..10).map(|_| tokio::spawn(async move { get(addr, p, &[]).await })).collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "/cc/max-age=60/slow v0"));
    }
    assert_eq!(o.hits(p), 1, "ten concurrent misses, one origin request");
    stop(h);
}

/// The client that caused a fill leaves mid-body: the fill finishes anyway, and the request
/// waiting on it gets the stored answer without a second origin request.
#[tokio::test]
async fn a_fill_outlives_its_client() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/drip/max-age=60/a";
    let mut leaver = tokio::net::TcpStream::connect(addr).await.unwrap();
    leaver.write_all(format!("GET {p} HTTP/1.1\r\nhost: test.local\r\n\r\n").as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let _ = leaver.read(&mut first).await.unwrap(); // the head (and maybe a chunk) arrived
    let waiter = tokio::spawn(async move { get(addr, p, &[]).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(leaver);
    let r = waiter.await.unwrap();
    assert_eq!(r.body, (0..10).map(|i| format!("chunk{i};")).collect::<String>());
    assert_eq!(o.hits(p), 1, "the waiter got the fill the leaver started");
    stop(h);
}

#[tokio::test]
async fn large_objects_stream_through_and_purge_removes() {
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let big = "/big/max-age=60/x";
    assert_eq!(get(addr, big, &[]).await.body.len(), 2 << 20);
    assert_eq!(get(addr, big, &[]).await.body.len(), 2 << 20);
    assert_eq!(o.hits(big), 2, "over max_object_size: never stored");
    for p in ["/cc/max-age=60/static/a", "/cc/max-age=60/static/b", "/cc/max-age=60/other"] {
        get(addr, p, &[]).await;
    }
    let admin = h.admin_addr().unwrap();
    let purge = |body: &'static str| {
        http::Request::post("/caches/edge/purge")
            .header("host", "a")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap()
    };
    let r = send(admin, purge(r#"{"prefix": "/cc/max-age=60/static/"}"#)).await;
    assert_eq!((r.status, r.json()["purged"].as_u64()), (200, Some(2)));
    let r = send(admin, purge(r#"{"path": "/cc/max-age=60/other", "host": "test.local"}"#)).await;
    assert_eq!(r.json()["purged"].as_u64(), Some(1));
    assert_eq!(send(admin, purge("{}")).await.status, 400);
    assert_eq!(
        send(
            admin,
            http::Request::post("/caches/nope/purge")
                .body(http_body_util::Full::new(bytes::Bytes::from("{}")))
                .unwrap()
        )
        .await
        .status,
        404
    );
    get(addr, "/cc/max-age=60/static/a", &[]).await;
    assert_eq!(o.hits("/cc/max-age=60/static/a"), 2, "purged: fetched again");
    let st = get(admin, "/status", &[]).await.json();
    assert!(st["caches"]["edge"]["hits"].as_u64().is_some());
    let m = get(admin, "/metrics", &[]).await.body;
    assert!(m.contains("sluice_cache_purged_total{cache=\"edge\"} 3"), "{m}");
    stop(h);
}

#[tokio::test]
async fn compression_streams_and_cached_variants_are_reused() {
    let o = origin::start();
    let h = proxy(CONFIG, &[("o", o.addr)]);
    let addr = h.addr("web").unwrap();
    let p = "/text/max-age=60/a";
    let plain = get(addr, p, &[]).await;
    assert!(plain.headers.get("content-encoding").is_none(), "no Accept-Encoding: identity");
    assert_eq!(plain.headers["vary"], "Accept-Encoding");
    for (enc, want) in [("gzip", "gzip"), ("br;q=1, gzip;q=0.5", "br"), ("br", "br")] {
        let raw = raw_bytes(addr, p, enc).await;
        let (head, body) = raw;
        assert!(head.contains(&format!("content-encoding: {want}")), "{enc}: {head}");
        assert!(head.contains("etag: W/\"v0\""), "weak ETag: {head}");
        let mut out = String::new();
        match want {
            "gzip" => flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut out).unwrap(),
            _ => brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut out).unwrap(),
        };
        assert_eq!(out, plain.body, "{enc}");
    }
    assert_eq!(o.hits(p), 1, "every variant came from the one stored answer");
    stop(h);
}

/// GET with `Accept-Encoding`, read raw: (head as text, decoded-from-chunked body).
async fn raw_bytes(addr: std::net::SocketAddr, path: &str, enc: &str) -> (String, Vec<u8>) {
    use http_body_util::BodyExt;
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path).header("host", "test.local").header("accept-encoding", enc);
    let resp = tx.send_request(req.body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap()).await.unwrap();
    let head = resp.headers().iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap())).collect();
    (head, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}
