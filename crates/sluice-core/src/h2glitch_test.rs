//! Frame boundaries however the bytes are split, and what counts as a glitch.

use super::*;
use proptest::prelude::*;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn client_bytes() -> (Vec<u8>, Vec<FrameHead>) {
    let mut b = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    let frames = [
        (SETTINGS, 0, 0, vec![0; 12]),
        (HEADERS, 0x4, 1, vec![7; 30]),
        (DATA, 0x1, 1, vec![1; 70_000]),
        (WINDOW_UPDATE, 0, 0, vec![0, 0, 1, 0]),
        (DATA, 0, 3, vec![]),
    ];
    let mut heads = Vec::new();
    for (kind, flags, stream, p) in frames {
        b.extend(frame(kind, flags, stream, &p));
        heads.push(FrameHead { len: p.len() as u32, kind, flags, stream });
    }
    (b, heads)
}

proptest! {
    #[test]
    fn frames_are_found_whatever_the_split(cuts in proptest::collection::vec(0usize..70_200, 0..12)) {
        let (bytes, want) = client_bytes();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let (mut s, mut got, mut at) = (Scanner::client(), Vec::new(), 0);
        for c in cuts {
            s.feed(&bytes[at..c], |h| got.push(h));
            at = c;
        }
        prop_assert_eq!(got, want);
        prop_assert!(s.at_boundary());
    }
}

#[test]
fn boundaries_are_known_inside_a_frame() {
    let mut s = Scanner::server();
    assert!(s.at_boundary());
    let f = frame(DATA, 0, 1, &[0; 10]);
    s.feed(&f[..4], |_| {});
    assert_eq!((s.at_boundary(), s.to_boundary()), (false, None), "a partial header");
    s.feed(&f[4..12], |_| {});
    assert_eq!(s.to_boundary(), Some(7));
    s.feed(&f[12..], |_| {});
    assert!(s.at_boundary());
}

#[test]
fn empty_data_and_tiny_continuations_are_glitches() {
    let mut g = FrameGlitches::default();
    let h = |kind, flags, len| FrameHead { len, kind, flags, stream: 1 };
    assert_eq!(g.incoming(&h(DATA, 0, 0)), 1, "empty DATA without END_STREAM");
    assert_eq!(g.incoming(&h(DATA, 0x1, 0)), 0, "an empty DATA frame may end a stream");
    assert_eq!(g.incoming(&h(DATA, 0, 5)), 0);
    assert_eq!(g.incoming(&h(CONTINUATION, 0, 3)), 1);
    assert_eq!(g.incoming(&h(CONTINUATION, 0x4, 3)), 0, "the last fragment may be small");
    assert_eq!(g.incoming(&h(CONTINUATION, 0, 400)), 0);
}

#[test]
fn control_frames_spend_credit_that_traffic_earns() {
    let mut g = FrameGlitches::default();
    let wu = FrameHead { len: 4, kind: WINDOW_UPDATE, flags: 0, stream: 0 };
    let free: u32 = (0..FREE_CONTROL).map(|_| g.incoming(&wu)).sum();
    assert_eq!(free, 0);
    assert_eq!(g.incoming(&wu), 1, "a storm beyond the free allowance");
    g.outgoing(&FrameHead { len: 100, kind: DATA, flags: 0, stream: 1 });
    assert_eq!(g.incoming(&wu), 0, "a DATA frame sent earns one WINDOW_UPDATE");
    assert_eq!(g.incoming(&wu), 1);
    assert_eq!(g.incoming(&FrameHead { len: 8, kind: PING, flags: 0x1, stream: 0 }), 0, "PING ACKs are free");
    g.incoming(&FrameHead { len: 9, kind: HEADERS, flags: 0x4, stream: 7 });
    assert_eq!(g.last_stream, 7);
    assert_eq!(
        g.incoming(&FrameHead { len: 5, kind: PRIORITY, flags: 0, stream: 7 }),
        0,
        "a stream earns its PRIORITY"
    );
}

#[test]
fn the_score_forgives_answered_streams_but_not_a_reset_flood() {
    let max = 100;
    // Every stream reset: over the budget after `max` of them.
    let mut s = 0;
    let n = (1..).find(|_| {
        s = score_after_glitches(s, 1);
        over_budget(s, max)
    });
    assert_eq!(n, Some(101));
    // A browser cancelling one stream in four never gets there.
    let mut s = 0;
    for i in 0..100_000 {
        s = if i % 4 == 0 { score_after_glitches(s, 1) } else { score_after_answer(s) };
        assert!(!over_budget(s, max));
    }
    assert!(!over_budget(u32::MAX, 0), "0 turns the limit off");
}

#[test]
fn goaway_says_enhance_your_calm() {
    let f = goaway_calm(0x8000_0005);
    assert_eq!(&f[..9], &[0, 0, 8, 7, 0, 0, 0, 0, 0]);
    assert_eq!(&f[9..13], &[0, 0, 0, 5], "the reserved bit is cleared");
    assert_eq!(&f[13..], &[0, 0, 0, 0xb]);
}
