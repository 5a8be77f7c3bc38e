//! The access log: one line per request (JSON or combined format) with client, request,
//! status, bytes, route, cluster, endpoint, attempts and the timing breakdown. Requests
//! hand a record to a bounded queue and move on; a background thread formats and writes.
//! A slow or full disk never blocks traffic: when the queue is full the line is dropped
//! and counted.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use sluice_config::{AccessLogConfig, AccessLogFormat};

/// What is known about a request when it ends: the request itself, where it went, and
/// the outcome.
#[derive(Debug, Clone)]
pub struct Entry {
    pub time: SystemTime,
    pub client: IpAddr,
    pub listener: String,
    pub request: RequestInfo,
    pub trace: Trace,
    pub status: u16,
    pub bytes: u64,
    pub total_ns: u64,
}

#[derive(Debug)]
pub struct AccessLog {
    tx: SyncSender<Entry>,
    /// Lines dropped because the writer fell behind (exported as a metric).
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Opens the log (a file, or `-` for stdout) and starts the writer thread.
    pub fn start(cfg: &AccessLogConfig, dropped: Arc<AtomicU64>) -> std::io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = if cfg.path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::OpenOptions::new().create(true).append(true).open(&cfg.path)?)
        };
        let (tx, rx) = sync_channel(cfg.buffer);
        let format = cfg.format;
        std::thread::Builder::new().name("sluice-accesslog".into()).spawn(move || write_loop(rx, out, format))?;
        Ok(AccessLog { tx, dropped })
    }

    /// Queues a line; never blocks.
    pub fn log(&self, e: Entry) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(e) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}

fn write_loop(rx: Receiver<Entry>, out: Box<dyn Write + Send>, format: AccessLogFormat) {
    let mut out = std::io::BufWriter::new(out);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(e) = next {
            let _ = writeln!(out, "{}", render(&e, format));
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
    }
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

/// One line in the configured format.
pub fn render(e: &Entry, format: AccessLogFormat) -> String {
    let ts = e.time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let (r, t) = (&e.request, &e.trace);
    match format {
        AccessLogFormat::Json => json!({
            "ts": ts.as_secs_f64(), "client": e.client.to_string(), "method": r.method, "host": r.host,
            "path": r.path, "proto": r.version, "status": e.status, "bytes": e.bytes, "listener": e.listener,
            "route": t.route, "cluster": t.cluster, "endpoint": t.endpoint.map(|a| a.to_string()), "attempts": t.attempts,
            "connect_ms": ms(t.connect_ns), "queue_ms": ms(t.queue_ns), "upstream_ttfb_ms": ms(t.upstream_ttfb_ns),
            "total_ms": ms(e.total_ns), "user_agent": r.user_agent, "referer": r.referer,
        })
        .to_string(),
        AccessLogFormat::Combined => format!(
            "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\" cluster={} endpoint={} attempts={} connect={} queue={} upstream_ttfb={} total={}",
            e.client,
            clf_time(ts.as_secs()),
            r.method,
            r.path,
            r.version,
            e.status,
            e.bytes,
            or_dash(&r.referer),
            or_dash(&r.user_agent),
            t.cluster.as_deref().unwrap_or("-"),
            t.endpoint.map_or("-".to_string(), |a| a.to_string()),
            t.attempts,
            ms(t.connect_ns),
            ms(t.queue_ns),
            ms(t.upstream_ttfb_ns),
            ms(e.total_ns),
        ),
    }
}

/// Common Log Format time, UTC: `27/Nov/2026:18:10:00 +0000`.
fn clf_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000", MONTHS[(m - 1) as usize], rem / 3600, rem / 60 % 60, rem % 60)
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// The request line and headers an access-log line needs, taken before the request moves.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    method: String,
    host: String,
    path: String,
    version: &'static str,
    user_agent: String,
    referer: String,
}

impl RequestInfo {
    pub fn of<B>(req: &http::Request<B>) -> RequestInfo {
        let h =
            |n: http::header::HeaderName| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        RequestInfo {
            method: req.method().to_string(),
            host: crate::handler::request::host_of(req).unwrap_or("").to_string(),
            path: req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string(),
            version: match req.version() {
                http::Version::HTTP_2 => "HTTP/2.0",
                http::Version::HTTP_3 => "HTTP/3",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            user_agent: h(http::header::USER_AGENT),
            referer: h(http::header::REFERER),
        }
    }
}

/// Where the request went and how long each part took, filled in by the proxy.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub route: Option<usize>,
    pub cluster: Option<String>,
    pub endpoint: Option<SocketAddr>,
    pub attempts: u32,
    pub connect_ns: u64,
    pub queue_ns: u64,
    pub upstream_ttfb_ns: u64,
    /// When the upstream's response head arrived (the clock read the request's timing shares).
    pub answered: Option<tokio::time::Instant>,
}

/// An entry for a finished (or finishing) request.
pub fn entry(request: RequestInfo, trace: Trace, client: IpAddr, listener: &str, status: u16, total_ns: u64) -> Entry {
    Entry {
        time: SystemTime::now(),
        client,
        listener: listener.to_string(),
        request,
        trace,
        status,
        bytes: 0,
        total_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line_and_clf_time() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(1_795_802_400), "27/Nov/2026:18:00:00 +0000");
        let info = RequestInfo {
            method: "GET".into(),
            host: "a.test".into(),
            path: "/x?y".into(),
            version: "HTTP/1.1",
            user_agent: "ua".into(),
            referer: String::new(),
        };
        let mut e =
            entry(info, Trace { attempts: 2, ..Trace::default() }, "10.0.0.1".parse().unwrap(), "web", 503, 1_500_000);
        e.time = SystemTime::UNIX_EPOCH;
        let line = render(&e, AccessLogFormat::Combined);
        assert_eq!(line, "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /x?y HTTP/1.1\" 503 0 \"-\" \"ua\" cluster=- endpoint=- attempts=2 connect=0 queue=0 upstream_ttfb=0 total=1.5");
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let (tx, _rx) = sync_channel(1);
        let log = AccessLog { tx, dropped: Arc::default() };
        let info = || RequestInfo {
            method: "GET".into(),
            host: String::new(),
            path: "/".into(),
            version: "HTTP/1.1",
            user_agent: String::new(),
            referer: String::new(),
        };
        for _ in 0..3 {
            log.log(entry(info(), Trace::default(), "10.0.0.1".parse().unwrap(), "web", 200, 0));
        }
        assert_eq!(log.dropped.load(Relaxed), 2);
    }
}
