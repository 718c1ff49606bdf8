//! Kiosk configuration: `kiosk.toml` plus `LIFECERT__…` environment overrides,
//! validated into a typed [`Config`].
//!
//! Two stages (after ripgrep's low-level → high-level args):
//! 1. text → [`toml::Table`] (syntax errors with line/column) → environment
//!    overrides → [`RawConfig`] (serde; every key optional, unknown keys
//!    rejected, every unknown key / wrong type reported);
//! 2. [`RawConfig::validate`] → [`Config`] (ranges, allowed sets, cross-field
//!    rules, resolved paths). All problems are collected into one
//!    [`ConfigError`], one line each, naming key, value and what is allowed.
//!
//! The documented defaults are the repository's `kiosk.toml`, embedded as
//! [`DEFAULT_TOML`].

mod error;
mod overrides;
mod pin;
mod raw;
mod types;
mod validate;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

pub use error::{ConfigError, Problem};
pub use pin::{
    DEMO_PIN, DEMO_PIN_HASH, PinError, PinHash, REDACTED, check_pin_format, hash_pin, verify_pin,
};
pub use raw::RawConfig;
pub use types::{
    AudioConfig, BAUD_RATES, CameraConfig, CameraSource, CameraTrust, DeviceConfig, DisplayConfig,
    FlashConfig, LivenessConfig, Locale, MatchingConfig, PeripheralsConfig, SLOW_PACING_FACTOR,
    SerialDeviceConfig, SerialPort, ServerConfig, SessionConfig, StorageConfig, VisionConfig,
};
pub use validate::check_server_url;

use raw::{
    RawAudio, RawCamera, RawCardReader, RawDevice, RawDisplay, RawLiveness, RawMatching,
    RawPeripherals, RawPrinter, RawServer, RawSession, RawStorage, RawVision,
};

/// The documented default configuration (the repository's `kiosk.toml`).
pub const DEFAULT_TOML: &str = include_str!("../kiosk.toml");

/// Origin named in messages about [`DEFAULT_TOML`].
pub const DEFAULT_ORIGIN: &str = "built-in defaults";

/// Prefix of environment overrides: `LIFECERT__SECTION__KEY=value`.
pub const ENV_PREFIX: &str = "LIFECERT__";

/// The validated kiosk configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[camera]`.
    pub camera: CameraConfig,
    /// `[vision]`.
    pub vision: VisionConfig,
    /// `[liveness]`.
    pub liveness: LivenessConfig,
    /// `[matching]`.
    pub matching: MatchingConfig,
    /// `[peripherals]`.
    pub peripherals: PeripheralsConfig,
    /// `[audio]`.
    pub audio: AudioConfig,
    /// `[display]`.
    pub display: DisplayConfig,
    /// `[session]`.
    pub session: SessionConfig,
    /// `[storage]`.
    pub storage: StorageConfig,
    /// `[device]`.
    pub device: DeviceConfig,
}

/// The process environment as UTF-8 pairs (non-UTF-8 entries are skipped).
pub(crate) fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

impl Config {
    /// The settings of the kiosk flow state machine.
    pub fn flow_config(&self) -> lifecert_core::flow::FlowConfig {
        let small = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
        lifecert_core::flow::FlowConfig {
            inactivity: self.session.inactivity_timeout,
            attempts: small(self.matching.attempts),
            staff_pin_max_failures: small(self.session.staff_pin_max_failures),
            staff_lockout: self.session.staff_lockout,
            printer: self.peripherals.printer.port != SerialPort::Disabled,
            rules: lifecert_core::cycle::RuleTable::builtin(),
        }
    }

    /// Loads `path` (or, for `None`, the embedded [`DEFAULT_TOML`]) with
    /// overrides from the process environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_env(path, process_env())
    }

    /// [`Config::load`] with an explicit environment (`LIFECERT__…`
    /// overrides and `XDG_DATA_HOME` / `HOME` / `ProgramData`).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Config::load_from(DEFAULT_TOML, DEFAULT_ORIGIN, env);
        };
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ConfigError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Config::load_from(&text, &path.display().to_string(), env)
    }

    /// Parses and validates configuration text. `origin` names it in messages
    /// (usually the file path); `env` is the whole environment (entries not
    /// starting with `LIFECERT__` only serve to resolve the default data
    /// directory).
    pub fn load_from(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = env.into_iter().collect();
        // Windows editors like to write a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut table: toml::Table = text
            .parse()
            .map_err(|e| error::syntax_error(text, origin, &e))?;

        let mut problems = Vec::new();
        let applied = overrides::apply(&mut table, &vars, &mut problems);
        let (raw, mut structural) = RawConfig::from_table(&table);
        problems.append(&mut structural);
        let config = raw.map(|raw| {
            let (config, mut invalid) = raw.check(&validate::HostEnv::from_vars(&vars));
            problems.append(&mut invalid);
            config
        });

        for problem in &mut problems {
            if let Some(o) = applied.iter().find(|o| problem.is_under(&o.key)) {
                problem.message = format!(
                    "{} (set by environment variable {})",
                    problem.message, o.var
                );
            }
        }
        problems.sort_by_key(|p| validate::section_rank(&p.key));

        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                problems,
            }),
        }
    }

    /// Operator warnings about a valid but risky configuration (demo staff
    /// PIN, no server, test camera, …). Checking the PIN costs one argon2 hash.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.session.staff_pin_hash.is_demo() {
            out.push(format!(
                "session.staff_pin_hash is the shipped demo PIN ({DEMO_PIN}): anyone who has \
                 read the manual can open the staff menu; set your own with `lifecert hash-pin`"
            ));
        }
        match self.server.url.as_deref() {
            None if !self.storage.data_dir.join("server.json").is_file() => out.push(
                "server.url is empty and this kiosk is not registered: it cannot certify \
                 until staff run `lifecert register --server URL --token TOKEN`"
                    .to_owned(),
            ),
            None => {}
            Some(url) if url.starts_with("http://") => out.push(format!(
                "server.url = {url:?} uses plain http: for localhost testing only"
            )),
            Some(_) => {}
        }
        if let CameraSource::Replay(path) = &self.camera.source {
            out.push(format!(
                "camera.device replays recorded frames from {}: for testing only, not for \
                 certifying real people",
                path.display()
            ));
        } else if self.camera.trust.allow_virtual {
            out.push(
                "camera.allow_virtual = true: virtual cameras (v4l2loopback, OBS Virtual Camera, \
                 …) that can play any recording are accepted: for a lab or demo only, not for \
                 certifying real people"
                    .to_owned(),
            );
        }
        for (key, dev) in [
            ("peripherals.card_reader", &self.peripherals.card_reader),
            ("peripherals.printer", &self.peripherals.printer),
        ] {
            if dev.port == SerialPort::Auto && dev.usb_vid.is_none() {
                out.push(format!(
                    "{key}.port = \"auto\" without {key}.usb_vid: every serial port will be probed"
                ));
            }
        }
        if crate::peripherals::udev::same_usb_ids(&self.peripherals) {
            out.push(
                "peripherals.card_reader and peripherals.printer have the same usb_vid/usb_pid \
                 (two identical USB-serial adapters): USB ids cannot tell them apart, so \
                 `lifecert udev-rules` writes no rule for them; set each port to its \
                 /dev/serial/by-path/… name (the USB socket it is plugged into) instead"
                    .to_owned(),
            );
        }
        out
    }

    /// The effective configuration as `kiosk.toml` text (defaults filled in,
    /// directories resolved) with secrets replaced by [`REDACTED`].
    pub fn to_redacted_toml(&self) -> String {
        let mut raw = self.to_raw();
        raw.session.staff_pin_hash = REDACTED.to_owned();
        match toml::to_string_pretty(&raw) {
            Ok(text) => format!(
                "# Effective lifecert configuration (secrets shown as \"{REDACTED}\").\n\n{text}"
            ),
            Err(e) => format!("# cannot render the effective configuration: {e}\n"),
        }
    }

    /// The raw (stage one) form of this configuration; validating it again
    /// gives an equal `Config`. Contains the real PIN hash.
    pub fn to_raw(&self) -> RawConfig {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let opt_path = |p: &Option<std::path::PathBuf>| p.as_deref().map(path).unwrap_or_default();
        let hex = |id: Option<u16>| id.map(|v| format!("0x{v:04x}")).unwrap_or_default();
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let int = |v: u32| i64::from(v);
        let serial = |d: &SerialDeviceConfig| {
            (
                d.port.as_str().to_owned(),
                int(d.baud),
                hex(d.usb_vid),
                hex(d.usb_pid),
            )
        };
        let (cr_port, cr_baud, cr_vid, cr_pid) = serial(&self.peripherals.card_reader);
        let (pr_port, pr_baud, pr_vid, pr_pid) = serial(&self.peripherals.printer);
        let default_flash = RawLiveness::default();
        let flash = self.liveness.flash.unwrap_or(FlashConfig {
            min_correlation: default_flash.flash_min_correlation as f32,
            min_response: default_flash.flash_min_response as f32,
            min_shape_ratio: default_flash.flash_min_shape_ratio as f32,
        });
        RawConfig {
            server: RawServer {
                url: self.server.url.clone().unwrap_or_default(),
                ca_path: opt_path(&self.server.ca_path),
                device_key_path: path(&self.server.device_key_path),
                request_timeout_secs: secs(self.server.request_timeout),
                heartbeat_minutes: secs(self.server.heartbeat) / 60,
                operator_credential_path: opt_path(&self.server.operator_credential_path),
            },
            camera: RawCamera {
                device: self.camera.source.to_string(),
                width: int(self.camera.width),
                height: int(self.camera.height),
                fps: int(self.camera.fps),
                mirror: self.camera.mirror,
                usb_vid: hex(self.camera.trust.usb_vid),
                usb_pid: hex(self.camera.trust.usb_pid),
                usb_serial: self.camera.trust.usb_serial.clone().unwrap_or_default(),
                allow_virtual: self.camera.trust.allow_virtual,
            },
            vision: RawVision {
                models_dir: opt_path(&self.vision.models_dir),
                pad_model: opt_path(&self.vision.pad_model),
                pad_threshold: self.vision.pad_threshold,
            },
            liveness: RawLiveness {
                actions: self
                    .liveness
                    .actions
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect(),
                action_count: i64::try_from(self.liveness.action_count).unwrap_or(i64::MAX),
                action_timeout_secs: secs(self.liveness.action_timeout),
                total_timeout_secs: secs(self.liveness.total_timeout),
                slow_pacing: self.liveness.slow_pacing,
                flash: self.liveness.flash.is_some(),
                flash_min_correlation: raw::decimal(flash.min_correlation),
                flash_min_response: raw::decimal(flash.min_response),
                flash_min_shape_ratio: raw::decimal(flash.min_shape_ratio),
            },
            matching: RawMatching {
                threshold: self.matching.threshold,
                margin: self.matching.margin,
                attempts: int(self.matching.attempts),
            },
            peripherals: RawPeripherals {
                card_reader: RawCardReader {
                    port: cr_port,
                    baud: cr_baud,
                    usb_vid: cr_vid,
                    usb_pid: cr_pid,
                },
                printer: RawPrinter {
                    port: pr_port,
                    baud: pr_baud,
                    usb_vid: pr_vid,
                    usb_pid: pr_pid,
                },
            },
            audio: RawAudio {
                volume: self.audio.volume,
                locale: self.audio.locale.as_str().to_owned(),
            },
            display: RawDisplay {
                font_path: opt_path(&self.display.font_path),
                fullscreen: self.display.fullscreen,
                hide_cursor: self.display.hide_cursor,
            },
            session: RawSession {
                inactivity_timeout_secs: secs(self.session.inactivity_timeout),
                staff_pin_hash: self.session.staff_pin_hash.as_phc().to_owned(),
                staff_pin_max_failures: int(self.session.staff_pin_max_failures),
                staff_lockout_secs: secs(self.session.staff_lockout),
            },
            storage: RawStorage {
                data_dir: path(&self.storage.data_dir),
                log_dir: path(&self.storage.log_dir),
                retention_days: int(self.storage.retention_days),
                log_retention_files: i64::try_from(self.storage.log_retention_files)
                    .unwrap_or(i64::MAX),
            },
            device: RawDevice {
                id: self.device.id.clone().unwrap_or_default(),
                site: self.device.site.clone(),
                receipt_url: self.device.receipt_url.clone().unwrap_or_default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![("HOME".to_owned(), "/home/kiosk".to_owned())]
    }

    #[test]
    fn raw_defaults_equal_shipped_file() {
        let table: toml::Table = DEFAULT_TOML.parse().unwrap();
        let (raw, problems) = RawConfig::from_table(&table);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.unwrap(), RawConfig::default());
    }

    #[test]
    fn to_raw_round_trips() {
        // Windows cannot read a camera's serial number, so it refuses usb_serial.
        let serial = if cfg!(windows) {
            ""
        } else {
            "usb_serial = \"2F6E3C10\"\n"
        };
        let config = Config::load_from(
            &format!(
                "[server]\nurl = \"https://x.example\"\n[peripherals.printer]\nport = \"auto\"\n\
                 usb_vid = \"0x0416\"\n[camera]\nusb_vid = \"0x046d\"\nusb_pid = \"0x0825\"\n\
                 {serial}allow_virtual = true\n"
            ),
            "t",
            env(),
        )
        .unwrap();
        let again = config.to_raw().validate_with_env(env()).unwrap();
        assert_eq!(again, config);
        assert_eq!(config.camera.trust.usb_vid, Some(0x046d));
        assert!(
            config
                .warnings()
                .iter()
                .any(|w| w.starts_with("camera.allow_virtual = true")),
            "{:?}",
            config.warnings()
        );
    }

    #[test]
    fn flow_config_follows_the_config() {
        let config = Config::load_from(
            "[session]\ninactivity_timeout_secs = 90\nstaff_pin_max_failures = 3\n\
             [matching]\nattempts = 2\n[peripherals.printer]\nport = \"/dev/ttyUSB1\"\n",
            "t",
            env(),
        )
        .unwrap();
        let flow = config.flow_config();
        assert_eq!(flow.inactivity, std::time::Duration::from_secs(90));
        assert_eq!(flow.attempts, 2);
        assert_eq!(flow.staff_pin_max_failures, 3);
        assert!(flow.printer);
        let defaults = Config::load_from("", "t", env()).unwrap().flow_config();
        assert!(!defaults.printer);
        assert_eq!(defaults.attempts, 3);
    }

    #[test]
    fn bom_is_accepted() {
        assert!(Config::load_from("\u{feff}[camera]\nfps = 15\n", "t", env()).is_ok());
    }
}
