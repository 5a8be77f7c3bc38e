//! systemd readiness for `Type=notify` units (sd_notify(3), written by hand: a datagram to
//! `$NOTIFY_SOCKET`): READY=1 once every listener is bound, RELOADING=1 then READY=1 around a
//! SIGHUP reload, STOPPING=1 when the ordered exit begins, and WATCHDOG=1 every half of
//! `$WATCHDOG_USEC`. Without `$NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

pub struct Notifier {
    target: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let target = std::env::var("NOTIFY_SOCKET").ok().and_then(|path| {
            let addr = match path.strip_prefix('@') {
                Some(name) => {
                    <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
                        name.as_bytes(),
                    )
                    .ok()?
                }
                None => std::os::unix::net::SocketAddr::from_pathname(&path).ok()?,
            };
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        Notifier { target }
    }

    pub fn send(&self, msg: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(msg.as_bytes(), addr) {
                tracing::warn!(error = %e, msg, "sd_notify failed");
            }
        }
    }

    /// Half of `$WATCHDOG_USEC`, when the watchdog is on for this process.
    pub fn watchdog_interval() -> Option<Duration> {
        if let Ok(pid) = std::env::var("WATCHDOG_PID") {
            if pid.parse::<u32>().ok() != Some(std::process::id()) {
                return None;
            }
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }

    /// Pings the watchdog from a thread of its own for as long as the process lives.
    pub fn start_watchdog(self: &std::sync::Arc<Self>) {
        let Some(every) = Self::watchdog_interval() else { return };
        let me = std::sync::Arc::clone(self);
        let _ = std::thread::Builder::new().name("watchdog".into()).spawn(move || loop {
            me.send("WATCHDOG=1");
            std::thread::sleep(every);
        });
    }
}
