//! lifecert-vision: on-device face analysis with tract-onnx.
//!
//! Per frame ([`Analyzer::analyze`]): BlazeFace short-range detection →
//! landmark ROI (tracked from the previous frame's mesh when possible) →
//! MediaPipe attention FaceMesh → eye/mouth aspect ratios, head pose,
//! brightness and sharpness ([`PrimaryFace`]). On selected frames:
//! [`Analyzer::embed`] (face-api 68 points → dlib ResNet 128-D descriptor)
//! and, when the operator configured one, [`Analyzer::pad_score`]
//! (MiniFASNet passive anti-spoofing). The pre/post-processing follows
//! MODELS.md §6 exactly.
//!
//! Conventions (unmirrored camera frames, image pixels, y down):
//! - "left"/"right" are always the **subject's own**: `ear_left` is the
//!   subject's left eye, which appears on the image right.
//! - `yaw` > 0: the subject turns to their own left (face points to the
//!   image right). `pitch` larger: head down (frontal ≈ +9…+13°). `roll` > 0:
//!   head tilted toward the subject's own left shoulder (clockwise on the
//!   image). All in degrees.
//!
//! Models come from `models/` (built by `bash models/build.sh`, checked
//! against `models/manifest.json` on load); nothing is downloaded at run time.

pub mod analyzer;
pub mod blazeface;
pub mod embedding;
pub mod error;
pub mod frame;
mod fuse;
pub mod geometry;
pub mod imaging;
pub mod light;
pub mod mesh;
pub mod models;
mod runner;

pub use analyzer::{
    Analyzer, DETECT_EVERY_N_FRAMES, FaceAnalysis, PrimaryFace, TRACK_PRESENCE_MIN,
};
pub use blazeface::DetectedFace;
pub use embedding::{EMBEDDING_MODEL_ID, Embedding, TEMPLATE_VERSION, Template};
pub use error::{REBUILD_COMMAND, REBUILD_FORCE_COMMAND, VisionError};
pub use frame::{Frame, load_image};
pub use geometry::BBox;
pub use light::RegionLight;
pub use models::{Manifest, ManifestEntry, Models, PadModelSpec};
