//! The camera layer against real recordings from the shared test data:
//! a portrait phone video (ffmpeg), a webcam GIF, an image directory and a
//! still repeated as a video; pacing; the capture thread's stale-frame
//! dropping, reconnection and clean stop; and error paths (missing file,
//! corrupt video, no camera).
//!
//! Recordings missing → the test prints `SKIP: …` and passes. `ffmpeg`
//! missing → video tests SKIP, or FAIL when `CI=true` (CI installs ffmpeg).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lifecert::camera::{
    CameraError, CameraEvent, CaptureOptions, CaptureThread, FrameSource, GifSource,
    ImageDirSource, Pacing, ReplayOptions, StillImageSource, StillRepeat, TimedFrame,
    VideoFileSource, open_configured, open_replay, open_replay_with,
};
use lifecert::config::CameraSource;
use lifecert_vision::Frame;

const FACES: &str = "/work/shared/testdata/faces";
const BLINK: &str = "video_blink_repeating/blink_selfie/video.mp4";
const GIF: &str = "video_headpose_shenasa/webcam_woman/sample.gif";
const EXIF_JPEG: &str = "antispoof_silentface/live/image_T1.jpg"; // 640x480 stored, EXIF 6
const OBAMA_240: &str = "face_recognition_examples/obama/obama-240p.jpg"; // 427x240
const PNG: &str = "face_recognition_examples/obama/32bit.png"; // 626x1200 RGBA

fn faces_dir() -> PathBuf {
    std::env::var_os("LIFECERT_FACES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(FACES))
}

/// The shared recording `rel`, or `None` (after printing SKIP) if absent.
fn shared(rel: &str, test: &str) -> Option<PathBuf> {
    let path = faces_dir().join(rel);
    if path.exists() {
        Some(path)
    } else {
        println!("SKIP: {test}: test data {} not present", path.display());
        None
    }
}

/// True if ffmpeg and ffprobe run; otherwise SKIP, or panic under CI=true.
fn ffmpeg_available(test: &str) -> bool {
    let runs = |p: &str| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: ffmpeg/ffprobe not installed but CI=true: apt-get install ffmpeg");
    }
    println!("SKIP: {test}: ffmpeg not installed (Debian package `ffmpeg`)");
    false
}

fn video(test: &str) -> Option<PathBuf> {
    let path = shared(BLINK, test)?;
    ffmpeg_available(test).then_some(path)
}

fn drain(source: &mut dyn FrameSource) -> Vec<TimedFrame> {
    let mut frames = Vec::new();
    while let Some(f) = source.next_frame().unwrap() {
        frames.push(f);
    }
    frames
}

fn err_of<T>(r: Result<T, CameraError>) -> CameraError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn assert_indexed(frames: &[TimedFrame]) {
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        if i > 0 {
            assert!(
                f.timestamp > frames[i - 1].timestamp,
                "frame {i} not after {}",
                i - 1
            );
        }
    }
}

/// Mean brightness of a horizontal band (fraction of the height).
fn band_mean(frame: &Frame, from: f64, to: f64) -> f64 {
    let (y0, y1) = (
        (frame.height as f64 * from) as usize,
        (frame.height as f64 * to) as usize,
    );
    let row = frame.width as usize * 3;
    let band = &frame.rgb[y0 * row..y1 * row];
    band.iter().map(|&b| f64::from(b)).sum::<f64>() / band.len() as f64
}

// ---------------------------------------------------------------------------
// Video (ffmpeg)

#[test]
fn portrait_phone_video_decodes_upright_with_file_timestamps() {
    let Some(path) = video("portrait_phone_video") else {
        return;
    };
    let t0 = Instant::now();
    let mut src = open_replay(&path, Pacing::AsFastAsPossible).unwrap();
    let description = src.describe();
    assert!(description.contains("480x854"), "{description}");
    let frames = drain(&mut src);
    let took = t0.elapsed();
    println!(
        "{description}: {} frames in {took:?} ({:.0} fps)",
        frames.len(),
        frames.len() as f64 / took.as_secs_f64()
    );
    // 14.0 s at ~23.9 fps (variable-rate phone clip made constant-rate).
    assert!(
        (330..=340).contains(&frames.len()),
        "{} frames",
        frames.len()
    );
    for f in &frames {
        assert_eq!(
            (f.frame.width, f.frame.height),
            (480, 854),
            "frame {}",
            f.index
        );
        assert_eq!(f.frame.rgb.len(), 480 * 854 * 3);
    }
    assert_indexed(&frames);
    let t24 = frames[24].timestamp.as_secs_f64();
    assert!((t24 - 1.0).abs() < 0.02, "frame 24 at {t24} s");
    let last = frames.last().unwrap().timestamp.as_secs_f64();
    assert!((13.8..14.1).contains(&last), "last frame at {last} s");
    // Not black / not garbage: a lit selfie has mid-range brightness.
    let mean = band_mean(&frames[100].frame, 0.0, 1.0);
    assert!((30.0..230.0).contains(&mean), "mean brightness {mean}");
}

#[test]
fn video_info_from_ffprobe() {
    let Some(path) = video("video_info") else {
        return;
    };
    let src = VideoFileSource::open(&path).unwrap();
    let info = src.info();
    assert_eq!((info.width, info.height, info.rotation), (480, 854, 0));
    assert!((info.fps - 23.92).abs() < 0.05, "{}", info.fps);
    let hint = info.frame_count_hint().unwrap();
    assert!((330..=340).contains(&hint), "{hint}");
}

#[test]
fn rotation_metadata_is_honoured() {
    let Some(path) = video("rotation_metadata") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rotated = dir.path().join("rotated.mp4");
    // 1 s of the clip, stream-copied, tagged "rotate 90°" (no re-encode).
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&path)
        .args(["-t", "1", "-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&rotated)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not write the rotated copy");
    let mut src = VideoFileSource::open(&rotated).unwrap();
    if src.info().rotation == 0 {
        println!("SKIP: rotation_metadata: this ffmpeg ignores `-metadata rotate=`");
        return;
    }
    assert_eq!(src.info().rotation, 90);
    let frames = drain(&mut src);
    assert!((20..=30).contains(&frames.len()), "{}", frames.len());
    for f in &frames {
        assert_eq!((f.frame.width, f.frame.height), (854, 480));
    }
}

#[test]
fn corrupt_video_is_an_error_not_a_panic() {
    if !ffmpeg_available("corrupt_video") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.mp4");
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&bad, garbage).unwrap();
    let err = err_of(open_replay(&bad, Pacing::AsFastAsPossible));
    let msg = err.to_string();
    println!("corrupt video: {msg}");
    assert!(matches!(err, CameraError::Video { .. }), "{err:?}");
    assert!(msg.contains("garbage.mp4"), "{msg}");

    // An empty file too.
    let empty = dir.path().join("empty.webm");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        err_of(open_replay(&empty, Pacing::AsFastAsPossible)),
        CameraError::Video { .. }
    ));
}

#[test]
fn truncated_video_does_not_panic() {
    let Some(path) = video("truncated_video") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // This clip keeps its index (moov) at the end: cut in half, it is unreadable.
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = err_of(open_replay(&cut, Pacing::AsFastAsPossible));
    println!("truncated video (index at the end): {err}");
    assert!(matches!(err, CameraError::Video { .. }), "{err:?}");

    // Index at the start (+faststart), cut in half: the first part plays, then it ends.
    let faststart = dir.path().join("faststart.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&path)
        .args(["-c", "copy", "-movflags", "+faststart"])
        .arg(&faststart)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not remux the clip");
    let bytes = std::fs::read(&faststart).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut src = open_replay(&cut, Pacing::AsFastAsPossible).unwrap();
    let mut n = 0;
    loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                assert_eq!((f.frame.width, f.frame.height), (480, 854));
                n += 1;
            }
            Ok(None) => break,
            Err(e) => {
                println!("truncated video: error after {n} frames: {e}");
                break;
            }
        }
    }
    println!("truncated video (index at the start): {n} frames");
    assert!((1..335).contains(&n), "{n} frames");
}

#[test]
fn dropping_a_video_source_kills_ffmpeg() {
    let Some(path) = video("kill_on_drop") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unique = dir.path().join("kill-on-drop-probe.mp4");
    std::fs::copy(&path, &unique).unwrap();
    let mut src = VideoFileSource::open(&unique).unwrap();
    src.next_frame().unwrap().unwrap();
    assert!(ffmpeg_running_on(&unique), "ffmpeg should be decoding");
    drop(src);
    assert!(!ffmpeg_running_on(&unique), "ffmpeg survived the drop");
}

/// Whether a live process has `file` in its command line (Linux /proc).
fn ffmpeg_running_on(file: &Path) -> bool {
    let needle = file.to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let status = std::fs::read_to_string(p.path().join("status")).unwrap_or_default();
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        !zombie && String::from_utf8_lossy(&cmdline).contains(&needle)
    })
}

// ---------------------------------------------------------------------------
// GIF, image directory, still

#[test]
fn webcam_gif_frames_and_delays() {
    let Some(path) = shared(GIF, "webcam_gif") else {
        return;
    };
    let mut gif = GifSource::open(&path).unwrap();
    assert_eq!(gif.dimensions(), (400, 220));
    let frames = drain(&mut gif);
    assert_eq!(frames.len(), 88);
    assert_indexed(&frames);
    for f in &frames {
        assert_eq!((f.frame.width, f.frame.height), (400, 220));
    }
    // Every frame of this GIF has a 100 ms delay.
    assert_eq!(frames[10].timestamp, Duration::from_secs(1));
    assert_eq!(frames[87].timestamp, Duration::from_millis(8700));
    // The same through open_replay (by extension).
    let mut src = open_replay(&path, Pacing::AsFastAsPossible).unwrap();
    assert!(src.describe().contains("GIF"), "{}", src.describe());
    assert_eq!(drain(&mut src).len(), 88);
}

#[test]
fn image_directory_in_name_order_with_exif() {
    let (Some(exif), Some(obama), Some(png)) = (
        shared(EXIF_JPEG, "image_directory"),
        shared(OBAMA_240, "image_directory"),
        shared(PNG, "image_directory"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&obama, dir.path().join("frame_000.jpg")).unwrap();
    std::fs::copy(&exif, dir.path().join("frame_001.JPG")).unwrap();
    std::fs::copy(&png, dir.path().join("frame_002.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not an image").unwrap();
    std::fs::copy(&obama, dir.path().join(".hidden.jpg")).unwrap();

    let listed = ImageDirSource::open(dir.path(), 4.0).unwrap();
    assert_eq!(listed.len(), 3);

    let mut src = open_replay_with(
        dir.path(),
        &ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            fps: 4.0,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let frames = drain(&mut src);
    let dims: Vec<(u32, u32)> = frames
        .iter()
        .map(|f| (f.frame.width, f.frame.height))
        .collect();
    // The EXIF-6 JPEG is stored 640x480 and comes out upright 480x640.
    assert_eq!(dims, [(427, 240), (480, 640), (626, 1200)]);
    let stamps: Vec<Duration> = frames.iter().map(|f| f.timestamp).collect();
    assert_eq!(stamps, [0, 250, 500].map(Duration::from_millis));

    // Default directory rate is 10 fps.
    let mut src = open_replay(dir.path(), Pacing::AsFastAsPossible).unwrap();
    let frames = drain(&mut src);
    assert_eq!(frames[2].timestamp, Duration::from_millis(200));
}

#[test]
fn a_still_repeated_as_a_video() {
    let Some(path) = shared(EXIF_JPEG, "still_repeated") else {
        return;
    };
    // Once by default.
    let mut once = open_replay(&path, Pacing::AsFastAsPossible).unwrap();
    assert_eq!(drain(&mut once).len(), 1);
    // N times.
    let mut five = StillImageSource::open(&path, StillRepeat::Times(5), 10.0).unwrap();
    let frames = drain(&mut five);
    assert_eq!(frames.len(), 5);
    assert!(frames.iter().all(|f| f.frame == frames[0].frame));
    assert_eq!((frames[0].frame.width, frames[0].frame.height), (480, 640));
    // For a duration at an fps: 2 s at 15 fps = 30 frames, the last at 29/15 s.
    let mut src = open_replay_with(
        &path,
        &ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            fps: 15.0,
            still: StillRepeat::For(Duration::from_secs(2)),
            looping: false,
        },
    )
    .unwrap();
    let frames = drain(&mut src);
    assert_eq!(frames.len(), 30);
    assert_indexed(&frames);
    assert!((frames[29].timestamp.as_secs_f64() - 29.0 / 15.0).abs() < 1e-6);
    // Forever: still delivering after many frames.
    let mut forever = StillImageSource::open(&path, StillRepeat::Forever, 10.0).unwrap();
    for _ in 0..200 {
        assert!(forever.next_frame().unwrap().is_some());
    }
}

#[test]
fn looping_replay_keeps_going() {
    let Some(path) = shared(GIF, "looping_replay") else {
        return;
    };
    let mut src = open_replay_with(
        &path,
        &ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            looping: true,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let frames: Vec<TimedFrame> = (0..200)
        .map(|_| src.next_frame().unwrap().unwrap())
        .collect();
    assert_indexed(&frames);
    assert_eq!(frames[88].timestamp, Duration::from_millis(8800));
    assert_eq!(frames[88].frame, frames[0].frame);
}

// ---------------------------------------------------------------------------
// Pacing

#[test]
fn real_time_pacing_follows_the_clip() {
    let Some(path) = video("real_time_pacing") else {
        return;
    };
    let first_12 = |pacing| {
        let mut src = open_replay(&path, pacing).unwrap();
        let first = src.next_frame().unwrap().unwrap();
        let t0 = Instant::now();
        let mut last = first;
        for _ in 0..11 {
            last = src.next_frame().unwrap().unwrap();
        }
        (t0.elapsed(), last.timestamp)
    };
    let (fast, _) = first_12(Pacing::AsFastAsPossible);
    let (real, clip) = first_12(Pacing::RealTime);
    println!("12 frames: real time {real:?} (clip {clip:?}), as fast as possible {fast:?}");
    // 11 frame gaps at ~23.9 fps = 0.46 s.
    assert!((clip.as_secs_f64() - 0.46).abs() < 0.01, "{clip:?}");
    assert!(
        real >= clip.saturating_sub(Duration::from_millis(20)),
        "{real:?}"
    );
    assert!(real < clip + Duration::from_millis(1500), "{real:?}");
    assert!(fast < real, "fast {fast:?} vs real {real:?}");
}

// ---------------------------------------------------------------------------
// Capture thread

/// Frames at a fixed rate from memory; counts how many are alive (camera "on").
struct Synthetic {
    n: u64,
    limit: Option<u64>,
    fail_at: Option<u64>,
    open: Arc<AtomicU32>,
}

impl Synthetic {
    fn new(limit: Option<u64>, fail_at: Option<u64>, open: &Arc<AtomicU32>) -> Synthetic {
        open.fetch_add(1, Ordering::SeqCst);
        Synthetic {
            n: 0,
            limit,
            fail_at,
            open: Arc::clone(open),
        }
    }
}

impl Drop for Synthetic {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FrameSource for Synthetic {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        if self.limit.is_some_and(|l| self.n >= l) {
            return Ok(None);
        }
        if self.fail_at == Some(self.n) {
            return Err(CameraError::Disconnected {
                device: "synthetic".into(),
                reason: "unplugged".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
        let index = self.n;
        self.n += 1;
        Ok(Some(TimedFrame {
            frame: Frame::from_rgb(2, 2, vec![index as u8; 12]).unwrap(),
            timestamp: Duration::from_millis(index * 2),
            index,
        }))
    }
    fn describe(&self) -> String {
        "synthetic".to_owned()
    }
}

#[test]
fn capture_thread_drops_stale_frames_for_a_slow_consumer() {
    let Some(path) = shared(GIF, "capture_drops_stale") else {
        return;
    };
    let wakes = Arc::new(AtomicU64::new(0));
    let w = Arc::clone(&wakes);
    let mut thread = CaptureThread::spawn(
        move || open_replay(&path, Pacing::AsFastAsPossible),
        CaptureOptions::replay().with_wake(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap();
    let rx = thread.receiver();
    let mut received = Vec::new();
    let ended = loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Some(CameraEvent::Frame(f)) => {
                received.push(f.index);
                std::thread::sleep(Duration::from_millis(40)); // slow consumer
            }
            Some(CameraEvent::Ended) => break true,
            Some(other) => panic!("unexpected {other:?}"),
            None => break false,
        }
    };
    assert!(ended, "no Ended event");
    let dropped = rx.dropped_frames();
    println!(
        "slow consumer: received {} of 88 frames, {dropped} dropped, {} wakes",
        received.len(),
        wakes.load(Ordering::SeqCst)
    );
    assert!(dropped > 0, "nothing dropped");
    assert_eq!(received.len() as u64 + dropped, 88);
    assert_eq!(rx.captured_frames(), 88);
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "order: {received:?}"
    );
    assert_eq!(*received.last().unwrap(), 87, "the newest frame must win");
    assert!(wakes.load(Ordering::SeqCst) >= received.len() as u64);
    thread.stop();
    assert!(!thread.is_running());
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), None);
}

#[test]
fn capture_thread_stops_promptly_and_closes_the_source() {
    let open = Arc::new(AtomicU32::new(0));
    let o = Arc::clone(&open);
    let mut thread = CaptureThread::spawn(
        move || Ok(Box::new(Synthetic::new(None, None, &o)) as Box<dyn FrameSource>),
        CaptureOptions::live(Duration::from_millis(50)),
    )
    .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            thread.recv_timeout(Duration::from_secs(5)),
            Some(CameraEvent::Frame(_))
        ));
    }
    assert_eq!(open.load(Ordering::SeqCst), 1, "source should be open");
    assert_eq!(thread.source_description().as_deref(), Some("synthetic"));
    let t0 = Instant::now();
    thread.stop();
    let took = t0.elapsed();
    println!("stop took {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        open.load(Ordering::SeqCst),
        0,
        "source still open after stop"
    );
    assert!(!thread.is_running());
    thread.stop(); // idempotent
}

#[test]
fn capture_thread_stop_on_drop_kills_ffmpeg() {
    let Some(path) = video("capture_drop_kills_ffmpeg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unique = dir.path().join("capture-drop-probe.mp4");
    std::fs::copy(&path, &unique).unwrap();
    let u = unique.clone();
    let thread = CaptureThread::spawn(
        move || open_replay(&u, Pacing::RealTime),
        CaptureOptions::replay(),
    )
    .unwrap();
    assert!(matches!(
        thread.recv_timeout(Duration::from_secs(10)),
        Some(CameraEvent::Frame(_))
    ));
    assert!(ffmpeg_running_on(&unique));
    let t0 = Instant::now();
    drop(thread);
    println!("drop of a real-time video capture took {:?}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(
        !ffmpeg_running_on(&unique),
        "ffmpeg survived the capture thread"
    );
}

#[test]
fn capture_thread_reconnects_after_an_unplug() {
    let open = Arc::new(AtomicU32::new(0));
    let attempts = Arc::new(AtomicU32::new(0));
    let (o, a) = (Arc::clone(&open), Arc::clone(&attempts));
    // Attempt 0 works then "unplugs" after 3 frames; attempts 1-2 fail to open; 3 works.
    let factory = move || -> Result<Box<dyn FrameSource>, CameraError> {
        match a.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(Box::new(Synthetic::new(None, Some(3), &o))),
            1 | 2 => Err(CameraError::Open {
                device: "v4l:9".into(),
                reason: "No such file or directory (os error 2)".into(),
            }),
            _ => Ok(Box::new(Synthetic::new(None, None, &o))),
        }
    };
    let mut thread =
        CaptureThread::spawn(factory, CaptureOptions::live(Duration::from_millis(20))).unwrap();
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match thread.recv_timeout(Duration::from_secs(5)) {
            Some(CameraEvent::Frame(f)) => {
                log.push(format!("F{}", f.index));
                if log.iter().any(|e| e == "R") && f.index >= 2 {
                    break;
                }
            }
            Some(CameraEvent::Error(m)) => log.push(format!("E:{m}")),
            Some(CameraEvent::Reconnected) => log.push("R".into()),
            Some(CameraEvent::Ended) => log.push("END".into()),
            None => break,
        }
    }
    println!("events: {log:?}");
    let errors: Vec<&String> = log.iter().filter(|e| e.starts_with("E:")).collect();
    // The unplug, then one report for the two identical open failures.
    assert_eq!(errors.len(), 2, "{log:?}");
    assert!(errors[0].contains("stopped delivering frames"), "{log:?}");
    assert!(errors[1].contains("cannot open camera v4l:9"), "{log:?}");
    let r = log.iter().position(|e| e == "R").expect("no Reconnected");
    assert_eq!(&log[r + 1], "F0");
    assert!(attempts.load(Ordering::SeqCst) >= 4);
    thread.stop();
    assert_eq!(open.load(Ordering::SeqCst), 0);
}

#[test]
fn capture_thread_reports_a_missing_recording_once_and_finishes() {
    let mut thread = CaptureThread::spawn(
        || open_replay(Path::new("/nonexistent/clip.mp4"), Pacing::RealTime),
        CaptureOptions::replay(),
    )
    .unwrap();
    match thread.recv_timeout(Duration::from_secs(5)) {
        Some(CameraEvent::Error(m)) => assert!(m.contains("/nonexistent/clip.mp4"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(thread.recv_timeout(Duration::from_secs(5)), None);
    thread.stop();
}

#[test]
fn capture_thread_keeps_retrying_a_live_camera_until_stopped() {
    let attempts = Arc::new(AtomicU32::new(0));
    let a = Arc::clone(&attempts);
    let mut thread = CaptureThread::spawn(
        move || {
            a.fetch_add(1, Ordering::SeqCst);
            open_configured(&CameraSource::V4lIndex(97), 640, 480, 15, Pacing::RealTime)
        },
        CaptureOptions::live(Duration::from_millis(30)),
    )
    .unwrap();
    match thread.recv_timeout(Duration::from_secs(5)) {
        Some(CameraEvent::Error(m)) => println!("v4l:97 → {m}"),
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(thread.is_running());
    assert!(attempts.load(Ordering::SeqCst) >= 3);
    // Identical failures are reported once.
    assert_eq!(thread.try_recv(), None);
    thread.stop();
    assert!(!thread.is_running());
}

// ---------------------------------------------------------------------------
// Errors and configuration

#[test]
fn missing_recording_is_a_clear_error() {
    let err = err_of(open_replay(
        Path::new("/nonexistent/blink.mp4"),
        Pacing::RealTime,
    ));
    assert!(matches!(err, CameraError::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/blink.mp4") && msg.contains("not found"),
        "{msg}"
    );

    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("clip.xyz");
    std::fs::write(&odd, b"?").unwrap();
    let msg = err_of(open_replay(&odd, Pacing::RealTime)).to_string();
    assert!(msg.contains("unknown extension `.xyz`"), "{msg}");

    let bad_jpeg = dir.path().join("bad.jpg");
    std::fs::write(&bad_jpeg, b"not a jpeg").unwrap();
    assert!(matches!(
        err_of(open_replay(&bad_jpeg, Pacing::RealTime)),
        CameraError::Decode { .. }
    ));

    let bad_gif = dir.path().join("bad.gif");
    std::fs::write(&bad_gif, b"GIF89a garbage").unwrap();
    assert!(matches!(
        err_of(open_replay(&bad_gif, Pacing::RealTime)),
        CameraError::Decode { .. }
    ));
}

#[test]
fn replay_via_configuration() {
    let Some(path) = shared(GIF, "replay_via_configuration") else {
        return;
    };
    let source = CameraSource::parse(&format!("replay:{}", path.display())).unwrap();
    let mut src = open_configured(&source, 640, 480, 15, Pacing::AsFastAsPossible).unwrap();
    let first = src.next_frame().unwrap().unwrap();
    assert_eq!((first.frame.width, first.frame.height), (400, 220));
}

#[test]
fn v4l_without_a_camera_is_a_clear_error() {
    if Path::new("/dev/video0").exists() {
        println!("SKIP: v4l_without_a_camera: /dev/video0 exists on this machine");
        return;
    }
    let err = err_of(open_configured(
        &CameraSource::V4lIndex(0),
        640,
        480,
        15,
        Pacing::RealTime,
    ));
    let msg = err.to_string();
    println!("v4l:0 → {msg}");
    if lifecert::camera::has_live_camera_support() {
        assert!(
            matches!(
                err,
                CameraError::Open { .. } | CameraError::WrongPlatform { .. }
            ),
            "{err:?}"
        );
        assert!(msg.contains("v4l:0"), "{msg}");
        assert!(
            msg.contains("/dev/video") && msg.contains("`video` group"),
            "{msg}"
        );
    } else {
        assert!(
            matches!(err, CameraError::NoCameraSupport { .. }),
            "{err:?}"
        );
        assert!(msg.contains("camera-nokhwa"), "{msg}");
    }

    let err = err_of(open_configured(
        &CameraSource::V4lName("Logitech BRIO".into()),
        640,
        480,
        15,
        Pacing::RealTime,
    ));
    println!("v4l:Logitech BRIO → {err}");
    if lifecert::camera::has_live_camera_support() {
        assert!(matches!(err, CameraError::DeviceNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("Logitech BRIO"));
    }
    let err = err_of(open_configured(
        &CameraSource::V4lName("/dev/video7".into()),
        640,
        480,
        15,
        Pacing::RealTime,
    ));
    println!("v4l:/dev/video7 → {err}");
    if lifecert::camera::has_live_camera_support() {
        assert!(
            err.to_string().contains("/dev/video7 does not exist"),
            "{err}"
        );
    }

    let err = err_of(open_configured(
        &CameraSource::Msmf(0),
        640,
        480,
        15,
        Pacing::RealTime,
    ));
    println!("msmf:0 → {err}");
    if cfg!(target_os = "linux") && lifecert::camera::has_live_camera_support() {
        assert!(matches!(err, CameraError::WrongPlatform { .. }), "{err:?}");
    }
}
