//! `lifecert attacks make`: the presentation-attack suite, generated from the
//! shared test faces (ISO/IEC 30107-3 species, one generator each).
//!
//! Every recording simulates a camera (640×480, 24 fps) in front of the
//! attack in a room: a wall behind, **hand jitter** (slow random sway of the
//! held medium, a few pixels and about a degree), **sensor noise** (Gaussian,
//! σ = 2 code values) and **light flicker** (mains lighting at 100 Hz seen at
//! 24 fps beats at 4 Hz, ±2 %). Media:
//!
//! - **print**: the source picture on paper (lower contrast, slightly
//!   desaturated), placed through a perspective projection of a flat sheet;
//! - **screen**: a phone or tablet: a black bezel, the display's gamma (1.1)
//!   and saturation, a **moiré** pattern (the display's pixel grid beating
//!   with the sensor's, ±5 %) and a **refresh beat** (a darker band rolling
//!   down at 60 Hz − 2·24 fps = 12 Hz).
//!
//! Species (each recording gets a `.scene.json` sidecar, [`SceneFile`], that
//! names the species, what is in front of the camera for the screen-light
//! simulation, the medium's outline per frame, the challenges the attack is
//! built to answer, and the victim's enrolment frame):
//!
//! | species | generator |
//! |---|---|
//! | `still_print` | one eyes-open frame, printed, held by hand for 12 s |
//! | `swap_occluded` | prints of eyes open / closed (mouth closed / open) swapped by hand: the hand passes in front of the camera for 0.4 s at every swap |
//! | `swap_cut` | the same two pictures as a slideshow on a screen, no occlusion |
//! | `crossfade_2`, `crossfade_5` | the slideshow with a 2- or 5-frame blend at every change |
//! | `flat_turned` | the frontal print turned about the vertical axis (±35°), tilted about the horizontal axis (±30°) and rotated in its plane (±30°), 3 s a cycle |
//! | `screen_replay` | the blink clip, the mouth clip and the head-pose GIF played on a screen |
//! | `injected` | the same three recordings sent straight to the camera input (no camera, no screen, no room) |
//!
//! The recordings are build output (never committed); ffmpeg encodes them
//! (H.264, CRF 16).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lifecert_core::action::Action;
use lifecert_core::liveness::SplitMix64;
use lifecert_vision::Frame;
use serde::{Deserialize, Serialize};

use crate::camera::{FrameSource, ReplayOptions, open_replay_with};
use crate::flash_sim::{Quad, Scene};

/// Output frame size and rate.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
pub const FPS: u32 = 24;

/// The blink clip, the mouth clip and the head-pose GIF, relative to the
/// shared faces folder.
pub const BLINK_CLIP: &str = "video_blink_repeating/blink_selfie/video.mp4";
pub const MOUTH_CLIP: &str = "video_mouth_open_mauckc/webcam_man/mouth_open.mp4";
pub const POSE_CLIP: &str = "video_headpose_shenasa/webcam_woman/sample.gif";

/// When the victim's enrolment frame is taken from a genuine clip: a
/// frontal, eyes-open, mouth-closed moment (the head-pose GIF is frontal
/// only at its start).
pub fn enrolment_time(clip: &str) -> f32 {
    if clip == POSE_CLIP { 0.0 } else { 1.0 }
}

/// The `.scene.json` sidecar of a generated recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneFile {
    /// `face`, `print`, `screen` or `injected` (see [`crate::flash_sim`]).
    pub scene: String,
    /// The attack species.
    pub species: String,
    /// How it was made.
    pub description: String,
    /// The challenges the attack is built to answer: one session each.
    pub plans: Vec<Vec<String>>,
    /// The genuine recording the victim is enrolled from, relative to the
    /// faces folder, and the time of the enrolment frame.
    pub victim: String,
    pub enrol_at_secs: f64,
    /// The outline of the print or display, per frame.
    #[serde(default)]
    pub outlines: Vec<Quad>,
}

impl SceneFile {
    /// The sidecar path of `recording`.
    pub fn path_for(recording: &Path) -> PathBuf {
        let mut name = recording.as_os_str().to_owned();
        name.push(".scene.json");
        PathBuf::from(name)
    }

    /// What is in front of the camera, for the screen-light simulation.
    pub fn scene(&self) -> Result<Scene, String> {
        let outlines = self.outlines.clone();
        match self.scene.as_str() {
            "face" => Ok(Scene::Face),
            "print" => Ok(Scene::Print { outlines }),
            "screen" => Ok(Scene::Screen { outlines }),
            "injected" => Ok(Scene::Injected),
            other => Err(format!(
                "unknown scene \"{other}\" (expected face, print, screen or injected)"
            )),
        }
    }

    /// The plans as actions; the error names the bad one.
    pub fn actions(&self) -> Result<Vec<Vec<Action>>, String> {
        self.plans
            .iter()
            .map(|p| {
                p.iter()
                    .map(|n| Action::from_name(n).ok_or_else(|| format!("unknown action \"{n}\"")))
                    .collect()
            })
            .collect()
    }
}

/// An RGB image with float access.
#[derive(Clone)]
struct Image {
    w: usize,
    h: usize,
    px: Vec<[f32; 3]>,
}

impl Image {
    fn from_frame(f: &Frame) -> Image {
        Image {
            w: f.width as usize,
            h: f.height as usize,
            px: f
                .rgb
                .chunks_exact(3)
                .map(|p| [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])
                .collect(),
        }
    }

    fn new(w: usize, h: usize) -> Image {
        Image {
            w,
            h,
            px: vec![[0.0; 3]; w * h],
        }
    }

    /// The centred crop with aspect `aw:ah`.
    fn crop_aspect(&self, aw: f32, ah: f32) -> Image {
        let (w, h) = (self.w as f32, self.h as f32);
        let (cw, ch) = if w / h > aw / ah {
            ((h * aw / ah) as usize, self.h)
        } else {
            (self.w, (w * ah / aw) as usize)
        };
        let (x0, y0) = ((self.w - cw) / 2, (self.h - ch) / 2);
        let mut out = Image::new(cw, ch);
        for y in 0..ch {
            for x in 0..cw {
                out.px[y * cw + x] = self.px[(y + y0) * self.w + x + x0];
            }
        }
        out
    }

    /// Bilinear sample at `(u, v)` in 0..1.
    fn sample(&self, u: f32, v: f32) -> [f32; 3] {
        let x = (u * self.w as f32 - 0.5).clamp(0.0, (self.w - 1) as f32);
        let y = (v * self.h as f32 - 0.5).clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |x: usize, y: usize| self.px[y * self.w + x];
        let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        [0, 1, 2].map(|k| {
            (a[k] * (1.0 - fx) + b[k] * fx) * (1.0 - fy) + (c[k] * (1.0 - fx) + d[k] * fx) * fy
        })
    }

    fn blend(&self, other: &Image, t: f32) -> Image {
        let mut out = self.clone();
        for (o, b) in out.px.iter_mut().zip(&other.px) {
            for k in 0..3 {
                o[k] = o[k] * (1.0 - t) + b[k] * t;
            }
        }
        out
    }

    fn to_rgb8(&self) -> Vec<u8> {
        self.px
            .iter()
            .flat_map(|p| p.map(|v| v.round().clamp(0.0, 255.0) as u8))
            .collect()
    }
}

/// Projective map of the unit square onto `q` (Heckbert 1989), inverted:
/// image point → `(u, v)` on the medium.
struct Homography {
    inv: [[f32; 3]; 3],
}

impl Homography {
    fn unit_to_quad(q: &Quad) -> Option<Homography> {
        let [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = *q;
        let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
        let m = if sx.abs() < 1e-6 && sy.abs() < 1e-6 {
            [
                [x1 - x0, x3 - x0, x0],
                [y1 - y0, y3 - y0, y0],
                [0.0, 0.0, 1.0],
            ]
        } else {
            let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
            let den = dx1 * dy2 - dx2 * dy1;
            if den.abs() < 1e-9 {
                return None;
            }
            let g = (sx * dy2 - dx2 * sy) / den;
            let h = (dx1 * sy - sx * dy1) / den;
            [
                [x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
                [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
                [g, h, 1.0],
            ]
        };
        let [[a, b, c], [d, e, f], [g, h, i]] = m;
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        if det.abs() < 1e-9 {
            return None;
        }
        let inv = [
            [
                (e * i - f * h) / det,
                (c * h - b * i) / det,
                (b * f - c * e) / det,
            ],
            [
                (f * g - d * i) / det,
                (a * i - c * g) / det,
                (c * d - a * f) / det,
            ],
            [
                (d * h - e * g) / det,
                (b * g - a * h) / det,
                (a * e - b * d) / det,
            ],
        ];
        Some(Homography { inv })
    }

    fn to_unit(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        let m = &self.inv;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        if w.abs() < 1e-9 {
            return None;
        }
        let u = (m[0][0] * x + m[0][1] * y + m[0][2]) / w;
        let v = (m[1][0] * x + m[1][1] * y + m[1][2]) / w;
        // On the edge within rounding counts as inside.
        let inside = |t: f32| (-1e-4..=1.0 + 1e-4).contains(&t);
        (inside(u) && inside(v)).then_some((u.clamp(0.0, 1.0), v.clamp(0.0, 1.0)))
    }
}

/// A flat rectangle `w × h` (pixels at the reference distance) at the image
/// centre plus `shift`, rotated by yaw / pitch / roll (radians) and projected
/// with a 600 px focal length from 1.0 reference distance.
fn project(w: f32, h: f32, shift: [f32; 2], yaw: f32, pitch: f32, roll: f32) -> Quad {
    let f = 600.0f32;
    let z0 = f;
    let corners = [
        [-w / 2.0, -h / 2.0],
        [w / 2.0, -h / 2.0],
        [w / 2.0, h / 2.0],
        [-w / 2.0, h / 2.0],
    ];
    corners.map(|[x, y]| {
        // Roll in the plane, then pitch (about x), then yaw (about y).
        let (x, y) = (
            x * roll.cos() - y * roll.sin(),
            x * roll.sin() + y * roll.cos(),
        );
        let (y, z) = (y * pitch.cos(), y * pitch.sin());
        let (x, z) = (
            x * yaw.cos() + z * yaw.sin(),
            -x * yaw.sin() + z * yaw.cos(),
        );
        let zz = (z0 + z).max(1.0);
        [
            WIDTH as f32 / 2.0 + shift[0] + f * x / zz,
            HEIGHT as f32 / 2.0 + shift[1] + f * y / zz,
        ]
    })
}

/// A Gaussian sample (Box–Muller).
fn gauss(rng: &mut SplitMix64) -> f32 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// The simulated camera and room.
struct Camera {
    rng: SplitMix64,
    room: Image,
    /// Hand sway phases.
    phases: [f32; 6],
}

/// What the camera looks at in one frame.
enum Medium<'a> {
    Print(&'a Image),
    Screen(&'a Image),
}

impl Camera {
    fn new(seed: u64) -> Camera {
        let mut rng = SplitMix64::new(seed);
        let mut room = Image::new(WIDTH as usize, HEIGHT as usize);
        // A wall: a soft vertical gradient, a door frame and a shelf.
        for y in 0..room.h {
            for x in 0..room.w {
                let t = y as f32 / room.h as f32;
                let mut c = [150.0 - 40.0 * t, 144.0 - 40.0 * t, 132.0 - 35.0 * t];
                if (40..70).contains(&x) || (570..600).contains(&x) {
                    c = [96.0, 74.0, 58.0];
                }
                if (300..312).contains(&y) && x > 430 {
                    c = [120.0, 100.0, 80.0];
                }
                room.px[y * room.w + x] = c;
            }
        }
        let phases = [0; 6].map(|_| (rng.next_u64() % 6283) as f32 / 1000.0);
        Camera { rng, room, phases }
    }

    /// Hand sway at time `t`: shift (px) and small angles (rad).
    fn sway(&self, t: f32) -> ([f32; 2], [f32; 3]) {
        let p = &self.phases;
        let s = |a: f32, f: f32, ph: f32| a * (2.0 * std::f32::consts::PI * f * t + ph).sin();
        (
            [
                s(4.0, 0.31, p[0]) + s(2.0, 0.73, p[1]),
                s(3.0, 0.27, p[2]) + s(1.5, 0.81, p[3]),
            ],
            [
                s(0.02, 0.23, p[4]),
                s(0.02, 0.19, p[5]),
                s(0.015, 0.29, p[0] + p[3]),
            ],
        )
    }

    /// One camera frame of `medium` on `quad` at time `t` (`occluder`: a
    /// hand's centre x, if one passes).
    fn shoot(&mut self, medium: &Medium<'_>, quad: &Quad, t: f32, occluder: Option<f32>) -> Frame {
        let mut out = self.room.clone();
        // The medium: a screen's bezel is a larger black quad around it.
        let (content, screen) = match medium {
            Medium::Print(i) => (*i, false),
            Medium::Screen(i) => (*i, true),
        };
        let bezel = screen.then(|| {
            let c = [0, 1].map(|k| quad.iter().map(|p| p[k]).sum::<f32>() / 4.0);
            quad.map(|p| [0, 1].map(|k| c[k] + (p[k] - c[k]) * 1.08))
        });
        let hq = Homography::unit_to_quad(quad);
        let hb = bezel.as_ref().and_then(Homography::unit_to_quad);
        let beat_row = (t * 12.0).fract();
        for y in 0..out.h {
            for x in 0..out.w {
                let (xf, yf) = (x as f32 + 0.5, y as f32 + 0.5);
                let i = y * out.w + x;
                if let Some((u, v)) = hq.as_ref().and_then(|h| h.to_unit(xf, yf)) {
                    let c = content.sample(u, v);
                    out.px[i] = if screen {
                        // Gamma 1.1, saturation +10 %, moiré, refresh beat.
                        let g = c.map(|v| 255.0 * (v / 255.0).powf(1.1));
                        let m = (g[0] + g[1] + g[2]) / 3.0;
                        let sat = g.map(|v| m + (v - m) * 1.1);
                        let moire = 1.0 + 0.05 * (0.9 * xf + 0.35 * yf).sin();
                        let band = ((v - beat_row).rem_euclid(1.0) < 0.15) as u8 as f32;
                        let k = moire * (1.0 - 0.08 * band);
                        sat.map(|v| v * k)
                    } else {
                        // Paper: less contrast, a little desaturated.
                        let m = (c[0] + c[1] + c[2]) / 3.0;
                        c.map(|v| 0.85 * (m + (v - m) * 0.9) + 18.0)
                    };
                } else if hb.as_ref().and_then(|h| h.to_unit(xf, yf)).is_some() {
                    out.px[i] = [12.0, 12.0, 14.0];
                }
                if let Some(hx) = occluder {
                    // A hand: a skin-coloured ellipse 260 × 420 px.
                    let (dx, dy) = ((xf - hx) / 130.0, (yf - 260.0) / 210.0);
                    if dx * dx + dy * dy < 1.0 {
                        out.px[i] = [196.0 - 30.0 * dy, 148.0 - 25.0 * dy, 122.0 - 20.0 * dy];
                    }
                }
            }
        }
        // Flicker (4 Hz beat, ±2 %) and sensor noise (σ = 2).
        let flicker = 1.0 + 0.02 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
        let mut rgb = Vec::with_capacity(out.px.len() * 3);
        for p in &out.px {
            for v in p {
                let n = 2.0 * gauss(&mut self.rng);
                rgb.push((v * flicker + n).round().clamp(0.0, 255.0) as u8);
            }
        }
        Frame {
            width: WIDTH,
            height: HEIGHT,
            rgb,
        }
    }
}

/// Reads a whole recording (GIFs once) as `(t, frame)`.
fn read_all(path: &Path) -> Result<Vec<(f32, Frame)>, String> {
    let mut source = open_replay_with(path, &ReplayOptions::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut frames = Vec::new();
    while let Some(f) = source
        .next_frame()
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        frames.push((f.timestamp.as_secs_f32(), f.frame));
        if frames.len() > 2000 {
            break;
        }
    }
    if frames.is_empty() {
        return Err(format!("{}: no frames", path.display()));
    }
    Ok(frames)
}

/// The frame of `frames` showing at time `t` (looping).
fn at(frames: &[(f32, Frame)], t: f32) -> &Frame {
    let end = frames.last().map_or(0.0, |f| f.0) + 1.0 / FPS as f32;
    let t = if end > 0.0 { t.rem_euclid(end) } else { 0.0 };
    let i = frames.partition_point(|f| f.0 <= t).saturating_sub(1);
    &frames[i.min(frames.len() - 1)].1
}

/// The medium's size in the camera: 90 % of the frame height, 3:4.
fn medium_size() -> (f32, f32) {
    let h = HEIGHT as f32 * 0.9;
    (h * 0.75, h)
}

/// Writes one recording with ffmpeg.
fn encode(path: &Path, frames: &[Frame]) -> Result<(), String> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
        ])
        .arg(format!("{WIDTH}x{HEIGHT}"))
        .args([
            "-r",
            &FPS.to_string(),
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
        ])
        .args(["-crf", "16", "-pix_fmt", "yuv420p"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg ({e}); install it (apt-get install ffmpeg)"))?;
    {
        let Some(stdin) = child.stdin.as_mut() else {
            return Err("ffmpeg: no stdin".into());
        };
        for f in frames {
            stdin
                .write_all(&f.rgb)
                .map_err(|e| format!("ffmpeg: writing {}: {e}", path.display()))?;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("ffmpeg: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ffmpeg failed on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Writes each recording as soon as it is made (frames are not kept).
struct Sink<'a> {
    dir: &'a Path,
    log: &'a mut dyn Write,
    only: Option<&'a str>,
    written: usize,
}

impl Sink<'_> {
    /// Whether the recording `name` is to be made.
    fn wants(&self, name: &str) -> bool {
        self.only.is_none_or(|o| name.contains(o))
    }

    fn push(&mut self, job: Job) -> Result<(), String> {
        if !self.wants(&job.name) {
            return Ok(());
        }
        let path = self.dir.join(format!("{}.mp4", job.name));
        encode(&path, &job.frames)?;
        let json = serde_json::to_string(&job.sidecar).map_err(|e| e.to_string())?;
        let side = SceneFile::path_for(&path);
        std::fs::write(&side, json).map_err(|e| format!("cannot write {}: {e}", side.display()))?;
        writeln!(
            self.log,
            "{}\t{}\t{} frames",
            path.display(),
            job.sidecar.species,
            job.frames.len()
        )
        .map_err(|e| e.to_string())?;
        self.written += 1;
        Ok(())
    }
}

/// One recording to make.
struct Job {
    name: String,
    sidecar: SceneFile,
    frames: Vec<Frame>,
}

fn names(actions: &[Action]) -> Vec<String> {
    actions.iter().map(|a| a.name().to_owned()).collect()
}

/// A two-picture attack: `a` most of the time, `b` for `b_secs` every
/// `period` seconds. `change`: how the picture changes.
#[derive(Clone, Copy)]
enum Change {
    /// A hand passes in front (0.4 s; the swap happens behind it).
    Hand,
    Cut,
    /// A linear blend over this many frames.
    Fade(u32),
}

struct Pair<'a> {
    a: &'a Image,
    b: &'a Image,
    b_secs: f32,
    period: f32,
}

/// The picture (and hand position) of a two-picture attack at frame `n`.
fn pair_frame(p: &Pair<'_>, change: Change, n: u32) -> (Image, Option<f32>) {
    let t = n as f32 / FPS as f32;
    let phase = t.rem_euclid(p.period);
    let b_start = p.period - p.b_secs - 0.6;
    let b_end = b_start + p.b_secs;
    let showing_b = phase >= b_start && phase < b_end;
    match change {
        Change::Cut => ((if showing_b { p.b } else { p.a }).clone(), None),
        Change::Hand => {
            // The hand crosses the frame in 0.4 s centred on each change.
            let hand = [b_start, b_end]
                .iter()
                .find(|&&c| (phase - c).abs() < 0.2)
                .map(|&c| (phase - c + 0.2) / 0.4 * (WIDTH as f32 + 300.0) - 150.0);
            ((if showing_b { p.b } else { p.a }).clone(), hand)
        }
        Change::Fade(k) => {
            let dt = k as f32 / FPS as f32;
            let w = if phase < b_start {
                0.0
            } else if phase < b_start + dt {
                (phase - b_start) / dt
            } else if phase < b_end {
                1.0
            } else if phase < b_end + dt {
                1.0 - (phase - b_end) / dt
            } else {
                0.0
            };
            (p.a.blend(p.b, w.clamp(0.0, 1.0)), None)
        }
    }
}

/// What `attacks make` is asked.
pub struct Request<'a> {
    /// The shared faces folder.
    pub faces: &'a Path,
    pub out: &'a Path,
    pub seed: u64,
    /// Only the recordings whose name contains this.
    pub only: Option<&'a str>,
}

/// Builds the suite; prints one line per recording. Exit 0, or 2 on an error.
pub fn make(request: &Request<'_>, out: &mut dyn Write) -> u8 {
    match build(request, out) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lifecert: attacks make: {e}");
            2
        }
    }
}

const SECS: f32 = 12.0;

fn build(request: &Request<'_>, log: &mut dyn Write) -> Result<(), String> {
    let src = |rel: &str| -> Result<Vec<(f32, Frame)>, String> {
        let p = request.faces.join(rel);
        if !p.is_file() {
            return Err(format!(
                "{} is missing: point --faces at the shared test faces folder",
                p.display()
            ));
        }
        read_all(&p)
    };
    let blink = src(BLINK_CLIP)?;
    let mouth = src(MOUTH_CLIP)?;
    let pose = src(POSE_CLIP)?;
    std::fs::create_dir_all(request.out)
        .map_err(|e| format!("cannot create {}: {e}", request.out.display()))?;
    let still =
        |frames: &[(f32, Frame)], t: f32| Image::from_frame(at(frames, t)).crop_aspect(3.0, 4.0);
    // Eyes open at 1.0 s, closed at 6.5 s (long closure 5.8–8.1 s); mouth
    // closed at 1.0 s, wide open at 3.0 s (2.6–3.3 s).
    let eyes_open = still(&blink, 1.0);
    let eyes_closed = still(&blink, 6.5);
    let mouth_closed = still(&mouth, 1.0);
    let mouth_open = still(&mouth, 3.0);
    let total = (SECS * FPS as f32) as u32;
    let (mw, mh) = medium_size();
    let mut sink = Sink {
        dir: request.out,
        log,
        only: request.only,
        written: 0,
    };
    let mut seed = request.seed;
    let mut next_camera = || {
        seed = seed.wrapping_add(1);
        Camera::new(seed)
    };
    let victim_blink = (BLINK_CLIP.to_owned(), enrolment_time(BLINK_CLIP));
    let victim_mouth = (MOUTH_CLIP.to_owned(), enrolment_time(MOUTH_CLIP));

    // Still print, held by hand.
    let mut cam = next_camera();
    if sink.wants("still_print") {
        let (mut frames, mut outlines) = (Vec::new(), Vec::new());
        for n in 0..total {
            let t = n as f32 / FPS as f32;
            let (shift, [y, p, r]) = cam.sway(t);
            let q = project(mw, mh, shift, y, p, r);
            frames.push(cam.shoot(&Medium::Print(&eyes_open), &q, t, None));
            outlines.push(q);
        }
        sink.push(Job {
            name: "still_print".into(),
            sidecar: sidecar(
                "print",
                "still_print",
                "the blink clip's eyes-open frame (1.0 s), printed, held by hand",
                vec![
                    names(&[Action::Blink]),
                    names(&[Action::OpenMouth]),
                    names(&[Action::TurnLeft]),
                ],
                &victim_blink,
                outlines,
            ),
            frames,
        })?;
    }
    // Two-picture attacks.
    let pairs = [
        (
            "blink",
            Pair {
                a: &eyes_open,
                b: &eyes_closed,
                b_secs: 0.25,
                period: 3.0,
            },
            Action::Blink,
            &victim_blink,
        ),
        (
            "mouth",
            Pair {
                a: &mouth_closed,
                b: &mouth_open,
                b_secs: 0.8,
                period: 3.0,
            },
            Action::OpenMouth,
            &victim_mouth,
        ),
    ];
    let kinds: [(&str, Change, bool, &str); 4] = [
        (
            "swap_occluded",
            Change::Hand,
            false,
            "two prints swapped by hand; the hand passes in front of the camera (0.4 s) at each swap",
        ),
        (
            "swap_cut",
            Change::Cut,
            true,
            "a two-photo slideshow on a screen, no occlusion",
        ),
        (
            "crossfade_2",
            Change::Fade(2),
            true,
            "a slideshow on a screen with a 2-frame cross-fade",
        ),
        (
            "crossfade_5",
            Change::Fade(5),
            true,
            "a slideshow on a screen with a 5-frame cross-fade",
        ),
    ];
    for (species, change, screen, what) in kinds {
        for (tag, pair, action, victim) in &pairs {
            let mut cam = next_camera();
            if !sink.wants(&format!("{species}_{tag}")) {
                continue;
            }
            let (mut frames, mut outlines) = (Vec::new(), Vec::new());
            for n in 0..total {
                let t = n as f32 / FPS as f32;
                let (picture, hand) = pair_frame(pair, change, n);
                let (shift, [y, p, r]) = cam.sway(t);
                let q = project(mw, mh, shift, y, p, r);
                let medium = if screen {
                    Medium::Screen(&picture)
                } else {
                    Medium::Print(&picture)
                };
                frames.push(cam.shoot(&medium, &q, t, hand));
                outlines.push(q);
            }
            sink.push(Job {
                name: format!("{species}_{tag}"),
                sidecar: sidecar(
                    if screen { "screen" } else { "print" },
                    species,
                    &format!("{what}: {tag} pictures"),
                    vec![names(&[*action])],
                    victim,
                    outlines,
                ),
                frames,
            })?;
        }
    }
    // Flat print turned, tilted and rotated.
    let axes: [(&str, usize, Vec<Vec<String>>); 3] = [
        (
            "yaw",
            0,
            vec![names(&[Action::TurnLeft]), names(&[Action::TurnRight])],
        ),
        (
            "pitch",
            1,
            vec![names(&[Action::RaiseHead]), names(&[Action::LowerHead])],
        ),
        (
            "roll",
            2,
            vec![names(&[Action::TurnLeft]), names(&[Action::LowerHead])],
        ),
    ];
    for (axis, k, plans) in axes {
        let mut cam = next_camera();
        if !sink.wants(&format!("flat_turned_{axis}")) {
            continue;
        }
        let (mut frames, mut outlines) = (Vec::new(), Vec::new());
        let amplitude = if k == 0 { 35f32 } else { 30f32 }.to_radians();
        for n in 0..total {
            let t = n as f32 / FPS as f32;
            let (shift, mut angles) = cam.sway(t);
            angles[k] += amplitude * (2.0 * std::f32::consts::PI * t / 3.0).sin();
            let q = project(mw * 0.9, mh * 0.9, shift, angles[0], angles[1], angles[2]);
            frames.push(cam.shoot(&Medium::Print(&mouth_closed), &q, t, None));
            outlines.push(q);
        }
        sink.push(Job {
            name: format!("flat_turned_{axis}"),
            sidecar: sidecar(
                "print",
                "flat_turned",
                &format!("the mouth clip's frontal frame printed and turned about the {axis} axis"),
                plans,
                &victim_mouth,
                outlines,
            ),
            frames,
        })?;
    }
    // Genuine recordings on a screen, and injected.
    type Genuine<'a> = (&'a str, &'a [(f32, Frame)], Vec<Vec<String>>, &'a str, f32);
    let genuine: [Genuine<'_>; 3] = [
        (
            "blink",
            &blink,
            vec![names(&[Action::Blink])],
            BLINK_CLIP,
            14.0,
        ),
        (
            "mouth",
            &mouth,
            vec![names(&[Action::OpenMouth])],
            MOUTH_CLIP,
            9.4,
        ),
        (
            "pose",
            &pose,
            vec![
                names(&[Action::TurnLeft]),
                names(&[Action::TurnRight]),
                names(&[Action::RaiseHead]),
                names(&[Action::LowerHead]),
            ],
            POSE_CLIP,
            SECS,
        ),
    ];
    for (tag, frames_in, plans, clip, secs) in genuine {
        let n_out = (secs * FPS as f32) as u32;
        let victim = (clip.to_owned(), enrolment_time(clip));
        let mut cam = next_camera();
        let (mut frames, mut outlines) = (Vec::new(), Vec::new());
        let replay = sink.wants(&format!("screen_replay_{tag}"));
        for n in (0..n_out).filter(|_| replay) {
            let t = n as f32 / FPS as f32;
            let picture = Image::from_frame(at(frames_in, t)).crop_aspect(3.0, 4.0);
            let (shift, [y, p, r]) = cam.sway(t);
            let q = project(mw, mh, shift, y, p, r);
            frames.push(cam.shoot(&Medium::Screen(&picture), &q, t, None));
            outlines.push(q);
        }
        sink.push(Job {
            name: format!("screen_replay_{tag}"),
            sidecar: sidecar(
                "screen",
                "screen_replay",
                &format!("{clip} played on a screen"),
                plans.clone(),
                &victim,
                outlines,
            ),
            frames,
        })?;
        // Injected: the recording itself at the camera's size, no camera.
        if !sink.wants(&format!("injected_{tag}")) {
            continue;
        }
        let frames: Vec<Frame> = (0..n_out)
            .map(|n| {
                let picture = Image::from_frame(at(frames_in, n as f32 / FPS as f32));
                let mut out = Image::new(WIDTH as usize, HEIGHT as usize);
                let scale = (WIDTH as f32 / picture.w as f32).min(HEIGHT as f32 / picture.h as f32);
                let (w, h) = (picture.w as f32 * scale, picture.h as f32 * scale);
                let (x0, y0) = ((WIDTH as f32 - w) / 2.0, (HEIGHT as f32 - h) / 2.0);
                for y in 0..out.h {
                    for x in 0..out.w {
                        let (u, v) = ((x as f32 + 0.5 - x0) / w, (y as f32 + 0.5 - y0) / h);
                        if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v) {
                            out.px[y * out.w + x] = picture.sample(u, v);
                        }
                    }
                }
                Frame {
                    width: WIDTH,
                    height: HEIGHT,
                    rgb: out.to_rgb8(),
                }
            })
            .collect();
        sink.push(Job {
            name: format!("injected_{tag}"),
            sidecar: sidecar(
                "injected",
                "injected",
                &format!("{clip} sent straight to the camera input (a virtual camera)"),
                plans,
                &victim,
                Vec::new(),
            ),
            frames,
        })?;
    }
    if sink.written == 0 {
        return Err(match request.only {
            Some(o) => format!("no recording is named like \"{o}\""),
            None => "no recordings made".to_string(),
        });
    }
    Ok(())
}

fn sidecar(
    scene: &str,
    species: &str,
    description: &str,
    plans: Vec<Vec<String>>,
    victim: &(String, f32),
    outlines: Vec<Quad>,
) -> SceneFile {
    SceneFile {
        scene: scene.to_owned(),
        species: species.to_owned(),
        description: description.to_owned(),
        plans,
        victim: victim.0.clone(),
        enrol_at_secs: f64::from(victim.1),
        outlines,
    }
}

/// Reads the suite in `dir`: every `*.mp4` with a sidecar, sorted.
pub fn read_suite(dir: &Path) -> Result<Vec<(PathBuf, SceneFile)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("mp4") {
            continue;
        }
        let side = SceneFile::path_for(&path);
        let Ok(text) = std::fs::read_to_string(&side) else {
            continue;
        };
        let file: SceneFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", side.display()))?;
        out.push((path, file));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The victim's enrolment frame: the frame of `clip` nearest `at`.
pub fn enrolment_frame(clip: &Path, at_secs: f64) -> Result<Frame, String> {
    let frames = read_all(clip)?;
    let t = Duration::from_secs_f64(at_secs.max(0.0)).as_secs_f32();
    Ok(self::at(&frames, t).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_homography_maps_corners_and_centre() {
        let q: Quad = [[100.0, 50.0], [300.0, 70.0], [280.0, 400.0], [90.0, 380.0]];
        let h = Homography::unit_to_quad(&q).unwrap();
        for (p, uv) in q
            .iter()
            .zip([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
        {
            let (u, v) = h.to_unit(p[0], p[1]).unwrap();
            assert!(
                (u - uv.0).abs() < 1e-3 && (v - uv.1).abs() < 1e-3,
                "{p:?} → {u},{v}"
            );
        }
        assert!(h.to_unit(10.0, 10.0).is_none());
    }

    #[test]
    fn a_turned_print_narrows_and_a_frontal_one_is_a_rectangle() {
        let q = project(300.0, 400.0, [0.0, 0.0], 0.0, 0.0, 0.0);
        assert!((q[1][0] - q[0][0] - 300.0).abs() < 1e-3);
        let turned = project(300.0, 400.0, [0.0, 0.0], 0.6, 0.0, 0.0);
        assert!(turned[1][0] - turned[0][0] < 300.0 * 0.9);
        // The near edge is taller than the far one (perspective).
        let left = turned[3][1] - turned[0][1];
        let right = turned[2][1] - turned[1][1];
        assert!((left - right).abs() > 10.0);
    }

    #[test]
    fn a_hand_swap_hides_the_change_and_a_fade_blends() {
        let a = Image {
            w: 1,
            h: 1,
            px: vec![[0.0; 3]],
        };
        let b = Image {
            w: 1,
            h: 1,
            px: vec![[100.0; 3]],
        };
        let p = Pair {
            a: &a,
            b: &b,
            b_secs: 0.5,
            period: 3.0,
        };
        // b starts at 3.0 − 0.5 − 0.6 = 1.9 s (frame 45.6).
        let (img, hand) = pair_frame(&p, Change::Hand, 46);
        assert!(hand.is_some());
        assert_eq!(img.px[0], [100.0; 3]);
        assert!(pair_frame(&p, Change::Hand, 10).1.is_none());
        let (img, _) = pair_frame(&p, Change::Fade(5), 47);
        assert!(img.px[0][0] > 0.0 && img.px[0][0] < 100.0);
        let (img, _) = pair_frame(&p, Change::Cut, 47);
        assert_eq!(img.px[0], [100.0; 3]);
    }
}
