//! Connection timer decisions on paused tokio time: header, idle, busy, h2, and grace.

use super::*;

const T: ListenerTimeouts = ListenerTimeouts {
    header: Duration::from_secs(10),
    idle: Duration::from_secs(60),
    body: Duration::from_secs(60),
    tunnel: Duration::from_secs(3600),
};

fn at(s: u64) -> Instant {
    Instant::now() + Duration::from_secs(s)
}

#[tokio::test(start_paused = true)]
async fn silent_new_connection_gets_the_header_timeout() {
    let st = ConnState::new();
    let mut p = Phase::Open;
    assert_eq!(st.on_timer(&mut p, at(5), &T), Action::Recheck(at(10)));
    assert_eq!(st.on_timer(&mut p, at(10), &T), Action::Drop);
}

#[tokio::test(start_paused = true)]
async fn idle_keepalive_closes_after_idle_and_busy_never_does() {
    let st = std::sync::Arc::new(ConnState::new());
    let mut p = Phase::Open;
    let (g, _) = st.begin_request();
    assert_eq!(st.on_timer(&mut p, at(500), &T), Action::Recheck(at(510)), "busy: recheck only");
    drop(g);
    assert_eq!(st.on_timer(&mut p, at(59), &T), Action::Recheck(at(60)));
    assert_eq!(st.on_timer(&mut p, at(60), &T), Action::Drop);
}

#[tokio::test(start_paused = true)]
async fn idle_h2_gets_goaway_then_grace() {
    let st = ConnState::new();
    st.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let mut p = Phase::Open;
    assert_eq!(st.on_timer(&mut p, at(10), &T), Action::Recheck(at(60)), "h2 is not cut at the header timeout");
    assert_eq!(st.on_timer(&mut p, at(60), &T), Action::Shutdown);
    assert_eq!(p, Phase::Closing { grace: None });
    assert_eq!(st.on_timer(&mut p, at(61), &T), Action::Recheck(at(62)));
    assert_eq!(st.on_timer(&mut p, at(62), &T), Action::Drop);
}
