//! The one error type of the vision crate. Every message says what to do.

use std::path::PathBuf;

/// Command (run from the workspace root) that rebuilds missing model files.
pub const REBUILD_COMMAND: &str = "bash models/build.sh";

/// Command (run from the workspace root) that rebuilds model files from scratch,
/// replacing corrupt or stale ones.
pub const REBUILD_FORCE_COMMAND: &str = "bash models/build.sh --force";

/// Errors of the vision crate.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// An image file could not be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    Image { path: PathBuf, reason: String },

    /// A model file (or the models' manifest) is not there.
    #[error(
        "model file {path} is missing; rebuild the models with `{rebuild}` (from the project root)"
    )]
    ModelMissing {
        path: PathBuf,
        rebuild: &'static str,
    },

    /// A model file does not match its manifest entry (size or sha256), or the
    /// manifest itself is unreadable.
    #[error(
        "model file {path} is corrupt or stale ({reason}); rebuild the models with `{rebuild}` (from the project root)"
    )]
    ModelCorrupt {
        path: PathBuf,
        reason: String,
        rebuild: &'static str,
    },

    /// A model file was found but tract could not load or optimise it.
    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },

    /// Running a model failed, or it produced output of an unexpected shape.
    #[error("model {model} failed: {reason}")]
    Inference { model: &'static str, reason: String },

    /// A frame whose pixel buffer does not match its declared size.
    #[error("invalid frame: {reason}")]
    InvalidFrame { reason: String },

    /// An operation that needs a face found none.
    #[error("no face found")]
    NoFace,

    /// A face template file could not be read, parsed or written.
    #[error("face template {path}: {reason}")]
    Template { path: PathBuf, reason: String },
}
