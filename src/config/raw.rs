//! Stage one: the serde view of `kiosk.toml` ([`RawConfig`]). Every key is
//! optional (defaults below equal the shipped `kiosk.toml`; a test checks
//! that) and unknown keys are rejected.

use serde::{Deserialize, Deserializer, Serialize};
use toml::{Table, Value};

use super::error::{Problem, problem_from_serde};
use super::pin::DEMO_PIN_HASH;

/// The unvalidated configuration exactly as written (after environment
/// overrides). Turn it into a [`super::Config`] with [`RawConfig::validate`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub(crate) server: RawServer,
    pub(crate) camera: RawCamera,
    pub(crate) vision: RawVision,
    pub(crate) liveness: RawLiveness,
    pub(crate) matching: RawMatching,
    pub(crate) peripherals: RawPeripherals,
    pub(crate) audio: RawAudio,
    pub(crate) display: RawDisplay,
    pub(crate) session: RawSession,
    pub(crate) storage: RawStorage,
    pub(crate) device: RawDevice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawServer {
    pub url: String,
    pub ca_path: String,
    pub device_key_path: String,
    pub request_timeout_secs: i64,
    pub heartbeat_minutes: i64,
    pub operator_credential_path: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            url: String::new(),
            ca_path: String::new(),
            device_key_path: String::new(),
            request_timeout_secs: 15,
            heartbeat_minutes: 5,
            operator_credential_path: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawCamera {
    pub device: String,
    pub width: i64,
    pub height: i64,
    pub fps: i64,
    pub mirror: bool,
    #[serde(deserialize_with = "string_or_integer")]
    pub usb_vid: String,
    #[serde(deserialize_with = "string_or_integer")]
    pub usb_pid: String,
    pub usb_serial: String,
    pub allow_virtual: bool,
}

impl Default for RawCamera {
    fn default() -> Self {
        RawCamera {
            device: "v4l:0".to_owned(),
            width: 640,
            height: 480,
            fps: 30,
            mirror: true,
            usb_vid: String::new(),
            usb_pid: String::new(),
            usb_serial: String::new(),
            allow_virtual: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawLiveness {
    pub actions: Vec<String>,
    pub action_count: i64,
    pub action_timeout_secs: i64,
    pub total_timeout_secs: i64,
    pub slow_pacing: bool,
    pub flash: bool,
    pub flash_min_correlation: f64,
    pub flash_min_response: f64,
    pub flash_min_shape_ratio: f64,
}

/// An `f32` threshold as the decimal written in `kiosk.toml` (`0.02f32` is
/// 0.0199999995… as an `f64`; six decimals are plenty for a threshold).
pub(crate) fn decimal(x: f32) -> f64 {
    (f64::from(x) * 1e6).round() / 1e6
}

impl Default for RawLiveness {
    fn default() -> Self {
        RawLiveness {
            actions: lifecert_core::action::Action::ALL
                .iter()
                .map(|action| action.name().to_owned())
                .collect(),
            action_count: 2,
            action_timeout_secs: 5,
            total_timeout_secs: 20,
            slow_pacing: false,
            flash: true,
            flash_min_correlation: decimal(lifecert_core::liveness::flash::FLASH_MIN_CORRELATION),
            flash_min_response: decimal(lifecert_core::liveness::flash::FLASH_MIN_RESPONSE),
            flash_min_shape_ratio: decimal(lifecert_core::liveness::flash::FLASH_MIN_SHAPE_RATIO),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawMatching {
    pub threshold: f64,
    pub margin: f64,
    pub attempts: i64,
}

impl Default for RawMatching {
    fn default() -> Self {
        RawMatching {
            threshold: 0.5,
            margin: 0.03,
            attempts: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawPeripherals {
    pub card_reader: RawCardReader,
    pub printer: RawPrinter,
}

/// Defines a serial peripheral section; the two differ only in their default baud.
macro_rules! raw_serial {
    ($name:ident, $baud:expr) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub(crate) struct $name {
            pub port: String,
            pub baud: i64,
            #[serde(deserialize_with = "string_or_integer")]
            pub usb_vid: String,
            #[serde(deserialize_with = "string_or_integer")]
            pub usb_pid: String,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    port: String::new(),
                    baud: $baud,
                    usb_vid: String::new(),
                    usb_pid: String::new(),
                }
            }
        }

        impl $name {
            pub(crate) fn parts(&self) -> (&str, i64, &str, &str) {
                (&self.port, self.baud, &self.usb_vid, &self.usb_pid)
            }
        }
    };
}

raw_serial!(RawCardReader, 115_200);
raw_serial!(RawPrinter, 9600);

/// Accepts `"0x0400"` as well as a TOML integer (`0x0400`, which TOML and
/// environment overrides read as 1024); integers become hex text.
fn string_or_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a hex string like \"0x0400\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            if (0..=0xFFFF).contains(&v) {
                Ok(format!("0x{v:04x}"))
            } else {
                Ok(v.to_string())
            }
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(format!("{v}"))
        }
    }
    deserializer.deserialize_any(Visitor)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawAudio {
    pub volume: f64,
    pub locale: String,
}

impl Default for RawAudio {
    fn default() -> Self {
        RawAudio {
            volume: 0.8,
            locale: "zh-CN".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawVision {
    pub models_dir: String,
    pub pad_model: String,
    pub pad_threshold: f64,
}

impl Default for RawVision {
    fn default() -> Self {
        RawVision {
            models_dir: String::new(),
            pad_model: String::new(),
            pad_threshold: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawDisplay {
    pub font_path: String,
    pub fullscreen: bool,
    pub hide_cursor: bool,
}

impl Default for RawDisplay {
    fn default() -> Self {
        RawDisplay {
            font_path: String::new(),
            fullscreen: true,
            hide_cursor: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawSession {
    pub inactivity_timeout_secs: i64,
    pub staff_pin_hash: String,
    pub staff_pin_max_failures: i64,
    pub staff_lockout_secs: i64,
}

impl Default for RawSession {
    fn default() -> Self {
        RawSession {
            inactivity_timeout_secs: 60,
            staff_pin_hash: DEMO_PIN_HASH.to_owned(),
            staff_pin_max_failures: 5,
            staff_lockout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawStorage {
    pub data_dir: String,
    pub log_dir: String,
    pub retention_days: i64,
    pub log_retention_files: i64,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            data_dir: String::new(),
            log_dir: String::new(),
            retention_days: 90,
            log_retention_files: 14,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawDevice {
    pub id: String,
    pub site: String,
    pub receipt_url: String,
}

type SerdeError = serde_path_to_error::Error<toml::de::Error>;

fn deserialize(table: Table) -> Result<RawConfig, SerdeError> {
    serde_path_to_error::deserialize(Value::Table(table))
}

impl RawConfig {
    /// Deserializes a parsed TOML table. On failure returns every unknown key
    /// and wrong type found (not just the first), plus — when the remaining
    /// keys are usable — the config without the offending keys, so that value
    /// checks can still report their problems.
    pub fn from_table(table: &Table) -> (Option<RawConfig>, Vec<Problem>) {
        let first = match deserialize(table.clone()) {
            Ok(raw) => return (Some(raw), Vec::new()),
            Err(err) => err,
        };
        // serde stops at the first error: probe each key on its own (all other
        // keys default) to find them all.
        let mut found = Vec::new();
        probe(&mut Vec::new(), table, table, &mut found);
        if found.is_empty() {
            return (None, vec![problem_from_serde(&first, table)]);
        }
        let mut pruned = table.clone();
        for (path, _) in &found {
            remove_path(&mut pruned, path);
        }
        let mut problems: Vec<Problem> = found.into_iter().map(|(_, problem)| problem).collect();
        match deserialize(pruned) {
            Ok(raw) => (Some(raw), problems),
            Err(err) => {
                let problem = problem_from_serde(&err, table);
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
                (None, problems)
            }
        }
    }
}

/// Deserializes `{prefix…: {key: value}}` for each key of `table` (the table
/// found at `prefix`), recursing into sub-tables whose error lies deeper.
fn probe(
    prefix: &mut Vec<String>,
    table: &Table,
    root: &Table,
    found: &mut Vec<(Vec<String>, Problem)>,
) {
    for (key, value) in table {
        prefix.push(key.clone());
        if let Err(err) = deserialize(wrap(prefix, value.clone())) {
            let deeper = err.path().iter().count() > prefix.len();
            match value {
                Value::Table(sub) if deeper => probe(prefix, sub, root, found),
                _ => found.push((prefix.clone(), problem_from_serde(&err, root))),
            }
        }
        prefix.pop();
    }
}

/// Builds a table holding only `value` at `path`.
fn wrap(path: &[String], value: Value) -> Table {
    let mut value = value;
    for key in path.iter().rev() {
        let mut table = Table::new();
        table.insert(key.clone(), value);
        value = Value::Table(table);
    }
    match value {
        Value::Table(table) => table,
        _ => Table::new(),
    }
}

fn remove_path(table: &mut Table, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            table.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Table(sub)) = table.get_mut(first) {
                remove_path(sub, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn empty_table_gives_defaults() {
        let (raw, problems) = RawConfig::from_table(&Table::new());
        assert!(problems.is_empty());
        assert_eq!(raw.unwrap(), RawConfig::default());
    }

    #[test]
    fn collects_all_structural_problems_and_keeps_the_rest() {
        let (raw, problems) = RawConfig::from_table(&table(
            "bogus = 1\n[camera]\nfpss = 1\nwidth = 'wide'\nfps = 12\n\
             [peripherals.printer]\nbaudrate = 1\n",
        ));
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "bogus",
                "camera.fpss",
                "camera.width",
                "peripherals.printer.baudrate"
            ]
        );
        let raw = raw.unwrap();
        assert_eq!(raw.camera.fps, 12);
        assert_eq!(raw.camera.width, 640);
    }

    #[test]
    fn usb_ids_accept_integers() {
        let (raw, problems) =
            RawConfig::from_table(&table("[peripherals.printer]\nusb_vid = 0x0416\n"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.unwrap().peripherals.printer.usb_vid, "0x0416");
        let (raw, problems) = RawConfig::from_table(&table("[camera]\nusb_pid = 0x0825\n"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.unwrap().camera.usb_pid, "0x0825");
    }
}
