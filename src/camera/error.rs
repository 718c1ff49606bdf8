//! Camera errors, worded for the operator who has to fix the kiosk.

use std::path::PathBuf;

/// Why a frame source could not be opened or stopped delivering frames.
///
/// Every message says what to check (cable, `/dev/video*`, the `video`
/// group, the `ffmpeg` package, the configured path …).
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// A replay path does not exist.
    #[error("recording not found: {path} (check the `replay:` path in camera.device)")]
    NotFound { path: PathBuf },

    /// A replay path exists but could not be read.
    #[error("cannot read recording {path}: {reason} (check the file permissions)")]
    Io { path: PathBuf, reason: String },

    /// A replay path is not a kind of recording we can play.
    #[error(
        "cannot replay {path}: {reason} (supported: a directory of PNG/JPEG images, \
         a .gif, a single .png/.jpg still, or a video such as .mp4/.mov/.avi/.mkv/.webm)"
    )]
    UnsupportedRecording { path: PathBuf, reason: String },

    /// A replay directory holds no images.
    #[error("no PNG or JPEG images in the replay directory {path}")]
    EmptyDirectory { path: PathBuf },

    /// An image or GIF frame could not be decoded.
    #[error("cannot decode {path}: {reason}")]
    Decode { path: PathBuf, reason: String },

    /// `ffmpeg` / `ffprobe` is not installed.
    #[error(
        "`{program}` was not found, so video recordings cannot be played: install the \
         Debian package `ffmpeg` (apt-get install ffmpeg), or use an image directory or GIF"
    )]
    FfmpegMissing { program: &'static str },

    /// A video file could not be probed or decoded.
    #[error("cannot play video {path}: {reason}")]
    Video { path: PathBuf, reason: String },

    /// The build has no live-camera backend.
    #[error(
        "this build of lifecert has no live-camera support (built without the \
         `camera-nokhwa` feature), so camera.device = \"{device}\" cannot be used; \
         rebuild with default features, or use \"replay:<path>\""
    )]
    NoCameraSupport { device: String },

    /// The configured backend does not exist on this operating system.
    #[error("camera.device = \"{device}\" does not work on this operating system: {hint}")]
    WrongPlatform { device: String, hint: String },

    /// No camera matches the configured name.
    #[error(
        "no camera matches \"{wanted}\" (cameras found: {found}); check that the camera \
         is plugged in (USB cable), that it shows up in `ls /dev/video*`, and the name in \
         camera.device"
    )]
    DeviceNotFound { wanted: String, found: String },

    /// The operating system refused access to the camera.
    #[error(
        "permission denied opening camera {device}: {reason}; add the kiosk user to the \
         `video` group (usermod -aG video <user>, then log in again) and check the \
         permissions of /dev/video*"
    )]
    PermissionDenied { device: String, reason: String },

    /// The camera is virtual, or not the one the kiosk is bound to
    /// (see [`super::trust`]). The message names the device and what to do.
    #[error(transparent)]
    Untrusted(#[from] super::trust::UntrustedCamera),

    /// The camera could not be opened.
    #[error(
        "cannot open camera {device}: {reason}; check that the camera is plugged in (USB \
         cable), that /dev/video* exists, that no other program is using it, and that the \
         kiosk user is in the `video` group"
    )]
    Open { device: String, reason: String },

    /// The camera opened but stopped delivering frames (often: unplugged).
    #[error(
        "camera {device} stopped delivering frames: {reason}; was it unplugged? check the \
         USB cable (the kiosk keeps retrying)"
    )]
    Disconnected { device: String, reason: String },

    /// The capture thread could not be started.
    #[error("cannot start the camera thread: {0}")]
    Thread(String),

    /// A replay option is out of range (e.g. fps ≤ 0).
    #[error("invalid camera setting: {0}")]
    InvalidSetting(String),
}

impl CameraError {
    /// An open failure for `device`, classified: permission problems get the
    /// `video`-group hint, everything else the cable / `/dev/video*` hint.
    pub fn open_failed(device: &str, reason: String) -> CameraError {
        let lower = reason.to_ascii_lowercase();
        if lower.contains("permission denied") || lower.contains("os error 13") {
            CameraError::PermissionDenied {
                device: device.to_owned(),
                reason,
            }
        } else {
            CameraError::Open {
                device: device.to_owned(),
                reason,
            }
        }
    }
}
