//! Proxy-generated responses: one small enum says where a request failed, which status it
//! gets (400/404/413/431/502/503/504) and the short plain-text reason in its body (the
//! response itself is built in `body::response`, next to the body type).

use http::StatusCode;

/// Why sluice answered a request itself instead of relaying an upstream response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    BadRequest(&'static str),
    NoRoute,
    /// Over the route's rate limit; seconds until a token is back.
    RateLimited(u32),
    BodyTooLarge,
    ClientBodyTimeout,
    HeadersTooLarge,
    TooManyHeaders,
    /// The request line alone is longer than the head limit (414).
    UriTooLong,
    /// An HTTP version other than 1.0 and 1.1 on an HTTP/1 connection (505).
    VersionNotSupported,
    NoEndpoint,
    CircuitBreaker,
    BreakerOpen,
    ConnectRefused,
    /// The upstream's TLS handshake failed (certificate not trusted, wrong name, no ALPN).
    UpstreamTls,
    ConnectTimeout,
    ResponseTimeout,
    UpstreamReset,
    /// The overload manager sheds load (memory or descriptors near their limit).
    Overloaded,
}

impl ProxyError {
    pub fn status(self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::ClientBodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::HeadersTooLarge | ProxyError::TooManyHeaders => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::UriTooLong => StatusCode::URI_TOO_LONG,
            ProxyError::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ProxyError::NoEndpoint | ProxyError::CircuitBreaker | ProxyError::BreakerOpen | ProxyError::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::ConnectRefused | ProxyError::UpstreamReset | ProxyError::UpstreamTls => StatusCode::BAD_GATEWAY,
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            ProxyError::BadRequest(why) => why,
            ProxyError::NoRoute => "no route matches this request",
            ProxyError::RateLimited(_) => "rate limit exceeded",
            ProxyError::BodyTooLarge => "request body exceeds the limit",
            ProxyError::ClientBodyTimeout => "request body idle timeout",
            ProxyError::HeadersTooLarge => "request headers exceed the size limit",
            ProxyError::TooManyHeaders => "request has too many headers",
            ProxyError::UriTooLong => "request target exceeds the size limit",
            ProxyError::VersionNotSupported => "HTTP version not supported",
            ProxyError::NoEndpoint => "no healthy endpoint in cluster",
            ProxyError::CircuitBreaker => "cluster at its request limit (circuit breaker)",
            ProxyError::BreakerOpen => "circuit breaker open: cluster error rate too high",
            ProxyError::ConnectRefused => "upstream connection failed",
            ProxyError::UpstreamTls => "upstream TLS handshake failed",
            ProxyError::ConnectTimeout => "upstream connect timeout",
            ProxyError::ResponseTimeout => "upstream response timeout",
            ProxyError::UpstreamReset => "upstream reset the connection",
            ProxyError::Overloaded => "proxy overloaded: shedding load",
        }
    }

    /// The client caused it (a malformed or oversized request, a stalled upload): it says
    /// nothing about the upstream, so outlier detection and breakers do not count it.
    pub fn is_client_fault(self) -> bool {
        matches!(self, ProxyError::BadRequest(_) | ProxyError::BodyTooLarge | ProxyError::ClientBodyTimeout)
    }

    /// Short machine-readable name, sent as `x-sluice-error` and logged.
    pub fn code(self) -> &'static str {
        match self {
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::NoRoute => "no_route",
            ProxyError::RateLimited(_) => "rate_limited",
            ProxyError::BodyTooLarge => "body_too_large",
            ProxyError::ClientBodyTimeout => "client_body_timeout",
            ProxyError::HeadersTooLarge => "headers_too_large",
            ProxyError::TooManyHeaders => "too_many_headers",
            ProxyError::UriTooLong => "uri_too_long",
            ProxyError::VersionNotSupported => "version_not_supported",
            ProxyError::NoEndpoint => "no_endpoint",
            ProxyError::CircuitBreaker => "circuit_breaker",
            ProxyError::BreakerOpen => "breaker_open",
            ProxyError::ConnectRefused => "connect_failed",
            ProxyError::UpstreamTls => "upstream_tls",
            ProxyError::ConnectTimeout => "connect_timeout",
            ProxyError::ResponseTimeout => "response_timeout",
            ProxyError::UpstreamReset => "upstream_reset",
            ProxyError::Overloaded => "overloaded",
        }
    }
}
