//! `lifecert eval --manifest M.tsv [--out FILE]`: measures the vision and
//! liveness stack on a labelled data set and writes a markdown report
//! (docs/EVALUATION.md is one).
//!
//! # Manifest
//!
//! A tab-separated file with a header row and the columns
//! `file, identity, state_tags, source, license, resolution, notes`
//! (only the first three are read):
//!
//! - `file`: path relative to the manifest's folder;
//! - `identity`: who is shown. Not a single person: names containing `+`
//!   (several people), starting with `unknown` or `collage`, or `none`;
//! - `state_tags`: `;`-separated, e.g. `frontal;eyes_open;mouth_closed`.
//!   Read: `eyes_closed*`/`wink*` (closed), `eyes_open`/`eyes_wide` (open),
//!   `mouth_open*`/`mouth_closed`, `yaw_img_left*`/`yaw_img_right*`/`frontal`
//!   (the face points to that side of the image), `spoof_print`/`spoof_screen`
//!   (a presentation attack), `live` (a bona-fide photo), `multi_face`.
//!
//! Clips (video files and GIFs) are evaluated only when an `ANNOTATIONS.tsv`
//! lies beside them, in one of two forms (header row, tab-separated):
//!
//! - intervals `start_s end_s event note`, event `blink`, `eyes_closed`
//!   (→ the blink challenge) or `mouth_open` (→ open_mouth);
//! - head-pose readings `frame yaw pitch roll my_reading` (yaw > 0 = face
//!   toward the image right; pitch > 0 = head up): |yaw| ≥ 20° gives
//!   turn_left (yaw > 0: the subject's own left) / turn_right, and a pitch
//!   change of ≥ 15° from the first row gives raise_head / lower_head.
//!
//! # What is measured
//!
//! See [`write_report`] and docs/EVALUATION.md: identity verification (ROC
//! AUC, EER, TAR at FAR 1 % / 0.1 %, single-image pairs and 3-image
//! templates), still-image state accuracy (eyes, mouth, yaw), per-action
//! recall and false triggers on annotated clips, and APCER/BPCER of held-up
//! photos through the real session driver ([`crate::session::run`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lifecert_core::action::Action;
use lifecert_core::liveness::{FailReason, Outcome, Plan};
use lifecert_vision::{Analyzer, Embedding, Frame, Models, PrimaryFace, Template};

use crate::analysis::{EXIT_ERROR, EXIT_OK, STILL_RETRY_MARGIN, load_models, pad_frame};
use crate::config::Config;
use crate::session::{MatchResult, SessionError, SessionReport};
use crate::verify::replay_session;

/// EAR below this is "eyes closed" on a still (the smaller eye; the eye
/// nearer the camera when |yaw| > [`NEAR_EYE_YAW_DEG`]).
pub const STILL_EYES_CLOSED_EAR: f32 = 0.176;
/// Beyond this |yaw| the far eye is foreshortened; the near eye is used.
pub const NEAR_EYE_YAW_DEG: f32 = 30.0;
/// MAR above this is "mouth open" on a still.
pub const STILL_MOUTH_OPEN_MAR: f32 = 0.117;
/// |yaw| above this is "turned" on a still.
pub const STILL_TURNED_YAW_DEG: f32 = 15.0;
/// Annotated |yaw| from which a clip shows a head turn.
pub const CLIP_TURN_YAW_DEG: f32 = 20.0;
/// Annotated pitch change (from the first reading) from which a clip shows a nod.
pub const CLIP_NOD_PITCH_DEG: f32 = 15.0;
/// Looped GIFs get this long per action and in total (a short recording
/// cannot answer a prompt; each action may take one loop).
pub const LOOP_ACTION_TIMEOUT: Duration = Duration::from_secs(12);
pub const LOOP_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Templates of the multi-frame verification average up to this many images.
pub const TEMPLATE_IMAGES: usize = 3;
/// Photos of real people held up as an attack besides the stills tagged `live`.
pub const EXTRA_REAL_PHOTOS: &[&str] = &["skimage_data/astronaut.png"];

/// One manifest row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// As written in the manifest (relative to its folder).
    pub file: String,
    /// Resolved against the manifest's folder.
    pub path: PathBuf,
    pub identity: String,
    pub tags: Vec<String>,
}

impl Row {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    pub fn has_tag_prefix(&self, prefix: &str) -> bool {
        self.tags.iter().any(|t| t.starts_with(prefix))
    }
}

/// Reads a manifest (see the module docs).
pub fn read_manifest(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(identity)) = (cols.first(), cols.get(1)) else {
            return Err(format!(
                "{}:{}: fewer than 2 columns",
                path.display(),
                n + 1
            ));
        };
        rows.push(Row {
            file: (*file).to_string(),
            path: dir.join(file),
            identity: (*identity).to_string(),
            tags: cols
                .get(2)
                .map(|t| {
                    t.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    Ok(rows)
}

/// A single, known person (not a group, collage, unknown or no face).
pub fn is_single_identity(identity: &str) -> bool {
    !(identity.contains('+')
        || identity.starts_with("unknown")
        || identity.starts_with("collage")
        || identity == "none")
}

fn extension(file: &str) -> String {
    Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A still image file.
pub fn is_image(file: &str) -> bool {
    matches!(
        extension(file).as_str(),
        "jpg" | "jpeg" | "png" | "ppm" | "bmp"
    )
}

/// A recording (video file or GIF).
pub fn is_clip(file: &str) -> bool {
    matches!(
        extension(file).as_str(),
        "mp4" | "avi" | "mov" | "mkv" | "webm" | "gif"
    )
}

/// Area under the ROC curve, with distances (smaller = more alike).
pub fn roc_auc(genuine: &[f32], impostor: &[f32]) -> f64 {
    let mut wins = 0.0;
    for g in genuine {
        for i in impostor {
            if g < i {
                wins += 1.0;
            } else if g == i {
                wins += 0.5;
            }
        }
    }
    wins / (genuine.len() as f64 * impostor.len() as f64)
}

/// Verification figures of a set of genuine and impostor distances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roc {
    pub genuine: usize,
    pub impostor: usize,
    pub auc: f64,
    /// Equal error rate and the distance threshold where FAR ≈ FRR.
    pub eer: f64,
    pub eer_threshold: f32,
    /// True accepts at the largest threshold whose FAR ≤ 1 % (resp. 0.1 %),
    /// with that threshold.
    pub tar_far_1: f64,
    pub threshold_far_1: f32,
    pub tar_far_01: f64,
    pub threshold_far_01: f32,
}

/// Accepted when `distance < threshold`.
pub fn roc(genuine: &[f32], impostor: &[f32]) -> Option<Roc> {
    if genuine.is_empty() || impostor.is_empty() {
        return None;
    }
    let mut imp = impostor.to_vec();
    imp.sort_by(f32::total_cmp);
    let far = |t: f32| impostor.iter().filter(|d| **d < t).count() as f64 / impostor.len() as f64;
    let tar = |t: f32| genuine.iter().filter(|d| **d < t).count() as f64 / genuine.len() as f64;
    // The largest threshold with FAR ≤ x: the k-th smallest impostor distance
    // (k = ⌊x·n⌋); at most k impostors lie strictly below it.
    let at_far = |x: f64| {
        let k = (imp.len() as f64 * x).floor() as usize;
        let t = imp.get(k).copied().unwrap_or(f32::INFINITY);
        (tar(t), t)
    };
    let (tar_far_1, threshold_far_1) = at_far(0.01);
    let (tar_far_01, threshold_far_01) = at_far(0.001);
    let mut candidates: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    candidates.sort_by(f32::total_cmp);
    let mut best = (f64::INFINITY, 0.0, 0.0f32);
    for t in candidates
        .iter()
        .map(|d| d.next_up())
        .chain(std::iter::once(0.0))
    {
        let (fa, fr) = (far(t), 1.0 - tar(t));
        let gap = (fa - fr).abs();
        if gap < best.0 {
            best = (gap, (fa + fr) / 2.0, t);
        }
    }
    Some(Roc {
        genuine: genuine.len(),
        impostor: impostor.len(),
        auc: roc_auc(genuine, impostor),
        eer: best.1,
        eer_threshold: best.2,
        tar_far_1,
        threshold_far_1,
        tar_far_01,
        threshold_far_01,
    })
}

/// Genuine and impostor distances of all pairs of single images.
pub fn pair_distances(embedded: &[(String, Embedding)]) -> (Vec<f32>, Vec<f32>) {
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (i, (a, ea)) in embedded.iter().enumerate() {
        for (b, eb) in embedded.iter().skip(i + 1) {
            let d = ea.distance(eb);
            if a == b {
                genuine.push(d);
            } else {
                impostor.push(d);
            }
        }
    }
    (genuine, impostor)
}

/// Multi-frame verification: each image is a probe. Genuine: its distance to
/// the mean embedding of up to [`TEMPLATE_IMAGES`] *other* images of its
/// identity (manifest order; identities with one image give no genuine
/// score). Impostor: its distance to every other identity's template, the
/// mean of that identity's first [`TEMPLATE_IMAGES`] images.
pub fn template_distances(embedded: &[(String, Embedding)]) -> (Vec<f32>, Vec<f32>) {
    let mut ids: Vec<&str> = Vec::new();
    for (id, _) in embedded {
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    let templates: BTreeMap<&str, Embedding> = ids
        .iter()
        .filter_map(|id| {
            let first: Vec<Embedding> = embedded
                .iter()
                .filter(|(i, _)| i == id)
                .take(TEMPLATE_IMAGES)
                .map(|(_, e)| *e)
                .collect();
            Embedding::mean(&first).map(|m| (*id, m))
        })
        .collect();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (k, (id, probe)) in embedded.iter().enumerate() {
        let others: Vec<Embedding> = embedded
            .iter()
            .enumerate()
            .filter(|(j, (i, _))| *j != k && i == id)
            .take(TEMPLATE_IMAGES)
            .map(|(_, (_, e))| *e)
            .collect();
        if let Some(t) = Embedding::mean(&others) {
            genuine.push(probe.distance(&t));
        }
        for (other, t) in &templates {
            if *other != id.as_str() {
                impostor.push(probe.distance(t));
            }
        }
    }
    (genuine, impostor)
}

/// Analyses a still (retrying on a padded canvas, as
/// [`crate::analysis::embed_frame`] does) and embeds its primary face.
pub fn analyze_still(
    analyzer: &mut Analyzer,
    frame: &Frame,
) -> Result<Option<(PrimaryFace, Embedding)>, String> {
    for margin in [None, Some(STILL_RETRY_MARGIN)] {
        let padded;
        let frame = match margin {
            None => frame,
            Some(m) => {
                padded = pad_frame(frame, m);
                &padded
            }
        };
        analyzer.reset();
        let analysis = analyzer.analyze(frame).map_err(|e| e.to_string())?;
        if let Some(face) = analysis.primary {
            let embedding = analyzer.embed(frame, &face).map_err(|e| e.to_string())?;
            return Ok(Some((face, embedding)));
        }
    }
    Ok(None)
}

/// The EAR judged on a still: the smaller eye, or the nearer one when turned.
pub fn still_ear(face: &PrimaryFace) -> f32 {
    if face.yaw > NEAR_EYE_YAW_DEG {
        // Face toward the image right: the subject's right eye is nearer.
        face.ear_right
    } else if face.yaw < -NEAR_EYE_YAW_DEG {
        face.ear_left
    } else {
        face.ear_left.min(face.ear_right)
    }
}

/// A labelled state of a still and its predicted counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StillState {
    EyesClosed,
    EyesOpen,
    MouthOpen,
    MouthClosed,
    FacingImageLeft,
    Frontal,
    FacingImageRight,
}

impl StillState {
    pub fn name(self) -> &'static str {
        match self {
            StillState::EyesClosed => "eyes closed",
            StillState::EyesOpen => "eyes open",
            StillState::MouthOpen => "mouth open",
            StillState::MouthClosed => "mouth closed",
            StillState::FacingImageLeft => "yaw: face to image left",
            StillState::Frontal => "yaw: frontal",
            StillState::FacingImageRight => "yaw: face to image right",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            StillState::EyesClosed => "EAR < 0.176",
            StillState::EyesOpen => "EAR ≥ 0.176",
            StillState::MouthOpen => "MAR > 0.117",
            StillState::MouthClosed => "MAR ≤ 0.117",
            StillState::FacingImageLeft => "yaw < −15°",
            StillState::Frontal => "|yaw| ≤ 15°",
            StillState::FacingImageRight => "yaw > 15°",
        }
    }
}

/// The states a row's tags assert.
pub fn labelled_states(row: &Row) -> Vec<StillState> {
    let mut out = Vec::new();
    if row.has_tag_prefix("eyes_closed") || row.has_tag_prefix("wink") {
        out.push(StillState::EyesClosed);
    } else if row.has_tag("eyes_open") || row.has_tag("eyes_wide") {
        out.push(StillState::EyesOpen);
    }
    if row.has_tag_prefix("mouth_open") {
        out.push(StillState::MouthOpen);
    } else if row.has_tag("mouth_closed") {
        out.push(StillState::MouthClosed);
    }
    if row.has_tag_prefix("yaw_img_left") {
        out.push(StillState::FacingImageLeft);
    } else if row.has_tag_prefix("yaw_img_right") {
        out.push(StillState::FacingImageRight);
    } else if row.has_tag("frontal") {
        out.push(StillState::Frontal);
    }
    out
}

/// Whether the measured face agrees with a labelled state.
pub fn state_holds(state: StillState, face: &PrimaryFace) -> bool {
    let closed = still_ear(face) < STILL_EYES_CLOSED_EAR;
    let open_mouth = face.mar > STILL_MOUTH_OPEN_MAR;
    match state {
        StillState::EyesClosed => closed,
        StillState::EyesOpen => !closed,
        StillState::MouthOpen => open_mouth,
        StillState::MouthClosed => !open_mouth,
        StillState::FacingImageLeft => face.yaw < -STILL_TURNED_YAW_DEG,
        StillState::Frontal => face.yaw.abs() <= STILL_TURNED_YAW_DEG,
        StillState::FacingImageRight => face.yaw > STILL_TURNED_YAW_DEG,
    }
}

/// The challenges a clip's `ANNOTATIONS.tsv` shows (see the module docs).
pub fn annotated_actions(annotations: &str) -> Vec<Action> {
    let mut lines = annotations.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    let mut out = Vec::new();
    let mut add = |a: Action| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    let num = |r: &Vec<&str>, i: usize| r.get(i).and_then(|v| v.trim().parse::<f32>().ok());
    if header.starts_with("start_s") {
        for r in &rows {
            match r.get(2).map(|s| s.trim()) {
                Some("blink" | "eyes_closed") => add(Action::Blink),
                Some("mouth_open") => add(Action::OpenMouth),
                _ => {}
            }
        }
    } else if header.starts_with("frame") {
        let pitch0 = rows.first().and_then(|r| num(r, 2));
        for r in &rows {
            if let Some(yaw) = num(r, 1) {
                if yaw >= CLIP_TURN_YAW_DEG {
                    add(Action::TurnLeft);
                } else if yaw <= -CLIP_TURN_YAW_DEG {
                    add(Action::TurnRight);
                }
            }
            if let (Some(p), Some(p0)) = (num(r, 2), pitch0) {
                if p - p0 >= CLIP_NOD_PITCH_DEG {
                    add(Action::RaiseHead);
                } else if p - p0 <= -CLIP_NOD_PITCH_DEG {
                    add(Action::LowerHead);
                }
            }
        }
    }
    out.sort_by_key(|a| Action::ALL.iter().position(|b| b == a));
    out
}

/// How one single-challenge session ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    Passed,
    Failed,
    /// The recording ended before the engine decided (counts as not passed).
    Ended,
    Error(String),
}

impl RunResult {
    pub fn passed(&self) -> bool {
        matches!(self, RunResult::Passed)
    }
}

/// Runs one liveness session (no matching) with a single challenge through
/// [`session::run`], exactly as `lifecert verify --challenges X` does.
/// GIFs are looped with [`LOOP_ACTION_TIMEOUT`] / [`LOOP_TOTAL_TIMEOUT`];
/// stills are replayed as a held-up photo past the total timeout.
pub fn run_challenge(
    config: &Config,
    models: &Arc<Models>,
    input: &Path,
    action: Action,
) -> RunResult {
    let (config, looping) = replay_config(config, input);
    let plan = Plan {
        seed: 0,
        actions: vec![action],
    };
    match replay_session(&config, models.clone(), input, plan, None, looping) {
        Ok(report) if report.passed() => RunResult::Passed,
        Ok(_) => RunResult::Failed,
        Err(SessionError::Ended { .. }) => RunResult::Ended,
        Err(e) => RunResult::Error(e.to_string()),
    }
}

/// The session config for replaying `input`: GIFs are looped, with
/// [`LOOP_ACTION_TIMEOUT`] / [`LOOP_TOTAL_TIMEOUT`]. Returns it and whether
/// to loop.
fn replay_config(config: &Config, input: &Path) -> (Config, bool) {
    let looping = extension(&input.to_string_lossy()) == "gif";
    let mut config = config.clone();
    if looping {
        config.liveness.action_timeout = LOOP_ACTION_TIMEOUT;
        config.liveness.total_timeout = LOOP_TOTAL_TIMEOUT;
    }
    (config, looping)
}

/// What `eval` is asked to do.
pub struct Request<'a> {
    pub manifest: &'a Path,
    /// The generated attack suite (`lifecert attacks make`), if any.
    pub attacks: Option<&'a Path>,
    /// The command line to print at the top of the report.
    pub command: String,
}

/// `lifecert eval`: writes the report; exit 0, or 2 on an error.
pub fn eval(config: &Config, request: &Request<'_>, out: &mut dyn Write) -> u8 {
    let rows = match read_manifest(request.manifest) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let models = match load_models(config) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    match write_report(config, &models, &rows, request, out) {
        Ok(()) => EXIT_OK,
        Err(e) => fail(&format!("cannot write the report: {e}")),
    }
}

fn fail(message: &str) -> u8 {
    eprintln!("lifecert: {message}");
    EXIT_ERROR
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn ratio(k: usize, n: usize) -> String {
    if n == 0 {
        "–".to_string()
    } else {
        format!("{k}/{n} ({})", pct(k as f64 / n as f64))
    }
}

fn roc_row(out: &mut dyn Write, name: &str, roc: Option<Roc>) -> std::io::Result<()> {
    match roc {
        Some(r) => writeln!(
            out,
            "| {name} | {} | {} | {:.4} | {} (d < {:.3}) | {} (d < {:.3}) | {} (d < {:.3}) |",
            r.genuine,
            r.impostor,
            r.auc,
            pct(r.eer),
            r.eer_threshold,
            pct(r.tar_far_1),
            r.threshold_far_1,
            pct(r.tar_far_01),
            r.threshold_far_01
        ),
        None => writeln!(out, "| {name} | – | – | – | – | – | – |"),
    }
}

fn write_manifest_format(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "## Manifest format")?;
    writeln!(out)?;
    writeln!(
        out,
        "Tab-separated, with a header row: `file, identity, state_tags, source, license, \
         resolution, notes` (only the first three are read).\n\
         \n\
         - `file`: relative to the manifest's folder. Still images: jpg, jpeg, png, ppm, bmp; \
         clips: mp4, avi, mov, mkv, webm, gif. Other files (e.g. landmark `.pts`) are ignored.\n\
         - `identity`: the person shown. Not a single known person (left out of verification): \
         names containing `+`, starting with `unknown` or `collage`, and `none`.\n\
         - `state_tags`: `;`-separated. Read: `eyes_closed*`, `wink*`, `eyes_open`, `eyes_wide`, \
         `mouth_open*`, `mouth_closed`, `yaw_img_left*`, `yaw_img_right*`, `frontal`, \
         `multi_face`, `spoof_print`, `spoof_screen`, `live`.\n\
         - A clip is evaluated only with an `ANNOTATIONS.tsv` in its folder, either intervals \
         `start_s end_s event note` (event `blink` or `eyes_closed` → the blink challenge, \
         `mouth_open` → open_mouth) or head-pose readings `frame yaw pitch roll my_reading` \
         (yaw > 0 = face toward the image right; pitch > 0 = head up): |yaw| ≥ \
         {CLIP_TURN_YAW_DEG}° → turn_left (yaw > 0, the subject's own left) / turn_right; a \
         pitch change of ≥ {CLIP_NOD_PITCH_DEG}° from the first reading → raise_head / \
         lower_head."
    )?;
    writeln!(out)
}

/// One still image of the manifest, analysed.
struct Still<'a> {
    row: &'a Row,
    face: Option<(PrimaryFace, Embedding)>,
}

/// Writes the whole report (see the module docs for what is measured).
pub fn write_report(
    config: &Config,
    models: &Arc<Models>,
    rows: &[Row],
    request: &Request<'_>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    writeln!(out, "# lifecert evaluation")?;
    writeln!(out)?;
    writeln!(out, "Generated by:")?;
    writeln!(out)?;
    writeln!(out, "```sh\n{}\n```", request.command)?;
    writeln!(out)?;
    writeln!(
        out,
        "Manifest: `{}` ({} rows). Models: `{}`. Session parameters from the \
         configuration (action timeout {} s, total {} s; looped GIFs {} s / {} s).",
        request.manifest.display(),
        rows.len(),
        crate::analysis::models_dir(config).display(),
        config.liveness.effective_action_timeout().as_secs_f32(),
        config.liveness.effective_total_timeout().as_secs_f32(),
        LOOP_ACTION_TIMEOUT.as_secs(),
        LOOP_TOTAL_TIMEOUT.as_secs(),
    )?;
    writeln!(out)?;
    write_manifest_format(out)?;

    // ---- Stills: one analysis each, shared by verification and states.
    let mut analyzer = Analyzer::new(models.clone());
    let mut stills = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows.iter().filter(|r| is_image(&r.file)) {
        let frame = match lifecert_vision::load_image(&row.path) {
            Ok(f) => f,
            Err(e) => {
                unreadable.push(format!("{}: {e}", row.file));
                continue;
            }
        };
        match analyze_still(&mut analyzer, &frame) {
            Ok(face) => stills.push(Still { row, face }),
            Err(e) => unreadable.push(format!("{}: {e}", row.file)),
        }
    }

    // ---- Verification.
    let identity: Vec<&Still> = stills
        .iter()
        .filter(|s| is_single_identity(&s.row.identity) && !s.row.has_tag("multi_face"))
        .collect();
    let embedded: Vec<(String, Embedding)> = identity
        .iter()
        .filter_map(|s| s.face.as_ref().map(|(_, e)| (s.row.identity.clone(), *e)))
        .collect();
    let missed: Vec<&str> = identity
        .iter()
        .filter(|s| s.face.is_none())
        .map(|s| s.row.file.as_str())
        .collect();
    let ids = {
        let mut v: Vec<&str> = embedded.iter().map(|(i, _)| i.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    writeln!(out, "## Verification")?;
    writeln!(out)?;
    writeln!(
        out,
        "Still images of a single known person ({} images of {ids} identities embedded; \
         no face found in {}). Accepted when the embedding distance is below the \
         threshold (configured `matching.threshold` = {:.2}).",
        embedded.len(),
        missed.len(),
        config.matching.threshold
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "- **Single frame**: every pair of images; same identity = genuine, else impostor."
    )?;
    writeln!(
        out,
        "- **Multi-frame (template)**: each image is a probe against a template = the mean \
         embedding of up to {TEMPLATE_IMAGES} *other* images of its identity (genuine), and \
         against every other identity's template = the mean of its first {TEMPLATE_IMAGES} \
         images (impostor)."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| mode | genuine | impostor | ROC AUC | EER | TAR @ FAR 1 % | TAR @ FAR 0.1 % |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    let (g, i) = pair_distances(&embedded);
    roc_row(out, "single frame", roc(&g, &i))?;
    let (g, i) = template_distances(&embedded);
    roc_row(out, "multi-frame template", roc(&g, &i))?;
    writeln!(out)?;
    writeln!(
        out,
        "TAR @ FAR x uses the largest threshold with at most x of the impostor scores below \
         it; with fewer than 1000 impostor scores the 0.1 % point is the smallest impostor \
         distance (FAR 0)."
    )?;
    if !missed.is_empty() {
        writeln!(out)?;
        writeln!(out, "No face found in: {}", missed.join(", "))?;
    }
    writeln!(out)?;

    // ---- Still states.
    writeln!(out, "## Stills: eyes, mouth, yaw")?;
    writeln!(out)?;
    writeln!(
        out,
        "Every still image of one person (not `multi_face`, not `none`) whose tags state it. \
         Tags: `eyes_closed*`/`wink*` → closed, `eyes_open`/`eyes_wide` → open; \
         `mouth_open*` → open, `mouth_closed` → closed; `yaw_img_left*`/`yaw_img_right*`/`frontal` \
         → the face points to that side (`yaw_img_right` = our yaw > 0). EAR is the smaller eye's, \
         or the nearer eye's when |yaw| > {NEAR_EYE_YAW_DEG}°. A still without a detected face \
         counts as wrong."
    )?;
    writeln!(out)?;
    writeln!(out, "| state | rule | correct | wrong (file: measured) |")?;
    writeln!(out, "|---|---|---|---|")?;
    let mut by_state: BTreeMap<StillState, (usize, usize, Vec<String>)> = BTreeMap::new();
    for s in stills
        .iter()
        .filter(|s| s.row.identity != "none" && !s.row.has_tag("multi_face"))
    {
        for state in labelled_states(s.row) {
            let entry = by_state.entry(state).or_default();
            entry.1 += 1;
            match &s.face {
                Some((face, _)) if state_holds(state, face) => entry.0 += 1,
                Some((face, _)) => entry.2.push(format!(
                    "{}: {}",
                    s.row.file,
                    match state {
                        StillState::EyesClosed | StillState::EyesOpen =>
                            format!("EAR {:.3}", still_ear(face)),
                        StillState::MouthOpen | StillState::MouthClosed =>
                            format!("MAR {:.3}", face.mar),
                        _ => format!("yaw {:.1}°", face.yaw),
                    }
                )),
                None => entry.2.push(format!("{}: no face", s.row.file)),
            }
        }
    }
    for (state, (ok, n, wrong)) in &by_state {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            state.name(),
            state.rule(),
            ratio(*ok, *n),
            if wrong.is_empty() {
                "–".to_string()
            } else {
                wrong.join("; ")
            }
        )?;
    }
    writeln!(out)?;

    // ---- Clips.
    writeln!(out, "## Clips: liveness challenges")?;
    writeln!(out)?;
    writeln!(
        out,
        "Each annotated clip is run through the session driver once per challenge, with that \
         single challenge and no template (as `lifecert verify --challenges X`). Challenges \
         the annotations show are *asked*: recall = passed / asked. The others should fail: \
         a pass is a *false trigger*. GIFs are looped. The annotations list only the \
         acted movements: a live person also blinks on their own (the mouth clip's man at \
         1.4 s), so a blink \"false trigger\" on a live clip is usually a real blink."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| clip | annotated actions | passed when asked | false triggers (passed, not annotated) |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    let mut recall: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut false_triggers: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut bona_fide = (0usize, 0usize);
    let mut run_errors = Vec::new();
    for row in rows.iter().filter(|r| is_clip(&r.file)) {
        let Some(annotations) = row
            .path
            .parent()
            .map(|d| d.join("ANNOTATIONS.tsv"))
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            continue;
        };
        let asked = annotated_actions(&annotations);
        let (mut passed, mut triggered) = (Vec::new(), Vec::new());
        for action in Action::ALL {
            let result = run_challenge(config, models, &row.path, action);
            if let RunResult::Error(e) = &result {
                run_errors.push(format!("{} {}: {e}", row.file, action.name()));
            }
            let ok = result.passed();
            if asked.contains(&action) {
                let e = recall.entry(action.name()).or_default();
                e.1 += 1;
                bona_fide.1 += 1;
                if ok {
                    e.0 += 1;
                    passed.push(action.name());
                } else {
                    bona_fide.0 += 1;
                }
            } else {
                let e = false_triggers.entry(action.name()).or_default();
                e.1 += 1;
                if ok {
                    e.0 += 1;
                    triggered.push(action.name());
                }
            }
        }
        let names: Vec<&str> = asked.iter().map(|a| a.name()).collect();
        writeln!(
            out,
            "| {} | {} | {}/{}{} | {} |",
            row.file,
            names.join(", "),
            passed.len(),
            asked.len(),
            if passed.is_empty() {
                String::new()
            } else {
                format!(" ({})", passed.join(", "))
            },
            if triggered.is_empty() {
                "none".to_string()
            } else {
                triggered.join(", ")
            }
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| action | recall | false triggers |")?;
    writeln!(out, "|---|---|---|")?;
    for action in Action::ALL {
        let (r, f) = (
            recall.get(action.name()).copied().unwrap_or_default(),
            false_triggers
                .get(action.name())
                .copied()
                .unwrap_or_default(),
        );
        writeln!(
            out,
            "| {} | {} | {} |",
            action.name(),
            ratio(r.0, r.1),
            ratio(f.0, f.1)
        )?;
    }
    writeln!(out)?;

    // ---- Attacks.
    writeln!(out, "## Attacks: APCER / BPCER")?;
    writeln!(out)?;
    writeln!(
        out,
        "Each attack still is replayed as a photo held up to the camera (the same frame \
         until past the total timeout) once per challenge, all {} challenges. \
         APCER = attack runs that passed / attack runs, per species: `spoof_print`, \
         `spoof_screen` (tags), and `real_photo` (a photo of a real person: stills tagged \
         `live`, plus {}). BPCER = bona-fide runs that failed / bona-fide runs: the asked \
         challenges on the annotated clips above.",
        Action::ALL.len(),
        EXTRA_REAL_PHOTOS
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out)?;
    let mut species: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in rows.iter().filter(|r| is_image(&r.file)) {
        let kind = if row.has_tag("spoof_print") {
            Some("spoof_print")
        } else if row.has_tag("spoof_screen") {
            Some("spoof_screen")
        } else if row.has_tag("live") || EXTRA_REAL_PHOTOS.contains(&row.file.as_str()) {
            Some("real_photo")
        } else {
            None
        };
        if let Some(k) = kind {
            species.entry(k).or_default().push(row);
        }
    }
    writeln!(
        out,
        "| species | photos | runs passed (APCER) | passed by |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    let mut all_attacks = (0usize, 0usize);
    for (kind, photos) in &species {
        let (mut passed, mut runs, mut who) = (0usize, 0usize, Vec::new());
        for row in photos {
            for action in Action::ALL {
                let result = run_challenge(config, models, &row.path, action);
                if let RunResult::Error(e) = &result {
                    run_errors.push(format!("{} {}: {e}", row.file, action.name()));
                }
                runs += 1;
                if result.passed() {
                    passed += 1;
                    who.push(format!("{} ({})", row.file, action.name()));
                }
            }
        }
        all_attacks.0 += passed;
        all_attacks.1 += runs;
        writeln!(
            out,
            "| {kind} | {} | {} | {} |",
            photos.len(),
            ratio(passed, runs),
            if who.is_empty() {
                "–".to_string()
            } else {
                who.join(", ")
            }
        )?;
    }
    writeln!(
        out,
        "| **all attacks** | {} | {} | |",
        species.values().map(Vec::len).sum::<usize>(),
        ratio(all_attacks.0, all_attacks.1)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "BPCER: {} bona-fide runs failed.",
        ratio(bona_fide.0, bona_fide.1)
    )?;
    writeln!(out)?;
    if let Some(dir) = request.attacks {
        let faces = request.manifest.parent().unwrap_or(Path::new("."));
        write_attack_suite(config, models, faces, dir, &mut run_errors, out)?;
    } else {
        writeln!(
            out,
            "_No generated attack suite given (`--attacks DIR` from `lifecert attacks make`)._"
        )?;
        writeln!(out)?;
    }
    if !unreadable.is_empty() || !run_errors.is_empty() {
        writeln!(out, "## Errors")?;
        writeln!(out)?;
        for e in unreadable.iter().chain(&run_errors) {
            writeln!(out, "- {e}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "_Run time: {:.0} s._", started.elapsed().as_secs_f64())?;
    Ok(())
}

/// How one attack session ended, for the report.
fn stopped_by(result: &Result<SessionReport, SessionError>) -> (bool, String) {
    match result {
        Ok(report) if report.passed() => (true, "–".to_string()),
        Ok(report) => match &report.liveness {
            Outcome::Failed {
                reason, evidence, ..
            } => {
                let flash = match (reason, evidence.flash) {
                    (FailReason::ScreenLight, Some(f)) => format!(
                        " ({}: r {:.2}, response {:.3}, shape {:.2})",
                        f.verdict.name(),
                        f.correlation,
                        f.response,
                        f.shape_ratio
                    ),
                    _ => String::new(),
                };
                (false, format!("{reason:?}{flash}"))
            }
            Outcome::Passed { .. } => match report.matching {
                MatchResult::Decided { distance, .. } => {
                    (false, format!("no match (d {distance:.2})"))
                }
                MatchResult::NotRun => (false, "no match".to_string()),
            },
        },
        Err(SessionError::Ended { .. }) => (false, "recording ended undecided".to_string()),
        Err(e) => (false, format!("error: {e}")),
    }
}

/// Victims' templates, each enrolled once from one frame of a genuine
/// recording (decoding a clip per attack recording would repeat the work).
struct Victims<'a> {
    analyzer: Analyzer,
    faces: &'a Path,
    enrolled: BTreeMap<(String, u64), Template>,
}

impl Victims<'_> {
    fn template(&mut self, victim: &str, at_secs: f64) -> Result<Template, String> {
        let key = (victim.to_owned(), at_secs.to_bits());
        if let Some(t) = self.enrolled.get(&key) {
            return Ok(t.clone());
        }
        let frame = crate::attacks::enrolment_frame(&self.faces.join(victim), at_secs)?;
        let embedding = crate::analysis::embed_frame(&mut self.analyzer, &frame)?
            .ok_or_else(|| format!("no face in {victim} at {at_secs} s"))?;
        let template = Template::new(embedding, 1);
        self.enrolled.insert(key, template.clone());
        Ok(template)
    }
}

/// APCER per species over the generated suite, and BPCER of the genuine
/// clips with their victim's template, both with the screen-light challenge
/// simulated (`crate::flash_sim`).
fn write_attack_suite(
    config: &Config,
    models: &Arc<Models>,
    faces: &Path,
    dir: &Path,
    run_errors: &mut Vec<String>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "## Generated attack suite: APCER per species")?;
    writeln!(out)?;
    let suite = match crate::attacks::read_suite(dir) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            writeln!(out, "_No recordings in `{}`._", dir.display())?;
            writeln!(out)?;
            return Ok(());
        }
        Err(e) => {
            run_errors.push(e);
            return Ok(());
        }
    };
    writeln!(
        out,
        "Recordings made by `lifecert attacks make` (see `src/attacks.rs` for each species' \
         generator). Each is run once per challenge it is built to answer (the worst case: \
         the attacker's media show exactly what is asked), with the victim's template enrolled \
         from a frame of the genuine recording, so an attack counts as passed only when \
         liveness passes **and** the face matches. The kiosk's screen-light challenge is on \
         ({}) and simulated with the reflection model of `src/flash_sim.rs`. \"Stopped by\" \
         names the check that ended each run.",
        if config.liveness.flash.is_some() {
            "as configured"
        } else {
            "**off in this configuration**"
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "The last column runs the same session with the screen-light challenge **off** (a \
         kiosk whose camera or screen cannot do it): what the other checks stop on their own."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| recording | species | challenge | result | stopped by | without screen light |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    let mut victims = Victims {
        analyzer: Analyzer::new(models.clone()),
        faces,
        enrolled: BTreeMap::new(),
    };
    let mut dark = config.clone();
    dark.liveness.flash = None;
    let mut species: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut seed = 1000u64;
    for (path, file) in &suite {
        let plans = match file.actions() {
            Ok(p) => p,
            Err(e) => {
                run_errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let template = match victims.template(&file.victim, file.enrol_at_secs) {
            Ok(t) => t,
            Err(e) => {
                run_errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        for actions in plans {
            seed += 1;
            let names: Vec<&str> = actions.iter().map(|a| a.name()).collect();
            let plan = Plan { seed, actions };
            let result = replay_session(
                config,
                models.clone(),
                path,
                plan.clone(),
                Some(&template),
                false,
            );
            let unlit = replay_session(&dark, models.clone(), path, plan, Some(&template), false);
            for r in [&result, &unlit] {
                if let Err(e) = r
                    && !matches!(e, SessionError::Ended { .. })
                {
                    run_errors.push(format!("{}: {e}", path.display()));
                }
            }
            let (passed, why) = stopped_by(&result);
            let (passed_unlit, why_unlit) = stopped_by(&unlit);
            let e = species.entry(file.species.clone()).or_default();
            e.1 += 1;
            e.0 += usize::from(passed);
            e.2 += usize::from(passed_unlit);
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                file.species,
                names.join(", "),
                if passed { "**PASSED**" } else { "stopped" },
                why,
                if passed_unlit {
                    "**PASSED**".to_string()
                } else {
                    format!("stopped: {why_unlit}")
                }
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "| species | APCER | APCER without screen light |")?;
    writeln!(out, "|---|---|---|")?;
    for (name, (k, n, unlit)) in &species {
        writeln!(
            out,
            "| {name} | {} | {} |",
            ratio(*k, *n),
            ratio(*unlit, *n)
        )?;
    }
    writeln!(out)?;

    // Bona fide: the genuine clips with their own template and the flash.
    writeln!(out, "## Bona fide with template and screen light: BPCER")?;
    writeln!(out)?;
    writeln!(
        out,
        "The genuine clips, once per annotated challenge, with the person's template enrolled \
         from one frontal frame of their own clip (1.0 s; the head-pose GIF's first frame) and \
         the screen-light challenge simulated on the face (`src/flash_sim.rs`)."
    )?;
    writeln!(out)?;
    writeln!(out, "| clip | challenge | result | figures |")?;
    writeln!(out, "|---|---|---|---|")?;
    let mut bona = (0usize, 0usize);
    for clip in [
        crate::attacks::BLINK_CLIP,
        crate::attacks::MOUTH_CLIP,
        crate::attacks::POSE_CLIP,
    ] {
        let path = faces.join(clip);
        let Some(annotations) = path
            .parent()
            .map(|d| d.join("ANNOTATIONS.tsv"))
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            continue;
        };
        let at = f64::from(crate::attacks::enrolment_time(clip));
        let template = match victims.template(clip, at) {
            Ok(t) => t,
            Err(e) => {
                run_errors.push(e);
                continue;
            }
        };
        let (cfg, looping) = replay_config(config, &path);
        for action in annotated_actions(&annotations) {
            seed += 1;
            let plan = Plan {
                seed,
                actions: vec![action],
            };
            let result =
                replay_session(&cfg, models.clone(), &path, plan, Some(&template), looping);
            let (passed, why) = stopped_by(&result);
            bona.1 += 1;
            if !passed {
                bona.0 += 1;
            }
            let figures = match &result {
                Ok(r) => {
                    let f = r.liveness.evidence().flash;
                    let flash = f.map_or("flash –".to_string(), |f| {
                        format!(
                            "flash r {:.2}, response {:.3}, shape {:.2}, lag {} ms",
                            f.correlation,
                            f.response,
                            f.shape_ratio,
                            f.lag.as_millis()
                        )
                    });
                    match r.matching {
                        MatchResult::Decided { distance, .. } => {
                            format!("{flash}; d {distance:.2}")
                        }
                        MatchResult::NotRun => flash,
                    }
                }
                Err(_) => "–".to_string(),
            };
            writeln!(
                out,
                "| {clip} | {} | {} | {figures} |",
                action.name(),
                if passed { "passed" } else { why.as_str() }
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "BPCER: {}.", ratio(bona.0, bona.1))?;
    writeln!(out)?;
    Ok(())
}
