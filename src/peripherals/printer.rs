//! The ESC/POS receipt printer on a serial port (a USB-serial adapter, a
//! UART, or the simulator's pty).
//!
//! The port is opened on first use and dropped after any link error, so the
//! next print reopens it: unplugging and replugging the USB cable needs no
//! restart. Before each receipt the printer is asked for its status
//! (`DLE EOT 1`, `2`, `4`); a receipt is only sent to a printer that has
//! paper, a closed cover and is online. Receipt contents are never logged.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use lifecert_core::flow::Receipt;

use super::PrintError;
use super::escpos::{RasterFont, ReceiptLayout, printer_font_has, receipt_bytes};
use super::serial::{self, Port};
use crate::config::SerialDeviceConfig;
use crate::kiosk::ReceiptPrinter;

/// How long the printer may take to answer one status request.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(1500);
/// Write timeout per chunk once the receipt is being sent.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// `DLE EOT n` (real-time status transmission).
pub fn status_request(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

/// The printer's answers to `DLE EOT 1`, `2` and `4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Printer status (n = 1).
    pub printer: u8,
    /// Offline cause (n = 2).
    pub offline: u8,
    /// Roll paper sensor (n = 4).
    pub paper: u8,
}

/// Bits of the status bytes (Epson ESC/POS; fixed bits 0x12 are set in every answer).
pub mod bits {
    /// n = 1: offline.
    pub const OFFLINE: u8 = 0x08;
    /// n = 2: cover open.
    pub const COVER_OPEN: u8 = 0x04;
    /// n = 2: printing stopped by paper end.
    pub const PAPER_END_STOP: u8 = 0x20;
    /// n = 2: an error occurred.
    pub const ERROR: u8 = 0x40;
    /// n = 4: roll paper near end.
    pub const NEAR_END: u8 = 0x0C;
    /// n = 4: roll paper end.
    pub const PAPER_END: u8 = 0x60;
    /// Bits that are fixed in every status byte: 0 at 0x01 and 0x80, 1 at 0x02 and 0x10.
    pub const FIXED_MASK: u8 = 0x93;
    pub const FIXED: u8 = 0x12;
}

/// What the status means for printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Ok,
    NearEnd,
}

impl Status {
    /// Whether a receipt can be printed, most specific cause first.
    pub fn interpret(&self) -> Result<Paper, PrintError> {
        if self.paper & bits::PAPER_END != 0 || self.offline & bits::PAPER_END_STOP != 0 {
            return Err(PrintError::PaperOut);
        }
        if self.offline & bits::COVER_OPEN != 0 {
            return Err(PrintError::CoverOpen);
        }
        if self.offline & bits::ERROR != 0 {
            return Err(PrintError::Offline(
                "the printer reports an error (cutter jam or overheating?)".into(),
            ));
        }
        if self.printer & bits::OFFLINE != 0 {
            return Err(PrintError::Offline(
                "the printer reports it is offline".into(),
            ));
        }
        if self.paper & bits::NEAR_END != 0 {
            return Ok(Paper::NearEnd);
        }
        Ok(Paper::Ok)
    }
}

/// An open port and the path it was opened at.
struct Link {
    path: String,
    port: Port,
}

/// The kiosk's receipt printer on a serial port.
pub struct SerialPrinter {
    cfg: SerialDeviceConfig,
    layout: ReceiptLayout,
    raster: Option<RasterFont>,
    /// A font file (and face) to load into `raster` the first time a receipt
    /// needs it: the kiosk's 20 MB CJK font is read only for rare characters.
    lazy_font: Option<(std::path::PathBuf, u32)>,
    link: Option<Link>,
    status_timeout: Duration,
}

impl SerialPrinter {
    /// A printer on `cfg`'s port; nothing is opened until the first use.
    pub fn new(
        cfg: SerialDeviceConfig,
        layout: ReceiptLayout,
        raster: Option<RasterFont>,
    ) -> SerialPrinter {
        SerialPrinter {
            cfg,
            layout,
            raster,
            lazy_font: None,
            link: None,
            status_timeout: STATUS_TIMEOUT,
        }
    }

    /// Loads this font (face `index`) for raster lines when a receipt first
    /// holds a character the printer's own font lacks.
    pub fn with_lazy_font(mut self, path: std::path::PathBuf, index: u32) -> SerialPrinter {
        self.lazy_font = Some((path, index));
        self
    }

    /// Loads the lazy font if `receipt` needs it (once; a failure is logged
    /// and the characters print as □).
    fn prepare_font(&mut self, receipt: &Receipt) {
        if self.raster.is_some() || self.lazy_font.is_none() {
            return;
        }
        let texts = [
            Some(receipt.masked_id.as_str()),
            receipt.masked_name.as_deref(),
            Some(receipt.result_zh.as_str()),
            receipt.next_due_zh.as_deref(),
            Some(receipt.record_id.as_str()),
            Some(self.layout.site.as_str()),
            Some(self.layout.device_id.as_str()),
        ];
        let needed = texts
            .into_iter()
            .flatten()
            .any(|t| t.chars().any(|c| !printer_font_has(c)));
        if !needed {
            return;
        }
        if let Some((path, index)) = self.lazy_font.take() {
            match RasterFont::load(&path, index) {
                Ok(font) => self.raster = Some(font),
                Err(e) => {
                    tracing::warn!(error = %e, "no font for rare receipt characters; they print as □")
                }
            }
        }
    }

    /// Changes how long a status answer may take (tests; slow printers).
    pub fn with_status_timeout(mut self, timeout: Duration) -> SerialPrinter {
        self.status_timeout = timeout;
        self
    }

    /// The open link, opening the port if needed.
    fn link(&mut self) -> Result<&mut Link, PrintError> {
        if self.link.is_none() {
            let path = match serial::resolve(&self.cfg) {
                None => {
                    return Err(PrintError::NotConnected(
                        "no printer is configured (peripherals.printer.port is empty)".into(),
                    ));
                }
                Some(Err(e)) => return Err(PrintError::NotConnected(e)),
                Some(Ok(path)) => path,
            };
            let port = serial::open(&path, self.cfg.baud, self.status_timeout)
                .map_err(PrintError::NotConnected)?;
            // Stale answers from before (e.g. a timed-out request) must not
            // be taken for the next one.
            let _ = port.clear(serialport::ClearBuffer::All);
            tracing::info!(port = %path, "receipt printer port opened");
            self.link = Some(Link { path, port });
        }
        self.link
            .as_mut()
            .ok_or_else(|| PrintError::NotConnected("the printer port is not open".into()))
    }

    /// Runs `f` on the link; a link error drops the port so the next call
    /// reopens it. Printer states (paper, cover, offline) keep it.
    fn with_link<T>(
        &mut self,
        f: impl FnOnce(&mut Link, Duration) -> Result<T, PrintError>,
    ) -> Result<T, PrintError> {
        let timeout = self.status_timeout;
        let link = self.link()?;
        let result = f(link, timeout);
        if let Err(PrintError::NotConnected(_) | PrintError::Io(_) | PrintError::Timeout) = &result
            && let Some(link) = self.link.take()
        {
            tracing::info!(port = %link.path, "receipt printer port closed after an error; it is reopened on next use");
        }
        result
    }
}

/// Asks for status `n` and reads the one-byte answer.
fn query(port: &mut Port, n: u8, timeout: Duration) -> Result<u8, PrintError> {
    port.write_all(&status_request(n))
        .and_then(|()| port.flush())
        .map_err(|e| link_error("sending a status request", &e))?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PrintError::Timeout);
        }
        port.set_timeout(left)
            .map_err(|e| PrintError::Io(format!("cannot set the port timeout: {e}")))?;
        let mut byte = [0u8; 1];
        match port.read(&mut byte) {
            Ok(1) => {
                let b = byte[0];
                if b & bits::FIXED_MASK != bits::FIXED {
                    return Err(PrintError::Offline(format!(
                        "unexpected answer {b:#04x} to status request {n}: is this an ESC/POS printer at the configured baud rate?"
                    )));
                }
                return Ok(b);
            }
            Ok(_) => {
                return Err(PrintError::NotConnected(
                    "the printer port was closed (cable unplugged?)".into(),
                ));
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => return Err(PrintError::Timeout),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(link_error("reading the status", &e)),
        }
    }
}

fn link_error(doing: &str, e: &std::io::Error) -> PrintError {
    match e.kind() {
        ErrorKind::TimedOut => PrintError::Timeout,
        ErrorKind::BrokenPipe | ErrorKind::NotConnected | ErrorKind::UnexpectedEof => {
            PrintError::NotConnected(format!("{doing}: {e} (cable unplugged?)"))
        }
        _ => PrintError::Io(format!("{doing}: {e}")),
    }
}

/// Asks `DLE EOT 1`, `2` and `4`.
fn read_status(port: &mut Port, timeout: Duration) -> Result<Status, PrintError> {
    Ok(Status {
        printer: query(port, 1, timeout)?,
        offline: query(port, 2, timeout)?,
        paper: query(port, 4, timeout)?,
    })
}

impl ReceiptPrinter for SerialPrinter {
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrintError> {
        self.prepare_font(receipt);
        let bytes = receipt_bytes(receipt, &self.layout, self.raster.as_ref());
        self.with_link(|link, timeout| {
            let paper = read_status(&mut link.port, timeout)?.interpret()?;
            if paper == Paper::NearEnd {
                tracing::warn!(port = %link.path, "receipt printer paper is running out");
            }
            link.port
                .set_timeout(WRITE_TIMEOUT)
                .map_err(|e| PrintError::Io(format!("cannot set the port timeout: {e}")))?;
            link.port
                .write_all(&bytes)
                .and_then(|()| link.port.flush())
                .map_err(|e| link_error("sending the receipt", &e))
        })
    }

    fn check(&mut self) -> Result<String, PrintError> {
        self.with_link(|link, timeout| {
            let paper = read_status(&mut link.port, timeout)?.interpret()?;
            Ok(match paper {
                Paper::Ok => format!("已连接 {}，纸张正常", link.path),
                Paper::NearEnd => format!("已连接 {}，纸将用尽，请及时更换纸卷", link.path),
            })
        })
    }

    fn describe(&self) -> String {
        let port = match &self.link {
            Some(link) => link.path.clone(),
            None => match self.cfg.port.as_str() {
                "" => "未配置".to_string(),
                "auto" => "自动识别 USB".to_string(),
                other => other.to_string(),
            },
        };
        format!("ESC/POS 凭条打印机（{port}，{} bps）", self.cfg.baud)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::SerialPort;

    fn status(printer: u8, offline: u8, paper: u8) -> Status {
        Status {
            printer: 0x12 | printer,
            offline: 0x12 | offline,
            paper: 0x12 | paper,
        }
    }

    #[test]
    fn status_bits_map_to_errors() {
        assert_eq!(status(0, 0, 0).interpret(), Ok(Paper::Ok));
        assert_eq!(status(0, 0, 0x0C).interpret(), Ok(Paper::NearEnd));
        assert_eq!(
            status(0x08, 0x20, 0x60).interpret(),
            Err(PrintError::PaperOut)
        );
        assert_eq!(status(0, 0, 0x60).interpret(), Err(PrintError::PaperOut));
        assert_eq!(
            status(0x08, 0x04, 0).interpret(),
            Err(PrintError::CoverOpen)
        );
        assert!(matches!(
            status(0x08, 0, 0).interpret(),
            Err(PrintError::Offline(_))
        ));
        assert!(matches!(
            status(0, 0x40, 0).interpret(),
            Err(PrintError::Offline(_))
        ));
    }

    #[test]
    fn a_disabled_printer_is_not_connected() {
        let cfg = SerialDeviceConfig {
            port: SerialPort::Disabled,
            baud: 9600,
            usb_vid: None,
            usb_pid: None,
        };
        let mut printer = SerialPrinter::new(cfg, ReceiptLayout::default(), None);
        let err = printer.check().unwrap_err();
        assert!(
            matches!(err, PrintError::NotConnected(ref m) if m.contains("peripherals.printer.port")),
            "{err}"
        );
        assert!(printer.describe().contains("未配置"));
    }

    #[test]
    fn a_missing_port_is_not_connected() {
        let cfg = SerialDeviceConfig {
            port: SerialPort::Device("/dev/lifecert-no-such-printer".into()),
            baud: 9600,
            usb_vid: None,
            usb_pid: None,
        };
        let mut printer = SerialPrinter::new(cfg, ReceiptLayout::default(), None);
        let err = printer.check().unwrap_err();
        assert!(
            matches!(err, PrintError::NotConnected(ref m) if m.contains("/dev/lifecert-no-such-printer")),
            "{err}"
        );
    }

    #[test]
    fn the_raster_font_is_loaded_only_for_rare_characters() {
        let Ok(font) = crate::ui::fonts::find(None) else {
            eprintln!("skipped: no CJK font installed (apt-get install fonts-noto-cjk)");
            return;
        };
        let cfg = SerialDeviceConfig {
            port: SerialPort::Disabled,
            baud: 9600,
            usb_vid: None,
            usb_pid: None,
        };
        let mut printer = SerialPrinter::new(cfg, ReceiptLayout::default(), None)
            .with_lazy_font(font.path, font.index);
        let mut receipt = Receipt {
            masked_id: "1101**********0013".into(),
            masked_name: Some("王*明".into()),
            result_zh: "认证成功".into(),
            at: time::macros::datetime!(2026-11-23 10:00 +8),
            next_due_zh: None,
            record_id: "000001-A6DC39".into(),
        };
        printer.prepare_font(&receipt);
        assert!(printer.raster.is_none(), "GBK text needs no extra font");
        receipt.masked_name = Some("王*\u{20BB7}".into()); // 𠮷: outside GBK
        printer.prepare_font(&receipt);
        assert!(printer.raster.is_some(), "a rare character loads the font");
    }
}
