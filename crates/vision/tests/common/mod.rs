//! Shared helpers for the vision integration tests: where the models and the
//! shared test data are, and the SKIP policy.
//!
//! - Models: `<workspace>/models` (override: `LIFECERT_MODELS_DIR`). Missing
//!   models skip the test, except with `CI=true`, where the test command
//!   builds them first and their absence is a failure.
//! - Test data: `<workspace>/../shared/testdata` (override:
//!   `LIFECERT_TESTDATA`). Missing data always skips.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use lifecert_vision::{Frame, Models, load_image};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn models_dir() -> PathBuf {
    std::env::var_os("LIFECERT_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"))
}

pub fn testdata_dir() -> PathBuf {
    std::env::var_os("LIFECERT_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/testdata"))
}

pub fn faces_dir() -> Option<PathBuf> {
    let d = testdata_dir().join("faces");
    if d.join("MANIFEST.tsv").is_file() {
        Some(d)
    } else {
        println!(
            "SKIP: shared test data not found at {} (set LIFECERT_TESTDATA)",
            d.display()
        );
        None
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The kiosk models, loaded once per test binary; `None` (after printing
/// SKIP) when they are not built, unless `CI=true`, where that panics.
pub fn models() -> Option<Arc<Models>> {
    static MODELS: OnceLock<Option<Arc<Models>>> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let dir = models_dir();
            if !dir.join("manifest.json").is_file() {
                if in_ci() {
                    panic!("models missing in {} with CI=true; the test command must run `bash models/build.sh` first", dir.display());
                }
                println!("SKIP: models not built in {} (run `bash models/build.sh`)", dir.display());
                return None;
            }
            match Models::load(&dir) {
                Ok(m) => Some(Arc::new(m)),
                Err(e) => panic!("models present but not loadable: {e}"),
            }
        })
        .clone()
}

/// Models with the test-only MiniFASNet PAD models; `None` (SKIP) when
/// either is missing.
pub fn models_with_pad() -> Option<Arc<Models>> {
    static MODELS: OnceLock<Option<Arc<Models>>> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            models()?;
            let pad = testdata_dir().join("models");
            if !pad.join("minifasnet_v2_2.7_80x80.onnx").is_file()
                || !pad.join("minifasnet_v1se_4.0_80x80.onnx").is_file()
            {
                println!(
                    "SKIP: test-only MiniFASNet models not found in {}",
                    pad.display()
                );
                return None;
            }
            match Models::load_with_pad(&models_dir(), Some(&pad)) {
                Ok(m) => Some(Arc::new(m)),
                Err(e) => panic!("PAD models present but not loadable: {e}"),
            }
        })
        .clone()
}

/// One row of `faces/MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: String,
    pub identity: String,
    pub tags: Vec<String>,
}

impl Entry {
    pub fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.tags.iter().any(|t| t.starts_with(prefix))
    }
}

pub fn manifest(faces: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(faces.join("MANIFEST.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let file = cols.next()?.to_string();
            let identity = cols.next()?.to_string();
            let tags = cols.next()?.split(';').map(str::to_string).collect();
            Some(Entry {
                file,
                identity,
                tags,
            })
        })
        .collect()
}

pub fn load(faces: &Path, file: &str) -> Frame {
    load_image(&faces.join(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// The astronaut photo letterboxed into a 640×480 frame (resized to 480×480,
/// black bars left and right), as a webcam-sized test frame.
pub fn astronaut_640x480(faces: &Path) -> Frame {
    let img = image::open(faces.join("skimage_data/astronaut.png"))
        .unwrap_or_else(|e| panic!("{e}"))
        .to_rgb8();
    let small = image::imageops::resize(&img, 480, 480, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::new(640, 480);
    image::imageops::overlay(&mut canvas, &small, 80, 0);
    Frame::from_rgb(640, 480, canvas.into_raw()).unwrap_or_else(|| panic!("frame size"))
}
