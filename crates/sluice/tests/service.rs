//! Running sluice as a service: systemd's notify protocol (READY, RELOADING, STOPPING,
//! WATCHDOG on `$NOTIFY_SOCKET`), and logs fit for files and shippers (no colour codes when
//! stderr is not a terminal; `--log-format json` writes one JSON object per line).

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(name: &str) -> (std::path::PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("sluice-svc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("s.toml");
    let port = port();
    let text = format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:{port}\"\n[[listeners.web.routes]]\nrespond = {{ status = 200 }}\n");
    std::fs::write(&p, text).unwrap();
    (p, port)
}

fn kill(sig: &str, pid: u32) {
    Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
}

/// The next message other than a watchdog ping (those are counted).
fn next(sock: &UnixDatagram, pings: &mut usize) -> String {
    let mut buf = [0u8; 256];
    loop {
        let n = sock.recv(&mut buf).expect("a notify message in time");
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        if msg == "WATCHDOG=1" {
            *pings += 1;
        } else {
            return msg;
        }
    }
}

#[test]
fn systemd_hears_ready_reloading_stopping_and_the_watchdog() {
    let (cfg, _) = config("notify");
    let sock_path = cfg.with_file_name("notify.sock");
    let _ = std::fs::remove_file(&sock_path);
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pings = 0;
    assert_eq!(next(&sock, &mut pings), "READY=1");
    std::thread::sleep(Duration::from_millis(450));
    kill("-HUP", child.id());
    assert_eq!(next(&sock, &mut pings), "RELOADING=1");
    assert_eq!(next(&sock, &mut pings), "READY=1");
    assert!(pings >= 2, "watchdog every WATCHDOG_USEC/2: {pings} pings in ~0.45 s");
    kill("-TERM", child.id());
    assert_eq!(next(&sock, &mut pings), "STOPPING=1");
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn logs_of(args: &[&str]) -> String {
    use std::io::Read;
    let (cfg, _port) = config(args.get(1).copied().unwrap_or("text"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .args(["run", "-c"])
        .arg(&cfg)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Collected as it is written: SIGTERM goes only once sluice says it is ready (a signal
    // before its handlers are installed would end it with nothing logged).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = std::sync::Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let t = Instant::now();
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("ready") {
        assert!(t.elapsed() < Duration::from_secs(10), "sluice did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill("-TERM", child.id());
    child.wait().unwrap();
    reader.join().unwrap();
    let out = seen.lock().unwrap();
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn logs_have_no_colour_codes_off_a_terminal_and_json_on_request() {
    let text = logs_of(&[]);
    assert!(text.contains("listening"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape sequences in a log file: {text:?}");
    let json = logs_of(&["--log-format", "json"]);
    let lines: Vec<&str> = json.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    assert!(lines.iter().any(|l| l.contains("\"message\":\"listening\"")), "{json}");
}
