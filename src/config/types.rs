//! Stage two: the validated, typed configuration sections.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lifecert_core::action::Action;

use super::pin::PinHash;

/// Factor applied to liveness timeouts when `liveness.slow_pacing` is on.
pub const SLOW_PACING_FACTOR: f64 = 1.5;

/// `[server]`: the certification server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Base URL; `None` = the registered server (`<data_dir>/server.json`), if any.
    pub url: Option<String>,
    /// Fleet CA PEM file; `None` = system root certificates.
    pub ca_path: Option<PathBuf>,
    /// Ed25519 device key file (resolved; default `<data_dir>/device.key`).
    pub device_key_path: PathBuf,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Interval of the heartbeat to the server (1..=1440 minutes).
    pub heartbeat: Duration,
    /// File holding the staff operator credential `<operator id>:<secret>`
    /// (mode 0600) used to upload enrolled templates; `None` = templates stay
    /// on this kiosk.
    pub operator_credential_path: Option<PathBuf>,
}

/// Where camera frames come from (`camera.device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSource {
    /// `v4l:<index>`: Linux V4L2 device by index.
    V4lIndex(u32),
    /// `v4l:<name>`: Linux V4L2 device by name or device path.
    V4lName(String),
    /// `msmf:<index>`: Windows Media Foundation device by index.
    Msmf(u32),
    /// `replay:<path>`: recorded frames (testing).
    Replay(PathBuf),
}

impl CameraSource {
    /// Parses a `camera.device` value; the error says what is allowed.
    pub fn parse(s: &str) -> Result<CameraSource, String> {
        const ALLOWED: &str = "allowed: \"v4l:<index>\", \"v4l:<name or /dev path>\", \
                               \"msmf:<index>\" (Windows), \"replay:<path>\"";
        let index = |rest: &str| {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                rest.parse::<u32>().ok()
            } else {
                None
            }
        };
        match s.split_once(':') {
            Some(("v4l", rest)) if !rest.trim().is_empty() => Ok(match index(rest) {
                Some(i) => CameraSource::V4lIndex(i),
                None => CameraSource::V4lName(rest.to_owned()),
            }),
            Some(("msmf", rest)) => index(rest)
                .map(CameraSource::Msmf)
                .ok_or_else(|| format!("msmf needs a device index like \"msmf:0\" ({ALLOWED})")),
            Some(("replay", rest)) if !rest.trim().is_empty() => {
                Ok(CameraSource::Replay(PathBuf::from(rest)))
            }
            Some((scheme @ ("v4l" | "replay"), _)) => {
                Err(format!("nothing after \"{scheme}:\" ({ALLOWED})"))
            }
            Some((scheme, _)) => Err(format!("unknown camera scheme `{scheme}` ({ALLOWED})")),
            None => Err(format!("missing camera scheme ({ALLOWED})")),
        }
    }
}

impl fmt::Display for CameraSource {
    /// The `camera.device` string form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraSource::V4lIndex(i) => write!(f, "v4l:{i}"),
            CameraSource::V4lName(name) => write!(f, "v4l:{name}"),
            CameraSource::Msmf(i) => write!(f, "msmf:{i}"),
            CameraSource::Replay(path) => write!(f, "replay:{}", path.display()),
        }
    }
}

/// `[camera]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Frame source.
    pub source: CameraSource,
    /// Requested width in pixels (160..=3840).
    pub width: u32,
    /// Requested height in pixels (120..=2160).
    pub height: u32,
    /// Requested frames per second (1..=60).
    pub fps: u32,
    /// Mirror the preview.
    pub mirror: bool,
    /// Which physical camera may be used (see `crate::camera::trust`).
    pub trust: CameraTrust,
}

/// `[camera]` `usb_vid` / `usb_pid` / `usb_serial` / `allow_virtual`: the
/// kiosk's binding to one physical camera. Recordings are never checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CameraTrust {
    /// The camera's USB vendor id; `None` = any.
    pub usb_vid: Option<u16>,
    /// The camera's USB product id; `None` = any.
    pub usb_pid: Option<u16>,
    /// The camera's USB serial number; `None` = any (Linux only).
    pub usb_serial: Option<String>,
    /// Accept virtual cameras (v4l2loopback, OBS …): a lab or demo only.
    pub allow_virtual: bool,
}

impl CameraTrust {
    /// Whether the kiosk is bound to particular USB ids or a serial.
    pub fn is_bound(&self) -> bool {
        self.usb_vid.is_some() || self.usb_pid.is_some() || self.usb_serial.is_some()
    }
}

/// `[liveness]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessConfig {
    /// Actions to choose from (non-empty, distinct).
    pub actions: Vec<Action>,
    /// Actions per check (1..=4, ≤ `actions.len()`).
    pub action_count: usize,
    /// Time for one action as configured (see [`Self::effective_action_timeout`]).
    pub action_timeout: Duration,
    /// Time for the whole check as configured (see [`Self::effective_total_timeout`]).
    pub total_timeout: Duration,
    /// Slower pacing: timeouts × [`SLOW_PACING_FACTOR`].
    pub slow_pacing: bool,
    /// The screen-light challenge (`liveness.flash`), `None` when off.
    pub flash: Option<FlashConfig>,
}

/// `liveness.flash_*`: the screen-light challenge's thresholds
/// (`lifecert_core::liveness::flash`; `lifecert flash-probe` measures them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashConfig {
    pub min_correlation: f32,
    pub min_response: f32,
    pub min_shape_ratio: f32,
}

impl FlashConfig {
    /// The core's parameters: the fixed sequence settings and these thresholds.
    pub fn params(&self) -> lifecert_core::liveness::FlashParams {
        lifecert_core::liveness::FlashParams {
            min_correlation: self.min_correlation,
            min_response: self.min_response,
            min_shape_ratio: self.min_shape_ratio,
            ..lifecert_core::liveness::FlashParams::default()
        }
    }
}

impl LivenessConfig {
    fn paced(&self, d: Duration) -> Duration {
        if self.slow_pacing {
            d.mul_f64(SLOW_PACING_FACTOR)
        } else {
            d
        }
    }

    /// Per-action timeout to use at run time (slow pacing applied).
    pub fn effective_action_timeout(&self) -> Duration {
        self.paced(self.action_timeout)
    }

    /// Whole-check timeout to use at run time (slow pacing applied).
    pub fn effective_total_timeout(&self) -> Duration {
        self.paced(self.total_timeout)
    }
}

/// `[matching]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchingConfig {
    /// Maximum dlib-ResNet euclidean distance for a match (0.2..=1.0).
    pub threshold: f64,
    /// Uncertainty band below the threshold (0.0..=0.2, < threshold).
    pub margin: f64,
    /// Captures per certification (1..=5).
    pub attempts: u32,
}

/// A serial port setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialPort {
    /// `""`: the peripheral is not installed.
    Disabled,
    /// `"auto"`: detect (by USB ids when set).
    Auto,
    /// A port such as `/dev/ttyUSB0` or `COM3`.
    Device(String),
}

impl SerialPort {
    /// Parses a `port` value; the error says what is allowed.
    pub fn parse(s: &str) -> Result<SerialPort, String> {
        let is_com = |name: &str| {
            name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("com"))
                && name.len() > 3
                && name.bytes().skip(3).all(|b| b.is_ascii_digit())
        };
        match s {
            "" => Ok(SerialPort::Disabled),
            "auto" => Ok(SerialPort::Auto),
            _ if s.starts_with('/') && s.len() > 1 && !s.contains(char::is_whitespace) => {
                Ok(SerialPort::Device(s.to_owned()))
            }
            _ if is_com(s) || s.strip_prefix(r"\\.\").is_some_and(is_com) => {
                Ok(SerialPort::Device(s.to_owned()))
            }
            _ => Err(
                "must be \"\" (none), \"auto\", a device path like \"/dev/ttyUSB0\", \
                      or a Windows port like \"COM3\""
                    .to_owned(),
            ),
        }
    }

    /// The `port` string form.
    pub fn as_str(&self) -> &str {
        match self {
            SerialPort::Disabled => "",
            SerialPort::Auto => "auto",
            SerialPort::Device(name) => name,
        }
    }
}

/// Allowed serial baud rates.
pub const BAUD_RATES: [u32; 5] = [9600, 19_200, 38_400, 57_600, 115_200];

/// `[peripherals.card_reader]` / `[peripherals.printer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialDeviceConfig {
    /// Port.
    pub port: SerialPort,
    /// Baud rate (one of [`BAUD_RATES`]).
    pub baud: u32,
    /// USB vendor id for auto-detection.
    pub usb_vid: Option<u16>,
    /// USB product id for auto-detection.
    pub usb_pid: Option<u16>,
}

/// `[peripherals]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeripheralsConfig {
    /// ID / social-security card reader.
    pub card_reader: SerialDeviceConfig,
    /// Receipt printer.
    pub printer: SerialDeviceConfig,
}

/// UI and voice language (`audio.locale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// Simplified Chinese, `zh-CN`.
    ZhCn,
}

impl Locale {
    /// Every supported locale.
    pub const ALL: [Locale; 1] = [Locale::ZhCn];

    /// The BCP 47 tag used in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Parses a config tag.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == tag)
    }
}

/// `[audio]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioConfig {
    /// Prompt volume, 0.0..=1.0.
    pub volume: f64,
    /// Prompt and UI language.
    pub locale: Locale,
}

/// `[vision]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    /// Directory with the built models and `manifest.json`; `None` = look in
    /// the usual places (see `lifecert::vision_models_dir`).
    pub models_dir: Option<PathBuf>,
    /// Optional operator-supplied passive anti-spoofing model (MiniFASNet
    /// interface). The project neither ships nor downloads one.
    pub pad_model: Option<PathBuf>,
    /// A PAD "real" score below this fails the liveness check.
    pub pad_threshold: f64,
}

/// `[display]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayConfig {
    /// CJK font file; `None` = system font lookup.
    pub font_path: Option<PathBuf>,
    /// Fullscreen kiosk mode.
    pub fullscreen: bool,
    /// Hide the mouse cursor.
    pub hide_cursor: bool,
}

/// `[session]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Back to the welcome screen after this long without input.
    pub inactivity_timeout: Duration,
    /// Staff PIN hash (secret; `Debug` is redacted).
    pub staff_pin_hash: PinHash,
    /// Wrong PINs in a row before lockout.
    pub staff_pin_max_failures: u32,
    /// Lockout duration.
    pub staff_lockout: Duration,
}

/// `[storage]`, with directories resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// Data directory (absolute; platform default resolved).
    pub data_dir: PathBuf,
    /// Log directory (absolute; default `<data_dir>/logs`).
    pub log_dir: PathBuf,
    /// Days local records are kept.
    pub retention_days: u32,
    /// Daily log files kept (1..=365).
    pub log_retention_files: usize,
}

impl StorageConfig {
    /// The SQLite database: `<data_dir>/lifecert.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("lifecert.db")
    }

    /// `retention_days` as a duration.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }
}

/// `[device]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Configured device id; `None` = derive automatically.
    pub id: Option<String>,
    /// Site name printed on receipts (may be empty).
    pub site: String,
    /// Receipt QR code: this URL with `{id}` replaced by the record id;
    /// `None` = the record id itself.
    pub receipt_url: Option<String>,
}
