//! The upstream side of sluice's own HTTP/1.1 codec: the fast path for bodyless requests
//! to plain-TCP HTTP/1.1 clusters (everything else — bodies, TLS, PROXY headers, upgrades,
//! HTTP/2 — goes through hyper's client). The request head is written straight from the
//! request, the response head parsed in place, and the body read by the client
//! connection's own task: no connection task, channel or wake-up per request. The
//! connection returns to the pool when the body ends as framed.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{header, Method, Request};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub mod resp;

use super::codec::decode::{Decoded, Decoder};
use super::codec::raw::RawFields;
use crate::body::request::RequestBody;
use crate::body::BoxError;
use crate::io::batch::Side;
use crate::io::outbox::Outbox;
use crate::runtime::cluster_state::ConnSlot;
use crate::upstream::pool::Pool;
use resp::{parse_response, RespHead};

const READ_CHUNK: usize = 8 * 1024;
/// Largest read for a body: big bodies move in big reads (and big writes to the client).
const BODY_READ_MAX: usize = 256 * 1024;
/// Largest upstream response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// An upstream HTTP/1.1 connection of the fast path.
pub struct UpConn {
    r: OwnedReadHalf,
    w: OwnedWriteHalf,
    /// The request on its way out (written by the worker's flusher).
    out: Rc<Outbox>,
    buf: BytesMut,
    /// `buf` was grown past `READ_CHUNK` for a body.
    grown: bool,
    pub uses: u64,
    _slot: ConnSlot,
}

/// Why a round trip failed: `Unsent` when no byte of the request left (safe to send
/// elsewhere); `Empty` when the upstream closed without a byte of answer (a reused
/// connection it had closed while idle).
pub enum TripError {
    Unsent,
    Empty,
    Broken,
}

impl UpConn {
    pub fn new(s: tokio::net::TcpStream, slot: ConnSlot) -> Self {
        let out = Outbox::new(s.as_raw_fd(), Side::Upstream);
        let (r, w) = s.into_split();
        UpConn { r, w, out, buf: BytesMut::new(), grown: false, uses: 0, _slot: slot }
    }

    /// Before idling in the pool: a read buffer grown for a large body (up to
    /// `BODY_READ_MAX`; even an empty view keeps its whole allocation alive) is let go
    /// when nothing is left in it — leftover bytes stay, they make the connection not
    /// reusable. A small one is kept: allocating it afresh for every request costs ~300
    /// instructions.
    pub fn shed_buffer(&mut self) {
        if self.grown && self.buf.is_empty() {
            self.buf = BytesMut::new();
            self.grown = false;
        }
    }

    /// Still open and quiet while idle: a closed or chattering connection is not reused.
    pub fn is_reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        self.buf.is_empty()
            && self.out.is_idle()
            && matches!(self.r.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes the request head and reads the response head (skipping 1xx interim answers);
    /// `raw`: its fields may stay in wire form (`RespHead::raw`).
    pub async fn round_trip(&mut self, req: &Request<RequestBody>, raw: bool) -> Result<RespHead, TripError> {
        encode_request(req, &mut self.out.buf());
        self.out.send();
        self.uses += 1;
        let mut any = false;
        loop {
            if !self.buf.is_empty() {
                any = true;
                match parse_response(&mut self.buf, req.method() == Method::HEAD, raw) {
                    Ok(Some(p)) if p.parts.status.is_informational() => continue,
                    Ok(Some(mut p)) => {
                        // Answered before the whole request left (the upstream did not
                        // wait for it): the connection is not reused.
                        p.keep_alive &= self.out.is_idle();
                        return Ok(p);
                    }
                    Ok(None) if self.buf.len() < MAX_HEAD => {}
                    _ => return Err(TripError::Broken),
                }
            }
            self.buf.reserve(READ_CHUNK);
            let read = poll_fn(|cx| {
                // The request first: the flusher's, unless it could not write it all.
                if ready!(self.out.poll_drive(cx, &mut self.w)).is_err() {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                tokio_util::io::poll_read_buf(Pin::new(&mut self.r), cx, &mut self.buf)
            });
            match read.await {
                Ok(0) | Err(_) if self.out.unsent() => return Err(TripError::Unsent),
                Ok(0) | Err(_) if !any => return Err(TripError::Empty),
                Ok(0) | Err(_) => return Err(TripError::Broken),
                Ok(_) => {}
            }
        }
    }
}

impl Drop for UpConn {
    fn drop(&mut self) {
        // Before the socket closes: the flusher must not write to its descriptor.
        self.out.close();
    }
}

fn encode_request(req: &Request<RequestBody>, out: &mut Vec<u8>) {
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.uri().path_and_query().map_or("/", |p| p.as_str()).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    super::codec::raw::put_fields(req.headers(), out);
    let wants_length = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if wants_length && !req.headers().contains_key(header::CONTENT_LENGTH) {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Where a finished connection goes back to.
pub struct Home {
    pub pool: Rc<Pool>,
    pub addr: std::net::SocketAddr,
    pub cfg: sluice_config::PoolConfig,
}

/// An upstream response body read off a fast-path connection.
pub struct OwnBody {
    conn: Option<UpConn>,
    /// `None`: until the upstream closes (the connection is not reused).
    decoder: Option<Decoder>,
    /// `None` when the connection is not to be reused (the upstream said close).
    home: Option<Home>,
    done: bool,
    /// The response's fields in wire form, when the head left them so (`RespHead::raw`).
    pub raw: Option<RawFields>,
}

impl OwnBody {
    pub fn new(conn: UpConn, head: RespHead, home: Option<Home>) -> (http::response::Parts, Self) {
        let decoder = head.framing.map(Decoder::new);
        let done = decoder.as_ref().is_some_and(Decoder::is_done);
        let mut b = OwnBody { conn: Some(conn), decoder, home, done, raw: head.raw };
        if done {
            b.go_home();
        }
        (head.parts, b)
    }

    fn go_home(&mut self) {
        if let (Some(c), Some(h)) = (self.conn.take(), self.home.take()) {
            h.pool.checkin_own(h.addr, c, h.cfg);
        }
    }

    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let Some(c) = self.conn.as_mut() else { return Poll::Ready(None) };
            let step = match self.decoder.as_mut() {
                Some(d) => d.decode(&mut c.buf).map_err(BoxError::from)?,
                None if c.buf.is_empty() => Decoded::NeedMore,
                None => Decoded::Data(c.buf.split().freeze()),
            };
            let frame = match step {
                Decoded::Data(b) => Frame::data(b),
                Decoded::Trailers(t) => Frame::trailers(t),
                Decoded::End => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Decoded::NeedMore => {
                    let want = self.decoder.as_ref().and_then(Decoder::remaining).map_or(BODY_READ_MAX, |n| n as usize);
                    let want = want.clamp(READ_CHUNK, BODY_READ_MAX);
                    c.grown |= want > READ_CHUNK;
                    c.buf.reserve(want);
                    let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut c.r), cx, &mut c.buf))?;
                    if n == 0 {
                        self.conn = None;
                        return match self.decoder {
                            None => Poll::Ready(None),
                            Some(_) => Poll::Ready(Some(Err("upstream closed inside the body".into()))),
                        };
                    }
                    continue;
                }
            };
            if self.decoder.as_ref().is_some_and(Decoder::is_done) {
                self.finish();
            }
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    fn finish(&mut self) {
        self.done = true;
        match self.conn.as_ref() {
            Some(c) if c.buf.is_empty() => self.go_home(),
            _ => self.conn = None,
        }
    }
}

impl Body for OwnBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let r = this.poll_data(cx);
        if let Poll::Ready(Some(Err(_))) = &r {
            this.conn = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.as_ref().and_then(Decoder::remaining) {
            Some(n) => SizeHint::with_exact(n),
            None if self.done => SizeHint::with_exact(0),
            None => SizeHint::default(),
        }
    }
}

/// An upstream response body from either client: hyper's, or the fast path's (boxed: the
/// response is moved through several layers on its way to the client).
pub type UpIncoming = http_body_util::Either<Incoming, Box<OwnBody>>;

#[cfg(test)]
#[path = "client_test.rs"]
mod tests;
