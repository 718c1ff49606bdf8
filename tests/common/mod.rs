//! Shared by the integration tests that read `../shared/testdata` and the
//! built models: they skip with a message when either is missing, except that
//! missing models fail under CI (the test command builds them). `sim`: the
//! peripheral simulators as child processes.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test uses a subset

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use lifecert_vision::Models;

pub mod sim;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/testdata/faces`, or `None` (with a SKIP message) when absent.
pub fn faces() -> Option<PathBuf> {
    let dir = repo().join("../shared/testdata/faces");
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        println!("SKIP: ../shared/testdata/faces is missing");
        None
    }
}

/// The built models (loaded once per test binary), or `None` (with a SKIP
/// message) when not built; panics under CI, where they must exist.
pub fn models() -> Option<Arc<Models>> {
    static MODELS: OnceLock<Option<Arc<Models>>> = OnceLock::new();
    MODELS
        .get_or_init(|| match Models::load(&repo().join("models")) {
            Ok(m) => Some(Arc::new(m)),
            Err(e) => {
                assert!(
                    std::env::var("CI").is_err(),
                    "models missing under CI (the test command builds them): {e}"
                );
                println!("SKIP: models not built ({e}); run bash models/build.sh");
                None
            }
        })
        .clone()
}

/// The shared faces when the models are built too.
pub fn faces_and_models() -> Option<PathBuf> {
    let dir = faces()?;
    models()?;
    Some(dir)
}
