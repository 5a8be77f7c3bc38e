//! `sluice anycast-feed`: runs as an ExaBGP `process` (text encoder). It follows the running
//! sluice through the admin API's long poll (`GET /anycast?since=V`), writes a speaker
//! command to stdout whenever a route's wanted command changes, and reads ExaBGP's
//! acknowledgements on stdin (an `error` is logged; end of input means ExaBGP is gone, and
//! the feed exits). If sluice stops answering for `LOST_AFTER`, every announced route is
//! withdrawn: an edge whose proxy is down must not attract traffic.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde_json::Value;

use super::speaker::{Route, Speaker};

/// How long the admin API may be unreachable before every route is withdrawn.
pub const LOST_AFTER: Duration = Duration::from_secs(3);
/// How long one long poll waits for a change.
const POLL_WAIT_S: u64 = 20;

/// What the speaker was last told, by prefix; turns views into the commands that changed.
#[derive(Default)]
pub struct Feed {
    last: HashMap<String, String>,
}

impl Feed {
    /// The commands that bring the speaker to `view` (routes gone from the config are
    /// withdrawn). A route never announced is not withdrawn.
    pub fn apply(&mut self, view: &Value, speaker: &dyn Speaker) -> Vec<String> {
        let next_hop = view["next_hop"].as_str().unwrap_or("self").to_string();
        let routes = Route::all_of(view);
        let mut out = Vec::new();
        for r in &routes {
            let cmd = speaker.command(r, &next_hop);
            let was = self.last.get(&r.prefix);
            let quiet = was.is_none() && r.state == "withdrawn";
            if was != Some(&cmd) && !quiet {
                out.push(cmd.clone());
            }
            if !quiet {
                self.last.insert(r.prefix.clone(), cmd);
            }
        }
        let gone: Vec<String> = self.last.keys().filter(|p| !routes.iter().any(|r| &r.prefix == *p)).cloned().collect();
        for p in gone {
            if self.last.remove(&p).is_some_and(|c| !c.starts_with("withdraw")) {
                out.push(speaker.withdraw(&p, &next_hop));
            }
        }
        out
    }

    /// sluice is unreachable: withdraw everything still announced.
    pub fn lost(&mut self, speaker: &dyn Speaker) -> Vec<String> {
        let announced: Vec<String> =
            self.last.iter().filter(|(_, c)| !c.starts_with("withdraw")).map(|(p, _)| p.clone()).collect();
        announced
            .into_iter()
            .map(|p| {
                let cmd = speaker.withdraw(&p, "self");
                self.last.insert(p, cmd.clone());
                cmd
            })
            .collect()
    }
}

/// Runs the feed until stdin closes (ExaBGP stopped). Diagnostics go to stderr.
pub fn run(admin: SocketAddr, token: Option<String>, speaker: &dyn Speaker) -> std::io::Result<()> {
    std::thread::Builder::new().name("acks".into()).spawn(|| {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "error" => eprintln!("anycast-feed: the speaker refused a command"),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::process::exit(0);
    })?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut feed = Feed::default();
    let mut out = std::io::stdout().lock();
    let mut since = 0;
    let mut last_ok = Instant::now();
    rt.block_on(async {
        loop {
            let lines = match poll(admin, token.as_deref(), since).await {
                Ok(view) => {
                    last_ok = Instant::now();
                    since = view["version"].as_u64().unwrap_or(0);
                    feed.apply(&view, speaker)
                }
                Err(e) => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if last_ok.elapsed() < LOST_AFTER {
                        continue;
                    }
                    let lines = feed.lost(speaker);
                    if !lines.is_empty() {
                        eprintln!("anycast-feed: sluice admin {admin} unreachable ({e}): withdrawing");
                    }
                    lines
                }
            };
            for l in lines {
                writeln!(out, "{l}")?;
            }
            out.flush()?;
        }
    })
}

/// One long poll of `GET /anycast`.
async fn poll(admin: SocketAddr, token: Option<&str>, since: u64) -> Result<Value, String> {
    let io = tokio::net::TcpStream::connect(admin).await.map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req =
        http::Request::get(format!("/anycast?since={since}&wait={POLL_WAIT_S}")).header("host", admin.to_string());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let wait = Duration::from_secs(POLL_WAIT_S + 5);
    let resp = tokio::time::timeout(wait, send.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    if v.is_null() {
        return Err("no [anycast] in the running config".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::super::speaker::ExaBgp;
    use super::*;
    use serde_json::json;

    fn view(states: &[(&str, &str)]) -> Value {
        let routes: Vec<Value> = states
            .iter()
            .map(|(p, s)| {
                let degraded = *s == "degraded";
                json!({ "prefix": p, "state": s, "as_path": if degraded { json!([65000, 65000]) } else { json!([]) },
                        "communities": if degraded { json!(["65000:100"]) } else { json!([]) } })
            })
            .collect();
        json!({ "version": 1, "next_hop": "self", "routes": routes })
    }

    #[test]
    fn only_changes_are_written() {
        let mut f = Feed::default();
        assert!(f.apply(&view(&[("203.0.113.10/32", "withdrawn")]), &ExaBgp).is_empty(), "never announced: quiet");
        assert_eq!(
            f.apply(&view(&[("203.0.113.10/32", "announced")]), &ExaBgp),
            ["announce route 203.0.113.10/32 next-hop self"]
        );
        assert!(f.apply(&view(&[("203.0.113.10/32", "announced")]), &ExaBgp).is_empty());
        let d = f.apply(&view(&[("203.0.113.10/32", "degraded")]), &ExaBgp);
        assert_eq!(d, ["announce route 203.0.113.10/32 next-hop self as-path [ 65000 65000 ] community [ 65000:100 ]"]);
        assert_eq!(
            f.apply(&view(&[("203.0.113.10/32", "withdrawn")]), &ExaBgp),
            ["withdraw route 203.0.113.10/32 next-hop self"]
        );
    }

    #[test]
    fn removed_routes_and_a_lost_sluice_are_withdrawn() {
        let mut f = Feed::default();
        f.apply(&view(&[("203.0.113.10/32", "announced"), ("203.0.113.11/32", "announced")]), &ExaBgp);
        assert_eq!(
            f.apply(&view(&[("203.0.113.10/32", "announced")]), &ExaBgp),
            ["withdraw route 203.0.113.11/32 next-hop self"]
        );
        assert_eq!(f.lost(&ExaBgp), ["withdraw route 203.0.113.10/32 next-hop self"]);
        assert!(f.lost(&ExaBgp).is_empty(), "withdrawn once");
        assert_eq!(
            f.apply(&view(&[("203.0.113.10/32", "announced")]), &ExaBgp).len(),
            1,
            "announced again when sluice is back"
        );
    }
}
