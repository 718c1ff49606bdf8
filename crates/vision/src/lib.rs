//! lifecert-vision: on-device face analysis with tract-onnx (being written).

pub mod frame;

pub use frame::{Frame, load_image};

/// Errors of the vision crate.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// An image file could not be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    Image {
        path: std::path::PathBuf,
        reason: String,
    },
}
