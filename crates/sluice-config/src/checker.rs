//! The validation context every `validate*` module shares: `V`, the error sink plus
//! typed-value helpers (durations, sizes, integers in range, socket addresses) that report
//! a problem with its span and fall back to the default, so one pass finds every error.

use std::net::SocketAddr;
use std::time::Duration;

use crate::diag::Sink;
use crate::file::{SizeValue, S};
use crate::units::{parse_duration, parse_size};

/// Longest duration any timeout may have; anything longer is almost surely a unit mistake.
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Validation context: the sink plus typed-value helpers that report and fall back.
pub struct V<'s, 't> {
    pub sink: &'s mut Sink<'t>,
    /// The config file's folder: relative paths (certificates) start here.
    pub base: std::path::PathBuf,
}

impl V<'_, '_> {
    pub fn err(&mut self, span: std::ops::Range<usize>, path: &str, msg: impl Into<String>, hint: Option<&str>) {
        self.sink.error(span, path, msg, hint.map(str::to_string));
    }

    pub fn timeout(&mut self, v: &Option<S<String>>, path: &str, default: Duration) -> Duration {
        let Some(v) = v else { return default };
        match parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.err(v.span(), path, "timeout must be greater than 0", Some("use e.g. \"500ms\" or \"30s\""))
            }
            Ok(d) if d > MAX_TIMEOUT => self.err(v.span(), path, "timeout longer than 7 days", Some("check the unit")),
            Ok(d) => return d,
            Err(e) => self.err(v.span(), path, e, Some("durations look like \"250ms\", \"2s\", \"1m\", \"1h\"")),
        }
        default
    }

    pub fn size(&mut self, v: &Option<S<SizeValue>>, path: &str, default: u64) -> u64 {
        let Some(v) = v else { return default };
        let parsed = match v.get_ref() {
            SizeValue::Int(n) if *n > 0 => Ok(*n as u64),
            SizeValue::Int(_) => Err("size must be greater than 0".to_string()),
            SizeValue::Str(s) => {
                parse_size(s).and_then(|n| if n > 0 { Ok(n) } else { Err("size must be greater than 0".into()) })
            }
        };
        parsed.unwrap_or_else(|e| {
            self.err(v.span(), path, e, Some("sizes look like 65536, \"64KiB\" or \"10MiB\""));
            default
        })
    }

    /// An integer in `min..=max`, or the default when absent.
    pub fn int(&mut self, v: &Option<S<i64>>, path: &str, min: i64, max: i64, default: i64) -> i64 {
        let Some(v) = v else { return default };
        let n = *v.get_ref();
        if (min..=max).contains(&n) {
            n
        } else {
            self.err(v.span(), path, format!("{n} is out of range"), Some(&format!("must be {min}..={max}")));
            default
        }
    }

    pub fn addr(&mut self, v: &S<String>, path: &str) -> Option<SocketAddr> {
        match v.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                let hint = "an IP and a port, like \"127.0.0.1:8080\" or \"[::1]:8080\"";
                self.err(v.span(), path, format!("`{}` is not a socket address", v.get_ref()), Some(hint));
                None
            }
        }
    }
}
