//! `[listeners.X.http3]`: HTTP/3 over QUIC on the listener's address (UDP beside its TCP
//! socket), as the proxy reads it (`Http3Config`; the file form is `file::FileHttp3`), and the
//! check between the two. The listener's TLS certificates, routes and limits serve it.

use std::time::Duration;

use crate::checker::V;
use crate::file::{FileHttp3, SizeValue, S};

/// When a new QUIC connection must first prove its address with a Retry round trip
/// (RFC 9000 §8.1), the guard against spoofed-source amplification and Initial floods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicRetry {
    Always,
    /// When the worker's handshakes in flight exceed `retry_above`.
    UnderLoad,
    Never,
}

/// A listener's HTTP/3 settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Http3Config {
    /// `Alt-Svc: h3=":PORT"; ma=SECONDS` on the listener's TCP responses.
    pub alt_svc_max_age: Duration,
    /// Accept 0-RTT; only safe methods are served from early data (425 otherwise).
    pub early_data: bool,
    pub retry: QuicRetry,
    pub retry_above: u32,
    /// Concurrent request streams per connection.
    pub max_concurrent_streams: u32,
    pub idle_timeout: Duration,
    /// SO_RCVBUF / SO_SNDBUF of the UDP sockets (None: the system's default).
    pub udp_recv_buffer: Option<usize>,
    pub udp_send_buffer: Option<usize>,
}

impl Default for Http3Config {
    fn default() -> Self {
        Http3Config {
            alt_svc_max_age: Duration::from_secs(86_400),
            early_data: false,
            retry: QuicRetry::UnderLoad,
            retry_above: 64,
            max_concurrent_streams: 100,
            idle_timeout: Duration::from_secs(30),
            udp_recv_buffer: None,
            udp_send_buffer: None,
        }
    }
}

/// Checks `[listeners.X.http3]`; `tls`: whether the listener terminates TLS, `mtls`:
/// whether it asks for client certificates (0-RTT would serve data before they are seen).
pub fn http3(v: &mut V, h: &S<FileHttp3>, path: &str, (tls, mtls): (bool, bool)) -> Option<Http3Config> {
    let f = h.get_ref();
    let d = Http3Config::default();
    let p = |k: &str| format!("{path}.{k}");
    if !tls {
        let hint = Some("HTTP/3 is QUIC, which is always TLS 1.3: add [listeners.X.tls] with certificates");
        v.err(h.span(), path, "http3 needs a TLS listener", hint);
    }
    if mtls && f.early_data == Some(true) {
        v.err(
            h.span(),
            &p("early_data"),
            "early_data with client_ca: 0-RTT requests arrive before the client certificate",
            None,
        );
    }
    let retry = match f.retry.as_ref().map(|r| (r, r.get_ref().as_str())) {
        None | Some((_, "under_load")) => QuicRetry::UnderLoad,
        Some((_, "always")) => QuicRetry::Always,
        Some((_, "never")) => QuicRetry::Never,
        Some((r, other)) => {
            v.err(
                r.span(),
                &p("retry"),
                format!("unknown retry policy `{other}`"),
                Some("always, under_load or never"),
            );
            QuicRetry::UnderLoad
        }
    };
    let buffer = |v: &mut V, s: &Option<S<SizeValue>>, k: &str| {
        s.as_ref().map(|_| v.size(s, &p(k), 0).clamp(4096, 1 << 30) as usize)
    };
    Some(Http3Config {
        alt_svc_max_age: v.timeout(&f.alt_svc_max_age, &p("alt_svc_max_age"), d.alt_svc_max_age),
        early_data: f.early_data.unwrap_or(d.early_data),
        retry,
        retry_above: v.int(&f.retry_above, &p("retry_above"), 0, 1_000_000, d.retry_above.into()) as u32,
        max_concurrent_streams: v.int(&f.max_concurrent_streams, &p("max_concurrent_streams"), 1, 10_000, 100) as u32,
        idle_timeout: v.timeout(&f.idle_timeout, &p("idle_timeout"), d.idle_timeout),
        udp_recv_buffer: buffer(v, &f.udp_recv_buffer, "udp_recv_buffer"),
        udp_send_buffer: buffer(v, &f.udp_send_buffer, "udp_send_buffer"),
    })
}
