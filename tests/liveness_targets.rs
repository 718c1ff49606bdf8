//! Liveness and matching targets on the shared recordings, through the real
//! `lifecert verify` binary (the same driver the kiosk uses).
//!
//! Skips with a message when `../shared/testdata` or the models are missing;
//! missing models fail under CI (the test command builds them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Command;

use lifecert::analysis::embed_frame;
use lifecert::camera::{Pacing, open_replay};
use lifecert_vision::{Analyzer, EMBEDDING_MODEL_ID, TEMPLATE_VERSION, Template};
use serde_json::Value;

mod common;
use common::{faces_and_models as faces, models, repo};

/// A template enrolled from frame `index` of a recording (in a temp dir).
fn template_from(recording: &Path, index: u64, dir: &Path) -> PathBuf {
    let mut analyzer = Analyzer::new(models().unwrap());
    let mut source = open_replay(recording, Pacing::AsFastAsPossible).unwrap();
    let frame = loop {
        let timed = source.next_frame().unwrap().unwrap();
        if timed.index == index {
            break timed.frame;
        }
    };
    let embedding = embed_frame(&mut analyzer, &frame).unwrap().unwrap();
    let path = dir.join(format!("template-{index}.json"));
    Template {
        model_id: EMBEDDING_MODEL_ID.to_string(),
        version: TEMPLATE_VERSION,
        frames: 1,
        embedding,
    }
    .save(&path)
    .unwrap();
    path
}

/// Runs `lifecert verify ... --json`; returns the exit code and the report.
fn verify(args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifecert"));
    cmd.arg("verify")
        .args(args)
        .arg("--json")
        .env("LIFECERT__VISION__MODELS_DIR", repo().join("models"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn blink_clip_passes_the_blink_challenge() {
    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let template = template_from(&clip, 5, tmp.path());
    let (code, report) = verify(
        &[
            "--template",
            s(&template),
            "--input",
            s(&clip),
            "--challenges",
            "blink",
        ],
        &[],
    );
    println!("{report}");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["liveness"]["passed"], true);
    assert_eq!(report["matching"]["decision"], "match");
    assert!(report["liveness"]["actions"][0]["done_s"].is_number());
    // The real blinks pass the physical checks: no jump, no cut, at the
    // clip's 24 fps one frame between the levels is asked for.
    let checks = &report["liveness"]["checks"];
    assert_eq!(checks["abrupt_transitions"], 0, "{report}");
    assert_eq!(checks["cuts"], 0, "{report}");
    assert_eq!(checks["mid_frames_required"], 1, "{report}");
}

/// Frame `index` of `clip` as a PNG (ffmpeg), for building attacks.
fn extract_frame(clip: &Path, index: u32, out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i", s(clip), "-vf"])
        .arg(format!("select=eq(n\\,{index})"))
        .args(["-vframes", "1", s(out)])
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg could not extract frame {index}");
}

/// A two-photo slideshow on a screen, seen by a 30 fps camera: `open` for
/// 0.5 s, `closed` for 0.3 s, eight times, cut with no frame in between.
fn slideshow(open: &Path, closed: &Path, dir: &Path) -> PathBuf {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    let mut n = 0;
    for _ in 0..8 {
        for (src, count) in [(open, 15), (closed, 9)] {
            for _ in 0..count {
                std::fs::copy(src, frames.join(format!("f{n:04}.png"))).unwrap();
                n += 1;
            }
        }
    }
    let out = dir.join("slideshow.mp4");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-framerate", "30", "-i"])
        .arg(frames.join("f%04d.png"))
        .args([
            "-c:v",
            "libx264",
            "-crf",
            "12",
            "-pix_fmt",
            "yuv420p",
            s(&out),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not encode the slideshow");
    out
}

#[test]
fn a_two_photo_slideshow_of_the_victim_fails_the_blink_on_its_transitions() {
    // Frames 5 (eyes open, EAR 0.30) and 11 (closed, 0.03) of the blink clip,
    // swapped with no frame in between: the victim's own face, so matching
    // alone would accept it. The eyelid never passes between the levels.
    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let template = template_from(&clip, 5, tmp.path());
    let (open, closed) = (tmp.path().join("open.png"), tmp.path().join("closed.png"));
    extract_frame(&clip, 5, &open);
    extract_frame(&clip, 11, &closed);
    let attack = slideshow(&open, &closed, tmp.path());
    let (code, report) = verify(
        &[
            "--template",
            s(&template),
            "--input",
            s(&attack),
            "--challenges",
            "blink",
            "--loop",
        ],
        &[],
    );
    println!("{report}");
    assert_eq!(code, 1, "{report}");
    let reason = report["liveness"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("AbruptTransition"), "{report}");
    let checks = &report["liveness"]["checks"];
    assert!(
        checks["abrupt_transitions"].as_u64().unwrap() >= 2,
        "{report}"
    );
    assert_eq!(checks["mid_frames_required"], 1);
    assert!((checks["frame_interval_ms"].as_f64().unwrap() - 1000.0 / 30.0).abs() < 1.0);
}

#[test]
fn mouth_clip_passes_the_open_mouth_challenge() {
    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = dir.join("video_mouth_open_mauckc/webcam_man/mouth_open.mp4");
    let template = template_from(&clip, 8, tmp.path());
    let (code, report) = verify(
        &[
            "--template",
            s(&template),
            "--input",
            s(&clip),
            "--challenges",
            "open_mouth",
        ],
        &[],
    );
    println!("{report}");
    assert_eq!(code, 0, "{report}");
    // Opening the mouth is not taken for a head turn. (Not "blink": the man
    // blinks on his own at 1.4 s, as live people do.)
    for other in ["left", "right"] {
        let (code, report) = verify(&["--input", s(&clip), "--challenges", other], &[]);
        assert_eq!(code, 1, "{other}: {report}");
    }
}

#[test]
fn headpose_clip_turns_and_nods_when_asked() {
    let Some(dir) = faces() else { return };
    let clip = dir.join("video_headpose_shenasa/webcam_woman/sample.gif");
    // An 8.8 s recording cannot answer a prompt: it is looped, and each action
    // may take one loop.
    let slow = [
        ("LIFECERT__LIVENESS__ACTION_TIMEOUT_SECS", "12"),
        ("LIFECERT__LIVENESS__TOTAL_TIMEOUT_SECS", "30"),
    ];
    for challenge in ["turn_left", "turn_right", "raise_head", "lower_head"] {
        let (code, report) = verify(
            &["--loop", "--input", s(&clip), "--challenges", challenge],
            &slow,
        );
        println!("{challenge}: {}", report["liveness"]);
        assert_eq!(code, 0, "{challenge}: {report}");
    }
}

#[test]
fn a_still_image_fails_every_challenge() {
    let Some(dir) = faces() else { return };
    let photo = dir.join("skimage_data/astronaut.png");
    for challenge in [
        "blink",
        "open_mouth",
        "turn_left",
        "turn_right",
        "raise_head",
        "lower_head",
    ] {
        let (code, report) = verify(&["--input", s(&photo), "--challenges", challenge], &[]);
        assert_eq!(code, 1, "{challenge}: {report}");
        assert_eq!(report["liveness"]["passed"], false, "{challenge}");
    }
}

#[test]
fn printed_and_screen_spoofs_fail() {
    let Some(dir) = faces() else { return };
    for spoof in ["spoof/image_F1.jpg", "spoof/image_F2.jpg"] {
        let photo = dir.join("antispoof_silentface").join(spoof);
        for challenge in ["blink", "turn_left", "lower_head"] {
            let (code, report) = verify(&["--input", s(&photo), "--challenges", challenge], &[]);
            assert_eq!(code, 1, "{spoof} {challenge}: {report}");
        }
    }
}

#[test]
fn another_persons_template_fails_on_matching() {
    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let other = template_from(
        &dir.join("video_mouth_open_mauckc/webcam_man/mouth_open.mp4"),
        8,
        tmp.path(),
    );
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let (code, report) = verify(
        &[
            "--template",
            s(&other),
            "--input",
            s(&clip),
            "--challenges",
            "blink",
        ],
        &[],
    );
    println!("{report}");
    assert_eq!(code, 1);
    assert_eq!(report["liveness"]["passed"], true, "liveness itself passes");
    assert_eq!(report["matching"]["decision"], "no_match");
}

#[test]
fn verify_is_deterministic_and_reports_errors() {
    let Some(dir) = faces() else { return };
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let first = verify(&["--input", s(&clip), "--seed", "7"], &[]);
    let second = verify(&["--input", s(&clip), "--seed", "7"], &[]);
    assert_eq!(first, second);
    assert_eq!(first.1["seed"], 7);
    // Bad input is an error (exit 2), not a verdict.
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(["verify", "--input", "/nonexistent/clip.mp4"])
        .env("LIFECERT__VISION__MODELS_DIR", repo().join("models"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(["verify", "--input", s(&clip), "--challenges", "wink"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wink"));
}

/// Offline sessions (no template on the device): liveness passes and the
/// session hands over the evidence embedding the server will match. It must
/// be the live person's face: close to their template, far from another's.
#[test]
fn offline_session_yields_evidence_of_the_live_face() {
    use lifecert::config::Config;
    use lifecert_core::action::Action;
    use lifecert_core::liveness::Plan;

    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let same = Template::load(&template_from(&clip, 5, tmp.path())).unwrap();
    let other = Template::load(&template_from(
        &dir.join("video_mouth_open_mauckc/webcam_man/mouth_open.mp4"),
        8,
        tmp.path(),
    ))
    .unwrap();
    let env = [
        (
            "LIFECERT__VISION__MODELS_DIR".to_string(),
            repo().join("models").display().to_string(),
        ),
        (
            "LIFECERT__STORAGE__DATA_DIR".to_string(),
            tmp.path().display().to_string(),
        ),
    ];
    let config = Config::load_with_env(None, env).unwrap();
    let plan = Plan {
        seed: 7,
        actions: vec![Action::Blink],
    };
    let report =
        lifecert::verify::replay_session(&config, models().unwrap(), &clip, plan, None, false)
            .unwrap();
    assert!(report.liveness.passed(), "liveness passes offline");
    let evidence = report
        .evidence
        .expect("evidence when liveness passed without a template");
    assert!(evidence.is_finite());
    let to_same = evidence.distance(&same.embedding);
    let to_other = evidence.distance(&other.embedding);
    println!("evidence distance: same person {to_same:.3}, other person {to_other:.3}");
    assert!(to_same < 0.5, "the server would match it: {to_same}");
    assert!(
        to_other > 0.5,
        "another person's template would not: {to_other}"
    );
}

/// The generated attack suite (`lifecert attacks make`): the mouth clip
/// replayed on a simulated phone and injected as a virtual camera, both of
/// the victim with the victim's template, fail on the screen-light
/// challenge; the genuine clip passes it with the figures in the record.
#[test]
fn replays_and_injected_feeds_fail_the_screen_light_and_the_real_face_passes_it() {
    let Some(dir) = faces() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = dir.join("video_mouth_open_mauckc/webcam_man/mouth_open.mp4");
    let template = template_from(&clip, 30, tmp.path());
    let suite = tmp.path().join("attacks");
    for only in ["injected_mouth", "screen_replay_mouth"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
            .args(["attacks", "make", "--out", s(&suite), "--faces", s(&dir)])
            .args(["--only", only])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{only}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let made = suite.join(format!("{only}.mp4"));
        assert!(made.is_file() && suite.join(format!("{only}.mp4.scene.json")).is_file());
        let (code, report) = verify(
            &[
                "--template",
                s(&template),
                "--input",
                s(&made),
                "--challenges",
                "open_mouth",
            ],
            &[],
        );
        println!("{only}: {report}");
        assert_eq!(code, 1, "{only}: {report}");
        assert!(
            report["liveness"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("ScreenLight"),
            "{only}: {report}"
        );
        assert_eq!(report["liveness"]["flash"]["verdict"], "no_response");
        assert_eq!(report["record"]["outcome"], "screen_light");
    }
    let (code, report) = verify(
        &[
            "--template",
            s(&template),
            "--input",
            s(&clip),
            "--challenges",
            "open_mouth",
        ],
        &[],
    );
    assert_eq!(code, 0, "{report}");
    let flash = &report["record"]["flash"];
    assert_eq!(flash["verdict"], "passed", "{report}");
    assert!(flash["correlation"].as_f64().unwrap() > 0.9, "{report}");
    assert_eq!(flash["tints"].as_array().unwrap().len(), 6);
    assert_eq!(report["record"]["camera"], "replay");
    // An unknown scene in a sidecar is an error that names it, not a guess.
    let bad = tmp.path().join("bad.mp4");
    std::fs::copy(&clip, &bad).unwrap();
    std::fs::write(
        tmp.path().join("bad.mp4.scene.json"),
        r#"{"scene":"hologram","species":"x","description":"","plans":[],"victim":"v","enrol_at_secs":0}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(["verify", "--input", s(&bad), "--challenges", "blink"])
        .env("LIFECERT__VISION__MODELS_DIR", repo().join("models"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hologram"));
}
