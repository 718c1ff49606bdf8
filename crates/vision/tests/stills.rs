//! EAR and MAR on labelled stills (faces/MANIFEST.tsv state tags): closed
//! eyes and open mouths must separate from open eyes and closed mouths.
//! Prints the gap and its midpoint (the threshold these stills support).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use lifecert_vision::{Analyzer, PrimaryFace};

/// Beyond this |yaw| the far eye is foreshortened and its EAR unreliable
/// (MODELS.md §5.2): only the near eye counts.
const FAR_EYE_YAW: f32 = 30.0;

/// The EAR statistic of a still: the smaller EAR of the usable eyes, so a
/// wink counts as "an eye closed". With |yaw| > 30° only the near eye is
/// used (yaw > 0 = subject turned to their own left = their left eye is far).
fn eye_stat(p: &PrimaryFace) -> f32 {
    if p.yaw > FAR_EYE_YAW {
        p.ear_right
    } else if p.yaw < -FAR_EYE_YAW {
        p.ear_left
    } else {
        p.ear_left.min(p.ear_right)
    }
}

struct Measured {
    file: String,
    value: f32,
}

fn separation(name: &str, low: &[Measured], high: &[Measured]) -> f32 {
    let low_max = low
        .iter()
        .map(|m| m.value)
        .fold(f32::NEG_INFINITY, f32::max);
    let high_min = high.iter().map(|m| m.value).fold(f32::INFINITY, f32::min);
    for m in low {
        println!("  {name} low  {:.3}  {}", m.value, m.file);
    }
    for m in high {
        println!("  {name} high {:.3}  {}", m.value, m.file);
    }
    let mid = 0.5 * (low_max + high_min);
    println!(
        "{name}: low max {low_max:.3}, high min {high_min:.3}, gap {:.3}, threshold (midpoint) {mid:.3}",
        high_min - low_max
    );
    assert!(!low.is_empty() && !high.is_empty(), "{name}: empty class");
    assert!(
        low_max < high_min,
        "{name}: classes overlap (low max {low_max}, high min {high_min})"
    );
    mid
}

#[test]
fn ear_and_mar_separate_labelled_stills() {
    let (Some(models), Some(faces)) = (common::models(), common::faces_dir()) else {
        return;
    };
    let mut a = Analyzer::new(models);
    let (mut closed, mut open, mut mouth_open, mut mouth_closed) = (vec![], vec![], vec![], vec![]);
    for e in common::manifest(&faces)
        .iter()
        .filter(|e| e.file.starts_with("human_samples/"))
    {
        let frame = common::load(&faces, &e.file);
        a.reset();
        let r = a.analyze(&frame).unwrap();
        let Some(p) = r.primary else {
            println!("  no face: {}", e.file);
            continue;
        };
        println!(
            "{:<55} EAR L/R {:.3}/{:.3} MAR {:.3} yaw {:6.1} pitch {:6.1} roll {:6.1}  [{}]",
            e.file,
            p.ear_left,
            p.ear_right,
            p.mar,
            p.yaw,
            p.pitch,
            p.roll,
            e.tags.join(";")
        );
        let m = |v| Measured {
            file: e.file.clone(),
            value: v,
        };
        if e.has_prefix("eyes_closed") || e.has("wink_one_eye_closed") {
            closed.push(m(eye_stat(&p)));
        } else if e.has("eyes_open") || e.has("eyes_wide") {
            open.push(m(eye_stat(&p)));
        }
        if e.has("mouth_open") {
            mouth_open.push(m(p.mar));
        } else if e.has("mouth_closed") {
            mouth_closed.push(m(p.mar));
        }
    }
    let ear_t = separation("EAR", &closed, &open);
    let mar_t = separation("MAR", &mouth_closed, &mouth_open);
    println!("THRESHOLDS: EAR closed < {ear_t:.3}, MAR open > {mar_t:.3}");
}
