//! The ID card reader adapter: a thread that owns the serial port, drives
//! the pure [`Poller`] (DOMAIN.md §1.5) and passes its [`ReaderEvent`]s up.
//!
//! The thread survives everything a reader can do: a missing device (it
//! retries every [`RETRY_INTERVAL`]), an unplugged cable (EIO / hang-up →
//! close, [`ReaderEvent::Fault`], reopen), line noise (the [`Deframer`]
//! resynchronises) and a reader that stops answering (the poller counts the
//! timeouts). Card text goes up in [`ReaderEvent::CardRead`]; it is never
//! logged: logs carry the card type and the masked number only. The photo is
//! dropped by the poller and never leaves it.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lifecert_core::id::IdNumber;
use lifecert_core::reader::{
    CardText, Command, Deframer, Poller, ReaderEvent, Response, request_frame, text,
};

use super::serial::{self, Port};
use crate::config::SerialDeviceConfig;

/// Read timeout of the port: the longest the thread goes without looking
/// at its stop flag.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Pause between attempts to open a missing port.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// What the staff panel shows about the reader. A snapshot; see
/// [`ReaderHandle::status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderStatus {
    /// The port is open and the reader answers.
    pub connected: bool,
    /// The reader is missing or misbehaves (staff must act). Neither this nor
    /// `connected` while the thread is still connecting.
    pub faulty: bool,
    /// The port in use (or last tried).
    pub port: Option<String>,
    /// One short line in Chinese for the staff panel.
    pub detail: String,
    /// The SAM module's id (`12 FF`), once read.
    pub sam_id: Option<String>,
    /// Cards read since start.
    pub cards_read: u64,
    /// Bytes skipped while looking for a frame start (line noise).
    pub garbage_bytes: u64,
    /// Frames dropped for a bad checksum or length.
    pub bad_frames: u64,
    /// Commands the reader did not answer in time.
    pub timeouts: u64,
    /// Times the port was reopened after it had been lost.
    pub reconnects: u64,
}

/// The running reader thread. Dropping it stops the thread.
pub struct ReaderHandle {
    status: Arc<Mutex<ReaderStatus>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderHandle {
    /// A snapshot of the reader's state.
    pub fn status(&self) -> ReaderStatus {
        lock(&self.status).clone()
    }

    /// Stops the thread and waits for it (at most about one read timeout
    /// plus the write in flight). Idempotent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the card reader thread panicked");
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ReaderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderHandle")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Starts the reader thread ("card-reader"). Every event goes to
/// `on_event` (called on that thread; keep it short, e.g. send on a
/// channel). Errors only when the reader is disabled (`port = ""`) or the
/// thread cannot be started; a missing device is not an error here: it is
/// reported as [`ReaderEvent::Fault`] and retried.
pub fn spawn(
    cfg: SerialDeviceConfig,
    on_event: Box<dyn FnMut(ReaderEvent) + Send>,
) -> Result<ReaderHandle, String> {
    if serial::resolve(&cfg).is_none() {
        return Err("the ID card reader is disabled (peripherals.card_reader.port = \"\")".into());
    }
    let status = Arc::new(Mutex::new(ReaderStatus {
        detail: "正在连接身份证阅读器…".into(),
        ..ReaderStatus::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let mut worker = Worker {
        cfg,
        on_event,
        status: Arc::clone(&status),
        stop: Arc::clone(&stop),
        poller: Poller::new(),
        deframer: Deframer::new(),
        faulted: false,
        was_connected: false,
    };
    let thread = std::thread::Builder::new()
        .name("card-reader".into())
        .spawn(move || worker.run())
        .map_err(|e| format!("cannot start the card reader thread: {e}"))?;
    Ok(ReaderHandle {
        status,
        stop,
        thread: Some(thread),
    })
}

fn lock(status: &Mutex<ReaderStatus>) -> MutexGuard<'_, ReaderStatus> {
    // A poisoned lock only means a panic elsewhere mid-update of plain
    // counters: the data is still usable.
    status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a session on an open port ended.
enum End {
    Stopped,
    Lost(String),
}

struct Worker {
    cfg: SerialDeviceConfig,
    on_event: Box<dyn FnMut(ReaderEvent) + Send>,
    status: Arc<Mutex<ReaderStatus>>,
    stop: Arc<AtomicBool>,
    poller: Poller,
    deframer: Deframer,
    /// A Fault was reported for the current outage (report it once).
    faulted: bool,
    /// The port has been open before (the next open is a reconnect).
    was_connected: bool,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`, waking early when asked to stop.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            std::thread::sleep((until - now).min(READ_TIMEOUT));
        }
    }

    fn run(&mut self) {
        while !self.stopping() {
            let path = match serial::resolve(&self.cfg) {
                None => return,
                Some(Ok(path)) => path,
                Some(Err(reason)) => {
                    self.outage(None, &reason);
                    self.pause(RETRY_INTERVAL);
                    continue;
                }
            };
            let port = match serial::open(&path, self.cfg.baud, READ_TIMEOUT) {
                Ok(port) => port,
                Err(reason) => {
                    self.outage(Some(&path), &reason);
                    self.pause(RETRY_INTERVAL);
                    continue;
                }
            };
            {
                let mut st = lock(&self.status);
                st.port = Some(path.clone());
                st.detail = format!("已打开 {path}，等待阅读器应答");
                if self.was_connected {
                    st.reconnects += 1;
                }
            }
            tracing::info!(port = %path, baud = self.cfg.baud, "card reader port open");
            self.was_connected = true;
            self.poller.reset();
            self.deframer.clear();
            let end = self.session(port, &path);
            self.poller.reset();
            self.deframer.clear();
            match end {
                End::Stopped => break,
                End::Lost(reason) => {
                    tracing::warn!(port = %path, %reason, "card reader connection lost");
                    self.faulted = false;
                    self.outage(Some(&path), &reason);
                    self.pause(RETRY_INTERVAL);
                }
            }
        }
        let mut st = lock(&self.status);
        st.connected = false;
        st.detail = "身份证阅读器已停止".into();
    }

    /// The port is missing or lost: status, and one Fault per outage.
    fn outage(&mut self, path: Option<&str>, reason: &str) {
        {
            let mut st = lock(&self.status);
            st.connected = false;
            st.faulty = true;
            if let Some(path) = path {
                st.port = Some(path.to_owned());
            }
            st.detail = format!("未连接：{reason}");
        }
        if !self.faulted {
            self.faulted = true;
            tracing::warn!(%reason, "card reader not connected");
            (self.on_event)(ReaderEvent::Fault(format!("身份证阅读器未连接：{reason}")));
        }
    }

    /// Drives the poller on an open port until it is lost or we stop.
    fn session(&mut self, mut port: Port, path: &str) -> End {
        let mut sam_id: Option<String> = None;
        loop {
            if self.stopping() {
                return End::Stopped;
            }
            let Some(cmd) = self.poller.next_command() else {
                self.pause(self.poller.idle_delay());
                continue;
            };
            match self.exchange(&mut port, cmd) {
                Err(end) => return end,
                Ok(None) => {
                    lock(&self.status).timeouts += 1;
                    tracing::debug!(?cmd, "card reader: no answer in time");
                    // Forget a half-received answer and anything that might
                    // still arrive for it, so it is not taken for the next.
                    self.deframer.clear();
                    let _ = port.clear(serialport::ClearBuffer::Input);
                    let events = self.poller.on_timeout();
                    self.deliver(events, path, sam_id.as_deref());
                }
                Ok(Some(response)) => {
                    let sam_ok = cmd == Command::SamStatus && response.sw3.is_ok();
                    let events = self.poller.on_response(response);
                    if sam_ok && sam_id.is_none() {
                        match self.exchange(&mut port, Command::SamId) {
                            Err(end) => return end,
                            Ok(Some(r)) if r.sw3.is_ok() => {
                                sam_id = text::sam_id(&r.data);
                                tracing::info!(sam = ?sam_id, "card reader SAM id");
                                lock(&self.status).sam_id = sam_id.clone();
                            }
                            Ok(other) => {
                                tracing::warn!(
                                    answer = ?other.map(|r| r.sw3),
                                    "card reader: no SAM id"
                                );
                                // Do not ask again on every status poll.
                                sam_id = Some(String::new());
                            }
                        }
                    }
                    self.deliver(events, path, sam_id.as_deref());
                }
            }
        }
    }

    /// Sends `cmd` and waits for one answer frame. `Ok(None)`: no answer in
    /// `Poller::response_timeout(cmd)`.
    fn exchange(&mut self, port: &mut Port, cmd: Command) -> Result<Option<Response>, End> {
        // Frames still buffered are late answers to earlier commands.
        while let Some(stale) = self.deframer.next_frame() {
            tracing::debug!(?stale, "card reader: dropping a stale frame");
        }
        port.write_all(&request_frame(cmd))
            .and_then(|()| port.flush())
            .map_err(|e| End::Lost(format!("写入失败（{e}）")))?;
        let deadline = Instant::now() + Poller::response_timeout(cmd);
        let mut buf = [0u8; 2048];
        loop {
            while let Some(frame) = self.deframer.next_frame() {
                match frame
                    .map_err(|e| e.to_string())
                    .and_then(|p| p.response().map_err(|e| e.to_string()))
                {
                    Ok(response) => {
                        self.sync_counters();
                        return Ok(Some(response));
                    }
                    Err(e) => tracing::debug!(error = %e, "card reader: dropped a frame"),
                }
            }
            self.sync_counters();
            if self.stopping() {
                return Err(End::Stopped);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match port.read(&mut buf) {
                Ok(0) => return Err(End::Lost("设备已断开".into())),
                Ok(n) => self.deframer.push(buf.get(..n).unwrap_or_default()),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::WouldBlock
                    ) => {}
                Err(e) => return Err(End::Lost(format!("读取失败（{e}）"))),
            }
        }
    }

    fn sync_counters(&self) {
        let mut st = lock(&self.status);
        st.garbage_bytes = self.deframer.garbage_bytes();
        st.bad_frames = self.deframer.bad_frames();
    }

    /// Updates the status for `events`, logs them (without card contents)
    /// and passes them up.
    fn deliver(&mut self, events: Vec<ReaderEvent>, path: &str, sam_id: Option<&str>) {
        for event in events {
            {
                let mut st = lock(&self.status);
                match &event {
                    ReaderEvent::Online => {
                        self.faulted = false;
                        st.connected = true;
                        st.faulty = false;
                        st.detail = match sam_id.filter(|s| !s.is_empty()) {
                            Some(sam) => format!("已连接 {path}，SAM {sam}"),
                            None => format!("已连接 {path}"),
                        };
                        tracing::info!(port = %path, "card reader online");
                    }
                    ReaderEvent::CardRead(card) => {
                        st.cards_read += 1;
                        log_card(card);
                    }
                    ReaderEvent::CardRemoved => tracing::info!("card removed from the reader"),
                    ReaderEvent::ReadFailed { sw3, message } => {
                        tracing::info!(
                            sw3 = ?sw3.map(|s| s.code()),
                            meaning = sw3.map_or("", |s| s.meaning()),
                            %message,
                            "card read failed"
                        );
                    }
                    ReaderEvent::Fault(reason) => {
                        self.faulted = true;
                        st.connected = false;
                        st.faulty = true;
                        st.detail = format!("故障：{reason}");
                        tracing::warn!(port = %path, %reason, "card reader fault");
                    }
                }
            }
            (self.on_event)(event);
        }
    }
}

/// Logs a read card: type and masked number only (never the name, the
/// full number or anything else from the chip).
fn log_card(card: &CardText) {
    match IdNumber::parse(&card.number) {
        Ok(id) => tracing::info!(
            card_type = card.card_type.name_zh(),
            id = %id.masked(),
            "card read"
        ),
        Err(_) => tracing::info!(
            card_type = card.card_type.name_zh(),
            "card read (number not a citizen ID number)"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::mpsc;

    use super::*;
    use crate::config::SerialPort;

    #[test]
    fn disabled_reader_is_an_error_not_a_thread() {
        let cfg = SerialDeviceConfig {
            port: SerialPort::Disabled,
            baud: 115_200,
            usb_vid: None,
            usb_pid: None,
        };
        let err = spawn(cfg, Box::new(|_| {})).unwrap_err();
        assert!(err.contains("disabled"), "{err}");
    }

    #[test]
    fn auto_port_without_the_device_reports_a_fault_naming_the_ids() {
        let cfg = SerialDeviceConfig {
            port: SerialPort::Auto,
            baud: 115_200,
            usb_vid: Some(0xfffe),
            usb_pid: Some(0xfffd),
        };
        let (tx, rx) = mpsc::channel();
        let mut handle = spawn(
            cfg,
            Box::new(move |e| {
                let _ = tx.send(e);
            }),
        )
        .unwrap();
        let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let ReaderEvent::Fault(reason) = event else {
            panic!("expected a fault, got {event:?}");
        };
        assert!(reason.contains("fffe:fffd"), "{reason}");
        // Reported once per outage, not on every retry.
        assert!(
            rx.recv_timeout(RETRY_INTERVAL + Duration::from_millis(500))
                .is_err()
        );
        let status = handle.status();
        assert!(!status.connected);
        assert!(status.detail.starts_with("未连接"), "{}", status.detail);
        assert!(status.detail.contains("fffe:fffd"), "{}", status.detail);
        let started = Instant::now();
        handle.stop();
        assert!(started.elapsed() < Duration::from_secs(1), "stop is prompt");
        assert_eq!(handle.status().detail, "身份证阅读器已停止");
    }
}
