//! The `sluice` binary as a user runs it: `check` on good and bad files (exit codes, the
//! FILE:LINE:COL format), every example, `--help`/`--version`, and `run` stopping cleanly
//! on SIGTERM. Everything it reads is in the repo; the shared contract files (outside it)
//! are checked by `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(path: &Path) -> (bool, String, String) {
    let out = sluice().args(["check", "-c"]).arg(path).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn every_example_passes_check() {
    let dir = root().join("examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let (ok, out, err) = check(&p);
            assert!(ok, "{}: {err}", p.display());
            assert!(out.contains(": ok ("), "{out}");
            n += 1;
        }
    }
    assert!(n >= 5, "expected the examples/ configs, found {n}");
}

#[test]
fn bad_config_lists_every_error_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.toml");
    std::fs::write(
        &p,
        "[listeners.web]\nbind = \"127.0.0.1:8080\"\ntypo = 1\n[[listeners.web.routes]]\ncluster = \"missing\"\n",
    )
    .unwrap();
    let (ok, _, err) = check(&p);
    assert!(!ok);
    let file = p.display().to_string();
    assert!(err.contains(&format!("{file}:3:1: listeners.web.typo: unknown field `typo`")), "{err}");
    assert!(
        err.contains(&format!("{file}:5:11: listeners.web.routes[0].cluster: cluster `missing` is not defined")),
        "{err}"
    );
    assert!(err.contains("2 error(s)"), "{err}");
    let (ok, _, err) = check(&dir.join("absent.toml"));
    assert!(!ok && err.contains("absent.toml"), "{err}");
}

#[test]
fn help_and_version() {
    let out = sluice().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("sluice demo") && text.contains("check"), "{text}");
    let out = sluice().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sluice "));
}

#[test]
fn run_serves_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sluice-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = dir.join("run.toml");
    std::fs::write(&p, format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:{port}\"\n[[listeners.web.routes]]\npath = \"/x\"\ncluster = \"a\"\n[clusters.a]\nendpoints = []\n")).unwrap();
    let mut child = sluice().args(["run", "-c"]).arg(&p).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    let addr = format!("127.0.0.1:{port}");
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "sluice did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    // SIGHUP reloads the file: the route now answers directly.
    std::fs::write(&p, format!("workers = 1\n[listeners.web]\nbind = \"127.0.0.1:{port}\"\n[[listeners.web.routes]]\npath = \"/x\"\nrespond = {{ status = 200, body = \"reloaded\" }}\n")).unwrap();
    Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    let reloaded = loop {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").unwrap();
        let mut r = String::new();
        if let Err(e) = s.read_to_string(&mut r) {
            eprintln!("read while reloading: {e}");
        }
        if r.starts_with("HTTP/1.1 200") || t.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(reloaded.ends_with("reloaded"), "{reloaded}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "sluice did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn simulate_is_seeded_and_covers_every_balancer() {
    let run = |seed: &str| {
        let out = sluice().args(["simulate", "--requests", "5000", "--seed", seed]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let a = run("3");
    assert_eq!(a, run("3"), "same seed, same table");
    assert_ne!(a, run("4"));
    for b in
        ["round_robin", "random", "least_conn", "least_request", "p2c", "peak_ewma", "ring_hash", "maglev", "source_ip"]
    {
        assert!(a.contains(&format!("| {b} |")), "{b} missing:\n{a}");
    }
    let bad = sluice().args(["simulate", "--latency", "fast"]).output().unwrap();
    assert!(!bad.status.success());
}

#[test]
fn simulate_reads_a_scenario_file() {
    let dir = std::env::temp_dir().join(format!("sluice-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("sc.toml");
    std::fs::write(&p, "rate = 500\nrequests = 3000\n[[endpoints]]\nname = \"fastone\"\nlatency = \"5ms\"\n[[endpoints]]\nname = \"slowone\"\nlatency = \"uniform:50-60\"\nerror_rate = 0.1\n").unwrap();
    let out = sluice().args(["simulate", "--scenario"]).arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("2 endpoints, 500 req/s") && text.contains("fastone / slowone"), "{text}");
}

#[test]
fn tls_files_are_checked_at_their_line_and_column() {
    // Test certificates kept in the repo (a.pem/b.pem with their keys, signed by ca.pem).
    let certs = root().join("crates/sluice/tests/data").canonicalize().unwrap();
    let dir = std::env::temp_dir().join(format!("sluice-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = certs.display();
    let text = format!(
        "[listeners.web]\nbind = \"127.0.0.1:8443\"\n[listeners.web.tls]\ncerts = [{{ cert = \"{c}/a.pem\", key = \"{c}/b.key\" }},\n  {{ cert = \"{c}/missing.pem\", key = \"{c}/a.key\" }}]\nmin_version = \"1.1\"\nclient_auth = \"optional\"\n[[listeners.web.routes]]\ncluster = \"a\"\n[clusters.a]\nendpoints = [\"127.0.0.1:9001\"]\n"
    );
    let p = dir.join("tls.toml");
    std::fs::write(&p, text).unwrap();
    let (ok, _, err) = check(&p);
    assert!(!ok);
    assert!(err.contains("tls.toml:4:19: listeners.web.tls.certs[0]: key"), "{err}");
    assert!(err.contains("b.key` does not match certificate"), "{err}");
    assert!(err.contains("tls.toml:5:12: listeners.web.tls.certs[1]: cannot read"), "{err}");
    assert!(err.contains("listeners.web.tls.min_version: unsupported version `1.1`"), "{err}");
    assert!(err.contains("listeners.web.tls.client_auth: client_auth without client_ca"), "{err}");
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("b.key", "a.key").replace("missing.pem", "b.pem"))
        .unwrap();
    let fixed = std::fs::read_to_string(&p).unwrap().replace("min_version = \"1.1\"", "min_version = \"1.2\"");
    std::fs::write(&p, fixed.replace("client_auth = \"optional\"", &format!("client_ca = \"{c}/ca.pem\""))).unwrap();
    let (ok, _, err) = check(&p);
    assert!(!ok && err.contains("certs[1]: key"), "b.pem with a.key still mismatches: {err}");
}
