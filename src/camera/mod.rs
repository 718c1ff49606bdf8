//! The camera layer: where frames come from.
//!
//! * [`FrameSource`] is the one abstraction. It is deliberately **not `Send`**:
//!   nokhwa's `Camera` is `!Send`, so a live camera is created and used on a
//!   single capture thread ([`CaptureThread`] takes a factory closure for that).
//! * Live cameras ([`live`], feature `camera-nokhwa`): V4L2 on Linux, Media
//!   Foundation on Windows.
//! * Recordings ([`replay`], [`video`]) for tests, demos and CLI analysis: a
//!   directory of images, a GIF, a single still (optionally repeated as a
//!   video) or any video file `ffmpeg` can decode. Their timestamps come from
//!   the file; [`Pacing`] decides whether they are delivered in real time.
//! * [`open_configured`] maps `camera.device` (`v4l:0`, `replay:PATH`, …) to a source;
//!   [`open_camera`] does the same for a whole `[camera]` section.
//! * Before a live camera streams, [`trust`] checks that it is a real capture
//!   device (not v4l2loopback, OBS Virtual Camera, …) and the one the kiosk is
//!   bound to (`camera.usb_vid` / `usb_pid` / `usb_serial`).
//!
//! Raw frames never touch disk.

pub mod capture;
mod error;
#[cfg(feature = "camera-nokhwa")]
pub mod live;
pub mod mode;
pub mod replay;
pub mod trust;
pub mod video;

use std::path::Path;
use std::time::Duration;

pub use lifecert_vision::Frame;

pub use capture::{CameraEvent, CaptureOptions, CaptureThread, FrameReceiver};
pub use error::CameraError;
pub use mode::{CaptureMode, PixelKind, choose_mode};
pub use replay::{GifSource, ImageDirSource, Looping, Paced, StillImageSource, StillRepeat};
pub use video::{VideoFileSource, VideoInfo};

use crate::config::{CameraConfig, CameraSource, CameraTrust};

/// One frame with its place in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFrame {
    /// The pixels (RGB8).
    pub frame: Frame,
    /// Time since the start of the stream: from the file for recordings
    /// (frame index / fps, or GIF frame delays), from the capture clock for
    /// live cameras.
    pub timestamp: Duration,
    /// 0-based frame number within the stream.
    pub index: u64,
}

/// Something that yields frames. Not `Send`: see the module docs.
pub trait FrameSource {
    /// The next frame; `Ok(None)` at the end of a recording (live cameras never end).
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError>;
    /// A one-line description for logs and the maintenance screen.
    fn describe(&self) -> String;
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        (**self).next_frame()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// How fast a recording is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// Sleep until each frame's timestamp (relative to the first frame), like a camera.
    #[default]
    RealTime,
    /// Deliver frames as fast as they decode (analysis, tests).
    AsFastAsPossible,
}

/// Default frame rate for image directories and repeated stills.
pub const DEFAULT_REPLAY_FPS: f64 = 10.0;

/// How a recording is replayed (see [`open_replay_with`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Real time or as fast as possible.
    pub pacing: Pacing,
    /// Frame rate of image directories and repeated stills (default 10).
    pub fps: f64,
    /// How often a single still image is delivered (default once).
    pub still: StillRepeat,
    /// Start again at the end instead of ending (demo kiosks).
    pub looping: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            pacing: Pacing::RealTime,
            fps: DEFAULT_REPLAY_FPS,
            still: StillRepeat::Once,
            looping: false,
        }
    }
}

/// What kind of recording a path is, by extension (or directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingKind {
    /// A directory of PNG/JPEG images, played in name order.
    ImageDir,
    /// An animated (or single-frame) GIF.
    Gif,
    /// A single PNG/JPEG image.
    Still,
    /// A video file decoded by ffmpeg.
    Video,
}

/// File extensions decoded by `ffmpeg`.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "avi", "mkv", "webm", "mjpeg", "mjpg", "y4m", "mpg", "mpeg", "ts", "ogv",
    "flv", "wmv", "3gp",
];

/// Still-image extensions (PNG/JPEG, as the `image` crate here is built).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// Classifies `path` (which must exist) into a [`RecordingKind`].
pub fn recording_kind(path: &Path) -> Result<RecordingKind, CameraError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CameraError::NotFound {
            path: path.to_path_buf(),
        },
        _ => CameraError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    if meta.is_dir() {
        return Ok(RecordingKind::ImageDir);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if ext == "gif" {
        Ok(RecordingKind::Gif)
    } else if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Ok(RecordingKind::Still)
    } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Ok(RecordingKind::Video)
    } else {
        Err(CameraError::UnsupportedRecording {
            path: path.to_path_buf(),
            reason: if ext.is_empty() {
                "the file has no extension".to_owned()
            } else {
                format!("unknown extension `.{ext}`")
            },
        })
    }
}

/// Opens a recording (directory, GIF, still or video) with default options.
pub fn open_replay(path: &Path, pacing: Pacing) -> Result<Box<dyn FrameSource>, CameraError> {
    open_replay_with(
        path,
        &ReplayOptions {
            pacing,
            ..ReplayOptions::default()
        },
    )
}

/// Opens a recording with explicit [`ReplayOptions`].
pub fn open_replay_with(
    path: &Path,
    options: &ReplayOptions,
) -> Result<Box<dyn FrameSource>, CameraError> {
    let kind = recording_kind(path)?;
    let open_raw = {
        let path = path.to_path_buf();
        let options = options.clone();
        move || -> Result<Box<dyn FrameSource>, CameraError> {
            Ok(match kind {
                RecordingKind::ImageDir => Box::new(ImageDirSource::open(&path, options.fps)?),
                RecordingKind::Gif => Box::new(GifSource::open(&path)?),
                RecordingKind::Still => {
                    Box::new(StillImageSource::open(&path, options.still, options.fps)?)
                }
                RecordingKind::Video => Box::new(VideoFileSource::open(&path)?),
            })
        }
    };
    let source: Box<dyn FrameSource> = if options.looping {
        Box::new(Looping::new(open_raw)?)
    } else {
        open_raw()?
    };
    Ok(Box::new(Paced::new(source, options.pacing)))
}

/// Opens the source configured in `camera.device`.
///
/// Live cameras negotiate the closest mode to `width`×`height` at `fps`;
/// recordings ignore those and use `pacing`. Without the `camera-nokhwa`
/// feature, live sources return [`CameraError::NoCameraSupport`]. A live
/// camera must be a real capture device ([`trust`], with no USB binding).
pub fn open_configured(
    source: &CameraSource,
    width: u32,
    height: u32,
    fps: u32,
    pacing: Pacing,
) -> Result<Box<dyn FrameSource>, CameraError> {
    let wanted = CaptureMode {
        width,
        height,
        fps,
        kind: PixelKind::Mjpeg,
    };
    open_source(source, wanted, pacing, &CameraTrust::default())
}

/// Opens the camera of a `[camera]` section: [`open_configured`], with the
/// section's binding to one physical camera (`usb_vid`, `usb_pid`,
/// `usb_serial`, `allow_virtual`).
pub fn open_camera(
    config: &CameraConfig,
    pacing: Pacing,
) -> Result<Box<dyn FrameSource>, CameraError> {
    let wanted = CaptureMode {
        width: config.width,
        height: config.height,
        fps: config.fps,
        kind: PixelKind::Mjpeg,
    };
    open_source(&config.source, wanted, pacing, &config.trust)
}

fn open_source(
    source: &CameraSource,
    wanted: CaptureMode,
    pacing: Pacing,
    trust: &CameraTrust,
) -> Result<Box<dyn FrameSource>, CameraError> {
    match source {
        CameraSource::Replay(path) => open_replay(path, pacing),
        CameraSource::V4lIndex(_) | CameraSource::V4lName(_) | CameraSource::Msmf(_) => {
            open_live(source, wanted, trust)
        }
    }
}

#[cfg(feature = "camera-nokhwa")]
fn open_live(
    source: &CameraSource,
    wanted: CaptureMode,
    trust: &CameraTrust,
) -> Result<Box<dyn FrameSource>, CameraError> {
    let device = source.to_string();
    let selector = match source {
        CameraSource::V4lIndex(i) if cfg!(target_os = "linux") => live::Selector::Index(*i),
        CameraSource::V4lName(name) if cfg!(target_os = "linux") => {
            live::Selector::Name(name.clone())
        }
        CameraSource::Msmf(i) if cfg!(target_os = "windows") => live::Selector::Index(*i),
        CameraSource::V4lIndex(_) | CameraSource::V4lName(_) => {
            return Err(CameraError::WrongPlatform {
                device,
                hint: "v4l: is Linux only; on Windows use \"msmf:<index>\"".to_owned(),
            });
        }
        CameraSource::Msmf(_) => {
            return Err(CameraError::WrongPlatform {
                device,
                hint: "msmf: is Windows only; on Linux use \"v4l:<index>\" or \"v4l:<name>\""
                    .to_owned(),
            });
        }
        CameraSource::Replay(path) => return open_replay(path, Pacing::RealTime),
    };
    Ok(Box::new(live::LiveCamera::open(
        &device, &selector, wanted, trust,
    )?))
}

#[cfg(not(feature = "camera-nokhwa"))]
fn open_live(
    source: &CameraSource,
    _wanted: CaptureMode,
    _trust: &CameraTrust,
) -> Result<Box<dyn FrameSource>, CameraError> {
    Err(CameraError::NoCameraSupport {
        device: source.to_string(),
    })
}

/// Whether this build can open live cameras.
pub const fn has_live_camera_support() -> bool {
    cfg!(feature = "camera-nokhwa")
}

/// Seconds → `Duration`, saturating on nonsense (negative/NaN → 0).
pub(crate) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_kinds_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"x").unwrap();
            p
        };
        assert_eq!(recording_kind(dir.path()).unwrap(), RecordingKind::ImageDir);
        assert_eq!(recording_kind(&make("a.GIF")).unwrap(), RecordingKind::Gif);
        assert_eq!(
            recording_kind(&make("a.jpeg")).unwrap(),
            RecordingKind::Still
        );
        assert_eq!(
            recording_kind(&make("a.MP4")).unwrap(),
            RecordingKind::Video
        );
        assert_eq!(
            recording_kind(&make("a.webm")).unwrap(),
            RecordingKind::Video
        );
        let err = recording_kind(&make("a.txt")).unwrap_err();
        assert!(
            err.to_string().contains("unknown extension `.txt`"),
            "{err}"
        );
        let err = recording_kind(&dir.path().join("missing.mp4")).unwrap_err();
        assert!(matches!(err, CameraError::NotFound { .. }), "{err}");
    }

    #[test]
    fn secs_saturates() {
        assert_eq!(secs(-1.0), Duration::ZERO);
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(0.5), Duration::from_millis(500));
    }

    #[cfg(not(feature = "camera-nokhwa"))]
    #[test]
    fn live_sources_need_the_feature() {
        let err = match open_configured(&CameraSource::V4lIndex(0), 640, 480, 15, Pacing::RealTime)
        {
            Err(e) => e,
            Ok(_) => panic!("opened a camera without camera support"),
        };
        assert!(err.to_string().contains("no live-camera support"), "{err}");
    }
}
