//! A raw-frame HTTP/2 client for abuse tests: it writes frames no well-behaved client
//! library would (resets of streams in flight, empty DATA floods) and reads what the proxy
//! sends back, frame by frame, to find its GOAWAY.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const GOAWAY: u8 = 0x7;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub struct RawH2 {
    s: TcpStream,
    inbox: Vec<u8>,
}

/// What the proxy sent: the frame type, flags, stream and payload.
pub type Frame = (u8, u8, u32, Vec<u8>);

/// An HPACK block of literal fields without indexing (no Huffman, no table).
pub fn hpack(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        b.push(0x00);
        b.push(n.len() as u8);
        b.extend_from_slice(n.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

impl RawH2 {
    /// Connects, sends the preface and empty SETTINGS, and acknowledges the server's.
    pub async fn connect(addr: SocketAddr) -> RawH2 {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut c = RawH2 { s, inbox: Vec::new() };
        c.s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        c.frame(SETTINGS, 0, 0, &[]).await;
        while let Some((kind, flags, _, _)) = c.next(Duration::from_secs(2)).await {
            if kind == SETTINGS && flags & 1 == 0 {
                c.frame(SETTINGS, 1, 0, &[]).await;
                break;
            }
        }
        c
    }

    pub async fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        // A proxy that closed on us may refuse the write; the reads say what happened.
        let _ = self.s.write_all(&f).await;
    }

    /// A request's HEADERS with the usual pseudo-headers and `extra` fields.
    pub async fn request(&mut self, stream: u32, method: &str, path: &str, extra: &[(&str, &str)], end: bool) {
        let mut fields = vec![(":method", method), (":scheme", "http"), (":path", path)];
        fields.extend_from_slice(extra);
        let flags = END_HEADERS | if end { END_STREAM } else { 0 };
        self.frame(HEADERS, flags, stream, &hpack(&fields)).await;
    }

    pub async fn reset(&mut self, stream: u32) {
        self.frame(RST_STREAM, 0, stream, &8u32.to_be_bytes()).await; // CANCEL
    }

    /// The next frame, or `None` on close or after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.inbox.len() >= 9 {
                let h = &self.inbox;
                let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
                if self.inbox.len() >= 9 + len {
                    let f: Vec<u8> = self.inbox.drain(..9 + len).collect();
                    let stream = u32::from_be_bytes([f[5], f[6], f[7], f[8]]) & 0x7fff_ffff;
                    return Some((f[3], f[4], stream, f[9..].to_vec()));
                }
            }
            let mut buf = [0u8; 16384];
            match tokio::time::timeout_at(deadline, self.s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.inbox.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    }

    /// Reads until a GOAWAY (its error code) or until the connection closes or goes quiet.
    pub async fn goaway(&mut self, wait: Duration) -> Option<u32> {
        while let Some((kind, _, _, p)) = self.next(wait).await {
            if kind == GOAWAY && p.len() >= 8 {
                return Some(u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
            }
        }
        None
    }

    /// Reads until `stream`'s response HEADERS arrive: the first byte of its HPACK block
    /// is enough to tell `:status` 200 (0x88) and 400 (0x8c) from the static table.
    pub async fn status_byte(&mut self, stream: u32, wait: Duration) -> Option<u8> {
        while let Some((kind, _, s, p)) = self.next(wait).await {
            if kind == HEADERS && s == stream {
                return p.first().copied();
            }
        }
        None
    }

    /// True once the proxy has closed the connection (EOF or reset) within `wait`.
    pub async fn closed(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 16384];
        loop {
            match tokio::time::timeout_at(deadline, self.s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}
