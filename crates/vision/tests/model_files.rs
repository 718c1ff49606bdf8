//! Manifest verification: missing and corrupt files are reported with the
//! file name and the rebuild command. Needs no real models.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::{Path, PathBuf};

use lifecert_vision::models::{
    DETECTOR_FILE, LANDMARK68_FILE, MESH_FILE, RECOGNITION_FILE, sha256_hex,
};
use lifecert_vision::{Models, REBUILD_COMMAND, REBUILD_FORCE_COMMAND, VisionError};

const FILES: [(&str, &str); 4] = [
    ("mp_face_detection_short_range", DETECTOR_FILE),
    ("human_facemesh_attention_pinto", MESH_FILE),
    ("faceapi_landmark68", LANDMARK68_FILE),
    ("faceapi_recognition_u8", RECOGNITION_FILE),
];

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lifecert-vision-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes fake model files and a manifest that matches them.
fn fake_install(dir: &Path) {
    let mut entries = Vec::new();
    for (id, file) in FILES {
        let bytes = format!("not really {id}").into_bytes();
        std::fs::write(dir.join(file), &bytes).unwrap();
        entries.push(serde_json::json!({
            "id": id, "file": file, "source": "test", "license": "test",
            "sha256": sha256_hex(&bytes), "bytes": bytes.len(), "max_abs_diff": 0.0
        }));
    }
    let manifest = serde_json::json!({ "models": entries });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn missing_manifest_is_model_missing() {
    let d = TempDir::new("nomanifest");
    let e = Models::load(&d.0).unwrap_err();
    assert!(matches!(e, VisionError::ModelMissing { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("manifest.json") && msg.contains(REBUILD_COMMAND),
        "{msg}"
    );
}

#[test]
fn missing_file_names_file_and_rebuild_command() {
    let d = TempDir::new("missing");
    fake_install(&d.0);
    std::fs::remove_file(d.0.join(MESH_FILE)).unwrap();
    let e = Models::load(&d.0).unwrap_err();
    match &e {
        VisionError::ModelMissing { path, rebuild } => {
            assert!(path.ends_with(MESH_FILE));
            assert_eq!(*rebuild, REBUILD_COMMAND);
        }
        other => panic!("expected ModelMissing, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains(MESH_FILE) && msg.contains("bash models/build.sh"),
        "{msg}"
    );
}

#[test]
fn sha_mismatch_is_model_corrupt() {
    let d = TempDir::new("corrupt");
    fake_install(&d.0);
    // Same length, different content: only the sha256 can catch it.
    let p = d.0.join(RECOGNITION_FILE);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let e = Models::load(&d.0).unwrap_err();
    match &e {
        VisionError::ModelCorrupt {
            path,
            reason,
            rebuild,
        } => {
            assert!(path.ends_with(RECOGNITION_FILE));
            assert!(reason.contains("sha256"), "{reason}");
            assert_eq!(*rebuild, REBUILD_FORCE_COMMAND);
        }
        other => panic!("expected ModelCorrupt, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains(RECOGNITION_FILE) && msg.contains("bash models/build.sh --force"),
        "{msg}"
    );
}

#[test]
fn size_mismatch_and_bad_manifest_are_model_corrupt() {
    let d = TempDir::new("size");
    fake_install(&d.0);
    std::fs::write(d.0.join(DETECTOR_FILE), b"short").unwrap();
    let e = Models::load(&d.0).unwrap_err();
    assert!(
        matches!(&e, VisionError::ModelCorrupt { reason, .. } if reason.contains("bytes")),
        "{e:?}"
    );

    std::fs::write(d.0.join("manifest.json"), "{ not json").unwrap();
    let e = Models::load(&d.0).unwrap_err();
    assert!(matches!(e, VisionError::ModelCorrupt { .. }), "{e:?}");

    std::fs::write(d.0.join("manifest.json"), r#"{"models":[]}"#).unwrap();
    let e = Models::load(&d.0).unwrap_err();
    assert!(
        matches!(&e, VisionError::ModelCorrupt { reason, .. } if reason.contains("no entry")),
        "{e:?}"
    );
}

#[test]
fn verified_but_unparsable_file_is_model_load() {
    let d = TempDir::new("garbage");
    fake_install(&d.0);
    let e = Models::load(&d.0).unwrap_err();
    assert!(
        matches!(&e, VisionError::ModelLoad { path, .. } if path.ends_with(DETECTOR_FILE)),
        "{e:?}"
    );
}

#[test]
fn missing_pad_model_is_reported() {
    let d = TempDir::new("pad");
    fake_install(&d.0);
    let e = Models::load_with_pad(&d.0, Some(&d.0.join("nope.onnx"))).unwrap_err();
    assert!(
        matches!(&e, VisionError::ModelLoad { path, .. } if path.ends_with("nope.onnx")),
        "{e:?}"
    );
}
