//! [`RawConfig`] → [`Config`]: range, set and cross-field checks, all problems
//! collected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecert_core::action::Action;

use super::error::{ConfigError, Problem, show_str};
use super::pin::PinHash;
use super::raw::RawConfig;
use super::types::{
    AudioConfig, BAUD_RATES, CameraConfig, CameraSource, CameraTrust, DeviceConfig, DisplayConfig,
    FlashConfig, LivenessConfig, Locale, MatchingConfig, PeripheralsConfig, SerialDeviceConfig,
    SerialPort, ServerConfig, SessionConfig, StorageConfig, VisionConfig,
};
use super::{Config, pin::REDACTED};

/// Host facts used to resolve defaults (the platform data directory).
#[derive(Debug, Clone, Default)]
pub(crate) struct HostEnv {
    xdg_data_home: Option<String>,
    home: Option<String>,
    program_data: Option<String>,
}

impl HostEnv {
    pub(crate) fn from_vars(vars: &BTreeMap<String, String>) -> HostEnv {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, v)| {
                    let matches = if cfg!(windows) {
                        k.eq_ignore_ascii_case(name)
                    } else {
                        k.as_str() == name
                    };
                    matches && !v.is_empty()
                })
                .map(|(_, v)| v.clone())
        };
        HostEnv {
            xdg_data_home: get("XDG_DATA_HOME"),
            home: get("HOME"),
            program_data: get("ProgramData"),
        }
    }

    /// The platform default data directory, or why there is none.
    fn default_data_dir(&self) -> Result<PathBuf, String> {
        if cfg!(windows) {
            let base = self.program_data.as_deref().unwrap_or(r"C:\ProgramData");
            return Ok(Path::new(base).join("lifecert"));
        }
        if let Some(xdg) = self.xdg_data_home.as_deref().map(Path::new)
            && xdg.is_absolute()
        {
            return Ok(xdg.join("lifecert"));
        }
        match self.home.as_deref().map(Path::new) {
            Some(home) if home.is_absolute() => Ok(home.join(".local/share/lifecert")),
            _ => Err(
                "cannot determine the platform default (neither XDG_DATA_HOME nor HOME \
                      is set to an absolute path); set storage.data_dir to an absolute path"
                    .to_owned(),
            ),
        }
    }
}

/// Collects problems while converting values.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn push(&mut self, key: &str, message: String) {
        self.problems.push(Problem::new(key, message));
    }

    /// Integer in `lo..=hi`; on error records a problem and returns `lo`.
    fn int(&mut self, key: &str, value: i64, lo: i64, hi: i64) -> i64 {
        if (lo..=hi).contains(&value) {
            value
        } else {
            self.push(
                key,
                format!("{key} = {value}: must be between {lo} and {hi}"),
            );
            lo
        }
    }

    fn uint(&mut self, key: &str, value: i64, lo: u32, hi: u32) -> u32 {
        let v = self.int(key, value, i64::from(lo), i64::from(hi));
        u32::try_from(v).unwrap_or(lo)
    }

    fn secs(&mut self, key: &str, value: i64, lo: u32, hi: u32) -> Duration {
        Duration::from_secs(u64::from(self.uint(key, value, lo, hi)))
    }

    /// Float in `lo..=hi` (NaN is rejected); on error returns `lo`.
    fn float(&mut self, key: &str, value: f64, lo: f64, hi: f64) -> f64 {
        if (lo..=hi).contains(&value) {
            value
        } else {
            self.push(
                key,
                format!("{key} = {value:?}: must be between {lo:?} and {hi:?}"),
            );
            lo
        }
    }

    /// `""` → `None`, otherwise a path.
    fn opt_path(value: &str) -> Option<PathBuf> {
        (!value.is_empty()).then(|| PathBuf::from(value))
    }

    /// `""` → `default`, otherwise an absolute path.
    fn abs_dir(&mut self, key: &str, value: &str, default: Result<PathBuf, String>) -> PathBuf {
        if value.is_empty() {
            return default.unwrap_or_else(|why| {
                self.push(key, format!("{key} = \"\": {why}"));
                PathBuf::new()
            });
        }
        let path = PathBuf::from(value);
        if !path.is_absolute() {
            self.push(
                key,
                format!(
                    "{key} = {}: must be an absolute path (or \"\" for the default)",
                    show_str(value)
                ),
            );
        }
        path
    }

    fn server(&mut self, raw: &RawConfig, data_dir: &Path) -> ServerConfig {
        let s = &raw.server;
        let url = if s.url.is_empty() {
            None
        } else {
            if let Err(why) = check_url(&s.url) {
                self.push(
                    "server.url",
                    format!("server.url = {}: {why}", show_str(&s.url)),
                );
            }
            Some(s.url.clone())
        };
        ServerConfig {
            url,
            ca_path: Self::opt_path(&s.ca_path),
            device_key_path: Self::opt_path(&s.device_key_path)
                .unwrap_or_else(|| data_dir.join("device.key")),
            request_timeout: self.secs(
                "server.request_timeout_secs",
                s.request_timeout_secs,
                2,
                120,
            ),
            heartbeat: Duration::from_secs(
                60 * u64::from(self.uint("server.heartbeat_minutes", s.heartbeat_minutes, 1, 1440)),
            ),
            operator_credential_path: Self::opt_path(&s.operator_credential_path),
        }
    }

    fn camera(&mut self, raw: &RawConfig) -> CameraConfig {
        let c = &raw.camera;
        let source = CameraSource::parse(&c.device).unwrap_or_else(|why| {
            self.push(
                "camera.device",
                format!("camera.device = {}: {why}", show_str(&c.device)),
            );
            CameraSource::V4lIndex(0)
        });
        CameraConfig {
            source,
            width: self.uint("camera.width", c.width, 160, 3840),
            height: self.uint("camera.height", c.height, 120, 2160),
            fps: self.uint("camera.fps", c.fps, 1, 60),
            mirror: c.mirror,
            trust: CameraTrust {
                usb_vid: self.usb_id("camera.usb_vid", &c.usb_vid),
                usb_pid: self.usb_id("camera.usb_pid", &c.usb_pid),
                usb_serial: self.usb_serial(&c.usb_serial),
                allow_virtual: c.allow_virtual,
            },
        }
    }

    /// `camera.usb_serial`: `""` → `None`; otherwise the serial exactly as
    /// the kernel reports it (printable, no surrounding spaces, ≤ 126 chars).
    fn usb_serial(&mut self, value: &str) -> Option<String> {
        const KEY: &str = "camera.usb_serial";
        const MAX_CHARS: usize = 126; // a USB string descriptor holds at most 126 characters
        if value.is_empty() {
            return None;
        }
        let why = if cfg!(windows) {
            Some(
                "cannot be checked on Windows (Media Foundation does not report the serial \
                 number); write \"\" and bind with camera.usb_vid and camera.usb_pid"
                    .to_owned(),
            )
        } else if value.chars().count() > MAX_CHARS {
            Some(format!(
                "is longer than a USB serial number ({MAX_CHARS} characters)"
            ))
        } else if value.chars().any(char::is_control) || value.trim() != value {
            Some("must not contain control characters or leading/trailing spaces".to_owned())
        } else {
            None
        };
        match why {
            None => Some(value.to_owned()),
            Some(why) => {
                self.push(
                    KEY,
                    format!(
                        "{KEY} = {}: {why}; copy the value `lifecert status` prints for the \
                         connected camera, or \"\" for any",
                        show_str(value)
                    ),
                );
                None
            }
        }
    }

    fn actions(&mut self, names: &[String]) -> Vec<Action> {
        let allowed = Action::ALL.map(Action::name).join(", ");
        if names.is_empty() {
            self.push(
                "liveness.actions",
                format!(
                    "liveness.actions = []: must list at least one action (allowed: {allowed})"
                ),
            );
        }
        let mut actions: Vec<Action> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let key = format!("liveness.actions[{i}]");
            match Action::from_name(name) {
                None => self.push(
                    &key,
                    format!(
                        "{key} = {}: unknown action (allowed: {allowed})",
                        show_str(name)
                    ),
                ),
                Some(action) => {
                    if let Some(first) = names.iter().position(|n| n == name)
                        && first < i
                    {
                        self.push(
                            &key,
                            format!(
                                "{key} = {}: duplicate action (already listed as \
                                 liveness.actions[{first}])",
                                show_str(name)
                            ),
                        );
                    } else {
                        actions.push(action);
                    }
                }
            }
        }
        actions
    }

    fn liveness(&mut self, raw: &RawConfig) -> LivenessConfig {
        let l = &raw.liveness;
        let actions = self.actions(&l.actions);
        let count_ok = (1..=4).contains(&l.action_count);
        let action_count = if !count_ok {
            self.push(
                "liveness.action_count",
                format!(
                    "liveness.action_count = {}: must be between 1 and 4 (and not more than the \
                     number of actions in liveness.actions)",
                    l.action_count
                ),
            );
            1
        } else {
            let n = usize::try_from(l.action_count).unwrap_or(1);
            if n > l.actions.len() && !l.actions.is_empty() {
                self.push(
                    "liveness.action_count",
                    format!(
                        "liveness.action_count = {n}: must not be more than the number of \
                         actions in liveness.actions ({})",
                        l.actions.len()
                    ),
                );
            }
            n
        };
        let timeout_ok = (2..=30).contains(&l.action_timeout_secs);
        let action_timeout =
            self.secs("liveness.action_timeout_secs", l.action_timeout_secs, 2, 30);
        let total_timeout = self.secs("liveness.total_timeout_secs", l.total_timeout_secs, 5, 120);
        let needed = l.action_count.saturating_mul(l.action_timeout_secs);
        if count_ok
            && timeout_ok
            && (5..=120).contains(&l.total_timeout_secs)
            && l.total_timeout_secs < needed
        {
            self.push(
                "liveness.total_timeout_secs",
                format!(
                    "liveness.total_timeout_secs = {}: must be at least liveness.action_count × \
                     liveness.action_timeout_secs = {} × {} = {needed}",
                    l.total_timeout_secs, l.action_count, l.action_timeout_secs
                ),
            );
        }
        let flash = l.flash.then(|| FlashConfig {
            min_correlation: self.float(
                "liveness.flash_min_correlation",
                l.flash_min_correlation,
                0.0,
                1.0,
            ) as f32,
            min_response: self.float(
                "liveness.flash_min_response",
                l.flash_min_response,
                0.0,
                1.0,
            ) as f32,
            min_shape_ratio: self.float(
                "liveness.flash_min_shape_ratio",
                l.flash_min_shape_ratio,
                0.5,
                3.0,
            ) as f32,
        });
        LivenessConfig {
            actions,
            action_count,
            action_timeout,
            total_timeout,
            slow_pacing: l.slow_pacing,
            flash,
        }
    }

    fn matching(&mut self, raw: &RawConfig) -> MatchingConfig {
        let m = &raw.matching;
        let threshold = self.float("matching.threshold", m.threshold, 0.2, 1.0);
        let margin = self.float("matching.margin", m.margin, 0.0, 0.2);
        if (0.2..=1.0).contains(&m.threshold)
            && (0.0..=0.2).contains(&m.margin)
            && margin >= threshold
        {
            self.push(
                "matching.margin",
                format!(
                    "matching.margin = {:?}: must be less than matching.threshold ({:?})",
                    m.margin, m.threshold
                ),
            );
        }
        MatchingConfig {
            threshold,
            margin,
            attempts: self.uint("matching.attempts", m.attempts, 1, 5),
        }
    }

    fn usb_id(&mut self, key: &str, value: &str) -> Option<u16> {
        if value.is_empty() {
            return None;
        }
        let digits = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"));
        match digits {
            Some(d) if (1..=4).contains(&d.len()) => {
                if let Ok(id) = u16::from_str_radix(d, 16) {
                    return Some(id);
                }
            }
            _ => {}
        }
        // lsusb and sysfs write ids without the prefix: say what to write instead.
        let bare_hex =
            (1..=4).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit());
        let hint = if bare_hex {
            format!(" (write \"0x{value}\")")
        } else {
            String::new()
        };
        self.push(
            key,
            format!(
                "{key} = {}: must be a hex USB id like \"0x0400\" (0x0000..=0xFFFF), or \"\" \
                 for none{hint}",
                show_str(value)
            ),
        );
        None
    }

    fn serial(&mut self, section: &str, parts: (&str, i64, &str, &str)) -> SerialDeviceConfig {
        let (port, baud, vid, pid) = parts;
        let port_key = format!("{section}.port");
        let port = SerialPort::parse(port).unwrap_or_else(|why| {
            self.push(&port_key, format!("{port_key} = {}: {why}", show_str(port)));
            SerialPort::Disabled
        });
        let baud_key = format!("{section}.baud");
        let baud = match BAUD_RATES.iter().find(|b| i64::from(**b) == baud) {
            Some(b) => *b,
            None => {
                let allowed = BAUD_RATES.map(|b| b.to_string()).join(", ");
                self.push(
                    &baud_key,
                    format!("{baud_key} = {baud}: must be one of {allowed}"),
                );
                BAUD_RATES[0]
            }
        };
        SerialDeviceConfig {
            port,
            baud,
            usb_vid: self.usb_id(&format!("{section}.usb_vid"), vid),
            usb_pid: self.usb_id(&format!("{section}.usb_pid"), pid),
        }
    }

    fn session(&mut self, raw: &RawConfig) -> SessionConfig {
        let s = &raw.session;
        let staff_pin_hash = PinHash::parse(&s.staff_pin_hash).unwrap_or_else(|why| {
            self.push(
                "session.staff_pin_hash",
                format!(
                    "session.staff_pin_hash = {REDACTED}: must be an argon2 PHC string: {why}; \
                     create one with `lifecert hash-pin`"
                ),
            );
            PinHash::placeholder()
        });
        SessionConfig {
            inactivity_timeout: self.secs(
                "session.inactivity_timeout_secs",
                s.inactivity_timeout_secs,
                15,
                600,
            ),
            staff_pin_hash,
            staff_pin_max_failures: self.uint(
                "session.staff_pin_max_failures",
                s.staff_pin_max_failures,
                1,
                10,
            ),
            staff_lockout: self.secs("session.staff_lockout_secs", s.staff_lockout_secs, 30, 3600),
        }
    }

    fn storage(&mut self, raw: &RawConfig, host: &HostEnv) -> StorageConfig {
        let s = &raw.storage;
        let data_dir = self.abs_dir("storage.data_dir", &s.data_dir, host.default_data_dir());
        let log_dir = self.abs_dir("storage.log_dir", &s.log_dir, Ok(data_dir.join("logs")));
        StorageConfig {
            data_dir,
            log_dir,
            retention_days: self.uint("storage.retention_days", s.retention_days, 1, 3650),
            log_retention_files: usize::try_from(self.uint(
                "storage.log_retention_files",
                s.log_retention_files,
                1,
                365,
            ))
            .unwrap_or(1),
        }
    }

    fn device(&mut self, raw: &RawConfig) -> DeviceConfig {
        let d = &raw.device;
        let id_ok = d.id.len() <= 64
            && d.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            self.push(
                "device.id",
                format!(
                    "device.id = {}: must be \"\" (derive automatically) or 1-64 characters \
                     of A-Z, a-z, 0-9, \"-\", \"_\", \".\"",
                    show_str(&d.id)
                ),
            );
        }
        if d.site.chars().count() > 100 || d.site.chars().any(char::is_control) {
            self.push(
                "device.site",
                format!(
                    "device.site = {}: must be at most 100 characters, without control \
                     characters",
                    show_str(&d.site)
                ),
            );
        }
        let url = &d.receipt_url;
        let url_ok = url.is_empty()
            || ((url.starts_with("https://") || url.starts_with("http://"))
                && url.contains("{id}")
                && url.len() <= 200
                && url.is_ascii()
                && !url
                    .chars()
                    .any(|c| c.is_ascii_whitespace() || c.is_control()));
        if !url_ok {
            self.push(
                "device.receipt_url",
                format!(
                    "device.receipt_url = {}: must be \"\" (the QR code holds the record number) \
                     or an ASCII http(s) URL of at most 200 characters containing {{id}}, e.g. \
                     \"https://lifecert.example.org/verify/{{id}}\"",
                    show_str(url)
                ),
            );
        }
        DeviceConfig {
            id: (!d.id.is_empty()).then(|| d.id.clone()),
            site: d.site.clone(),
            receipt_url: (url_ok && !url.is_empty()).then(|| url.clone()),
        }
    }
}

/// `server.url` rules: https, or http to a loopback host for testing.
pub fn check_server_url(url: &str) -> Result<(), String> {
    check_url(url)
}

fn check_url(url: &str) -> Result<(), String> {
    const ALLOWED: &str = "must be \"\" (the registered server, see `lifecert register`) or an https:// URL like \
                           \"https://lifecert.example.org\"";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains spaces; {ALLOWED}"));
    }
    let (rest, https) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => return Err(ALLOWED.to_owned()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(format!("no host name; {ALLOWED}"));
    }
    if !https && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Err(format!(
            "plain http:// is allowed only for localhost testing; {ALLOWED}"
        ));
    }
    Ok(())
}

impl RawConfig {
    /// Validates against the process environment (used only to resolve the
    /// platform default data directory). See [`RawConfig::validate_with_env`].
    pub fn validate(&self) -> Result<Config, ConfigError> {
        self.validate_with_env(super::process_env())
    }

    /// Validates every key, collecting all problems; `env` supplies
    /// `XDG_DATA_HOME` / `HOME` / `ProgramData` for the default data directory.
    pub fn validate_with_env(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = env.into_iter().collect();
        let (config, problems) = self.check(&HostEnv::from_vars(&vars));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                origin: "configuration".to_owned(),
                problems,
            })
        }
    }

    /// Converts, returning a config that is only meaningful when the problem
    /// list is empty.
    pub(crate) fn check(&self, host: &HostEnv) -> (Config, Vec<Problem>) {
        let mut c = Checker {
            problems: Vec::new(),
        };
        let storage = c.storage(self, host);
        let server = c.server(self, &storage.data_dir);
        let audio_volume = c.float("audio.volume", self.audio.volume, 0.0, 1.0);
        let locale = Locale::from_tag(&self.audio.locale).unwrap_or_else(|| {
            let allowed: Vec<String> = Locale::ALL.iter().map(|l| show_str(l.as_str())).collect();
            c.push(
                "audio.locale",
                format!(
                    "audio.locale = {}: must be one of {}",
                    show_str(&self.audio.locale),
                    allowed.join(", ")
                ),
            );
            Locale::ZhCn
        });
        let config = Config {
            camera: c.camera(self),
            vision: VisionConfig {
                models_dir: Checker::opt_path(&self.vision.models_dir),
                pad_model: Checker::opt_path(&self.vision.pad_model),
                pad_threshold: c.float("vision.pad_threshold", self.vision.pad_threshold, 0.0, 1.0),
            },
            liveness: c.liveness(self),
            matching: c.matching(self),
            peripherals: PeripheralsConfig {
                card_reader: c.serial(
                    "peripherals.card_reader",
                    self.peripherals.card_reader.parts(),
                ),
                printer: c.serial("peripherals.printer", self.peripherals.printer.parts()),
            },
            audio: AudioConfig {
                volume: audio_volume,
                locale,
            },
            display: DisplayConfig {
                font_path: Checker::opt_path(&self.display.font_path),
                fullscreen: self.display.fullscreen,
                hide_cursor: self.display.hide_cursor,
            },
            session: c.session(self),
            device: c.device(self),
            server,
            storage,
        };
        let mut problems = c.problems;
        problems.sort_by_key(|p| section_rank(&p.key));
        (config, problems)
    }
}

/// Orders problems like the sections of `kiosk.toml` (stable within a section).
pub(crate) fn section_rank(key: &str) -> usize {
    const ORDER: [&str; 11] = [
        "server",
        "camera",
        "vision",
        "liveness",
        "matching",
        "peripherals",
        "audio",
        "display",
        "session",
        "storage",
        "device",
    ];
    let section = key.split(['.', '[']).next().unwrap_or_default();
    ORDER
        .iter()
        .position(|s| *s == section)
        .unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "https://lifecert.example.org",
            "https://lifecert.example.org:8443/api/",
            "http://localhost:8080",
            "http://127.0.0.1/x",
            "http://[::1]:9000",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "lifecert.example.org",
            "ftp://x",
            "http://lifecert.example.org",
            "https://",
            "https://a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_data_dir_prefers_absolute_xdg() {
        if cfg!(windows) {
            return;
        }
        let host = |xdg: Option<&str>, home: Option<&str>| HostEnv {
            xdg_data_home: xdg.map(str::to_owned),
            home: home.map(str::to_owned),
            program_data: None,
        };
        assert_eq!(
            host(Some("/xdg"), Some("/home/a")).default_data_dir(),
            Ok(PathBuf::from("/xdg/lifecert"))
        );
        assert_eq!(
            host(Some("relative"), Some("/home/a")).default_data_dir(),
            Ok(PathBuf::from("/home/a/.local/share/lifecert"))
        );
        assert!(host(None, None).default_data_dir().is_err());
    }

    #[test]
    fn problems_are_ordered_by_section() {
        let mut raw = RawConfig::default();
        raw.device.id = "bad id!".to_owned();
        raw.camera.fps = 0;
        raw.server.request_timeout_secs = 0;
        let (_, problems) = raw.check(&HostEnv {
            home: Some("/home/k".to_owned()),
            ..HostEnv::default()
        });
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["server.request_timeout_secs", "camera.fps", "device.id"]
        );
    }

    fn camera_problems(edit: impl FnOnce(&mut RawConfig)) -> (CameraTrust, Vec<String>) {
        let mut raw = RawConfig::default();
        edit(&mut raw);
        let (config, problems) = raw.check(&HostEnv {
            home: Some("/home/k".to_owned()),
            ..HostEnv::default()
        });
        let messages = problems.into_iter().map(|p| p.message).collect();
        (config.camera.trust, messages)
    }

    #[rstest::rstest]
    #[case::vid_pid("0x046d", "0x0825", "", Some(0x046d), Some(0x0825), None)]
    #[case::upper_case("0X046D", "", "", Some(0x046d), None, None)]
    #[case::serial("0x046d", "", "2F6E3C10", Some(0x046d), None, Some("2F6E3C10"))]
    #[case::unbound("", "", "", None, None, None)]
    fn camera_bindings_parse(
        #[case] vid: &str,
        #[case] pid: &str,
        #[case] serial: &str,
        #[case] want_vid: Option<u16>,
        #[case] want_pid: Option<u16>,
        #[case] want_serial: Option<&str>,
    ) {
        if cfg!(windows) && !serial.is_empty() {
            return;
        }
        let (trust, problems) = camera_problems(|raw| {
            raw.camera.usb_vid = vid.into();
            raw.camera.usb_pid = pid.into();
            raw.camera.usb_serial = serial.into();
        });
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            (trust.usb_vid, trust.usb_pid, trust.usb_serial.as_deref()),
            (want_vid, want_pid, want_serial)
        );
        assert!(!trust.allow_virtual);
    }

    #[rstest::rstest]
    #[case::bare_hex_vid(
        |raw: &mut RawConfig| raw.camera.usb_vid = "046d".into(),
        "camera.usb_vid = \"046d\": must be a hex USB id like \"0x0400\" (0x0000..=0xFFFF), \
         or \"\" for none (write \"0x046d\")"
    )]
    #[case::word_pid(
        |raw: &mut RawConfig| raw.camera.usb_pid = "logitech".into(),
        "camera.usb_pid = \"logitech\": must be a hex USB id like \"0x0400\" (0x0000..=0xFFFF), \
         or \"\" for none"
    )]
    #[case::padded_serial(
        |raw: &mut RawConfig| raw.camera.usb_serial = " 2F6E3C10".into(),
        "camera.usb_serial = \" 2F6E3C10\": must not contain control characters or \
         leading/trailing spaces; copy the value `lifecert status` prints for the connected \
         camera, or \"\" for any"
    )]
    fn camera_binding_errors_say_what_to_write(
        #[case] edit: fn(&mut RawConfig),
        #[case] message: &str,
    ) {
        if cfg!(windows) {
            return;
        }
        let (_, problems) = camera_problems(edit);
        assert_eq!(problems, [message]);
    }
}
