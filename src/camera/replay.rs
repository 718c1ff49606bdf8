//! Recordings made of images: a directory, a GIF, a single still; plus the
//! [`Paced`] and [`Looping`] wrappers used for every recording.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, DynamicImage, ImageDecoder};
use lifecert_vision::{Frame, load_image};

use super::{CameraError, FrameSource, IMAGE_EXTENSIONS, Pacing, TimedFrame, secs};

fn check_fps(fps: f64) -> Result<f64, CameraError> {
    if fps.is_finite() && fps > 0.0 && fps <= 1000.0 {
        Ok(fps)
    } else {
        Err(CameraError::InvalidSetting(format!(
            "replay frame rate must be in (0, 1000] fps, got {fps}"
        )))
    }
}

fn decode_error(path: &Path, reason: impl std::fmt::Display) -> CameraError {
    CameraError::Decode {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> CameraError {
    match e.kind() {
        std::io::ErrorKind::NotFound => CameraError::NotFound {
            path: path.to_path_buf(),
        },
        _ => CameraError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    }
}

// ---------------------------------------------------------------------------
// Image directory

/// A directory of PNG/JPEG images played in file-name order at a fixed rate.
///
/// Images are decoded lazily, one per frame, with their EXIF orientation
/// applied; timestamps are `index / fps`. Hidden files and other extensions
/// are skipped; name the files with zero-padded numbers.
pub struct ImageDirSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    fps: f64,
    next: usize,
}

impl ImageDirSource {
    /// Lists the images of `dir`; fails if there are none.
    pub fn open(dir: &Path, fps: f64) -> Result<ImageDirSource, CameraError> {
        let fps = check_fps(fps)?;
        let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(dir, &e))?;
            let path = entry.path();
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.');
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if is_image && !hidden && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(CameraError::EmptyDirectory {
                path: dir.to_path_buf(),
            });
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        Ok(ImageDirSource {
            dir: dir.to_path_buf(),
            files,
            fps,
            next: 0,
        })
    }

    /// Number of images (= frames).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Never true: an empty directory fails to open.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The image files, in play order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl FrameSource for ImageDirSource {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        let frame = load_image(path).map_err(|e| decode_error(path, e))?;
        let index = self.next as u64;
        self.next += 1;
        Ok(Some(TimedFrame {
            frame,
            timestamp: secs(index as f64 / self.fps),
            index,
        }))
    }

    fn describe(&self) -> String {
        format!(
            "replay image directory {} ({} images @ {} fps)",
            self.dir.display(),
            self.files.len(),
            self.fps
        )
    }
}

// ---------------------------------------------------------------------------
// GIF

/// GIF delays at or below this are shown as [`GIF_DEFAULT_DELAY`], as web
/// browsers do (0/1 centisecond delays mean "as fast as possible" and would
/// make real-time pacing spin).
pub const GIF_MIN_DELAY: Duration = Duration::from_millis(10);
/// See [`GIF_MIN_DELAY`].
pub const GIF_DEFAULT_DELAY: Duration = Duration::from_millis(100);

/// An animated GIF, decoded frame by frame (fully composited canvases);
/// each frame's timestamp is the sum of the delays of the frames before it.
pub struct GifSource {
    path: PathBuf,
    width: u32,
    height: u32,
    frames: image::Frames<'static>,
    next_timestamp: Duration,
    index: u64,
}

impl GifSource {
    /// Opens `path` and reads the GIF header.
    pub fn open(path: &Path) -> Result<GifSource, CameraError> {
        let file = File::open(path).map_err(|e| io_error(path, &e))?;
        let decoder = GifDecoder::new(BufReader::new(file)).map_err(|e| decode_error(path, e))?;
        let (width, height) = decoder.dimensions();
        Ok(GifSource {
            path: path.to_path_buf(),
            width,
            height,
            frames: decoder.into_frames(),
            next_timestamp: Duration::ZERO,
            index: 0,
        })
    }

    /// Canvas size.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

impl FrameSource for GifSource {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        let Some(gif_frame) = self.frames.next() else {
            return Ok(None);
        };
        let gif_frame = gif_frame.map_err(|e| decode_error(&self.path, e))?;
        let (numer, denom) = gif_frame.delay().numer_denom_ms();
        let delay = if denom == 0 {
            GIF_DEFAULT_DELAY
        } else {
            secs(f64::from(numer) / f64::from(denom) / 1000.0)
        };
        let delay = if delay <= GIF_MIN_DELAY {
            GIF_DEFAULT_DELAY
        } else {
            delay
        };
        let frame = Frame::from_image(DynamicImage::ImageRgba8(gif_frame.into_buffer()));
        let timed = TimedFrame {
            frame,
            timestamp: self.next_timestamp,
            index: self.index,
        };
        self.next_timestamp += delay;
        self.index += 1;
        Ok(Some(timed))
    }

    fn describe(&self) -> String {
        format!(
            "replay GIF {} ({}x{})",
            self.path.display(),
            self.width,
            self.height
        )
    }
}

// ---------------------------------------------------------------------------
// Still image

/// How often a single still image is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StillRepeat {
    /// One frame.
    #[default]
    Once,
    /// This many frames.
    Times(u64),
    /// Frames with timestamps below this duration (`ceil(duration × fps)` frames).
    For(Duration),
    /// Never ends ("a photo held up to the camera").
    Forever,
}

/// A single PNG/JPEG image (EXIF orientation applied), optionally repeated
/// as a video at a fixed rate: the liveness tests use it as the "photo
/// attack" that must never pass.
pub struct StillImageSource {
    path: PathBuf,
    frame: Frame,
    fps: f64,
    count: Option<u64>,
    next: u64,
}

impl StillImageSource {
    /// Loads `path` once; frames are copies of it at `fps` (default 10).
    pub fn open(
        path: &Path,
        repeat: StillRepeat,
        fps: f64,
    ) -> Result<StillImageSource, CameraError> {
        let fps = check_fps(fps)?;
        if !path.exists() {
            return Err(CameraError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let frame = load_image(path).map_err(|e| decode_error(path, e))?;
        Ok(Self::from_frame(path, frame, repeat, fps))
    }

    /// A still source from a frame already in memory (`label` names it in
    /// [`FrameSource::describe`]).
    pub fn from_frame(
        label: &Path,
        frame: Frame,
        repeat: StillRepeat,
        fps: f64,
    ) -> StillImageSource {
        let fps = check_fps(fps).unwrap_or(super::DEFAULT_REPLAY_FPS);
        let count = match repeat {
            StillRepeat::Once => Some(1),
            StillRepeat::Times(n) => Some(n),
            // Frames i with i / fps < d.
            StillRepeat::For(d) => Some((d.as_secs_f64() * fps - 1e-9).ceil().max(0.0) as u64),
            StillRepeat::Forever => None,
        };
        StillImageSource {
            path: label.to_path_buf(),
            frame,
            fps,
            count,
            next: 0,
        }
    }

    /// Number of frames, `None` = forever.
    pub fn frame_count(&self) -> Option<u64> {
        self.count
    }
}

impl FrameSource for StillImageSource {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        if self.count.is_some_and(|n| self.next >= n) {
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        Ok(Some(TimedFrame {
            frame: self.frame.clone(),
            timestamp: secs(index as f64 / self.fps),
            index,
        }))
    }

    fn describe(&self) -> String {
        let times = match self.count {
            Some(n) => format!("{n} frame(s)"),
            None => "repeated forever".to_owned(),
        };
        format!(
            "replay still image {} ({}x{}, {times} @ {} fps)",
            self.path.display(),
            self.frame.width,
            self.frame.height,
            self.fps
        )
    }
}

// ---------------------------------------------------------------------------
// Pacing

/// Delivers a source's frames at their timestamps ([`Pacing::RealTime`]) or
/// as fast as they come ([`Pacing::AsFastAsPossible`]).
///
/// The clock starts at the first frame; a frame is never delivered before
/// `start + (timestamp - first timestamp)`. A slow consumer makes frames
/// late, never skipped (dropping stale frames is [`super::CaptureThread`]'s job).
pub struct Paced<S> {
    inner: S,
    pacing: Pacing,
    start: Option<(Instant, Duration)>,
}

impl<S: FrameSource> Paced<S> {
    pub fn new(inner: S, pacing: Pacing) -> Paced<S> {
        Paced {
            inner,
            pacing,
            start: None,
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: FrameSource> FrameSource for Paced<S> {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        let next = self.inner.next_frame()?;
        if let (Some(tf), Pacing::RealTime) = (&next, self.pacing) {
            match self.start {
                None => self.start = Some((Instant::now(), tf.timestamp)),
                Some((t0, ts0)) => {
                    let due = t0 + tf.timestamp.saturating_sub(ts0);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
            }
        }
        Ok(next)
    }

    fn describe(&self) -> String {
        match self.pacing {
            Pacing::RealTime => format!("{} [real time]", self.inner.describe()),
            Pacing::AsFastAsPossible => format!("{} [as fast as possible]", self.inner.describe()),
        }
    }
}

// ---------------------------------------------------------------------------
// Looping

/// Plays a recording again and again (demo kiosks): reopens it at the end,
/// continuing timestamps and indices so the stream looks like one long video.
pub struct Looping {
    open: Box<dyn FnMut() -> Result<Box<dyn FrameSource>, CameraError>>,
    current: Box<dyn FrameSource>,
    /// Added to the current pass's timestamps.
    offset: Duration,
    index_offset: u64,
    /// Last delivered (stream) timestamp and index, and the last frame gap.
    last: Option<(Duration, u64)>,
    gap: Duration,
    frames_this_pass: u64,
}

impl Looping {
    /// Opens the first pass with `open` (called again at each end).
    pub fn new(
        mut open: impl FnMut() -> Result<Box<dyn FrameSource>, CameraError> + 'static,
    ) -> Result<Looping, CameraError> {
        let current = open()?;
        Ok(Looping {
            open: Box::new(open),
            current,
            offset: Duration::ZERO,
            index_offset: 0,
            last: None,
            gap: Duration::from_millis(100),
            frames_this_pass: 0,
        })
    }

    fn deliver(&mut self, mut tf: TimedFrame) -> TimedFrame {
        tf.timestamp += self.offset;
        tf.index += self.index_offset;
        if let Some((ts, _)) = self.last
            && tf.timestamp > ts
        {
            self.gap = tf.timestamp - ts;
        }
        self.last = Some((tf.timestamp, tf.index));
        self.frames_this_pass += 1;
        tf
    }
}

impl FrameSource for Looping {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        if let Some(tf) = self.current.next_frame()? {
            return Ok(Some(self.deliver(tf)));
        }
        if self.frames_this_pass == 0 {
            // An empty recording would loop forever without a frame.
            return Ok(None);
        }
        self.current = (self.open)()?;
        if let Some((ts, index)) = self.last {
            self.offset = ts + self.gap;
            self.index_offset = index + 1;
        }
        self.frames_this_pass = 0;
        match self.current.next_frame()? {
            Some(tf) => Ok(Some(self.deliver(tf))),
            None => Ok(None),
        }
    }

    fn describe(&self) -> String {
        format!("{} [looping]", self.current.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Frame {
        Frame::from_rgb(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap()
    }

    fn drain(src: &mut dyn FrameSource) -> Vec<TimedFrame> {
        let mut out = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn still_repeat_counts() {
        let p = Path::new("x.png");
        let once = StillImageSource::from_frame(p, tiny(), StillRepeat::Once, 10.0);
        assert_eq!(once.frame_count(), Some(1));
        let mut two_s =
            StillImageSource::from_frame(p, tiny(), StillRepeat::For(Duration::from_secs(2)), 10.0);
        assert_eq!(two_s.frame_count(), Some(20));
        let frames = drain(&mut two_s);
        assert_eq!(frames.len(), 20);
        assert_eq!(frames[19].timestamp, Duration::from_millis(1900));
        assert_eq!(frames[19].index, 19);
        let forever = StillImageSource::from_frame(p, tiny(), StillRepeat::Forever, 10.0);
        assert_eq!(forever.frame_count(), None);
    }

    #[test]
    fn bad_fps_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for fps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = ImageDirSource::open(dir.path(), fps).err().unwrap();
            assert!(matches!(err, CameraError::InvalidSetting(_)), "{err}");
        }
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hi").unwrap();
        let err = ImageDirSource::open(dir.path(), 10.0).err().unwrap();
        assert!(matches!(err, CameraError::EmptyDirectory { .. }), "{err}");
    }

    #[test]
    fn looping_continues_timestamps_and_indices() {
        let mut src = Looping::new(|| {
            Ok(Box::new(StillImageSource::from_frame(
                Path::new("x.png"),
                tiny(),
                StillRepeat::Times(3),
                10.0,
            )) as Box<dyn FrameSource>)
        })
        .unwrap();
        let got: Vec<(u64, Duration)> = (0..7)
            .map(|_| {
                let f = src.next_frame().unwrap().unwrap();
                (f.index, f.timestamp)
            })
            .collect();
        let want: Vec<(u64, Duration)> = (0..7u64)
            .map(|i| (i, Duration::from_millis(100 * i)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn looping_an_empty_source_ends() {
        let mut src = Looping::new(|| {
            Ok(Box::new(StillImageSource::from_frame(
                Path::new("x.png"),
                tiny(),
                StillRepeat::Times(0),
                10.0,
            )) as Box<dyn FrameSource>)
        })
        .unwrap();
        assert!(src.next_frame().unwrap().is_none());
    }

    #[test]
    fn paced_real_time_waits_for_timestamps() {
        let still =
            StillImageSource::from_frame(Path::new("x.png"), tiny(), StillRepeat::Times(4), 20.0);
        let mut paced = Paced::new(still, Pacing::RealTime);
        let t0 = Instant::now();
        assert_eq!(drain(&mut paced).len(), 4);
        // 3 gaps of 50 ms.
        assert!(
            t0.elapsed() >= Duration::from_millis(140),
            "{:?}",
            t0.elapsed()
        );
    }
}
