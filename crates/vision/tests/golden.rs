//! The models as this crate loads them (fixed input facts, selected outputs,
//! fused PReLUs, tract optimisation) reproduce the reference outputs of the
//! original frameworks (shared `model-tools/refs`, MODELS.md §3.2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use lifecert_vision::models::{MESH_OUTPUT_NAMES, ModelKind};

/// MODELS.md §3.2: converted models match within ~2e-4 absolute.
const TOLERANCE: f32 = 2e-4;

fn read_f32(path: &std::path::Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn loaded_models_match_reference_tensors() {
    let Some(models) = common::models() else {
        return;
    };
    let refs = common::testdata_dir().join("../model-tools/refs");
    if !refs.join("refs.txt").is_file() {
        println!("SKIP: reference tensors not found in {}", refs.display());
        return;
    }
    // (model, kind, reference output index for each of our outputs)
    let cases: [(&str, ModelKind, &[usize]); 4] = [
        (
            "mp_face_detection_short_range",
            ModelKind::Detector,
            &[0, 1],
        ),
        // refs order: left_eye, right_iris, mesh, left_iris, faceflag, lips, right_eye
        (
            "human_facemesh_attention_pinto",
            ModelKind::Mesh,
            &[2, 4, 0, 6],
        ),
        ("faceapi_landmark68", ModelKind::Landmark68, &[0]),
        ("faceapi_recognition_u8", ModelKind::Recognition, &[0]),
    ];
    assert_eq!(MESH_OUTPUT_NAMES.len(), 4);
    for (name, kind, ref_ix) in cases {
        let Some(input) = read_f32(&refs.join(format!("{name}.in.bin"))) else {
            println!("SKIP: no reference input for {name}");
            continue;
        };
        let outs = models.run_raw(kind, &input).unwrap();
        assert_eq!(outs.len(), ref_ix.len(), "{name}");
        for (k, (out, &ri)) in outs.iter().zip(ref_ix).enumerate() {
            let want = read_f32(&refs.join(format!("{name}.out{ri}.bin"))).unwrap();
            let d = max_abs_diff(out, &want);
            println!("{name} output {k} (ref {ri}): max |diff| {d:.2e}");
            assert!(d <= TOLERANCE, "{name} output {k}: {d}");
        }
    }
}
