//! Opening serial ports: a configured path, or auto-detection by USB
//! vendor/product id; and (Unix) pty pairs for the simulators.

#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{SerialDeviceConfig, SerialPort};

/// A port handle (a real UART, a USB-serial adapter or a pty).
pub type Port = Box<dyn serialport::SerialPort>;

/// Formats a USB id pair for messages: `0400:c35a`, `*` for an unset id.
fn usb_ids(vid: Option<u16>, pid: Option<u16>) -> String {
    let hex = |v: Option<u16>| v.map_or_else(|| "*".to_string(), |v| format!("{v:04x}"));
    format!("{}:{}", hex(vid), hex(pid))
}

/// The port `cfg` names: its path, or the USB-serial device matching
/// `usb_vid`/`usb_pid` for `"auto"`. `None` when the device is disabled.
/// The error says what staff should check.
pub fn resolve(cfg: &SerialDeviceConfig) -> Option<Result<String, String>> {
    match &cfg.port {
        SerialPort::Disabled => None,
        SerialPort::Device(path) => Some(Ok(path.clone())),
        SerialPort::Auto => Some(find_usb(cfg.usb_vid, cfg.usb_pid)),
    }
}

/// The first serial port whose USB ids match (an unset id matches any).
pub fn find_usb(vid: Option<u16>, pid: Option<u16>) -> Result<String, String> {
    let wanted = |v: u16, p: u16| vid.is_none_or(|w| w == v) && pid.is_none_or(|w| w == p);
    let found = usb_serial_ports();
    if let Some((path, _, _)) = found.iter().find(|(_, v, p)| wanted(*v, *p)) {
        return Ok(path.clone());
    }
    let seen = if found.is_empty() {
        "no USB serial device is connected".to_string()
    } else {
        let list: Vec<String> = found
            .iter()
            .map(|(path, v, p)| format!("{path} ({})", usb_ids(Some(*v), Some(*p))))
            .collect();
        format!("connected: {}", list.join(", "))
    };
    Err(format!(
        "no USB serial device {} found ({seen}); check the cable, or set the port explicitly",
        usb_ids(vid, pid)
    ))
}

/// USB serial ports with their vendor and product ids.
#[cfg(target_os = "linux")]
fn usb_serial_ports() -> Vec<(String, u16, u16)> {
    // /sys/class/tty/<name>/device is the USB interface (ttyUSB*/ttyACM*);
    // idVendor/idProduct live in the USB device one or two levels up.
    let read_hex = |p: PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| u16::from_str_radix(s.trim(), 16).ok())
    };
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/class/tty") else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(device) = std::fs::canonicalize(entry.path().join("device")) else {
            continue;
        };
        let ids = device.ancestors().take(4).find_map(|dir| {
            Some((
                read_hex(dir.join("idVendor"))?,
                read_hex(dir.join("idProduct"))?,
            ))
        });
        if let Some((v, p)) = ids {
            out.push((format!("/dev/{name}"), v, p));
        }
    }
    out.sort();
    out
}

/// USB serial ports with their vendor and product ids.
#[cfg(not(target_os = "linux"))]
fn usb_serial_ports() -> Vec<(String, u16, u16)> {
    serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(usb) => Some((p.port_name, usb.vid, usb.pid)),
            _ => None,
        })
        .collect()
}

/// Opens `path` at `baud` (8N1, no flow control) with a read timeout.
pub fn open(path: &str, baud: u32, timeout: Duration) -> Result<Port, String> {
    serialport::new(path, baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(timeout)
        .open()
        .map_err(|e| format!("cannot open {path}: {e}"))
}

/// The device end of a simulator: a pty whose other end is reachable at a
/// symlink (the path the kiosk's config names). The link is removed on drop.
#[cfg(unix)]
pub struct PtyLink {
    /// The simulator's end.
    pub master: serialport::TTYPort,
    link: PathBuf,
}

#[cfg(unix)]
impl PtyLink {
    /// Creates a pty pair and points `link` at its terminal end (replacing a
    /// stale link; refusing to replace anything that is not a symlink).
    pub fn create(link: &Path) -> Result<PtyLink, String> {
        let (master, slave) =
            serialport::TTYPort::pair().map_err(|e| format!("cannot create a pty pair: {e}"))?;
        let target = serialport::SerialPort::name(&slave)
            .ok_or_else(|| "the pty has no device name".to_string())?;
        if let Ok(meta) = std::fs::symlink_metadata(link) {
            if !meta.file_type().is_symlink() {
                return Err(format!(
                    "{} exists and is not a symlink: choose another --link path",
                    link.display()
                ));
            }
            std::fs::remove_file(link)
                .map_err(|e| format!("cannot replace {}: {e}", link.display()))?;
        }
        std::os::unix::fs::symlink(&target, link)
            .map_err(|e| format!("cannot link {} to {target}: {e}", link.display()))?;
        drop(slave);
        Ok(PtyLink {
            master,
            link: link.to_path_buf(),
        })
    }

    /// The symlink path.
    pub fn link(&self) -> &Path {
        &self.link
    }
}

#[cfg(unix)]
impl Drop for PtyLink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn disabled_port_resolves_to_nothing() {
        let cfg = SerialDeviceConfig {
            port: SerialPort::Disabled,
            baud: 9600,
            usb_vid: None,
            usb_pid: None,
        };
        assert!(resolve(&cfg).is_none());
    }

    #[test]
    fn missing_usb_device_says_what_to_check() {
        let err = find_usb(Some(0xfffe), Some(0xfffd)).unwrap_err();
        assert!(err.contains("fffe:fffd"), "{err}");
        assert!(err.contains("check the cable"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn pty_link_carries_bytes_both_ways() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("reader");
        let mut pty = PtyLink::create(&link).unwrap();
        let mut port = open(link.to_str().unwrap(), 115_200, Duration::from_secs(2)).unwrap();
        port.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        pty.master.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        pty.master.write_all(b"pong").unwrap();
        port.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        drop(pty);
        assert!(!link.exists(), "the link is removed with the simulator");
    }
}
