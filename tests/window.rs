//! The real binary opens its real window (eframe + glow on
//! Mesa's software renderer) under a virtual X server, reaches the attract
//! screen and reports its start-up time and memory (`--bench-startup`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A private Xvfb display, killed on drop.
struct Xvfb {
    child: std::process::Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let n: u32 = line.trim().parse().ok()?;
        Some(Xvfb {
            child,
            display: format!(":{n}"),
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_real_window_reaches_the_attract_screen_under_xvfb() {
    let Some(x) = Xvfb::start() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Xvfb is missing under CI: apt-get install xvfb"
        );
        eprintln!("SKIP: Xvfb not installed (apt-get install xvfb)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The camera stays off on the attract screen; it only has to exist.
    let camera = dir.path().join("camera.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([128, 128, 128]))
        .save(&camera)
        .unwrap();
    // A kiosk registered with a server that is down (the network being out is
    // no reason to close): an unregistered kiosk is out of service instead.
    lifecert::sync::register::load_or_create_device_key(&dir.path().join("device.key")).unwrap();
    lifecert::sync::register::Registration {
        server_url: "https://127.0.0.1:9".into(),
        device_id: "kiosk-window-test".into(),
        sealing_key: lifecert_protocol::seal::OpeningKey::generate()
            .public()
            .to_b64(),
        registered_at: time::OffsetDateTime::now_utc(),
    }
    .save(dir.path())
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .arg("--bench-startup")
        // Never hang: close after 120 s whatever happens (the assert below then fails).
        .args(["--quit-after", "120"])
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env(
            "LIFECERT__CAMERA__DEVICE",
            format!("replay:{}", camera.display()),
        )
        .env("LIFECERT__AUDIO__VOLUME", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("startup: attract screen after"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn without_a_display_the_kiosk_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env("LIFECERT__AUDIO__VOLUME", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs a display") || stderr.contains("fonts-noto-cjk"),
        "{stderr}"
    );
}

#[test]
fn a_bad_font_path_stops_start_up_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("nofont.ttf");
    std::fs::write(&bogus, b"not a font").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .env("LIFECERT__STORAGE__DATA_DIR", dir.path())
        .env("LIFECERT__DISPLAY__FONT_PATH", &bogus)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("display.font_path"), "{stderr}");
    assert!(stderr.contains("not a font"), "{stderr}");
}
