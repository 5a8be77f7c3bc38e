//! An HTTP/3 request body as an `http_body::Body`: DATA frames as they arrive, then the
//! trailers. quinn returns flow-control credit only as the body is polled, so a slow
//! upstream slows the client (no whole-body buffering). The body checks the bytes against
//! `content-length` (RFC 9114 §4.1.2: a mismatch is a malformed request). A body dropped
//! unread drops its QUIC stream, and quinn tells the client to stop sending (STOP_SENDING
//! with code 0, which HTTP/3 peers treat as H3_NO_ERROR). Not `stop_sending` by hand:
//! h3-quinn 0.0.10 panics when it is called while a read is outstanding (hyperium/h3#330,
//! fixed upstream in #331, not yet released).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::server::RequestStream;
use http_body::{Body, Frame, SizeHint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

enum St {
    Data,
    Trailers,
    Done,
}

pub struct H3Body {
    stream: RequestStream<h3_quinn::RecvStream, Bytes>,
    st: St,
    /// `content-length`, if the request has one.
    declared: Option<u64>,
    seen: u64,
    /// A frame read ahead by `ended_within`.
    ahead: Option<Result<Frame<Bytes>, BoxError>>,
}

impl H3Body {
    pub fn new(stream: RequestStream<h3_quinn::RecvStream, Bytes>, declared: Option<u64>) -> Self {
        H3Body { stream, st: St::Data, declared, seen: 0, ahead: None }
    }

    /// Whether the request has no body at all (the client finished the stream with its
    /// head, as for nearly every GET), waiting at most `wait` for the end of the stream:
    /// the handler then sees an empty body, so a bodyless request goes upstream without
    /// chunked framing. A first DATA frame that arrives meanwhile is kept for the handler.
    pub async fn ended_within(&mut self, wait: std::time::Duration) -> bool {
        let first = std::future::poll_fn(|cx| Pin::new(&mut *self).poll_frame(cx));
        match tokio::time::timeout(wait, first).await {
            Ok(None) => true,
            Ok(Some(f)) => {
                self.ahead = Some(f);
                false
            }
            Err(_) => false,
        }
    }

    fn mismatch(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.st = St::Done;
        Poll::Ready(Some(Err("request body does not match its content-length".into())))
    }
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let me = self.get_mut();
        if let Some(f) = me.ahead.take() {
            return Poll::Ready(Some(f));
        }
        loop {
            match me.st {
                St::Data => match ready!(me.stream.poll_recv_data(cx)) {
                    Ok(Some(mut b)) => {
                        let chunk = b.copy_to_bytes(b.remaining());
                        me.seen += chunk.len() as u64;
                        if me.declared.is_some_and(|d| me.seen > d) {
                            return me.mismatch();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                    Ok(None) if me.declared.is_some_and(|d| me.seen != d) => return me.mismatch(),
                    Ok(None) => me.st = St::Trailers,
                    Err(e) => {
                        me.st = St::Done;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                },
                St::Trailers => {
                    let r = ready!(me.stream.poll_recv_trailers(cx));
                    me.st = St::Done;
                    return Poll::Ready(match r {
                        Ok(Some(t)) => Some(Ok(Frame::trailers(t))),
                        Ok(None) => None,
                        Err(e) => Some(Err(e.into())),
                    });
                }
                St::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ahead.is_none() && matches!(self.st, St::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(d) => SizeHint::with_exact(d.saturating_sub(self.seen)),
            None => SizeHint::default(),
        }
    }
}
