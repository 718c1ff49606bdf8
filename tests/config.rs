//! Integration tests of `lifecert::config`: the shipped `kiosk.toml`, every kind
//! of rejected value, environment overrides, redaction and staff PIN hashing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecert::config::{
    CameraSource, Config, ConfigError, DEFAULT_TOML, DEMO_PIN, DEMO_PIN_HASH, Locale, PinError,
    REDACTED, SerialPort, hash_pin, verify_pin,
};
use lifecert_core::action::Action;
use proptest::prelude::*;
use rstest::rstest;

const HOME: &str = "/home/kiosk";

fn base_env() -> Vec<(String, String)> {
    vec![("HOME".to_owned(), HOME.to_owned())]
}

fn env_with(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base_env();
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::load_from(text, "test.toml", base_env())
}

/// Loads `text`, expects it to be invalid, returns the message.
fn error_of(text: &str) -> String {
    match load(text) {
        Ok(config) => panic!("expected an error for {text:?}, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn shipped_file() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------- defaults

#[test]
fn shipped_kiosk_toml_validates_and_is_the_embedded_default() {
    let text = shipped_file();
    assert_eq!(text, DEFAULT_TOML);
    let config = load(&text).unwrap();

    assert_eq!(config.server.url, None);
    assert!(config.server.url.is_none());
    assert_eq!(config.server.heartbeat, Duration::from_secs(300));
    assert_eq!(config.server.operator_credential_path, None);
    assert_eq!(config.server.request_timeout, Duration::from_secs(15));
    assert_eq!(config.camera.source, CameraSource::V4lIndex(0));
    assert_eq!((config.camera.width, config.camera.height), (640, 480));
    assert_eq!(config.camera.fps, 30);
    assert!(config.camera.mirror);
    assert_eq!(config.liveness.actions, Action::ALL.to_vec());
    assert_eq!(config.liveness.action_count, 2);
    assert_eq!(config.liveness.action_timeout, Duration::from_secs(5));
    assert_eq!(config.liveness.total_timeout, Duration::from_secs(20));
    assert!(!config.liveness.slow_pacing);
    assert_eq!(config.matching.threshold, 0.5);
    assert_eq!(config.matching.margin, 0.03);
    assert_eq!(config.matching.attempts, 3);
    assert_eq!(config.peripherals.card_reader.port, SerialPort::Disabled);
    assert_eq!(config.peripherals.card_reader.baud, 115_200);
    assert_eq!(config.peripherals.printer.baud, 9600);
    assert_eq!(config.peripherals.printer.usb_vid, None);
    assert_eq!(config.audio.volume, 0.8);
    assert_eq!(config.audio.locale, Locale::ZhCn);
    assert_eq!(config.display.font_path, None);
    assert!(config.display.fullscreen);
    assert!(!config.display.hide_cursor);
    assert_eq!(config.session.inactivity_timeout, Duration::from_secs(60));
    assert_eq!(config.session.staff_pin_hash.as_phc(), DEMO_PIN_HASH);
    assert_eq!(config.session.staff_pin_max_failures, 5);
    assert_eq!(config.session.staff_lockout, Duration::from_secs(300));
    assert_eq!(config.storage.retention_days, 90);
    assert_eq!(config.storage.log_retention_files, 14);
    assert_eq!(config.device.id, None);
    assert_eq!(config.device.site, "");
}

#[test]
fn every_key_is_optional_and_defaults_match_the_shipped_file() {
    assert_eq!(load("").unwrap(), load(&shipped_file()).unwrap());
}

#[test]
fn partial_file_keeps_other_defaults() {
    let config = load("[camera]\nfps = 15\n[peripherals.printer]\nport = \"COM4\"\n").unwrap();
    assert_eq!(config.camera.fps, 15);
    assert_eq!(config.camera.width, 640);
    assert_eq!(
        config.peripherals.printer.port,
        SerialPort::Device("COM4".to_owned())
    );
    assert_eq!(config.peripherals.printer.baud, 9600);
}

#[test]
fn load_none_uses_the_embedded_defaults() {
    let config = Config::load_with_env(None, base_env()).unwrap();
    assert_eq!(config, load(DEFAULT_TOML).unwrap());
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, "[device]\nsite = \"某某村便民服务点\"\n").unwrap();
    let config = Config::load_with_env(Some(&path), base_env()).unwrap();
    assert_eq!(config.device.site, "某某村便民服务点");
}

// ---------------------------------------------------------------- paths

#[cfg(unix)]
#[test]
fn data_dir_defaults_follow_xdg_then_home() {
    let config = load("").unwrap();
    let data = PathBuf::from(HOME).join(".local/share/lifecert");
    assert_eq!(config.storage.data_dir, data);
    assert_eq!(config.storage.log_dir, data.join("logs"));
    assert_eq!(config.storage.db_path(), data.join("lifecert.db"));
    assert_eq!(config.server.device_key_path, data.join("device.key"));

    let env = env_with(&[("XDG_DATA_HOME", "/var/xdg")]);
    let config = Config::load_from("", "t", env).unwrap();
    assert_eq!(config.storage.data_dir, PathBuf::from("/var/xdg/lifecert"));
}

#[cfg(unix)]
#[test]
fn explicit_directories_are_used() {
    let config = load(
        "[storage]\ndata_dir = \"/srv/lifecert\"\nlog_dir = \"/var/log/lifecert\"\n\
         [server]\ndevice_key_path = \"/etc/lifecert/device.key\"\n",
    )
    .unwrap();
    assert_eq!(config.storage.data_dir, PathBuf::from("/srv/lifecert"));
    assert_eq!(config.storage.log_dir, PathBuf::from("/var/log/lifecert"));
    assert_eq!(
        config.storage.db_path(),
        PathBuf::from("/srv/lifecert/lifecert.db")
    );
    assert_eq!(
        config.server.device_key_path,
        PathBuf::from("/etc/lifecert/device.key")
    );
}

#[cfg(unix)]
#[test]
fn relative_or_undeterminable_data_dir_is_rejected() {
    let msg = error_of("[storage]\ndata_dir = \"data\"\n");
    assert!(
        msg.contains("storage.data_dir = \"data\": must be an absolute path"),
        "{msg}"
    );

    let err = Config::load_from("", "t", Vec::new()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("storage.data_dir"), "{msg}");
    assert!(msg.contains("HOME"), "{msg}");
}

// ---------------------------------------------------------------- rejections

#[test]
fn unknown_top_level_section() {
    let msg = error_of("[camerra]\nfps = 30\n");
    assert!(
        msg.contains(
            "unknown key `camerra` (allowed: server, camera, vision, liveness, matching, peripherals, \
             audio, display, session, storage, device)"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_nested_key() {
    let msg = error_of("[camera]\nfpss = 30\n");
    assert!(
        msg.contains(
            "unknown key `camera.fpss` (allowed: device, width, height, fps, mirror, usb_vid, \
             usb_pid, usb_serial, allow_virtual)"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_deeply_nested_key() {
    let msg = error_of("[peripherals.printer]\nbaudrate = 9600\n");
    assert!(
        msg.contains(
            "unknown key `peripherals.printer.baudrate` (allowed: port, baud, usb_vid, usb_pid)"
        ),
        "{msg}"
    );
    let msg = error_of("[peripherals.scanner]\nport = \"\"\n");
    assert!(msg.contains("unknown key `peripherals.scanner`"), "{msg}");
}

#[rstest]
#[case("server", "request_timeout_secs", "1", "between 2 and 120")]
#[case("server", "heartbeat_minutes", "0", "between 1 and 1440")]
#[case("server", "heartbeat_minutes", "1441", "between 1 and 1440")]
#[case("camera", "width", "100", "between 160 and 3840")]
#[case("camera", "height", "5000", "between 120 and 2160")]
#[case("camera", "fps", "0", "between 1 and 60")]
#[case("camera", "fps", "-3", "between 1 and 60")]
#[case("liveness", "action_timeout_secs", "1", "between 2 and 30")]
#[case("liveness", "total_timeout_secs", "200", "between 5 and 120")]
#[case("matching", "threshold", "1.5", "between 0.2 and 1.0")]
#[case("matching", "threshold", "nan", "between 0.2 and 1.0")]
#[case("matching", "margin", "0.5", "between 0.0 and 0.2")]
#[case("matching", "attempts", "6", "between 1 and 5")]
#[case("audio", "volume", "1.2", "between 0.0 and 1.0")]
#[case("session", "inactivity_timeout_secs", "5", "between 15 and 600")]
#[case("session", "staff_pin_max_failures", "11", "between 1 and 10")]
#[case("session", "staff_lockout_secs", "10", "between 30 and 3600")]
#[case("storage", "retention_days", "0", "between 1 and 3650")]
#[case("storage", "log_retention_files", "0", "between 1 and 365")]
fn out_of_range(
    #[case] section: &str,
    #[case] key: &str,
    #[case] value: &str,
    #[case] allowed: &str,
) {
    let msg = error_of(&format!("[{section}]\n{key} = {value}\n"));
    let shown = if value == "nan" { "NaN" } else { value };
    let expected = format!("{section}.{key} = {shown}: must be {allowed}");
    assert!(msg.contains(&expected), "wanted {expected:?} in:\n{msg}");
}

#[test]
fn action_count_out_of_range_message() {
    let msg = error_of("[liveness]\naction_count = 9\n");
    assert!(
        msg.contains(
            "liveness.action_count = 9: must be between 1 and 4 (and not more than the number \
             of actions in liveness.actions)"
        ),
        "{msg}"
    );
}

#[test]
fn action_count_more_than_actions() {
    let msg = error_of("[liveness]\nactions = [\"blink\", \"turn_left\"]\naction_count = 3\n");
    assert!(
        msg.contains(
            "liveness.action_count = 3: must not be more than the number of actions in \
             liveness.actions (2)"
        ),
        "{msg}"
    );
}

#[test]
fn duplicate_action() {
    let msg = error_of("[liveness]\nactions = [\"blink\", \"turn_left\", \"blink\"]\n");
    assert!(
        msg.contains(
            "liveness.actions[2] = \"blink\": duplicate action (already listed as \
             liveness.actions[0])"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_and_missing_actions() {
    let msg = error_of("[liveness]\nactions = [\"blink\", \"wink\"]\naction_count = 1\n");
    assert!(
        msg.contains(
            "liveness.actions[1] = \"wink\": unknown action (allowed: blink, open_mouth, \
             turn_left, turn_right, raise_head, lower_head)"
        ),
        "{msg}"
    );
    let msg = error_of("[liveness]\nactions = []\n");
    assert!(
        msg.contains("liveness.actions = []: must list at least one action"),
        "{msg}"
    );
}

#[test]
fn total_timeout_must_cover_every_action() {
    let msg = error_of(
        "[liveness]\naction_count = 3\naction_timeout_secs = 10\ntotal_timeout_secs = 20\n",
    );
    assert!(
        msg.contains(
            "liveness.total_timeout_secs = 20: must be at least liveness.action_count × \
             liveness.action_timeout_secs = 3 × 10 = 30"
        ),
        "{msg}"
    );
    assert!(
        load("[liveness]\naction_count = 4\naction_timeout_secs = 30\ntotal_timeout_secs = 120\n")
            .is_ok()
    );
}

#[test]
fn margin_must_be_below_threshold() {
    let msg = error_of("[matching]\nthreshold = 0.2\nmargin = 0.2\n");
    assert!(
        msg.contains("matching.margin = 0.2: must be less than matching.threshold (0.2)"),
        "{msg}"
    );
}

#[rstest]
#[case(
    "camera.width = \"wide\"",
    "camera.width = \"wide\"",
    "expected an integer, found a string"
)]
#[case(
    "camera.mirror = \"yes\"",
    "camera.mirror = \"yes\"",
    "expected a boolean, found a string"
)]
#[case(
    "matching.threshold = \"x\"",
    "matching.threshold = \"x\"",
    "expected a number, found a string"
)]
#[case(
    "liveness.actions = \"blink\"",
    "liveness.actions = \"blink\"",
    "expected an array, found a string"
)]
#[case(
    "liveness.actions = [\"blink\", 3]",
    "liveness.actions[1] = 3",
    "expected a string, found an integer"
)]
#[case("camera = 5", "camera = 5", "expected a table, found an integer")]
#[case(
    "device.site = 1.5",
    "device.site = 1.5",
    "expected a string, found a float"
)]
fn wrong_type(#[case] text: &str, #[case] key_value: &str, #[case] expected: &str) {
    let msg = error_of(text);
    let wanted = format!("{key_value}: wrong type: {expected}");
    assert!(msg.contains(&wanted), "wanted {wanted:?} in:\n{msg}");
}

#[rstest]
#[case("v4l:0", CameraSource::V4lIndex(0))]
#[case("v4l:12", CameraSource::V4lIndex(12))]
#[case("v4l:/dev/video2", CameraSource::V4lName("/dev/video2".to_owned()))]
#[case("v4l:HD USB Camera", CameraSource::V4lName("HD USB Camera".to_owned()))]
#[case("msmf:1", CameraSource::Msmf(1))]
#[case(
    "replay:/tmp/frames",
    CameraSource::Replay(PathBuf::from("/tmp/frames"))
)]
fn camera_schemes(#[case] device: &str, #[case] expected: CameraSource) {
    let config = load(&format!("camera.device = \"{device}\"")).unwrap();
    assert_eq!(config.camera.source, expected);
    assert_eq!(config.camera.source.to_string(), device);
}

#[rstest]
#[case("usb:0", "unknown camera scheme `usb`")]
#[case("video0", "missing camera scheme")]
#[case("v4l:", "nothing after \"v4l:\"")]
#[case("msmf:front", "msmf needs a device index")]
#[case("replay:", "nothing after \"replay:\"")]
fn bad_camera_device(#[case] device: &str, #[case] why: &str) {
    let msg = error_of(&format!("camera.device = \"{device}\""));
    assert!(
        msg.contains(&format!("camera.device = \"{device}\": {why}")),
        "{msg}"
    );
    assert!(msg.contains("allowed: \"v4l:<index>\""), "{msg}");
}

#[test]
fn bad_baud() {
    let msg = error_of("[peripherals.printer]\nbaud = 4800\n");
    assert!(
        msg.contains(
            "peripherals.printer.baud = 4800: must be one of 9600, 19200, 38400, 57600, 115200"
        ),
        "{msg}"
    );
}

#[rstest]
#[case("", SerialPort::Disabled)]
#[case("auto", SerialPort::Auto)]
#[case("/dev/ttyUSB0", SerialPort::Device("/dev/ttyUSB0".to_owned()))]
#[case("COM3", SerialPort::Device("COM3".to_owned()))]
#[case(r"\\.\COM12", SerialPort::Device(r"\\.\COM12".to_owned()))]
fn serial_ports(#[case] port: &str, #[case] expected: SerialPort) {
    let text = format!("[peripherals.card_reader]\nport = '{port}'\n");
    assert_eq!(load(&text).unwrap().peripherals.card_reader.port, expected);
}

#[test]
fn bad_port_and_usb_ids() {
    let msg = error_of(
        "[peripherals.card_reader]\nport = \"ttyUSB0\"\nusb_vid = \"1234\"\nusb_pid = \"0x12345\"\n",
    );
    assert!(
        msg.contains("peripherals.card_reader.port = \"ttyUSB0\": must be \"\" (none), \"auto\""),
        "{msg}"
    );
    assert!(
        msg.contains("peripherals.card_reader.usb_vid = \"1234\": must be a hex USB id"),
        "{msg}"
    );
    assert!(
        msg.contains("peripherals.card_reader.usb_pid = \"0x12345\""),
        "{msg}"
    );
}

#[test]
fn usb_ids_as_strings_or_toml_integers() {
    let config =
        load("[peripherals.printer]\nport = \"auto\"\nusb_vid = \"0x0416\"\nusb_pid = 0x5011\n")
            .unwrap();
    assert_eq!(config.peripherals.printer.usb_vid, Some(0x0416));
    assert_eq!(config.peripherals.printer.usb_pid, Some(0x5011));
}

#[test]
fn bad_locale_url_and_device_id() {
    let msg = error_of(
        "audio.locale = \"en-US\"\nserver.url = \"http://lifecert.example.org\"\n\
         device.id = \"kiosk 7\"\n",
    );
    assert!(
        msg.contains("audio.locale = \"en-US\": must be one of \"zh-CN\""),
        "{msg}"
    );
    assert!(
        msg.contains("server.url = \"http://lifecert.example.org\": plain http:// is allowed only"),
        "{msg}"
    );
    assert!(msg.contains("device.id = \"kiosk 7\": must be"), "{msg}");
}

#[test]
fn receipt_url_needs_the_record_placeholder() {
    assert_eq!(load(DEFAULT_TOML).unwrap().device.receipt_url, None);
    let config = load("[device]\nreceipt_url = \"https://lifecert.example.org/v/{id}\"\n").unwrap();
    assert_eq!(
        config.device.receipt_url.as_deref(),
        Some("https://lifecert.example.org/v/{id}")
    );
    for bad in [
        "https://lifecert.example.org/v/",
        "ftp://lifecert.example.org/{id}",
        "https://社保.example.org/{id}",
    ] {
        let msg = error_of(&format!("[device]\nreceipt_url = \"{bad}\"\n"));
        assert!(msg.contains("device.receipt_url"), "{msg}");
        assert!(msg.contains("{id}"), "{msg}");
    }
}

#[test]
fn missing_file_names_path_and_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    let err = Config::load_with_env(Some(&path), base_env()).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("lifecert check-config"), "{msg}");
    assert!(msg.contains("copy the documented kiosk.toml"), "{msg}");
}

#[test]
fn syntax_error_has_path_line_and_column() {
    let err = Config::load_from(
        "[camera]\nfps = 30\nwidth = \n",
        "/etc/lifecert/kiosk.toml",
        base_env(),
    )
    .unwrap_err();
    let ConfigError::Syntax { line, column, .. } = &err else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!((*line, *column), (3, 9));
    let msg = err.to_string();
    assert!(
        msg.starts_with("TOML syntax error in /etc/lifecert/kiosk.toml at line 3, column 9: "),
        "{msg}"
    );
}

#[test]
fn bad_phc_hash_is_named_but_never_printed() {
    for value in [
        "$argon2id$nonsense",
        "1234",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaA",
    ] {
        let msg = error_of(&format!("[session]\nstaff_pin_hash = '{value}'\n"));
        assert!(
            msg.contains("session.staff_pin_hash = <redacted>: must be an argon2 PHC string"),
            "{msg}"
        );
        assert!(msg.contains("lifecert hash-pin"), "{msg}");
        assert!(!msg.contains(value), "{msg}");
    }
    let msg = error_of("[session]\nstaff_pin_hash = 5\n");
    assert!(
        msg.contains("session.staff_pin_hash = <redacted>: wrong type"),
        "{msg}"
    );
}

#[test]
fn multiple_errors_are_collected_in_one_message() {
    let err = load(
        "bogus = true\n[camera]\nwidth = 1\nfps = 100\nfpss = 1\n[matching]\nthreshold = \"x\"\n\
         [liveness]\naction_count = 9\n[peripherals.printer]\nbaud = 1\n",
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    for key in [
        "bogus",
        "camera.width",
        "camera.fps",
        "camera.fpss",
        "matching.threshold",
        "liveness.action_count",
        "peripherals.printer.baud",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(keys.len(), 7, "{keys:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("invalid configuration in test.toml (7 problems):"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 8, "{msg}");
}

// ---------------------------------------------------------------- environment

#[test]
fn env_overrides_number_bool_array_string_and_nested_keys() {
    let env = env_with(&[
        ("LIFECERT__CAMERA__FPS", "15"),
        ("LIFECERT__CAMERA__MIRROR", "false"),
        ("LIFECERT__CAMERA__DEVICE", "v4l:/dev/video2"),
        ("LIFECERT__LIVENESS__ACTIONS", r#"["blink","turn_left"]"#),
        ("LIFECERT__MATCHING__THRESHOLD", "0.45"),
        ("LIFECERT__PERIPHERALS__PRINTER__BAUD", "19200"),
        ("LIFECERT__PERIPHERALS__PRINTER__USB_VID", "0x0416"),
        ("LIFECERT__DEVICE__ID", "12345"),
        ("LIFECERT__DEVICE__SITE", "true"),
        ("LIFECERT_LOG", "debug"),
        ("PATH", "/usr/bin"),
    ]);
    let config = Config::load_from("[camera]\nfps = 25\n", "t", env).unwrap();
    assert_eq!(config.camera.fps, 15, "environment wins over the file");
    assert!(!config.camera.mirror);
    assert_eq!(
        config.camera.source,
        CameraSource::V4lName("/dev/video2".to_owned())
    );
    assert_eq!(config.liveness.actions, [Action::Blink, Action::TurnLeft]);
    assert_eq!(config.matching.threshold, 0.45);
    assert_eq!(config.peripherals.printer.baud, 19_200);
    assert_eq!(config.peripherals.printer.usb_vid, Some(0x0416));
    assert_eq!(config.device.id.as_deref(), Some("12345"));
    assert_eq!(config.device.site, "true");
}

#[test]
fn env_override_with_unknown_key_errors() {
    let env = env_with(&[("LIFECERT__CAMERA__FPSS", "30")]);
    let err = Config::load_from("", "t", env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "unknown key `camera.fpss` (allowed: device, width, height, fps, mirror, usb_vid, \
             usb_pid, usb_serial, allow_virtual) (set by environment variable \
             LIFECERT__CAMERA__FPSS)"
        ),
        "{msg}"
    );
    let env = env_with(&[("LIFECERT__CAMERAS__FPS", "30")]);
    let msg = Config::load_from("", "t", env).unwrap_err().to_string();
    assert!(msg.contains("unknown key `cameras`"), "{msg}");
}

#[test]
fn env_override_bad_value_names_the_variable() {
    let env = env_with(&[("LIFECERT__LIVENESS__ACTION_COUNT", "9")]);
    let msg = Config::load_from("", "t", env).unwrap_err().to_string();
    assert!(
        msg.contains("liveness.action_count = 9: must be between 1 and 4"),
        "{msg}"
    );
    assert!(
        msg.contains("(set by environment variable LIFECERT__LIVENESS__ACTION_COUNT)"),
        "{msg}"
    );
}

proptest! {
    #[test]
    fn env_fps_accepted_exactly_in_range(fps in -100i64..200) {
        let env = env_with(&[("LIFECERT__CAMERA__FPS", &fps.to_string())]);
        let result = Config::load_from("", "t", env);
        prop_assert_eq!(result.is_ok(), (1..=60).contains(&fps));
    }
}

// ---------------------------------------------------------------- output

#[test]
fn redacted_toml_hides_the_hash_and_round_trips() {
    let config = load(
        "[server]\nurl = \"https://lifecert.example.org\"\n[camera]\nfps = 24\n\
         [device]\nsite = \"某某村便民服务点\"\n",
    )
    .unwrap();
    let text = config.to_redacted_toml();
    assert!(!text.contains(DEMO_PIN_HASH), "{text}");
    assert!(!text.contains("$argon2"), "{text}");
    assert!(
        text.contains(&format!("staff_pin_hash = \"{REDACTED}\"")),
        "{text}"
    );
    assert!(text.contains("fps = 24"), "{text}");
    assert!(
        text.contains("url = \"https://lifecert.example.org\""),
        "{text}"
    );
    assert!(text.contains("某某村便民服务点"), "{text}");

    // With the redacted value put back, the output is the same configuration.
    let restored = text.replace(REDACTED, DEMO_PIN_HASH);
    assert_eq!(load(&restored).unwrap(), config);
    // As printed, only the hash is rejected.
    let err = load(&text).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["session.staff_pin_hash"]);
}

#[test]
fn debug_output_does_not_leak_the_hash() {
    let config = load("").unwrap();
    assert!(!format!("{config:?}").contains("$argon2"));
}

#[test]
fn warnings_for_demo_pin_and_no_server() {
    let warnings = load("").unwrap().warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("demo PIN") && w.contains("lifecert hash-pin")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("server.url is empty")),
        "{warnings:?}"
    );

    let hash = hash_pin("97531").unwrap();
    let text = format!(
        "[server]\nurl = \"https://lifecert.example.org\"\n[session]\nstaff_pin_hash = '{hash}'\n"
    );
    assert_eq!(load(&text).unwrap().warnings(), Vec::<String>::new());
}

#[test]
fn a_fresh_hash_of_the_demo_pin_is_still_flagged() {
    let hash = hash_pin(DEMO_PIN).unwrap();
    assert_ne!(hash, DEMO_PIN_HASH, "random salt");
    let config = load(&format!("session.staff_pin_hash = '{hash}'")).unwrap();
    assert!(config.warnings().iter().any(|w| w.contains("demo PIN")));
}

#[test]
fn slow_pacing_multiplies_timeouts() {
    let config = load("[liveness]\nslow_pacing = true\n").unwrap();
    assert_eq!(config.liveness.action_timeout, Duration::from_secs(5));
    assert_eq!(
        config.liveness.effective_action_timeout(),
        Duration::from_millis(7500)
    );
    assert_eq!(
        config.liveness.effective_total_timeout(),
        Duration::from_secs(30)
    );
}

// ---------------------------------------------------------------- PIN

#[test]
fn hash_pin_round_trip() {
    let hash = hash_pin("4821").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verify_pin(&hash, "4821"));
    assert!(!verify_pin(&hash, "4822"));
    assert!(!verify_pin("not a hash", "4821"));
    assert!(verify_pin(DEMO_PIN_HASH, DEMO_PIN));
}

#[rstest]
#[case("")]
#[case("123")]
#[case("123456789")]
#[case("12a4")]
#[case("12 34")]
#[case("-1234")]
fn hash_pin_rejects_bad_pins(#[case] pin: &str) {
    assert_eq!(hash_pin(pin), Err(PinError::Format));
}
