//! `lifecert eval` on a small manifest of shared files (symlinked into a temp
//! dir, never copied into the project), and its pure pieces.
//!
//! Skips with a message when `../shared/testdata` or the models are missing;
//! missing models fail under CI (the test command builds them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Command;

use lifecert::eval::{annotated_actions, is_single_identity, read_manifest, roc};
use lifecert_core::action::Action;

mod common;
use common::{faces, models, repo};

#[test]
fn roc_figures_of_separated_and_overlapping_scores() {
    let r = roc(&[0.1, 0.2, 0.3], &[0.6, 0.7, 0.8, 0.9]).unwrap();
    assert_eq!(r.auc, 1.0);
    assert_eq!(r.eer, 0.0);
    assert_eq!(r.tar_far_1, 1.0);
    let r = roc(&[0.1, 0.5, 0.9], &[0.3, 0.7]).unwrap();
    assert!((r.auc - 0.5).abs() < 1e-9, "{r:?}");
    assert!(r.eer > 0.2 && r.eer < 0.6, "{r:?}");
    assert!(roc(&[], &[0.5]).is_none());
    assert!(is_single_identity("obama"));
    for id in ["obama+biden", "unknown_man_A", "none", "collage_bald_men"] {
        assert!(!is_single_identity(id), "{id}");
    }
}

#[test]
fn shared_annotations_give_the_expected_actions() {
    let Some(dir) = faces() else { return };
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    assert_eq!(
        annotated_actions(&read("video_blink_repeating/blink_selfie/ANNOTATIONS.tsv")),
        vec![Action::Blink]
    );
    assert_eq!(
        annotated_actions(&read("video_mouth_open_mauckc/webcam_man/ANNOTATIONS.tsv")),
        vec![Action::OpenMouth]
    );
    assert_eq!(
        annotated_actions(&read("video_headpose_shenasa/webcam_woman/ANNOTATIONS.tsv")),
        vec![
            Action::TurnLeft,
            Action::TurnRight,
            Action::RaiseHead,
            Action::LowerHead
        ]
    );
}

/// A manifest of a few shared files, linked under the same relative paths.
fn small_manifest(shared: &Path, tmp: &Path) -> PathBuf {
    let rows = [
        (
            "face_recognition_examples/obama/obama.jpg",
            "obama",
            "frontal;eyes_open;smile_teeth",
        ),
        (
            "face_recognition_examples/obama/obama1.jpg",
            "obama",
            "frontal;eyes_open;mouth_closed",
        ),
        (
            "trueface_samples/identity/obama/obama2.jpg",
            "obama",
            "near_frontal;eyes_open;mouth_closed",
        ),
        (
            "face_recognition_examples/biden/biden.jpg",
            "biden",
            "frontal;eyes_open;small_face",
        ),
        (
            "face_recognition_examples/biden/biden2.jpg",
            "biden",
            "frontal;eyes_open;smile_teeth",
        ),
        (
            "trueface_samples/identity/tom_cruise/tom_cruise_1.jpg",
            "tom_cruise",
            "frontal;eyes_open;mouth_closed",
        ),
        (
            "trueface_samples/identity/tom_cruise/tom_cruise_2.jpg",
            "tom_cruise",
            "frontal;eyes_open;smile",
        ),
        (
            "trueface_samples/eyes/closed_eyes.jpg",
            "unknown_man_L",
            "frontal;eyes_closed;mouth_closed",
        ),
        (
            "face_recognition_examples/_multi/two_people.jpg",
            "obama+biden",
            "multi_face;frontal",
        ),
        (
            "antispoof_silentface/spoof/image_F1.jpg",
            "unknown_woman_H",
            "spoof_print;near_frontal;eyes_open",
        ),
    ];
    let mut text = String::from("file\tidentity\tstate_tags\tsource\tlicense\tresolution\tnotes\n");
    for (file, id, tags) in rows {
        let link = tmp.join(file);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(shared.join(file).canonicalize().unwrap(), &link).unwrap();
        text.push_str(&format!("{file}\t{id}\t{tags}\ttest\ttest\t\t\n"));
    }
    let manifest = tmp.join("MANIFEST.tsv");
    std::fs::write(&manifest, text).unwrap();
    manifest
}

#[test]
fn eval_reports_every_section_with_sane_numbers() {
    let Some(shared) = faces() else { return };
    if models().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let manifest = small_manifest(&shared, tmp.path());
    assert_eq!(read_manifest(&manifest).unwrap().len(), 10);
    let report_path = tmp.path().join("EVAL.md");
    let out = Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(["eval", "--manifest"])
        .arg(&manifest)
        .arg("--out")
        .arg(&report_path)
        .env("LIFECERT__VISION__MODELS_DIR", repo().join("models"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&report_path).unwrap();
    println!("{report}");
    assert!(report.contains("lifecert eval --manifest"), "command line");
    for section in [
        "## Verification",
        "## Stills: eyes, mouth, yaw",
        "## Clips: liveness challenges",
        "## Attacks: APCER / BPCER",
    ] {
        assert!(report.contains(section), "missing {section}");
    }
    // 7 single-identity images of 3 people: 5 genuine and 16 impostor pairs,
    // well separated.
    let single = report
        .lines()
        .find(|l| l.starts_with("| single frame |"))
        .unwrap();
    let cols: Vec<&str> = single.split('|').map(str::trim).collect();
    assert_eq!(cols[2], "5", "{single}");
    assert_eq!(cols[3], "16", "{single}");
    let auc: f64 = cols[4].parse().unwrap();
    assert!(auc >= 0.95, "{single}");
    assert!(report.contains("| multi-frame template |"));
    // The closed-eyes still is judged closed; the printed photo passes nothing.
    let closed = report
        .lines()
        .find(|l| l.starts_with("| eyes closed |"))
        .unwrap();
    assert!(closed.contains("| 1/1 (100.0 %) |"), "{closed}");
    let print = report
        .lines()
        .find(|l| l.starts_with("| spoof_print |"))
        .unwrap();
    assert!(print.contains("| 0/6 (0.0 %) |"), "{print}");
    assert!(!report.contains("## Errors"), "{report}");
}
