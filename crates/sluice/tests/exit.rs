//! The ordered exit with anycast, through the binary: `sluice anycast-feed` announces the
//! route once its cluster is healthy; on SIGTERM the withdraw comes out at once while the
//! listener still answers for `withdraw_delay`; then sluice drains and exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    Some(r)
}

/// An edge: a listener answering "edge", an admin API, and one anycast route following a
/// cluster whose endpoint is that listener. Returns the running sluice and its two ports.
fn edge(name: &str, withdraw_delay: &str) -> (std::process::Child, u16, u16) {
    let (web, admin) = (port(), port());
    let dir = std::env::temp_dir().join(format!("sluice-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("edge.toml");
    std::fs::write(
        &cfg,
        format!(
            "workers = 1\n[admin]\nbind = \"127.0.0.1:{admin}\"\n[listeners.web]\nbind = \"127.0.0.1:{web}\"\n\
             [[listeners.web.routes]]\nrespond = {{ status = 200, body = \"edge\" }}\n\
             [clusters.edge]\nendpoints = [\"127.0.0.1:{web}\"]\n\
             [anycast]\nlocal_as = 65000\nwithdraw_delay = \"{withdraw_delay}\"\nhold = \"100ms\"\n\
             [[anycast.routes]]\nprefix = \"203.0.113.10/32\"\ncluster = \"edge\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, web, admin)
}

#[test]
fn sigterm_withdraws_the_route_before_the_listener_stops() {
    let (mut sluice, web, admin) = edge("exit", "1500ms");
    let bin = env!("CARGO_BIN_EXE_sluice");
    let mut feed = Command::new(bin)
        .args(["anycast-feed", "--admin", &format!("127.0.0.1:{admin}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out = feed.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), l));
        }
    });
    let (_, first) = lines.recv_timeout(Duration::from_secs(15)).expect("the feed announces");
    assert_eq!(first, "announce route 203.0.113.10/32 next-hop self");
    let web_addr = format!("127.0.0.1:{web}");
    assert!(get(&web_addr, "/").unwrap().ends_with("edge"));
    let term = Instant::now();
    Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status().unwrap();
    let (at, withdraw) = lines.recv_timeout(Duration::from_secs(5)).expect("the feed withdraws");
    assert_eq!(withdraw, "withdraw route 203.0.113.10/32 next-hop self");
    assert!(
        at.duration_since(term) < Duration::from_millis(1000),
        "withdrawn {:?} after SIGTERM",
        at.duration_since(term)
    );
    let still = get(&web_addr, "/").unwrap_or_default();
    assert!(still.ends_with("edge"), "the listener must keep answering during withdraw_delay: {still:?}");
    let status = loop {
        if let Some(s) = sluice.try_wait().unwrap() {
            break s;
        }
        assert!(term.elapsed() < Duration::from_secs(15), "sluice did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(term.elapsed() >= Duration::from_millis(1500), "drained before withdraw_delay: {:?}", term.elapsed());
    drop(feed.stdin.take());
    let t = Instant::now();
    while feed.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(5), "the feed outlives ExaBGP's stdin");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn post_drain_leaves_in_order_and_a_second_signal_ends_it_at_once() {
    let (mut sluice, web, admin) = edge("drain", "30s");
    let admin_addr = format!("127.0.0.1:{admin}");
    let t = Instant::now();
    while !get(&admin_addr, "/anycast").unwrap_or_default().contains("\"announced\"") {
        assert!(t.elapsed() < Duration::from_secs(10), "never announced");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut s = std::net::TcpStream::connect(&admin_addr).unwrap();
    s.write_all(b"POST /drain HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 202"), "{r}");
    let view = get(&admin_addr, "/anycast").unwrap();
    assert!(view.contains("\"withdrawn\"") && view.contains("\"stopping\": true"), "{view}");
    assert!(get(&format!("127.0.0.1:{web}"), "/").unwrap().ends_with("edge"), "still serving during withdraw_delay");
    let second = Instant::now();
    Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status().unwrap();
    let status = loop {
        if let Some(s) = sluice.try_wait().unwrap() {
            break s;
        }
        assert!(second.elapsed() < Duration::from_secs(5), "a second signal must not wait out the 30 s delay");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
