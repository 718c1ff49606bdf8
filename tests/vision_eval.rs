//! Vision against the shared recordings and photos: the blink clip, the head-pose
//! clip, identity verification (ROC), and the real `analyze` / `compare` binaries.
//!
//! Reads `../shared/testdata/faces` (never copied into the project). Skips with a
//! message when it or the models are missing, except that missing models fail
//! under CI (the test command builds them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Command;

use lifecert::analysis::embed_frame;
use lifecert::camera::{Pacing, open_replay};
use lifecert::eval::{is_image, is_single_identity, pair_distances, roc_auc};
use lifecert_vision::{Analyzer, Embedding, PrimaryFace, load_image};

mod common;
use common::{faces, models, repo};

/// Per-frame (t, primary face) of a recording.
fn series(path: &Path) -> Vec<(f64, Option<PrimaryFace>)> {
    let mut analyzer = Analyzer::new(models().unwrap());
    let mut source = open_replay(path, Pacing::AsFastAsPossible).unwrap();
    let mut out = Vec::new();
    while let Some(timed) = source.next_frame().unwrap() {
        let analysis = analyzer.analyze(&timed.frame).unwrap();
        out.push((timed.timestamp.as_secs_f64(), analysis.primary));
    }
    out
}

fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Relative EAR dip a blink must reach (closed / open baseline).
const BLINK_DIP: f32 = 0.65;

#[test]
fn blink_clip_ear_dips_at_each_annotated_blink() {
    let (Some(dir), Some(_)) = (faces(), models()) else {
        return;
    };
    let clip = dir.join("video_blink_repeating/blink_selfie");
    let frames = series(&clip.join("video.mp4"));
    let events: Vec<(f64, f64, String)> = read_tsv(&clip.join("ANNOTATIONS.tsv"))
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap(), r[2].clone()))
        .collect();
    let ear = |p: &PrimaryFace| (p.ear_left + p.ear_right) / 2.0;
    let near_event = |t: f64| events.iter().any(|(a, b, _)| t >= a - 0.3 && t <= b + 0.3);
    let with_face = frames.iter().filter(|(_, p)| p.is_some()).count();
    assert!(
        with_face * 10 >= frames.len() * 9,
        "face in {with_face}/{} frames",
        frames.len()
    );
    let baseline = median(
        frames
            .iter()
            .filter(|(t, _)| !near_event(*t))
            .filter_map(|(_, p)| p.as_ref().map(ear))
            .collect(),
    );
    println!(
        "blink clip: {} frames, open-eye EAR baseline {baseline:.3}",
        frames.len()
    );
    for (start, end, kind) in &events {
        let window: Vec<f32> = frames
            .iter()
            .filter(|(t, _)| *t >= start - 0.2 && *t <= end + 0.2)
            .filter_map(|(_, p)| p.as_ref().map(ear))
            .collect();
        let min = window.iter().copied().fold(f32::INFINITY, f32::min);
        println!(
            "  {kind:<12} {start:>5.1}-{end:<5.1} min EAR {min:.3} ({:.0}% of baseline)",
            100.0 * min / baseline
        );
        assert!(
            min < BLINK_DIP * baseline,
            "no EAR dip at the {kind} {start}-{end} s: min {min:.3}, baseline {baseline:.3}"
        );
    }
    // And no dips where nothing happens: at most a few stray frames.
    let outside: Vec<f32> = frames
        .iter()
        .filter(|(t, _)| !near_event(*t))
        .filter_map(|(_, p)| p.as_ref().map(ear))
        .collect();
    let false_dips = outside
        .iter()
        .filter(|e| **e < BLINK_DIP * baseline)
        .count();
    println!(
        "  frames away from events: {}, below the dip level: {false_dips}",
        outside.len()
    );
    assert!(false_dips * 50 <= outside.len(), "{false_dips} false dips");
}

/// The burned-in readings lag the picture by up to this many frames (the
/// recorder drew each estimate over a later frame: our series reaches the
/// annotated 26° of frame 5 at frame 7).
const OVERLAY_LAG_FRAMES: usize = 2;
/// Beyond this annotated yaw the far cheek is hidden and the mesh's depth
/// saturates near 40°; such frames are checked for direction and a strong
/// turn (≥ 30°, well past the 20° liveness threshold) instead of ±10°.
const MESH_YAW_RELIABLE_DEG: f32 = 45.0;

#[test]
fn headpose_clip_follows_the_annotated_readings() {
    let (Some(dir), Some(_)) = (faces(), models()) else {
        return;
    };
    let clip = dir.join("video_headpose_shenasa/webcam_woman");
    let frames = series(&clip.join("sample.gif"));
    let rows = read_tsv(&clip.join("ANNOTATIONS.tsv"));
    // The burned-in readings: yaw > 0 = nose toward the image right (= ours),
    // pitch > 0 = head up (ours grows when the head goes down and is offset by
    // the mesh's frontal reading: MODELS.md §6.4). Pitch is compared as a
    // change from the near-frontal first frame.
    let ours = |i: usize| {
        frames[i]
            .1
            .as_ref()
            .unwrap_or_else(|| panic!("no face in frame {i}"))
    };
    let (pitch0, ann_pitch0) = (ours(0).pitch, rows[0][2].parse::<f32>().unwrap());
    let pitch_up = |i: usize| -(ours(i).pitch - pitch0) + ann_pitch0;
    let mut failures = Vec::new();
    for r in &rows {
        let i: usize = r[0].parse().unwrap();
        let (yaw, pitch): (f32, f32) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        // The frame within the overlay lag that agrees best.
        let window = i..=(i + OVERLAY_LAG_FRAMES).min(frames.len() - 1);
        let best = window
            .min_by(|a, b| {
                let cost = |k: usize| {
                    (ours(k).yaw.clamp(-40.0, 40.0) - yaw.clamp(-40.0, 40.0)).abs()
                        + (pitch_up(k) - pitch).abs()
                };
                cost(*a).total_cmp(&cost(*b))
            })
            .unwrap();
        let p = ours(best);
        println!(
            "frame {i:>2} (best {best:>2}): yaw {:>6.1} (annotated {yaw:>4})  pitch-up {:>6.1} (annotated {pitch:>4})  roll {:>6.1}  [{}]",
            p.yaw,
            pitch_up(best),
            p.roll,
            r[4]
        );
        if yaw.abs() >= 15.0 && p.yaw.signum() != yaw.signum() {
            failures.push(format!("yaw sign at frame {i}"));
        }
        if yaw.abs() > MESH_YAW_RELIABLE_DEG {
            if p.yaw.abs() < 30.0 {
                failures.push(format!(
                    "weak strong turn at frame {i}: {:.1} vs {yaw}",
                    p.yaw
                ));
            }
        } else if (p.yaw - yaw).abs() > 10.0 {
            failures.push(format!("yaw at frame {i}: {:.1} vs {yaw}", p.yaw));
        }
        if (pitch - ann_pitch0).abs() >= 15.0
            && (pitch_up(best) - ann_pitch0).signum() != (pitch - ann_pitch0).signum()
        {
            failures.push(format!("pitch direction at frame {i}"));
        }
        if (pitch_up(best) - pitch).abs() > 10.0 {
            failures.push(format!(
                "pitch at frame {i}: {:.1} vs {pitch}",
                pitch_up(best)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Images of single, known identities from the two identity sets.
fn identity_images(dir: &Path) -> Vec<(String, PathBuf)> {
    read_tsv(&dir.join("MANIFEST.tsv"))
        .into_iter()
        .filter(|r| {
            r[0].starts_with("face_recognition_examples/") || r[0].starts_with("dlib_examples/")
        })
        .filter(|r| is_single_identity(&r[1]) && is_image(&r[0]))
        .map(|r| (r[1].clone(), dir.join(&r[0])))
        .collect()
}

#[test]
fn identity_verification_roc() {
    let (Some(dir), Some(models)) = (faces(), models()) else {
        return;
    };
    let mut analyzer = Analyzer::new(models);
    let mut embedded: Vec<(String, Embedding)> = Vec::new();
    let mut no_face = Vec::new();
    for (id, path) in identity_images(&dir) {
        let frame = load_image(&path).unwrap();
        match embed_frame(&mut analyzer, &frame).unwrap() {
            Some(e) => embedded.push((id, e)),
            None => no_face.push(path),
        }
    }
    let (genuine, impostor) = pair_distances(&embedded);
    let auc = roc_auc(&genuine, &impostor);
    let mut sorted = impostor.clone();
    sorted.sort_by(f32::total_cmp);
    // Threshold at 0.1 % false accepts: the distance below which 0.1 % of
    // impostor pairs fall.
    let far_index = (sorted.len() as f64 * 0.001).floor() as usize;
    let t_far = sorted[far_index];
    let frr_at = |t: f32| genuine.iter().filter(|g| **g >= t).count() as f64 / genuine.len() as f64;
    let far_at =
        |t: f32| impostor.iter().filter(|i| **i < t).count() as f64 / impostor.len() as f64;
    let configured = 0.5f32;
    println!(
        "identity: {} images embedded ({} without a face), {} genuine / {} impostor pairs",
        embedded.len(),
        no_face.len(),
        genuine.len(),
        impostor.len()
    );
    println!("  ROC AUC {auc:.4}");
    println!(
        "  at FAR 0.1% (distance < {t_far:.3}): FRR {:.1}%",
        100.0 * frr_at(t_far)
    );
    for t in [0.45f32, 0.5, 0.55, 0.6] {
        println!(
            "  threshold {t:.2}: FRR {:.1}%  FAR {:.2}%",
            100.0 * frr_at(t),
            100.0 * far_at(t)
        );
    }
    assert!(
        no_face.len() * 20 <= embedded.len() + no_face.len(),
        "too many misses: {no_face:?}"
    );
    assert!(auc >= 0.98, "ROC AUC {auc}");
    // `compare` at the shipped threshold: accepts most same-identity pairs and
    // rejects (nearly) every different-identity pair.
    assert!(
        far_at(configured) <= 0.005,
        "FAR at {configured}: {}",
        far_at(configured)
    );
    assert!(
        frr_at(configured) <= 0.25,
        "FRR at {configured}: {}",
        frr_at(configured)
    );
}

fn lifecert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifecert"))
        .args(args)
        .env("LIFECERT__VISION__MODELS_DIR", repo().join("models"))
        .output()
        .unwrap()
}

#[test]
fn compare_exit_codes() {
    let (Some(dir), Some(_)) = (faces(), models()) else {
        return;
    };
    let fr = dir.join("face_recognition_examples");
    let path = |p: &str| fr.join(p).to_string_lossy().into_owned();
    let same = lifecert(&[
        "compare",
        &path("obama/obama.jpg"),
        &path("obama/obama2.jpg"),
    ]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    assert!(String::from_utf8_lossy(&same.stdout).contains("same person"));
    let different = lifecert(&[
        "compare",
        &path("obama/obama.jpg"),
        &path("biden/biden.jpg"),
    ]);
    assert_eq!(
        different.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&different.stdout)
    );
    // No face: a plain grey picture.
    let tmp = tempfile::tempdir().unwrap();
    let blank = tmp.path().join("blank.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]))
        .save(&blank)
        .unwrap();
    let out = lifecert(&["compare", &path("obama/obama.jpg"), blank.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no face"));
    // Unreadable file.
    let junk = tmp.path().join("junk.jpg");
    std::fs::write(&junk, b"not a picture").unwrap();
    let out = lifecert(&["compare", junk.to_str().unwrap(), &path("obama/obama.jpg")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.jpg"));
}

#[test]
fn enroll_template_then_compare_against_it() {
    let (Some(dir), Some(models)) = (faces(), models()) else {
        return;
    };
    let fr = dir.join("face_recognition_examples/obama");
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("obama.template.json");
    let out = lifecert(&[
        "enroll-template",
        fr.join("obama.jpg").to_str().unwrap(),
        fr.join("obama1.jpg").to_str().unwrap(),
        "-o",
        template.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = lifecert_vision::Template::load(&template).unwrap();
    assert_eq!(t.frames, 2);
    let mut analyzer = Analyzer::new(models);
    let probe = embed_frame(&mut analyzer, &load_image(&fr.join("obama2.jpg")).unwrap())
        .unwrap()
        .unwrap();
    assert!(probe.distance(&t.embedding) < 0.5);
    // A photo of someone else in the set is refused.
    let biden = dir.join("face_recognition_examples/biden/biden.jpg");
    let out = lifecert(&[
        "enroll-template",
        fr.join("obama.jpg").to_str().unwrap(),
        biden.to_str().unwrap(),
        "-o",
        tmp.path().join("mixed.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn analyze_shows_the_blinks() {
    let (Some(dir), Some(_)) = (faces(), models()) else {
        return;
    };
    let clip = dir.join("video_blink_repeating/blink_selfie/video.mp4");
    let out = lifecert(&["analyze", clip.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("eyes closed"))
        .unwrap_or_else(|| panic!("no summary: {text}"));
    println!("{line}");
    let count: usize = line
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // 6 short blinks (2 of them partial) and 2 long closures are annotated.
    assert!(count >= 6, "{line}");
    // JSON and CSV have one line per frame (plus the CSV header).
    let json = lifecert(&["analyze", "--json", clip.to_str().unwrap()]);
    let csv = lifecert(&["analyze", "--csv", clip.to_str().unwrap()]);
    let json_lines = String::from_utf8_lossy(&json.stdout).lines().count();
    let csv_lines = String::from_utf8_lossy(&csv.stdout).lines().count();
    assert!(json_lines > 300, "{json_lines}");
    assert_eq!(csv_lines, json_lines + 1);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(first["primary"]["ear_left"].is_number(), "{first}");
}

#[test]
fn analyze_shows_the_mouth_openings() {
    let (Some(dir), Some(_)) = (faces(), models()) else {
        return;
    };
    let clip = dir.join("video_mouth_open_mauckc/webcam_man");
    let out = lifecert(&["analyze", clip.join("mouth_open.mp4").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("mouth open")).unwrap();
    println!("{line}");
    // Each annotated opening is covered by a reported interval, and nothing else.
    let intervals: Vec<(f64, f64)> = line
        .split(": ")
        .nth(2)
        .unwrap_or_default()
        .split(", ")
        .filter_map(|iv| {
            let (a, b) = iv.trim_end_matches(" s").split_once('–')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    let events: Vec<(f64, f64)> = read_tsv(&clip.join("ANNOTATIONS.tsv"))
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(intervals.len(), events.len(), "{line}");
    for ((a, b), (s, e)) in intervals.iter().zip(&events) {
        assert!(
            (a - s).abs() < 0.3 && (b - e).abs() < 0.4,
            "{a}-{b} vs {s}-{e}"
        );
    }
}
