//! Resilience config of a cluster: active health checks, outlier detection, retries and
//! the bulkhead limits — with the defaults of docs/defaults.md applied.

use std::time::Duration;

use regex::Regex;
use sluice_core::health::RiseFall;
use sluice_core::outlier::OutlierPolicy;

use crate::checker::V;
use crate::file::*;
use crate::model::*;

pub fn health(v: &mut V, h: &S<FileHealth>, path: &str) -> Option<HealthCheckConfig> {
    let f = h.get_ref();
    let p = |k: &str| format!("{path}.health.{k}");
    let interval = v.timeout(&f.interval, &p("interval"), Duration::from_secs(2));
    let timeout = v.timeout(&f.timeout, &p("timeout"), Duration::from_secs(1).min(interval));
    if timeout > interval {
        v.err(
            h.span(),
            &p("timeout"),
            "timeout is longer than interval",
            Some("checks would overlap; shorten timeout"),
        );
    }
    let jitter = match &f.jitter {
        Some(_) => v.timeout(&f.jitter, &p("jitter"), interval / 10),
        None => interval / 10,
    };
    let rise = v.int(&f.rise, &p("rise"), 1, 100, 2) as u32;
    let fall = v.int(&f.fall, &p("fall"), 1, 100, 3) as u32;
    let port = f.port.as_ref().map(|_| v.int(&f.port, &p("port"), 1, 65535, 0) as u16);
    let check = match f.kind.get_ref().as_str() {
        "tcp" => CheckKind::Tcp,
        "http" => CheckKind::Http(http_check(v, f, path)),
        "grpc" => CheckKind::Grpc {
            service: f.service.as_ref().map_or_else(String::new, |s| s.get_ref().clone()),
            authority: f.host.as_ref().map(|h| h.get_ref().clone()),
        },
        other => {
            let hint = Some("tcp, http or grpc");
            v.err(f.kind.span(), &p("kind"), format!("unknown health check kind `{other}`"), hint);
            return None;
        }
    };
    Some(HealthCheckConfig { check, interval, timeout, rise_fall: RiseFall { rise, fall }, jitter, port })
}

fn http_check(v: &mut V, f: &FileHealth, path: &str) -> HttpCheck {
    let p = |k: &str| format!("{path}.health.{k}");
    let expect_status = match &f.expect_status {
        None => (200, 399),
        Some(s) => match s.get_ref().as_slice() {
            [one] if (100..=599).contains(one) => (*one as u16, *one as u16),
            [lo, hi] if (100..=599).contains(lo) && (*lo..=599).contains(hi) => (*lo as u16, *hi as u16),
            _ => {
                v.err(s.span(), &p("expect_status"), "expect_status is [code] or [low, high] within 100..=599", None);
                (200, 399)
            }
        },
    };
    let expect_body = match (&f.expect_body, &f.expect_body_regex) {
        (Some(b), None) => Some(BodyMatch::Contains(b.get_ref().clone())),
        (None, Some(r)) => match Regex::new(r.get_ref()) {
            Ok(re) => Some(BodyMatch::Regex(re)),
            Err(e) => {
                v.err(
                    r.span(),
                    &p("expect_body_regex"),
                    format!("invalid regex: {}", e.to_string().lines().last().unwrap_or("")),
                    None,
                );
                None
            }
        },
        (Some(b), Some(_)) => {
            v.err(b.span(), &p("expect_body"), "use expect_body or expect_body_regex, not both", None);
            None
        }
        (None, None) => None,
    };
    let req_path = f.path.as_ref().map_or_else(|| "/".to_string(), |s| s.get_ref().clone());
    if !req_path.starts_with('/') {
        if let Some(s) = &f.path {
            v.err(s.span(), &p("path"), "path must start with `/`", None);
        }
    }
    HttpCheck {
        method: f.method.as_ref().map_or_else(|| "GET".to_string(), |m| m.get_ref().to_ascii_uppercase()),
        path: req_path,
        host: f.host.as_ref().map(|h| h.get_ref().clone()),
        expect_status,
        expect_body,
    }
}

pub fn outlier(v: &mut V, o: &S<FileOutlier>, path: &str) -> OutlierPolicy {
    let f = o.get_ref();
    let d = OutlierPolicy::default();
    let p = |k: &str| format!("{path}.outlier.{k}");
    let ns = |x: Duration| x.as_nanos() as u64;
    let base = v.timeout(&f.base_ejection_time, &p("base_ejection_time"), Duration::from_nanos(d.base_ejection_ns));
    let max =
        v.timeout(&f.max_ejection_time, &p("max_ejection_time"), Duration::from_nanos(d.max_ejection_ns).max(base));
    OutlierPolicy {
        consecutive_5xx: v.int(&f.consecutive_5xx, &p("consecutive_5xx"), 0, 100_000, i64::from(d.consecutive_5xx))
            as u32,
        consecutive_gateway: v.int(
            &f.consecutive_gateway_failures,
            &p("consecutive_gateway_failures"),
            0,
            100_000,
            i64::from(d.consecutive_gateway),
        ) as u32,
        base_ejection_ns: ns(base),
        max_ejection_ns: ns(max.max(base)),
        max_ejection_percent: v.int(
            &f.max_ejection_percent,
            &p("max_ejection_percent"),
            0,
            100,
            i64::from(d.max_ejection_percent),
        ) as u32,
        slow_p95_ns: f.slow_p95.as_ref().map(|_| ns(v.timeout(&f.slow_p95, &p("slow_p95"), Duration::from_secs(1)))),
        slow_min_requests: v.int(
            &f.slow_min_requests,
            &p("slow_min_requests"),
            1,
            1_000_000,
            i64::from(d.slow_min_requests),
        ) as u32,
        interval_ns: ns(v.timeout(&f.interval, &p("interval"), Duration::from_nanos(d.interval_ns))),
    }
}

pub fn retries(v: &mut V, r: &S<FileRetries>, path: &str) -> RetryConfig {
    let f = r.get_ref();
    let p = |k: &str| format!("{path}.retries.{k}");
    let mut rc = RetryConfig {
        attempts: v.int(&Some(f.attempts.clone()), &p("attempts"), 0, 10, 1) as u32,
        on_connect_failure: false,
        on_reset: false,
        on_5xx: false,
        on_gateway_error: false,
        statuses: Vec::new(),
        per_try_timeout: f
            .per_try_timeout
            .as_ref()
            .map(|_| v.timeout(&f.per_try_timeout, &p("per_try_timeout"), Duration::from_secs(1))),
        backoff: v.timeout(&f.backoff, &p("backoff"), Duration::from_millis(25)),
        max_backoff: Duration::ZERO,
        budget_percent: v.int(&f.budget_percent, &p("budget_percent"), 0, 100, 20) as u32,
        min_retry_concurrency: v.int(&f.min_retry_concurrency, &p("min_retry_concurrency"), 0, 100_000, 3) as u32,
    };
    rc.max_backoff = v.timeout(&f.max_backoff, &p("max_backoff"), rc.backoff * 10).max(rc.backoff);
    let default_on = ["connect-failure", "reset", "gateway-error"];
    let on: Vec<(String, std::ops::Range<usize>)> = match &f.on {
        Some(list) => list.iter().map(|s| (s.get_ref().clone(), s.span())).collect(),
        None => default_on.iter().map(|s| (s.to_string(), r.span())).collect(),
    };
    for (cond, span) in on {
        match cond.as_str() {
            "connect-failure" => rc.on_connect_failure = true,
            "reset" => rc.on_reset = true,
            "5xx" => rc.on_5xx = true,
            "gateway-error" => rc.on_gateway_error = true,
            other => v.err(
                span,
                &p("on"),
                format!("unknown retry condition `{other}`"),
                Some("connect-failure, reset, 5xx, gateway-error; status codes go in `statuses`"),
            ),
        }
    }
    for s in f.statuses.iter().flatten() {
        match u16::try_from(*s.get_ref()).ok().filter(|c| (100..=599).contains(c)) {
            Some(c) => rc.statuses.push(c),
            None => v.err(s.span(), &p("statuses"), format!("{} is not an HTTP status", s.get_ref()), None),
        }
    }
    rc
}

pub fn limits(v: &mut V, l: &S<FileClusterLimits>, path: &str) -> ClusterLimits {
    let f = l.get_ref();
    let p = |k: &str| format!("{path}.limits.{k}");
    ClusterLimits {
        max_connections: f
            .max_connections
            .as_ref()
            .map(|_| v.int(&f.max_connections, &p("max_connections"), 1, 10_000_000, 1024) as u32),
        max_requests: f
            .max_requests
            .as_ref()
            .map(|_| v.int(&f.max_requests, &p("max_requests"), 1, 10_000_000, 1024) as u32),
        max_pending: v.int(&f.max_pending, &p("max_pending"), 0, 10_000_000, 0) as u32,
        pending_timeout: v.timeout(&f.pending_timeout, &p("pending_timeout"), Duration::from_secs(1)),
        max_retries: f.max_retries.as_ref().map(|_| v.int(&f.max_retries, &p("max_retries"), 0, 10_000_000, 3) as u32),
    }
}

pub fn breaker(v: &mut V, b: &S<FileBreaker>, path: &str) -> sluice_core::breaker::BreakerPolicy {
    let f = b.get_ref();
    let p = |k: &str| format!("{path}.breaker.{k}");
    let error_rate = match &f.error_rate {
        Some(r) if (0.0..=1.0).contains(r.get_ref()) && *r.get_ref() > 0.0 => *r.get_ref(),
        Some(r) => {
            v.err(
                r.span(),
                &p("error_rate"),
                format!("{} is not a share", r.get_ref()),
                Some("between 0 and 1, e.g. 0.5 for 50 %"),
            );
            0.5
        }
        None => 0.5,
    };
    let ns = |d: Duration| d.as_nanos() as u64;
    sluice_core::breaker::BreakerPolicy {
        error_rate,
        min_requests: v.int(&f.min_requests, &p("min_requests"), 1, 1_000_000, 20) as u32,
        window_ns: ns(v.timeout(&f.window, &p("window"), Duration::from_secs(10))),
        open_for_ns: ns(v.timeout(&f.open_for, &p("open_for"), Duration::from_secs(10))),
        half_open_probes: v.int(&f.half_open_probes, &p("half_open_probes"), 1, 1000, 3) as u32,
    }
}
