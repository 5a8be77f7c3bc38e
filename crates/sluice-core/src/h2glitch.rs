//! HTTP/2 abuse accounting, the pure part: frame boundaries found in a byte stream (9-byte
//! frame headers, payloads skipped, never decoded) and the per-connection glitch score
//! (HAProxy's "glitches", Envoy's premature resets). The proxy's connection wrapper feeds
//! both directions of a client's HTTP/2 connection through `Scanner`s and `FrameGlitches`,
//! the request handler adds premature resets and answered streams to a `Score`; past the
//! listener's `h2_max_glitches`, the connection gets GOAWAY(ENHANCE_YOUR_CALM).

/// One frame's 9-byte header (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// The client connection preface (`PRI * HTTP/2.0...`), 24 bytes before the first frame.
pub const CLIENT_PREFACE_LEN: usize = 24;

/// Follows frame boundaries through a byte stream fed in pieces of any size.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    skip: usize,
    head: [u8; 9],
    have: usize,
    payload_left: u32,
}

impl Scanner {
    /// For bytes from a client: the preface comes first.
    pub fn client() -> Self {
        Scanner { skip: CLIENT_PREFACE_LEN, ..Scanner::default() }
    }

    /// For bytes from a server: frames from the first byte.
    pub fn server() -> Self {
        Scanner::default()
    }

    /// Between two frames: a frame written here would not split another.
    pub fn at_boundary(&self) -> bool {
        self.skip == 0 && self.have == 0 && self.payload_left == 0
    }

    /// Bytes to the end of the current frame when its header is complete (0 at a boundary);
    /// `None` while a header is still partial.
    pub fn to_boundary(&self) -> Option<usize> {
        (self.have == 0).then_some(self.skip + self.payload_left as usize)
    }

    /// Consumes `bytes`, calling `on` with each frame header as it completes.
    pub fn feed(&mut self, mut bytes: &[u8], mut on: impl FnMut(FrameHead)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let k = self.skip.min(bytes.len());
                self.skip -= k;
                bytes = &bytes[k..];
                continue;
            }
            if self.payload_left > 0 {
                let k = (self.payload_left as usize).min(bytes.len());
                self.payload_left -= k as u32;
                bytes = &bytes[k..];
                continue;
            }
            let k = (9 - self.have).min(bytes.len());
            self.head[self.have..self.have + k].copy_from_slice(&bytes[..k]);
            self.have += k;
            bytes = &bytes[k..];
            if self.have == 9 {
                self.have = 0;
                let h = &self.head;
                let head = FrameHead {
                    len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
                    kind: h[3],
                    flags: h[4],
                    stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                };
                self.payload_left = head.len;
                on(head);
            }
        }
    }
}

/// Control frames (WINDOW_UPDATE, PING, SETTINGS, PRIORITY) a client may send before they
/// count as glitches, beyond what its traffic earns.
const FREE_CONTROL: u32 = 32;
/// The most control-frame credit traffic can bank.
const MAX_CREDIT: u32 = 4096;
/// A CONTINUATION frame smaller than this that does not end the header block is a glitch
/// (the CONTINUATION flood: many tiny frames, each costing a wake-up).
pub const TINY_CONTINUATION: u32 = 16;

/// Frame-level glitches of one client connection. Control frames spend a credit earned by
/// traffic: each DATA frame sent to the client (answered by WINDOW_UPDATEs) and each
/// stream the client opens (it may send PRIORITY and WINDOW_UPDATE for it); a control frame
/// with no credit left is a glitch.
#[derive(Debug, Clone)]
pub struct FrameGlitches {
    credit: u32,
    /// The highest stream the client opened (GOAWAY's last-stream-id).
    pub last_stream: u32,
}

impl Default for FrameGlitches {
    fn default() -> Self {
        FrameGlitches { credit: FREE_CONTROL, last_stream: 0 }
    }
}

impl FrameGlitches {
    /// A frame from the client: how many glitches it is (0 or 1).
    pub fn incoming(&mut self, h: &FrameHead) -> u32 {
        match h.kind {
            DATA => u32::from(h.len == 0 && h.flags & END_STREAM == 0),
            HEADERS => {
                self.last_stream = self.last_stream.max(h.stream);
                self.earn(2);
                0
            }
            CONTINUATION => u32::from(h.flags & END_HEADERS == 0 && h.len < TINY_CONTINUATION),
            PING | SETTINGS if h.flags & ACK != 0 => 0,
            WINDOW_UPDATE | PING | SETTINGS | PRIORITY => match self.credit.checked_sub(1) {
                Some(c) => {
                    self.credit = c;
                    0
                }
                None => 1,
            },
            _ => 0,
        }
    }

    /// A frame sent to the client.
    pub fn outgoing(&mut self, h: &FrameHead) {
        if h.kind == DATA {
            self.earn(1);
        }
    }

    fn earn(&mut self, n: u32) {
        self.credit = (self.credit + n).min(MAX_CREDIT);
    }
}

/// A connection's glitch score, in half glitches: a glitch adds two halves, a stream
/// answered normally takes one away, so a client that cancels fewer than a third of its
/// streams (a browser navigating away) never reaches the limit, and one that resets every
/// stream it opens does after `max` of them.
pub fn score_after_glitches(score: u32, glitches: u32) -> u32 {
    score.saturating_add(glitches.saturating_mul(2))
}

pub fn score_after_answer(score: u32) -> u32 {
    score.saturating_sub(1)
}

/// Whether a connection with this score is over its budget (`max` 0: no limit).
pub fn over_budget(score: u32, max: u32) -> bool {
    max != 0 && score > max.saturating_mul(2)
}

/// The GOAWAY(ENHANCE_YOUR_CALM) frame naming `last_stream` (RFC 9113 §6.8).
pub fn goaway_calm(last_stream: u32) -> [u8; 17] {
    let mut f = [0u8; 17];
    f[..9].copy_from_slice(&[0, 0, 8, 0x7, 0, 0, 0, 0, 0]);
    f[9..13].copy_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    f[13..].copy_from_slice(&0xbu32.to_be_bytes());
    f
}

#[cfg(test)]
#[path = "h2glitch_test.rs"]
mod tests;
