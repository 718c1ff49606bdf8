//! Trusted capture device (issue 15): is the configured camera a real
//! capture device, and is it the one this kiosk is bound to?
//!
//! A tool that replaces the camera feed (v4l2loopback, OBS Virtual Camera,
//! ManyCam, …) defeats every liveness check, because it can play any
//! recording. So before a live camera streams, its identity is read and
//! judged against `[camera]` in `kiosk.toml` (`usb_vid`, `usb_pid`,
//! `usb_serial`, `allow_virtual`):
//!
//! * **Linux**: from sysfs, `/sys/class/video4linux/videoN/` ([`identify_v4l`]).
//!   A device without a hardware parent (its `device` link is missing or
//!   points under `/sys/devices/virtual/`, as for v4l2loopback), a driver
//!   known to be virtual ([`VIRTUAL_DRIVERS`]) or a name known to be a
//!   virtual camera ([`VIRTUAL_CAMERA_NAMES`]) is virtual. USB cameras give
//!   their vendor, product and serial from the USB device above the video
//!   interface.
//! * **Windows** (Media Foundation through nokhwa): only what Media
//!   Foundation tells without new dependencies ([`identify_msmf`]): the
//!   friendly name, checked against [`VIRTUAL_CAMERA_NAMES`], and the device's
//!   symbolic link (`\\?\usb#vid_046d&pid_0825&mi_00#…`), which gives the bus
//!   and the USB vendor and product. Root- or software-enumerated devices
//!   (`\\?\root#…`, `\\?\swd#…`) have no hardware bus and count as virtual.
//!   **Gap**: the USB serial number cannot be read this way
//!   (`camera.usb_serial` is refused on Windows), and a virtual camera whose
//!   driver sits on a hardware bus under a name not in the list, or that is
//!   renamed, is not recognised. Not yet checked on a real Windows PC.
//!
//! A device that fails the check is an out-of-service fault
//! ([`UntrustedCamera`], with a Chinese [`UntrustedCamera::staff_message`]
//! for the staff screen). Recordings (`replay:`) are never checked.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::config::{CameraConfig, CameraSource, CameraTrust};

/// Where sysfs is mounted.
pub const SYSFS_ROOT: &str = "/sys";

/// Known virtual cameras: a lower-case substring of the device name, and
/// the product it belongs to (named in messages). Matched on Linux and
/// Windows alike.
pub const VIRTUAL_CAMERA_NAMES: &[(&str, &str)] = &[
    ("dummy video device", "v4l2loopback"),
    ("loopback", "v4l2loopback"),
    ("obs virtual camera", "OBS Virtual Camera"),
    ("obs-camera", "OBS Virtual Camera"),
    ("manycam", "ManyCam"),
    ("xsplit", "XSplit VCam"),
    ("snap camera", "Snap Camera"),
    ("e2esoft", "e2eSoft VCam"),
    ("vcam", "VCam"),
    ("droidcam", "DroidCam"),
    ("iriun", "Iriun Webcam"),
    ("epoccam", "EpocCam"),
    ("reincubate camo", "Camo"),
    ("camtwist", "CamTwist"),
    ("splitcam", "SplitCam"),
    ("youcam", "CyberLink YouCam"),
    ("nvidia broadcast", "NVIDIA Broadcast"),
    ("akvcam", "akvcam"),
    ("webcamoid", "Webcamoid"),
    ("mmhmm", "mmhmm"),
    ("virtual", "\"virtual\" in its name"),
];

/// Linux drivers that create video devices without a camera behind them.
pub const VIRTUAL_DRIVERS: &[&str] = &[
    "v4l2loopback",
    "v4l2loopback_dc",
    "akvcam",
    "vivid",
    "vimc",
    "vicodec",
];

/// sysfs attributes are at most a page; anything longer is garbage.
const MAX_ATTR_BYTES: u64 = 4096;
/// Names and serials are cut to this many characters for messages.
const MAX_TEXT_CHARS: usize = 128;
/// How far above the video interface the USB device may be.
const MAX_PARENT_LEVELS: usize = 8;
/// Hex digits of the serial's SHA-256 shown in [`CaptureDeviceIdentity::summary`].
const SERIAL_HASH_HEX: usize = 12;

/// The bus a capture device sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceBus {
    /// A USB camera (UVC).
    Usb,
    /// A PCI(e) capture card.
    Pci,
    /// Another hardware bus (platform, I²C/MIPI …): built-in cameras.
    Platform,
    /// No hardware behind the device (v4l2loopback, software devices).
    Virtual,
    /// The operating system did not say.
    Unknown,
}

impl fmt::Display for DeviceBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceBus::Usb => "usb",
            DeviceBus::Pci => "pci",
            DeviceBus::Platform => "platform",
            DeviceBus::Virtual => "virtual",
            DeviceBus::Unknown => "unknown",
        })
    }
}

/// What gave a virtual camera away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualSign {
    /// The name of a known virtual camera (the product, from [`VIRTUAL_CAMERA_NAMES`]).
    KnownName(&'static str),
    /// A driver from [`VIRTUAL_DRIVERS`].
    Driver(String),
    /// No hardware bus behind the device.
    NoHardware,
}

impl VirtualSign {
    fn zh(&self) -> String {
        match self {
            VirtualSign::KnownName(product) => (*product).to_owned(),
            VirtualSign::Driver(driver) => format!("驱动 {driver}"),
            VirtualSign::NoHardware => "无硬件总线".to_owned(),
        }
    }
}

impl fmt::Display for VirtualSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VirtualSign::KnownName(product) => f.write_str(product),
            VirtualSign::Driver(driver) => write!(f, "driver {driver}"),
            VirtualSign::NoHardware => f.write_str("no hardware bus behind it"),
        }
    }
}

/// A USB camera's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbIds {
    pub vendor: u16,
    pub product: u16,
    /// `None`: the camera has no serial number (or the OS does not report it).
    pub serial: Option<String>,
}

/// Who a capture device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureDeviceIdentity {
    /// The device as the operator knows it (`/dev/video2`, `msmf:0`).
    pub device: String,
    /// The name the driver reports (cleaned of control characters).
    pub name: String,
    pub bus: DeviceBus,
    /// The kernel driver (Linux), e.g. `uvcvideo`.
    pub driver: Option<String>,
    /// USB ids, for USB cameras.
    pub usb: Option<UsbIds>,
    /// Why this is a virtual camera; `None` for a real capture device.
    pub virtual_sign: Option<VirtualSign>,
}

impl CaptureDeviceIdentity {
    /// Whether the device is a virtual camera.
    pub fn is_virtual(&self) -> bool {
        self.virtual_sign.is_some()
    }

    /// The first hex digits of the serial number's SHA-256 (stable per
    /// camera, without storing the serial itself).
    pub fn serial_hash(&self) -> Option<String> {
        let serial = self.usb.as_ref()?.serial.as_deref()?;
        let digest = Sha256::digest(serial.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(hex.chars().take(SERIAL_HASH_HEX).collect())
    }

    /// One line for logs and the liveness record, e.g.
    /// `bus=usb id=046d:0825 serial=sha256:1a2b3c4d5e6f virtual=no name="C270 HD WEBCAM"`.
    pub fn summary(&self) -> String {
        let id = self.usb.as_ref().map_or_else(
            || "-".to_owned(),
            |u| format!("{:04x}:{:04x}", u.vendor, u.product),
        );
        let serial = self
            .serial_hash()
            .map_or_else(|| "none".to_owned(), |h| format!("sha256:{h}"));
        let virt = match &self.virtual_sign {
            None => "no".to_owned(),
            Some(sign) => format!("yes ({sign})"),
        };
        format!(
            "bus={} id={id} serial={serial} virtual={virt} name={:?}",
            self.bus, self.name
        )
    }
}

/// Why a device's identity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The node name is not `videoN`.
    #[error("\"{node}\" is not a V4L2 device name like \"video0\"")]
    BadNodeName { node: String },
    /// The kernel has no such video device.
    #[error(
        "/dev/{node} does not exist ({} is missing); check that the camera is plugged in",
        path.display()
    )]
    NoSuchNode { node: String, path: PathBuf },
    /// A sysfs file could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// A sysfs file holds something a kernel would not write.
    #[error("{} holds {content:?}, not {what}", path.display())]
    Garbled {
        path: PathBuf,
        content: String,
        what: &'static str,
    },
}

/// Why a camera is refused. The English text is for logs and the CLI;
/// [`UntrustedCamera::staff_message`] is for the staff screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedCamera {
    /// A virtual camera while `camera.allow_virtual = false`.
    #[error(
        "{device} \"{name}\" is a virtual camera ({sign}); lifecert needs a real capture \
         device: connect a USB camera and set camera.device to it (camera.allow_virtual = true \
         is for a lab or demo only)"
    )]
    Virtual {
        device: String,
        name: String,
        sign: VirtualSign,
    },
    /// The device differs from the configured binding.
    #[error(
        "{device} \"{name}\" is not the camera this kiosk is bound to: {key} = {expected} but \
         the camera reports {found}; plug the bound camera back in, or, if the camera was \
         replaced on purpose, set {key} to the new camera's value (`lifecert status` shows it)"
    )]
    Mismatch {
        device: String,
        name: String,
        key: &'static str,
        expected: String,
        found: String,
    },
    /// The identity could not be read, so the device cannot be trusted.
    #[error(
        "cannot tell whether {device} is a real capture device: {reason}; check that sysfs \
         is mounted and the camera is connected"
    )]
    Unidentified { device: String, reason: String },
}

impl UntrustedCamera {
    /// The fault as the staff screen shows it (Chinese).
    pub fn staff_message(&self) -> String {
        match self {
            UntrustedCamera::Virtual { device, name, sign } => format!(
                "{device}「{name}」是虚拟摄像头（{}），不能用于认证；请接入真实摄像头",
                sign.zh()
            ),
            UntrustedCamera::Mismatch {
                device,
                name,
                key,
                expected,
                found,
            } => format!(
                "{device}「{name}」不是本机登记的摄像头（{key} 应为 {expected}，实为 {found}）；\
                 请接回登记的摄像头，或由技术人员修改配置"
            ),
            UntrustedCamera::Unidentified { device, reason } => {
                format!("无法确认 {device} 是真实摄像头：{reason}")
            }
        }
    }
}

/// Lower-case substring match against [`VIRTUAL_CAMERA_NAMES`].
pub fn known_virtual_name(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    VIRTUAL_CAMERA_NAMES
        .iter()
        .find(|(pattern, _)| lower.contains(pattern))
        .map(|(_, product)| *product)
}

/// Text from a device: lossy UTF-8, no control characters, trimmed, capped.
fn clean_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn unreadable(path: &Path, e: &std::io::Error) -> IdentityError {
    IdentityError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Reads a sysfs attribute (at most [`MAX_ATTR_BYTES`]), cleaned.
fn read_attr(path: &Path) -> Result<String, IdentityError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_ATTR_BYTES).read_to_end(&mut bytes))
        .map_err(|e| unreadable(path, &e))?;
    Ok(clean_text(&bytes))
}

/// A 4-digit hex USB id as sysfs writes it (`046d`).
fn read_usb_id(path: &Path) -> Result<u16, IdentityError> {
    let text = read_attr(path)?;
    parse_hex4(&text).ok_or_else(|| IdentityError::Garbled {
        path: path.to_path_buf(),
        content: text,
        what: "a 4-digit hex USB id",
    })
}

/// Exactly 4 hex digits (no sign, no prefix).
fn parse_hex4(text: &str) -> Option<u16> {
    if text.len() == 4 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        u16::from_str_radix(text, 16).ok()
    } else {
        None
    }
}

/// The file name a symlink resolves to (`driver` → `uvcvideo`).
fn link_name(path: &Path) -> Option<String> {
    let target = std::fs::canonicalize(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

fn is_video_node(node: &str) -> bool {
    node.strip_prefix("video")
        .is_some_and(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads the identity of `/dev/<node>` (`node` = `videoN`) from the sysfs
/// tree at `sysfs_root` (`/sys`; tests pass a fake tree).
pub fn identify_v4l(sysfs_root: &Path, node: &str) -> Result<CaptureDeviceIdentity, IdentityError> {
    if !is_video_node(node) {
        return Err(IdentityError::BadNodeName {
            node: clean_text(node.as_bytes()),
        });
    }
    let class = sysfs_root.join("class/video4linux").join(node);
    if !class.is_dir() {
        return match std::fs::symlink_metadata(&class) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(IdentityError::NoSuchNode {
                node: node.to_owned(),
                path: class,
            }),
            Err(e) => Err(unreadable(&class, &e)),
            Ok(_) => Err(IdentityError::Garbled {
                path: class,
                content: String::new(),
                what: "a link to the device's directory",
            }),
        };
    }
    let name = read_attr(&class.join("name"))?;
    let root = std::fs::canonicalize(sysfs_root).map_err(|e| unreadable(sysfs_root, &e))?;
    let virtual_tree = root.join("devices/virtual");

    let link = class.join("device");
    let parent = match std::fs::symlink_metadata(&link) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(unreadable(&link, &e)),
        Ok(_) => {
            let dir = std::fs::canonicalize(&link).map_err(|e| unreadable(&link, &e))?;
            if !dir.is_dir() {
                return Err(IdentityError::Garbled {
                    path: link,
                    content: String::new(),
                    what: "a link to the parent device's directory",
                });
            }
            Some(dir)
        }
    };
    // A parent outside the device tree, or under devices/virtual, is no hardware.
    let hardware = parent
        .filter(|dir| dir.starts_with(root.join("devices")) && !dir.starts_with(&virtual_tree));

    let mut bus = DeviceBus::Virtual;
    let mut driver = None;
    let mut usb = None;
    if let Some(dev) = &hardware {
        driver = link_name(&dev.join("driver"));
        let usb_dir = dev
            .ancestors()
            .take(MAX_PARENT_LEVELS)
            .take_while(|dir| dir.starts_with(&root) && *dir != root)
            .find(|dir| dir.join("idVendor").is_file());
        bus = match (usb_dir, link_name(&dev.join("subsystem")).as_deref()) {
            (Some(dir), _) => {
                let serial = read_attr(&dir.join("serial"))
                    .ok()
                    .filter(|s| !s.is_empty());
                usb = Some(UsbIds {
                    vendor: read_usb_id(&dir.join("idVendor"))?,
                    product: read_usb_id(&dir.join("idProduct"))?,
                    serial,
                });
                DeviceBus::Usb
            }
            (None, Some("usb")) => DeviceBus::Usb,
            (None, Some("pci")) => DeviceBus::Pci,
            (None, Some(_)) => DeviceBus::Platform,
            (None, None) => DeviceBus::Unknown,
        };
    }
    let virtual_sign = known_virtual_name(&name)
        .map(VirtualSign::KnownName)
        .or_else(|| {
            driver
                .as_ref()
                .filter(|d| VIRTUAL_DRIVERS.contains(&d.as_str()))
                .map(|d| VirtualSign::Driver(d.clone()))
        })
        .or_else(|| hardware.is_none().then_some(VirtualSign::NoHardware));
    Ok(CaptureDeviceIdentity {
        device: format!("/dev/{node}"),
        name,
        bus,
        driver,
        usb,
        virtual_sign,
    })
}

/// The 4 hex digits after `key` (`vid_`) in a lower-case symbolic link.
fn hex_after(link: &str, key: &str) -> Option<u16> {
    let start = link.find(key)? + key.len();
    parse_hex4(link.get(start..start + 4)?)
}

/// The identity of a Media Foundation camera (Windows) from its friendly
/// name and symbolic link (nokhwa's `CameraInfo::misc`), e.g.
/// `\\?\usb#vid_046d&pid_0825&mi_00#6&1a2b&0&0000#{e5323777-…}\global`.
/// The serial number is not available this way.
pub fn identify_msmf(device: &str, name: &str, symbolic_link: &str) -> CaptureDeviceIdentity {
    let name = clean_text(name.as_bytes());
    let link = symbolic_link.to_ascii_lowercase();
    let link = link.strip_prefix(r"\\?\").unwrap_or(&link);
    let enumerator = link.split('#').next().unwrap_or_default();
    let (bus, usb) = match enumerator {
        "usb" => (
            DeviceBus::Usb,
            hex_after(link, "vid_")
                .zip(hex_after(link, "pid_"))
                .map(|(vendor, product)| UsbIds {
                    vendor,
                    product,
                    serial: None,
                }),
        ),
        "pci" => (DeviceBus::Pci, None),
        // Root- and software-enumerated devices have no hardware bus.
        "root" | "swd" => (DeviceBus::Virtual, None),
        "" => (DeviceBus::Unknown, None),
        _ => (DeviceBus::Platform, None),
    };
    let virtual_sign = known_virtual_name(&name)
        .map(VirtualSign::KnownName)
        .or_else(|| (bus == DeviceBus::Virtual).then_some(VirtualSign::NoHardware));
    CaptureDeviceIdentity {
        device: device.to_owned(),
        name,
        bus,
        driver: None,
        usb,
        virtual_sign,
    }
}

/// Checks an identity against the `[camera]` binding.
pub fn check_trust(
    identity: &CaptureDeviceIdentity,
    trust: &CameraTrust,
) -> Result<(), UntrustedCamera> {
    if let Some(sign) = &identity.virtual_sign
        && !trust.allow_virtual
    {
        return Err(UntrustedCamera::Virtual {
            device: identity.device.clone(),
            name: identity.name.clone(),
            sign: sign.clone(),
        });
    }
    let mismatch = |key: &'static str, expected: String, found: String| UntrustedCamera::Mismatch {
        device: identity.device.clone(),
        name: identity.name.clone(),
        key,
        expected,
        found,
    };
    let hex = |id: u16| format!("\"0x{id:04x}\"");
    let not_usb = || "no USB ids (it is not a USB camera)".to_owned();
    let usb = identity.usb.as_ref();
    for (key, wanted, found) in [
        ("camera.usb_vid", trust.usb_vid, usb.map(|u| u.vendor)),
        ("camera.usb_pid", trust.usb_pid, usb.map(|u| u.product)),
    ] {
        if let Some(wanted) = wanted
            && found != Some(wanted)
        {
            return Err(mismatch(key, hex(wanted), found.map_or_else(not_usb, hex)));
        }
    }
    if let Some(wanted) = &trust.usb_serial {
        let found = usb.and_then(|u| u.serial.as_deref());
        if found != Some(wanted.as_str()) {
            let found = match (usb, found) {
                (None, _) => not_usb(),
                (Some(_), None) => "no serial number".to_owned(),
                (Some(_), Some(s)) => format!("{s:?}"),
            };
            return Err(mismatch("camera.usb_serial", format!("{wanted:?}"), found));
        }
    }
    Ok(())
}

/// The verdict on a device whose identity may not have been readable:
/// `Ok(None)` when it could not be read but the configuration asks for no
/// check (`allow_virtual = true` and no binding: a lab kiosk).
pub fn judge(
    device: &str,
    identified: Result<CaptureDeviceIdentity, IdentityError>,
    trust: &CameraTrust,
) -> Result<Option<CaptureDeviceIdentity>, UntrustedCamera> {
    match identified {
        Ok(identity) => check_trust(&identity, trust).map(|()| Some(identity)),
        Err(_) if trust.allow_virtual && !trust.is_bound() => Ok(None),
        Err(e) => Err(UntrustedCamera::Unidentified {
            device: device.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// The last refusal of a live camera (cleared when a camera is accepted), so
/// the health check can keep a fault it cannot see itself (Windows, cameras
/// configured by name).
static LAST_REFUSAL: Mutex<Option<UntrustedCamera>> = Mutex::new(None);

fn last_refusal_slot() -> std::sync::MutexGuard<'static, Option<UntrustedCamera>> {
    LAST_REFUSAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records the verdict of [`judge`] when a live camera is opened, and logs it.
pub fn record_verdict(
    verdict: &Result<Option<CaptureDeviceIdentity>, UntrustedCamera>,
    device: &str,
) {
    match verdict {
        Ok(Some(identity)) => {
            tracing::info!(device, identity = %identity.summary(), "camera identity checked");
        }
        Ok(None) => tracing::warn!(
            device,
            "camera identity unknown; accepted because camera.allow_virtual = true (lab or demo only)"
        ),
        Err(refusal) => tracing::error!(device, "camera refused: {refusal}"),
    }
    *last_refusal_slot() = verdict.as_ref().err().cloned();
}

/// The last camera refusal, if the last live camera opened was refused.
pub fn last_refusal() -> Option<UntrustedCamera> {
    last_refusal_slot().clone()
}

/// The `videoN` node of a Linux camera source: by index, by device path
/// (following `/dev/v4l/by-id/…` links), or by name as sysfs reports it
/// (exact, then substring, case-insensitive, like the camera's own lookup).
pub fn v4l_node(sysfs_root: &Path, source: &CameraSource) -> Option<String> {
    match source {
        CameraSource::V4lIndex(i) => Some(format!("video{i}")),
        CameraSource::V4lName(path) if path.starts_with('/') || path.starts_with('.') => {
            let real = std::fs::canonicalize(path).ok()?;
            let name = real.file_name()?.to_str()?.to_owned();
            is_video_node(&name).then_some(name)
        }
        CameraSource::V4lName(wanted) => {
            let wanted = wanted.to_lowercase();
            let mut nodes: Vec<(String, String)> =
                std::fs::read_dir(sysfs_root.join("class/video4linux"))
                    .ok()?
                    .flatten()
                    .filter_map(|entry| {
                        let node = entry.file_name().to_str()?.to_owned();
                        let name = read_attr(&entry.path().join("name")).ok()?;
                        is_video_node(&node).then(|| (node, name.to_lowercase()))
                    })
                    .collect();
            nodes.sort_by_key(|(node, _)| (node.len(), node.clone()));
            let exact = nodes.iter().find(|(_, name)| *name == wanted);
            exact
                .or_else(|| nodes.iter().find(|(_, name)| name.contains(&wanted)))
                .map(|(node, _)| node.clone())
        }
        CameraSource::Msmf(_) | CameraSource::Replay(_) => None,
    }
}

/// The identity of the configured camera without opening it; `None` for
/// recordings, when the camera is not connected, or when the OS cannot tell
/// (on Windows the camera list is asked; it needs live-camera support).
/// For the liveness record's "camera identity" ([`CaptureDeviceIdentity::summary`]).
pub fn capture_identity(source: &CameraSource) -> Option<CaptureDeviceIdentity> {
    match source {
        CameraSource::Replay(_) => None,
        CameraSource::Msmf(index) => msmf_identity(*index),
        _ if cfg!(target_os = "linux") => {
            let root = Path::new(SYSFS_ROOT);
            identify_v4l(root, &v4l_node(root, source)?).ok()
        }
        _ => None,
    }
}

#[cfg(feature = "camera-nokhwa")]
fn msmf_identity(index: u32) -> Option<CaptureDeviceIdentity> {
    if cfg!(target_os = "windows") {
        super::live::msmf_identity(index)
    } else {
        None
    }
}

#[cfg(not(feature = "camera-nokhwa"))]
fn msmf_identity(_index: u32) -> Option<CaptureDeviceIdentity> {
    None
}

/// The health check's view of the configured Linux camera when it is not in
/// use: `None` when sysfs does not apply (recordings, Windows, a name no
/// device has); otherwise the identity or the refusal.
pub fn linux_verdict(
    sysfs_root: &Path,
    source: &CameraSource,
    trust: &CameraTrust,
) -> Option<Result<Option<CaptureDeviceIdentity>, UntrustedCamera>> {
    let node = v4l_node(sysfs_root, source)?;
    let device = format!("/dev/{node}");
    Some(judge(&device, identify_v4l(sysfs_root, &node), trust))
}

/// The camera lines of `lifecert status`: identity, verdict and the
/// `[camera]` lines that bind the kiosk to this camera.
pub fn operator_report(camera: &CameraConfig) -> Vec<String> {
    let source = &camera.source;
    if matches!(source, CameraSource::Replay(_)) {
        return vec![format!("{source} (a recording: no device check)")];
    }
    let Some(identity) = capture_identity(source) else {
        return vec![format!(
            "{source}: identity unknown (not connected, or this system cannot tell)"
        )];
    };
    let verdict = match check_trust(&identity, &camera.trust) {
        Ok(()) if identity.is_virtual() => {
            "virtual camera, accepted only because camera.allow_virtual = true".to_owned()
        }
        Ok(()) => "trusted".to_owned(),
        Err(refusal) => format!("REFUSED: {refusal}"),
    };
    let mut lines = vec![
        format!("{source} = {} \"{}\"", identity.device, identity.name),
        format!("  {}", identity.summary()),
        format!("  {verdict}"),
    ];
    if let Some(usb) = &identity.usb {
        lines.push("  to bind the kiosk to this camera, put in [camera]:".to_owned());
        lines.push(format!("    usb_vid = \"0x{:04x}\"", usb.vendor));
        lines.push(format!("    usb_pid = \"0x{:04x}\"", usb.product));
        if let Some(serial) = &usb.serial {
            lines.push(format!("    usb_serial = {serial:?}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn trust(vid: Option<u16>, pid: Option<u16>, serial: Option<&str>) -> CameraTrust {
        CameraTrust {
            usb_vid: vid,
            usb_pid: pid,
            usb_serial: serial.map(str::to_owned),
            allow_virtual: false,
        }
    }

    fn usb_identity(serial: Option<&str>) -> CaptureDeviceIdentity {
        CaptureDeviceIdentity {
            device: "/dev/video0".into(),
            name: "C270 HD WEBCAM".into(),
            bus: DeviceBus::Usb,
            driver: Some("uvcvideo".into()),
            usb: Some(UsbIds {
                vendor: 0x046d,
                product: 0x0825,
                serial: serial.map(str::to_owned),
            }),
            virtual_sign: None,
        }
    }

    /// Fake sysfs trees, shaped like the kernel's.
    #[cfg(unix)]
    mod fake {
        use std::os::unix::fs::symlink;
        use std::path::Path;

        pub fn write(path: &Path, content: &[u8]) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }

        fn link(target: &Path, at: &Path) {
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::create_dir_all(target).unwrap();
            symlink(target, at).unwrap();
        }

        /// `/sys/class/video4linux/<node>` → `<dir>`, with its `name`.
        pub fn node(root: &Path, node: &str, dir: &Path, name: &[u8]) {
            write(&dir.join("name"), name);
            link(dir, &root.join("class/video4linux").join(node));
        }

        /// A UVC camera: the video node under the USB interface, the ids on
        /// the USB device above it.
        pub fn usb_camera(root: &Path, node: &str, name: &str, serial: Option<&str>) {
            let usb = root.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
            let iface = usb.join("1-2:1.0");
            let dir = iface.join("video4linux").join(node);
            node_with_parent(root, node, &dir, name.as_bytes(), &iface);
            write(&usb.join("idVendor"), b"046d\n");
            write(&usb.join("idProduct"), b"0825\n");
            if let Some(serial) = serial {
                write(&usb.join("serial"), format!("{serial}\n").as_bytes());
            }
            link(
                &root.join("bus/usb/drivers/uvcvideo"),
                &iface.join("driver"),
            );
            link(&root.join("bus/usb"), &iface.join("subsystem"));
        }

        pub fn node_with_parent(root: &Path, node: &str, dir: &Path, name: &[u8], parent: &Path) {
            self::node(root, node, dir, name);
            link(parent, &dir.join("device"));
        }

        /// v4l2loopback: registered without a parent, under devices/virtual.
        pub fn loopback(root: &Path, node: &str, name: &str) {
            let dir = root.join("devices/virtual/video4linux").join(node);
            self::node(root, node, &dir, format!("{name}\n").as_bytes());
        }

        /// A PCI capture card.
        pub fn pci_card(root: &Path, node: &str) {
            let card = root.join("devices/pci0000:00/0000:00:1c.0/0000:03:00.0");
            let dir = card.join("video4linux").join(node);
            node_with_parent(root, node, &dir, b"Magewell Pro Capture\n", &card);
            link(&root.join("bus/pci"), &card.join("subsystem"));
            link(
                &root.join("bus/pci/drivers/ProCapture"),
                &card.join("driver"),
            );
        }

        /// A platform device with a virtual driver (vivid).
        pub fn vivid(root: &Path, node: &str) {
            let dev = root.join("devices/platform/vivid.0");
            let dir = dev.join("video4linux").join(node);
            node_with_parent(root, node, &dir, b"vivid-000-vid-cap\n", &dev);
            link(&root.join("bus/platform"), &dev.join("subsystem"));
            link(
                &root.join("bus/platform/drivers/vivid"),
                &dev.join("driver"),
            );
        }
    }

    #[cfg(unix)]
    #[derive(Debug, Clone, Copy)]
    enum Tree {
        Usb,
        UsbNoSerial,
        Loopback,
        LoopbackCustomName,
        ObsOnLoopback,
        PciCard,
        Vivid,
        Empty,
        GarbageVendor,
        NoName,
        BinaryName,
        DanglingDevice,
        DeviceIsAFile,
    }

    #[cfg(unix)]
    fn build(root: &Path, tree: Tree) {
        use std::os::unix::fs::symlink;
        match tree {
            Tree::Usb => fake::usb_camera(root, "video0", "C270 HD WEBCAM", Some("2F6E3C10")),
            Tree::UsbNoSerial => fake::usb_camera(root, "video0", "C270 HD WEBCAM", None),
            Tree::Loopback => fake::loopback(root, "video0", "Dummy video device (0x0000)"),
            Tree::LoopbackCustomName => fake::loopback(root, "video0", "Front Camera"),
            Tree::ObsOnLoopback => fake::loopback(root, "video0", "OBS Virtual Camera"),
            Tree::PciCard => fake::pci_card(root, "video0"),
            Tree::Vivid => fake::vivid(root, "video0"),
            Tree::Empty => std::fs::create_dir_all(root.join("class/video4linux")).unwrap(),
            Tree::GarbageVendor => {
                fake::usb_camera(root, "video0", "C270 HD WEBCAM", None);
                let usb = root.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
                fake::write(&usb.join("idVendor"), b"\xff\xfezz\n");
            }
            Tree::NoName => {
                fake::usb_camera(root, "video0", "x", None);
                std::fs::remove_file(root.join("class/video4linux/video0/name")).unwrap();
            }
            Tree::BinaryName => {
                fake::usb_camera(root, "video0", "x", None);
                fake::write(
                    &root.join("class/video4linux/video0/name"),
                    b"\x00\x1bCam\xff\xfe era\n\n",
                );
            }
            Tree::DanglingDevice => {
                let dir = root.join("devices/virtual/video4linux/video0");
                fake::node(root, "video0", &dir, b"Cam\n");
                symlink(root.join("devices/gone"), dir.join("device")).unwrap();
            }
            Tree::DeviceIsAFile => {
                let dir = root.join("devices/virtual/video4linux/video0");
                fake::node(root, "video0", &dir, b"Cam\n");
                fake::write(&dir.join("device"), b"not a link");
            }
        }
    }

    /// Expected outcome: bus, USB ids, virtual sign; or an error's kind.
    #[cfg(unix)]
    #[derive(Debug)]
    enum Want {
        Real(DeviceBus, Option<(u16, u16, Option<&'static str>)>),
        Virtual(DeviceBus, VirtualSign),
        NoSuchNode,
        BadNodeName,
        Unreadable,
        Garbled,
    }

    #[cfg(unix)]
    #[rstest]
    #[case::usb_camera(Tree::Usb, "video0", Want::Real(DeviceBus::Usb, Some((0x046d, 0x0825, Some("2F6E3C10")))))]
    #[case::usb_camera_without_serial(Tree::UsbNoSerial, "video0", Want::Real(DeviceBus::Usb, Some((0x046d, 0x0825, None))))]
    #[case::v4l2loopback(
        Tree::Loopback,
        "video0",
        Want::Virtual(DeviceBus::Virtual, VirtualSign::KnownName("v4l2loopback"))
    )]
    #[case::v4l2loopback_renamed(
        Tree::LoopbackCustomName,
        "video0",
        Want::Virtual(DeviceBus::Virtual, VirtualSign::NoHardware)
    )]
    #[case::obs_name(
        Tree::ObsOnLoopback,
        "video0",
        Want::Virtual(DeviceBus::Virtual, VirtualSign::KnownName("OBS Virtual Camera"))
    )]
    #[case::pci_capture_card(Tree::PciCard, "video0", Want::Real(DeviceBus::Pci, None))]
    #[case::virtual_driver(Tree::Vivid, "video0", Want::Virtual(DeviceBus::Platform, VirtualSign::Driver("vivid".into())))]
    #[case::missing_node(Tree::Empty, "video3", Want::NoSuchNode)]
    #[case::missing_sysfs(Tree::Usb, "video9", Want::NoSuchNode)]
    #[case::path_in_node_name(Tree::Usb, "../../etc", Want::BadNodeName)]
    #[case::not_a_video_node(Tree::Usb, "video", Want::BadNodeName)]
    #[case::garbage_vendor_id(Tree::GarbageVendor, "video0", Want::Garbled)]
    #[case::missing_name(Tree::NoName, "video0", Want::Unreadable)]
    #[case::dangling_device_link(Tree::DanglingDevice, "video0", Want::Unreadable)]
    #[case::device_is_a_file(Tree::DeviceIsAFile, "video0", Want::Garbled)]
    fn identify_on_fake_sysfs(#[case] tree: Tree, #[case] node: &str, #[case] want: Want) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), tree);
        let got = identify_v4l(dir.path(), node);
        match (&want, &got) {
            (Want::Real(bus, ids), Ok(id)) => {
                assert_eq!((id.bus, id.virtual_sign.as_ref()), (*bus, None), "{id:?}");
                let got_ids = id
                    .usb
                    .as_ref()
                    .map(|u| (u.vendor, u.product, u.serial.clone()));
                let want_ids = ids.map(|(v, p, s)| (v, p, s.map(str::to_owned)));
                assert_eq!(got_ids, want_ids);
                assert_eq!(id.device, format!("/dev/{node}"));
            }
            (Want::Virtual(bus, sign), Ok(id)) => {
                assert_eq!(
                    (id.bus, id.virtual_sign.as_ref()),
                    (*bus, Some(sign)),
                    "{id:?}"
                );
                assert!(id.is_virtual());
            }
            (Want::NoSuchNode, Err(IdentityError::NoSuchNode { .. }))
            | (Want::BadNodeName, Err(IdentityError::BadNodeName { .. }))
            | (Want::Unreadable, Err(IdentityError::Unreadable { .. }))
            | (Want::Garbled, Err(IdentityError::Garbled { .. })) => {}
            _ => panic!("wanted {want:?}, got {got:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn names_are_cleaned_and_drivers_read() {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), Tree::BinaryName);
        let id = identify_v4l(dir.path(), "video0").unwrap();
        assert_eq!(id.name, "Cam\u{fffd}\u{fffd} era");
        let err = identify_v4l(dir.path(), "video7").unwrap_err();
        assert!(
            err.to_string().contains("/dev/video7 does not exist"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), Tree::Usb);
        let id = identify_v4l(dir.path(), "video0").unwrap();
        assert_eq!(id.driver.as_deref(), Some("uvcvideo"));
        assert_eq!(id.name, "C270 HD WEBCAM");
    }

    #[cfg(unix)]
    #[test]
    fn nodes_are_found_by_index_path_and_name() {
        let dir = tempfile::tempdir().unwrap();
        fake::usb_camera(dir.path(), "video0", "C270 HD WEBCAM", None);
        fake::loopback(dir.path(), "video2", "OBS Virtual Camera");
        let root = dir.path();
        let node = |s: &str| v4l_node(root, &CameraSource::parse(s).unwrap());
        assert_eq!(node("v4l:4").as_deref(), Some("video4"));
        assert_eq!(node("v4l:OBS Virtual Camera").as_deref(), Some("video2"));
        assert_eq!(node("v4l:c270").as_deref(), Some("video0"));
        assert_eq!(node("v4l:Brio"), None);
        assert_eq!(node("replay:/x.mp4"), None);

        let verdict = linux_verdict(root, &CameraSource::V4lIndex(2), &CameraTrust::default());
        let refusal = verdict.unwrap().unwrap_err();
        assert_eq!(
            refusal.to_string().split(';').next().unwrap(),
            "/dev/video2 \"OBS Virtual Camera\" is a virtual camera (OBS Virtual Camera)"
        );
        assert_eq!(
            refusal.staff_message(),
            "/dev/video2「OBS Virtual Camera」是虚拟摄像头（OBS Virtual Camera），不能用于认证；\
             请接入真实摄像头"
        );
        let ok = linux_verdict(
            root,
            &CameraSource::V4lIndex(0),
            &trust(Some(0x046d), None, None),
        );
        assert!(matches!(ok, Some(Ok(Some(_)))), "{ok:?}");
    }

    #[rstest]
    #[case::unbound(trust(None, None, None), None)]
    #[case::bound_vid_pid(trust(Some(0x046d), Some(0x0825), None), None)]
    #[case::bound_serial(trust(Some(0x046d), Some(0x0825), Some("2F6E3C10")), None)]
    #[case::other_vendor(trust(Some(0x0c45), None, None), Some("camera.usb_vid"))]
    #[case::other_product(trust(Some(0x046d), Some(0x0826), None), Some("camera.usb_pid"))]
    #[case::other_serial(trust(None, None, Some("AAAA")), Some("camera.usb_serial"))]
    fn bindings(#[case] binding: CameraTrust, #[case] refused_by: Option<&str>) {
        let got = check_trust(&usb_identity(Some("2F6E3C10")), &binding);
        match (refused_by, got) {
            (None, Ok(())) => {}
            (Some(key), Err(UntrustedCamera::Mismatch { key: k, .. })) => assert_eq!(k, key),
            (want, got) => panic!("wanted {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn refusals_say_what_differs_and_what_to_do() {
        let err = check_trust(
            &usb_identity(None),
            &trust(Some(0x046d), None, Some("2F6E3C10")),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("camera.usb_serial = \"2F6E3C10\" but the camera reports no serial"),
            "{text}"
        );
        assert!(text.contains("`lifecert status`"), "{text}");
        assert!(err.staff_message().contains("不是本机登记的摄像头"));

        let pci = CaptureDeviceIdentity {
            bus: DeviceBus::Pci,
            usb: None,
            ..usb_identity(None)
        };
        let text = check_trust(&pci, &trust(Some(0x046d), None, None))
            .unwrap_err()
            .to_string();
        assert!(text.contains("reports no USB ids"), "{text}");

        // allow_virtual lets a virtual camera through, not a wrong binding.
        let fake = CaptureDeviceIdentity {
            bus: DeviceBus::Virtual,
            usb: None,
            virtual_sign: Some(VirtualSign::NoHardware),
            ..usb_identity(None)
        };
        let lab = CameraTrust {
            allow_virtual: true,
            ..CameraTrust::default()
        };
        assert_eq!(check_trust(&fake, &lab), Ok(()));
        let bound_lab = CameraTrust {
            usb_vid: Some(0x046d),
            ..lab.clone()
        };
        assert!(check_trust(&fake, &bound_lab).is_err());

        // Unreadable identities: refused, except on an unbound lab kiosk.
        let unreadable = || {
            Err(IdentityError::Unreadable {
                path: "/sys/class/video4linux/video0/name".into(),
                reason: "Permission denied".into(),
            })
        };
        assert_eq!(judge("/dev/video0", unreadable(), &lab), Ok(None));
        let err = judge("/dev/video0", unreadable(), &CameraTrust::default()).unwrap_err();
        assert!(
            matches!(err, UntrustedCamera::Unidentified { .. }),
            "{err:?}"
        );
        assert!(
            err.staff_message()
                .starts_with("无法确认 /dev/video0 是真实摄像头")
        );
    }

    #[test]
    fn summary_hashes_the_serial() {
        let id = usb_identity(Some("2F6E3C10"));
        let summary = id.summary();
        assert!(
            summary.starts_with("bus=usb id=046d:0825 serial=sha256:"),
            "{summary}"
        );
        assert!(
            summary.ends_with("virtual=no name=\"C270 HD WEBCAM\""),
            "{summary}"
        );
        assert!(!summary.contains("2F6E3C10"), "{summary}");
        assert_eq!(id.serial_hash().unwrap().len(), SERIAL_HASH_HEX);
        let none = usb_identity(None).summary();
        assert!(none.contains("serial=none"), "{none}");
    }

    #[rstest]
    #[case::usb_webcam(
        "HD Pro Webcam C920",
        r"\\?\usb#vid_046d&pid_082d&mi_00#6&1a2b3c&0&0000#{e5323777-f976-4f5b-9b55-b94699c46e44}\global",
        DeviceBus::Usb, Some((0x046d, 0x082d)), false
    )]
    #[case::obs(
        "OBS Virtual Camera",
        r"\\?\root#image#0000#{e5323777-f976-4f5b-9b55-b94699c46e44}\global",
        DeviceBus::Virtual,
        None,
        true
    )]
    #[case::software_device(
        "Front",
        r"\\?\SWD#VCAMDEVAPI#{1234}#{e5323777-f976-4f5b-9b55-b94699c46e44}",
        DeviceBus::Virtual,
        None,
        true
    )]
    #[case::manycam_on_usb_name(
        "ManyCam Virtual Webcam",
        r"\\?\usb#vid_1234&pid_5678#x",
        DeviceBus::Usb, Some((0x1234, 0x5678)), true
    )]
    #[case::droidcam("DroidCam Source 3", "", DeviceBus::Unknown, None, true)]
    #[case::integrated(
        "Integrated Camera",
        r"\\?\display#int3470#4&1835d135&0&uid13424#{e5323777-f976-4f5b-9b55-b94699c46e44}",
        DeviceBus::Platform,
        None,
        false
    )]
    #[case::truncated_ids("Cam", r"\\?\usb#vid_04", DeviceBus::Usb, None, false)]
    fn windows_identities(
        #[case] name: &str,
        #[case] link: &str,
        #[case] bus: DeviceBus,
        #[case] ids: Option<(u16, u16)>,
        #[case] is_virtual: bool,
    ) {
        let id = identify_msmf("msmf:0", name, link);
        assert_eq!(id.bus, bus, "{id:?}");
        assert_eq!(id.usb.as_ref().map(|u| (u.vendor, u.product)), ids);
        assert_eq!(id.is_virtual(), is_virtual, "{id:?}");
    }

    #[test]
    fn known_virtual_names() {
        for name in [
            "OBS Virtual Camera",
            "ManyCam Virtual Webcam",
            "XSplit VCam",
            "Snap Camera",
            "e2eSoft VCam",
            "DroidCam Source 2",
            "Dummy video device (0x0000)",
            "Loopback video device 0",
        ] {
            assert!(known_virtual_name(name).is_some(), "{name}");
        }
        for name in [
            "HD Pro Webcam C920",
            "Integrated Camera",
            "USB 2.0 Camera",
            "Logi C270",
        ] {
            assert_eq!(known_virtual_name(name), None, "{name}");
        }
    }

    #[cfg(unix)]
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..64)
    }

    #[cfg(unix)]
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the sysfs files hold, identifying and judging never panics.
        #[test]
        fn random_sysfs_contents_never_panic(
            name in bytes(), vendor in bytes(), product in bytes(), serial in bytes(),
            device_is_file in any::<bool>(), node in "video[0-9]{1,3}|[a-z./]{0,8}",
            link in ".{0,40}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            fake::usb_camera(root, "video0", "x", Some("s"));
            let usb = root.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
            fake::write(&root.join("class/video4linux/video0/name"), &name);
            fake::write(&usb.join("idVendor"), &vendor);
            fake::write(&usb.join("idProduct"), &product);
            fake::write(&usb.join("serial"), &serial);
            if device_is_file {
                let device = root.join("class/video4linux/video0/device");
                std::fs::remove_file(&device).unwrap();
                fake::write(&device, &serial);
            }
            for node in ["video0", node.as_str()] {
                let got = identify_v4l(root, node);
                if let Ok(id) = &got {
                    let _ = id.summary();
                    let _ = check_trust(id, &trust(Some(1), Some(2), Some("s")));
                }
                let _ = judge(node, got, &CameraTrust::default()).map_err(|e| e.staff_message());
            }
            let id = identify_msmf("msmf:0", &String::from_utf8_lossy(&name), &link);
            let _ = check_trust(&id, &trust(Some(1), None, None));
        }
    }
}
