//! Body types of the data path, neutral to every protocol. `request` is what upstreams
//! receive (the client's body with the size limit, idle timeout and mirror tee applied);
//! `response` is what clients receive (a body sluice made, or an upstream body streamed
//! through with the guards that must live exactly as long as the response). Here: the
//! error markers both directions classify by, and the idle timer they share.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::time::{Instant, Sleep};

pub mod compress;
pub mod request;
pub mod response;
pub mod wrapped;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The client sent more body bytes than `max_body_bytes`.
#[derive(Debug)]
pub struct BodyTooLarge;

/// No body bytes moved for longer than the body idle timeout.
#[derive(Debug)]
pub struct BodyIdle;

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body exceeds the limit")
    }
}
impl StdError for BodyTooLarge {}

impl fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body idle timeout")
    }
}
impl StdError for BodyIdle {}

/// The client's request body broke its framing (chunked grammar, RFC 9112 §7.1): a 400.
#[derive(Debug)]
pub struct BadFraming(pub &'static str);

impl fmt::Display for BadFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
impl StdError for BadFraming {}

/// A lazily armed idle timer: no allocation unless a poll actually has to wait.
pub struct IdleTimer {
    dur: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    pub fn new(dur: Duration) -> Self {
        IdleTimer { dur, sleep: None }
    }

    /// Called when the inner body made progress: push the deadline out.
    fn progress(&mut self) {
        if let Some(s) = self.sleep.as_mut() {
            s.as_mut().reset(Instant::now() + self.dur);
        }
    }

    /// Called when the inner body is pending: has the deadline passed?
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let dur = self.dur;
        let s = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(dur)));
        s.as_mut().poll(cx).is_ready()
    }
}

use std::future::Future;

/// Polls `inner` with the idle timer around it.
pub(crate) fn poll_idle<B>(
    inner: &mut B,
    idle: &mut IdleTimer,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    match Pin::new(inner).poll_frame(cx) {
        Poll::Ready(r) => {
            idle.progress();
            Poll::Ready(r.map(|r| r.map_err(Into::into)))
        }
        Poll::Pending if idle.expired(cx) => Poll::Ready(Some(Err(Box::new(BodyIdle)))),
        Poll::Pending => Poll::Pending,
    }
}

/// Does this error (or anything it wraps) say the request body was too large?
pub fn is_body_too_large(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTooLarge>() {
            return true;
        }
        cur = err.source();
    }
    false
}
