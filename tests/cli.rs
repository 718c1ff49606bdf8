//! The real `lifecert` binary: exit codes and messages of its subcommands.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn lifecert(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(args)
        .env("LIFECERT__STORAGE__DATA_DIR", data_dir)
        .env_remove("LIFECERT_LOG")
        .output()
        .unwrap()
}

fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.toml")).unwrap()
}

#[test]
fn check_config_accepts_the_shipped_file_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.toml");
    let out = lifecert(&["check-config", path.to_str().unwrap()], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("inactivity_timeout_secs"), "{stdout}");
    assert!(stdout.contains("<redacted>"), "{stdout}");
    assert!(!stdout.contains("$argon2"), "the PIN hash leaked: {stdout}");
    // The shipped demo PIN is flagged.
    assert!(String::from_utf8_lossy(&out.stderr).contains("246810"));
}

#[test]
fn udev_rules_come_from_the_configured_usb_ids() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .arg("udev-rules")
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env("LIFECERT__PERIPHERALS__CARD_READER__USB_VID", "0x1A86")
        .env("LIFECERT__PERIPHERALS__CARD_READER__USB_PID", "0x7523")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("SUBSYSTEM"))
        .collect();
    assert_eq!(rules.len(), 1, "{stdout}");
    assert!(
        rules[0].contains(r#"ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523""#),
        "{stdout}"
    );
    assert!(
        rules[0].contains(r#"SYMLINK+="lifecert/card-reader""#),
        "{stdout}"
    );
    // The printer has no ids in the embedded defaults: advice, no rule.
    assert!(
        stdout.contains("set [peripherals.printer] usb_vid and usb_pid"),
        "{stdout}"
    );

    // A bad id is a configuration error (exit 2), not a broken rules file.
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .arg("udev-rules")
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env("LIFECERT__PERIPHERALS__PRINTER__USB_VID", "zz")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usb_vid"));
}

#[test]
fn check_config_rejects_an_unknown_key_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    let text = format!("{}\n[camera_extra]\nzoom_factor = 3\n", shipped_config());
    std::fs::write(&path, text).unwrap();
    let out = lifecert(&["check-config", path.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("camera_extra"), "{stderr}");

    // An unknown key inside a known section, appended at the end of the file.
    let mut text = shipped_config();
    text.push_str("\n[audio.extra]\nbass_boost = true\n");
    std::fs::write(&path, text).unwrap();
    let out = lifecert(&["check-config", path.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("extra"));
}

#[test]
fn check_config_reports_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = lifecert(&["check-config", missing.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn bad_environment_override_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .arg("check-config")
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env("LIFECERT__SESSION__INACTIVITY_TIMEOUT_SECS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("session.inactivity_timeout_secs"),
        "{stderr}"
    );
}

#[test]
fn kiosk_run_and_queue_status_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = lifecert(&["status"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Result queue"), "{stdout}");
    assert!(dir.path().join("lifecert.db").exists());
    // The rolling log file is written under the data dir by default.
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .collect();
    assert!(!logs.is_empty());

    let out = lifecert(&["queue", "status"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.to_lowercase().contains("pending"), "{stdout}");
}

#[test]
fn hash_pin_reads_stdin_and_rejects_bad_pins() {
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecert"))
            .arg("hash-pin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = run("135790\n");
    assert_eq!(ok.status.code(), Some(0));
    let hash = String::from_utf8_lossy(&ok.stdout);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(lifecert::config::verify_pin(hash.trim(), "135790"));
    let bad = run("12ab\n");
    assert_eq!(bad.status.code(), Some(2));
}
