//! Video files decoded by Debian's `ffmpeg` run as a subprocess.
//!
//! `ffprobe` gives the stream's size, rotation and frame rate; `ffmpeg`
//! decodes to raw RGB24 on its stdout (`-f rawvideo -pix_fmt rgb24`), read
//! frame by frame with exact byte counts. Raw frames never touch disk.
//!
//! * Rotation: ffmpeg auto-rotates phone videos (display-matrix side data or
//!   the old `rotate` tag), so for ±90° the probed width and height are swapped
//!   to match what is decoded.
//! * Timing: ffmpeg is asked for a constant frame rate (`-r` = the stream's
//!   frame rate; variable-rate phone videos get frames duplicated or dropped
//!   to fit), so frame `i` is at `i / fps` on the file's own timeline.

use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecert_vision::Frame;

use super::{CameraError, FrameSource, TimedFrame, secs};

/// Frame rates above this in `r_frame_rate` are timebase artefacts of
/// variable-rate files; the average rate is used instead.
const MAX_PLAUSIBLE_FPS: f64 = 240.0;
/// Used when the file states no usable frame rate.
const FALLBACK_FPS: &str = "25";
/// Keep at most this much of ffmpeg's stderr for error messages.
const STDERR_LIMIT: usize = 4096;

/// What `ffprobe` says about the first video stream (after rotation).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Width of the decoded (upright) frames.
    pub width: u32,
    /// Height of the decoded (upright) frames.
    pub height: u32,
    /// Display rotation in degrees (0, 90, 180, 270) that ffmpeg applies.
    pub rotation: u32,
    /// Frame rate used for decoding and timestamps.
    pub fps: f64,
    /// The same rate as passed to ffmpeg (`"287/12"`, `"30"` …).
    pub fps_arg: String,
    /// Stream duration, when known.
    pub duration: Option<Duration>,
    /// Frame count stated in the container, when known.
    pub nb_frames: Option<u64>,
}

impl VideoInfo {
    /// Expected number of decoded frames (duration × fps, else the container's count).
    pub fn frame_count_hint(&self) -> Option<u64> {
        match self.duration {
            Some(d) => Some((d.as_secs_f64() * self.fps).round() as u64),
            None => self.nb_frames,
        }
    }

    fn frame_bytes(&self) -> Option<usize> {
        (self.width as usize)
            .checked_mul(self.height as usize)?
            .checked_mul(3)
    }
}

/// Parses `"num/den"` or `"num"`; `None` for `0/0`, zero, negative or junk.
fn parse_rate(s: &str) -> Option<f64> {
    let (num, den) = match s.split_once('/') {
        Some((n, d)) => (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?),
        None => (s.trim().parse::<f64>().ok()?, 1.0),
    };
    let rate = num / den;
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// A rate string safe to pass to ffmpeg: digits, one optional `/` or `.`.
fn clean_rate_arg(s: &str) -> Option<String> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'/' || b == b'.')
        && parse_rate(s).is_some();
    ok.then(|| s.to_owned())
}

/// Normalises a rotation in degrees to 0, 90, 180 or 270.
fn normalise_rotation(degrees: f64) -> u32 {
    let quarter = (degrees / 90.0).round() as i64;
    (quarter.rem_euclid(4) * 90) as u32
}

/// Builds a [`VideoInfo`] from `ffprobe -of json` output.
fn parse_probe(json: &str) -> Result<VideoInfo, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("unreadable ffprobe output: {e}"))?;
    let stream = v
        .get("streams")
        .and_then(|s| s.as_array())
        .and_then(|s| s.first())
        .ok_or("the file has no video stream")?;
    let dim = |key: &str| {
        stream
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("the video stream has no valid {key}"))
    };
    let (coded_w, coded_h) = (dim("width")?, dim("height")?);

    // Rotation: display-matrix side data (ffmpeg ≥ 5), else the old `rotate` tag.
    let side_rotation = stream
        .get("side_data_list")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .find_map(|sd| {
            let r = sd.get("rotation")?;
            r.as_f64().or_else(|| r.as_str()?.trim().parse().ok())
        });
    let tag_rotation = stream
        .get("tags")
        .and_then(|t| t.get("rotate"))
        .and_then(|r| r.as_str())
        .and_then(|r| r.trim().parse::<f64>().ok());
    let rotation = normalise_rotation(side_rotation.or(tag_rotation).unwrap_or(0.0));
    let (width, height) = if rotation % 180 == 90 {
        (coded_h, coded_w)
    } else {
        (coded_w, coded_h)
    };

    let rate = |key: &str| {
        let s = stream.get(key)?.as_str()?;
        let arg = clean_rate_arg(s)?;
        Some((parse_rate(&arg)?, arg))
    };
    let (fps, fps_arg) = match (rate("r_frame_rate"), rate("avg_frame_rate")) {
        (Some(r), _) if r.0 <= MAX_PLAUSIBLE_FPS => r,
        (_, Some(a)) if a.0 <= MAX_PLAUSIBLE_FPS => a,
        _ => (25.0, FALLBACK_FPS.to_owned()),
    };

    let duration = stream
        .get("duration")
        .and_then(|d| d.as_str())
        .and_then(|d| d.trim().parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(secs);
    let nb_frames = stream
        .get("nb_frames")
        .and_then(|n| n.as_str())
        .and_then(|n| n.trim().parse::<u64>().ok());
    Ok(VideoInfo {
        width,
        height,
        rotation,
        fps,
        fps_arg,
        duration,
        nb_frames,
    })
}

/// `file:` keeps ffmpeg from reading `a:b.mp4` as protocol `a`.
fn ffmpeg_input(path: &Path) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from("file:");
    s.push(path.as_os_str());
    s
}

fn spawn_error(program: &'static str, path: &Path, e: &std::io::Error) -> CameraError {
    if e.kind() == ErrorKind::NotFound {
        CameraError::FfmpegMissing { program }
    } else {
        CameraError::Video {
            path: path.to_path_buf(),
            reason: format!("cannot run {program}: {e}"),
        }
    }
}

/// Runs `ffprobe` on `path` (which must exist).
pub fn probe(path: &Path) -> Result<VideoInfo, CameraError> {
    if !path.exists() {
        return Err(CameraError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg(
            "stream=width,height,r_frame_rate,avg_frame_rate,nb_frames,duration\
             :stream_tags=rotate:stream_side_data=rotation",
        )
        .args(["-of", "json"])
        .arg(ffmpeg_input(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error("ffprobe", path, &e))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(CameraError::Video {
            path: path.to_path_buf(),
            reason: format!(
                "ffprobe cannot read it ({}): {}",
                output.status,
                first_line_or(&stderr, "no details")
            ),
        });
    }
    parse_probe(&String::from_utf8_lossy(&output.stdout)).map_err(|reason| CameraError::Video {
        path: path.to_path_buf(),
        reason,
    })
}

fn first_line_or<'a>(s: &'a str, default: &'a str) -> &'a str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(default)
}

/// A video file decoded by an `ffmpeg` child process.
///
/// The child is killed when the source is dropped.
pub struct VideoFileSource {
    path: PathBuf,
    info: VideoInfo,
    frame_bytes: usize,
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
    index: u64,
    finished: bool,
}

impl VideoFileSource {
    /// Probes `path` and starts decoding it.
    pub fn open(path: &Path) -> Result<VideoFileSource, CameraError> {
        let info = probe(path)?;
        let frame_bytes = info.frame_bytes().ok_or_else(|| CameraError::Video {
            path: path.to_path_buf(),
            reason: format!("frame size {}x{} is too large", info.width, info.height),
        })?;
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
            .arg(ffmpeg_input(path))
            .args(["-map", "0:v:0", "-an", "-sn", "-dn", "-r", &info.fps_arg])
            .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("ffmpeg", path, &e))?;
        let (Some(stdout), Some(mut child_stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(CameraError::Video {
                path: path.to_path_buf(),
                reason: "cannot connect to ffmpeg's output".to_owned(),
            });
        };
        // Drain stderr so ffmpeg never blocks on it; keep the start for errors.
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = std::thread::Builder::new()
            .name("ffmpeg-stderr".to_owned())
            .spawn(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match child_stderr.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if let Ok(mut s) = sink.lock()
                                && s.len() < STDERR_LIMIT
                            {
                                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                            }
                        }
                    }
                }
            })
            .ok();
        Ok(VideoFileSource {
            path: path.to_path_buf(),
            frame_bytes,
            stdout: BufReader::with_capacity(frame_bytes.clamp(64 * 1024, 8 << 20), stdout),
            info,
            child,
            stderr,
            stderr_thread,
            index: 0,
            finished: false,
        })
    }

    /// Size, rotation and frame rate of the stream.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn stderr_text(&mut self) -> String {
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        self.stderr
            .lock()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    fn fail(&mut self, reason: String) -> CameraError {
        self.finished = true;
        let _ = self.child.kill();
        let _ = self.child.wait();
        CameraError::Video {
            path: self.path.clone(),
            reason,
        }
    }

    /// End of stdout: a clean end, or ffmpeg's error.
    fn finish(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        self.finished = true;
        let status = self.child.wait();
        let stderr = self.stderr_text();
        match status {
            Ok(s) if s.success() && self.index > 0 => {
                if !stderr.is_empty() {
                    // E.g. a truncated file: ffmpeg decodes what it can and exits 0.
                    tracing::warn!(
                        path = %self.path.display(),
                        frames = self.index,
                        problems = first_line_or(&stderr, ""),
                        "ffmpeg reported problems while decoding"
                    );
                }
                Ok(None)
            }
            Ok(s) if s.success() => Err(CameraError::Video {
                path: self.path.clone(),
                reason: format!(
                    "ffmpeg decoded no frames: {}",
                    first_line_or(&stderr, "empty or unreadable video stream")
                ),
            }),
            Ok(s) => Err(CameraError::Video {
                path: self.path.clone(),
                reason: format!(
                    "ffmpeg failed after {} frame(s) ({s}): {}",
                    self.index,
                    first_line_or(&stderr, "no details")
                ),
            }),
            Err(e) => Err(CameraError::Video {
                path: self.path.clone(),
                reason: format!("cannot wait for ffmpeg: {e}"),
            }),
        }
    }
}

impl FrameSource for VideoFileSource {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        if self.finished {
            return Ok(None);
        }
        let mut rgb = vec![0u8; self.frame_bytes];
        let mut filled = 0;
        while filled < rgb.len() {
            match self.stdout.read(&mut rgb[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(format!("cannot read ffmpeg's output: {e}"))),
            }
        }
        if filled == 0 {
            return self.finish();
        }
        if filled < rgb.len() {
            // stdout closed mid-frame: ffmpeg is exiting; collect its message.
            self.finished = true;
            let _ = self.child.wait();
            let stderr = self.stderr_text();
            return Err(self.fail(format!(
                "ffmpeg's output ended inside frame {} ({filled} of {} bytes; expected {}x{} \
                 RGB frames): {}",
                self.index,
                rgb.len(),
                self.info.width,
                self.info.height,
                first_line_or(&stderr, "no details")
            )));
        }
        let Some(frame) = Frame::from_rgb(self.info.width, self.info.height, rgb) else {
            return Err(self.fail("frame size mismatch".to_owned()));
        };
        let index = self.index;
        self.index += 1;
        Ok(Some(TimedFrame {
            frame,
            timestamp: secs(index as f64 / self.info.fps),
            index,
        }))
    }

    fn describe(&self) -> String {
        let rotation = if self.info.rotation == 0 {
            String::new()
        } else {
            format!(", rotated {}°", self.info.rotation)
        };
        format!(
            "replay video {} ({}x{} @ {:.3} fps{rotation}, ffmpeg)",
            self.path.display(),
            self.info.width,
            self.info.height,
            self.info.fps
        )
    }
}

impl Drop for VideoFileSource {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("30/1"), Some(30.0));
        assert!((parse_rate("287/12").unwrap() - 23.9167).abs() < 1e-3);
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("25"), Some(25.0));
        assert_eq!(parse_rate("x"), None);
        assert_eq!(clean_rate_arg("30000/1001").as_deref(), Some("30000/1001"));
        assert_eq!(clean_rate_arg("30; rm -rf"), None);
    }

    #[test]
    fn missing_ffmpeg_names_the_debian_package() {
        let e = std::io::Error::from(ErrorKind::NotFound);
        let err = spawn_error("ffprobe", Path::new("a.mp4"), &e);
        assert!(matches!(err, CameraError::FfmpegMissing { .. }));
        let msg = err.to_string();
        assert!(msg.contains("Debian package `ffmpeg`"), "{msg}");
        assert!(msg.contains("`ffprobe` was not found"), "{msg}");
    }

    #[test]
    fn rotations() {
        assert_eq!(normalise_rotation(-90.0), 270);
        assert_eq!(normalise_rotation(90.0), 90);
        assert_eq!(normalise_rotation(-180.0), 180);
        assert_eq!(normalise_rotation(360.0), 0);
    }

    #[test]
    fn probe_portrait_phone_video() {
        let json = r#"{"streams":[{"width":854,"height":480,"r_frame_rate":"287/12",
            "avg_frame_rate":"15030000/629941","duration":"13.998689","nb_frames":"334",
            "tags":{},"side_data_list":[{"rotation":-90}]}]}"#;
        let info = parse_probe(json).unwrap();
        assert_eq!((info.width, info.height, info.rotation), (480, 854, 270));
        assert_eq!(info.fps_arg, "287/12");
        assert_eq!(info.frame_count_hint(), Some(335));
        assert_eq!(info.nb_frames, Some(334));
    }

    #[test]
    fn probe_old_rotate_tag_and_vfr_timebase() {
        let json = r#"{"streams":[{"width":640,"height":360,"r_frame_rate":"90000/1",
            "avg_frame_rate":"30/1","tags":{"rotate":"90"}}]}"#;
        let info = parse_probe(json).unwrap();
        assert_eq!((info.width, info.height, info.rotation), (360, 640, 90));
        assert_eq!(info.fps_arg, "30/1");
        assert_eq!(info.duration, None);
    }

    #[test]
    fn probe_without_video_stream() {
        let err = parse_probe(r#"{"programs":[],"streams":[]}"#).unwrap_err();
        assert!(err.contains("no video stream"), "{err}");
        let info =
            parse_probe(r#"{"streams":[{"width":4,"height":2,"r_frame_rate":"0/0"}]}"#).unwrap();
        assert_eq!(info.fps_arg, "25");
    }
}
