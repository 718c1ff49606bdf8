//! The systemd watchdog, pinged from the kiosk's frame loop.
//!
//! The packaged unit sets `WatchdogSec=` and `NotifyAccess=all`; systemd
//! then kills and restarts the session when the pings stop, that is when the
//! UI thread hangs (the window repaints at least once a second, so a live UI
//! pings). The unit's main process is the `cage` compositor, not the kiosk,
//! so `WATCHDOG_PID` names cage: it is deliberately not checked (libsystemd's
//! `sd_watchdog_enabled` would say "not for us").
//!
//! Without `NOTIFY_SOCKET` and `WATCHDOG_USEC` (development, Windows) this
//! does nothing.

use std::time::{Duration, Instant};

/// Sends `READY=1` once and `WATCHDOG=1` at half the watchdog interval.
#[derive(Debug)]
pub struct Watchdog {
    inner: Option<Notifier>,
}

#[derive(Debug)]
struct Notifier {
    socket: String,
    every: Duration,
    last: Option<Instant>,
    failed: bool,
}

impl Watchdog {
    /// From the environment systemd gives the service.
    pub fn from_env() -> Watchdog {
        Watchdog::new(
            std::env::var("NOTIFY_SOCKET").ok().as_deref(),
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
        )
    }

    /// From the two variables' values.
    pub fn new(notify_socket: Option<&str>, watchdog_usec: Option<&str>) -> Watchdog {
        let usec = watchdog_usec.and_then(|v| v.trim().parse::<u64>().ok());
        let inner = match (notify_socket, usec) {
            (Some(socket), Some(usec)) if !socket.is_empty() && usec > 0 => Some(Notifier {
                socket: socket.to_owned(),
                every: Duration::from_micros(usec / 2),
                last: None,
                failed: false,
            }),
            _ => None,
        };
        Watchdog { inner }
    }

    /// Whether systemd asked for pings.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The ping interval (half of `WatchdogSec`), when enabled.
    pub fn interval(&self) -> Option<Duration> {
        self.inner.as_ref().map(|n| n.every)
    }

    /// Called every frame: pings when the interval has passed (the first call
    /// also says `READY=1`).
    pub fn tick(&mut self, now: Instant) {
        let Some(n) = self.inner.as_mut() else {
            return;
        };
        let message: &[u8] = match n.last {
            Some(last) if now.duration_since(last) < n.every => return,
            Some(_) => b"WATCHDOG=1",
            None => b"READY=1\nWATCHDOG=1",
        };
        n.last = Some(now);
        match send(&n.socket, message) {
            Ok(()) => n.failed = false,
            Err(e) if !n.failed => {
                n.failed = true;
                tracing::warn!(socket = %n.socket, error = %e, "cannot ping the systemd watchdog; systemd will restart the kiosk");
            }
            Err(_) => {}
        }
    }
}

#[cfg(target_os = "linux")]
fn send(socket: &str, message: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let addr = match socket.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None => SocketAddr::from_pathname(socket)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(message, &addr)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send(_socket: &str, _message: &[u8]) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the systemd watchdog exists only on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_without_both_variables() {
        assert!(!Watchdog::new(None, Some("30000000")).enabled());
        assert!(!Watchdog::new(Some("/run/systemd/notify"), None).enabled());
        assert!(!Watchdog::new(Some("/run/systemd/notify"), Some("soon")).enabled());
        assert!(!Watchdog::new(Some(""), Some("30000000")).enabled());
        let w = Watchdog::new(Some("/run/systemd/notify"), Some("30000000"));
        assert_eq!(w.interval(), Some(Duration::from_secs(15)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pings_ready_then_at_half_the_interval() {
        use std::os::unix::net::UnixDatagram;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_nonblocking(true).unwrap();
        let mut w = Watchdog::new(path.to_str(), Some("2000000"));
        let t0 = Instant::now();
        w.tick(t0);
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nWATCHDOG=1");
        w.tick(t0 + Duration::from_millis(500));
        assert!(server.recv(&mut buf).is_err(), "pinged before the interval");
        w.tick(t0 + Duration::from_millis(1000));
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_names_work() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let name = format!("lifecert-test-{}", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let mut w = Watchdog::new(Some(&format!("@{name}")), Some("1000000"));
        w.tick(Instant::now());
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nWATCHDOG=1");
    }
}
