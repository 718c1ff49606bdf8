//! Active liveness: a seeded challenge of voiced actions judged frame by frame.
//!
//! [`Liveness`] is a pure state machine. The driver feeds it one
//! [`FrameInput`] per analysed camera frame (time comes from the camera
//! timestamps in the input; there is no clock here) and acts on the
//! [`LivenessEvent`]s it returns. The check runs in phases:
//!
//! 1. **Baseline**: the first [`BASELINE_FRAMES`] usable, roughly frontal
//!    frames set the per-session neutral EAR / MAR / yaw / pitch / nose offset
//!    (medians). Light, size, centring and blur problems do not stop the
//!    baseline (an elderly user in a dim room must still get through); no
//!    face, several faces or a turned head do. Then sample 0 is asked for and
//!    action 0 starts (the voice prompt delay is the driver's concern).
//! 2. **Action i**: the action's detector runs (hysteresis, min/max
//!    durations). The per-action clock runs only on frames without a quality
//!    problem on that frame (the hint shows after a short debounce); the
//!    total clock always runs.
//! 3. **Settle**: after an action is done the face must return to neutral
//!    (yaw, pitch, mouth closed) for [`NEUTRAL_MIN_DURATION`] before the next
//!    action starts, so one movement never counts twice. On that neutral
//!    frame a sample is asked for.
//! 4. **Closing**: after the last action's neutral sample, the check passes on
//!    a later frame once the driver has reported every sample distance (and
//!    the PAD mean, if any, is high enough).
//!
//! # Same person throughout
//!
//! `SampleWanted { sample, reason }` asks the driver to embed **the frame it
//! has just passed** and keep the descriptor as number `sample` (0, 1, 2…).
//! For every sample but 0 the driver reports the Euclidean distance to
//! sample 0 with [`Liveness::record_sample_distance`]; a distance above
//! [`SAME_PERSON_MAX_DISTANCE`] fails with [`FailReason::PersonChanged`], a
//! missing or non-finite one with [`FailReason::SampleFault`]. Samples are
//! taken at the baseline, at the neutral frame after every action and at the
//! first neutral frame after the face was lost (no face / several faces).
//! Any loss of the face also resets the running detector: a movement must be
//! seen on one continuously tracked face. The samples are recorded as
//! [`matching::Candidate`](crate::matching::Candidate)s in the [`Evidence`]
//! for frame selection.
//!
//! # Photos and screens
//!
//! A still picture produces no blink, mouth or pose change and times out. A
//! flat picture turned or rotated in front of the camera changes the measured
//! yaw but not the nose offset: a turn whose nose-offset change is below
//! [`PLANAR_NOSE_GAIN`]` × |sin Δyaw|` fails with [`FailReason::PlanarMotion`].
//! Roll and scale never enter a detector. A plan is never nods only
//! ([`plan`]). PAD scores, when a model is configured, are averaged and a
//! mean below the threshold fails with [`FailReason::Spoof`].
//!
//! # Direction convention
//!
//! "Turn left" ([`Action::TurnLeft`]) is the **user's own** left, which is
//! yaw > 0 in the unmirrored camera frame (the face points to the image
//! right). The preview is mirrored on screen; that does not change the
//! measure. "Raise head" is pitch decreasing (pitch grows when the head goes
//! down).
//!
//! # Robustness
//!
//! No input panics: a face with any non-finite measure is treated as no face;
//! camera time that goes backwards does not advance the clocks; a gap between
//! frames counts at most [`MAX_FRAME_GAP`] on the per-action clock. Once
//! `t − t(first frame) ≥ total_timeout` the machine has finished.

mod checks;
pub mod flash;
mod params;
mod plan;
/// The top quality problem of one face on its own: light, distance, centring
/// and sharpness (no smoothing, no pose).
fn face_problem(th: &Thresholds, f: &FaceInput) -> Option<QualityHint> {
    if f.brightness < th.brightness_min {
        Some(QualityHint::TooDark)
    } else if f.brightness > th.brightness_max {
        Some(QualityHint::TooBright)
    } else if f.face_size < th.face_size_min {
        Some(QualityHint::TooFar)
    } else if f.face_size > th.face_size_max {
        Some(QualityHint::TooNear)
    } else if (f.centre[0] - 0.5).abs() > th.centre_max_offset
        || (f.centre[1] - 0.5).abs() > th.centre_max_offset
    {
        Some(QualityHint::OffCentre)
    } else if f.sharpness < th.sharpness_min {
        Some(QualityHint::Blurry)
    } else {
        None
    }
}

/// The quality of one frame for face enrolment and the camera self-test:
/// exactly one usable, frontal face in good light, or the top problem.
pub fn frame_quality(th: &Thresholds, input: &FrameInput) -> Option<QualityHint> {
    let Some(f) = input.face else {
        return Some(QualityHint::NoFace);
    };
    if input.faces >= 2 {
        return Some(QualityHint::SeveralFaces);
    }
    let finite = [
        f.yaw,
        f.pitch,
        f.face_size,
        f.brightness,
        f.sharpness,
        f.presence,
    ]
    .iter()
    .all(|v| v.is_finite());
    if !finite || !ge(f.presence, th.presence_min) {
        return Some(QualityHint::NoFace);
    }
    face_problem(th, &f).or_else(|| {
        let frontal = le(f.yaw.abs(), th.baseline_max_yaw)
            && le(
                (f.pitch - th.frontal_pitch).abs(),
                th.baseline_max_pitch_offset,
            );
        (!frontal).then_some(QualityHint::NotFacing)
    })
}

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use checks::{
    FrameIntervals, SHAPE_POINTS, homography_residual, is_cut, mid_frames, required_mid_frames,
};
pub use flash::{FaceLight, FlashParams, FlashReport, FlashSample, FlashVerdict, Tint};
pub use params::*;
pub use plan::{Plan, SplitMix64, plan};

use crate::action::Action;
use crate::flow::{CaptureFailure, QualityHint};
use crate::matching::Candidate;

/// The measures of the tracked face in one frame (vision `PrimaryFace`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaceInput {
    /// Eye aspect ratio of the subject's own left eye.
    pub ear_left: f32,
    /// Eye aspect ratio of the subject's own right eye.
    pub ear_right: f32,
    /// Mouth aspect ratio `|13 − 14| / |78 − 308|`.
    pub mar: f32,
    /// Degrees; > 0 when the subject turns to their own left.
    pub yaw: f32,
    /// Degrees; larger = head down.
    pub pitch: f32,
    /// Degrees; head tilt (never used by a detector).
    pub roll: f32,
    /// Face box height / frame height.
    pub face_size: f32,
    /// Face box centre / frame size, each 0..1.
    pub centre: [f32; 2],
    /// Mean face-box luma, 0..255.
    pub brightness: f32,
    /// Variance of the Laplacian of the face box.
    pub sharpness: f32,
    /// Mesh face probability, 0..1.
    pub presence: f32,
    /// 2D nose-tip offset from the cheek midpoint divided by half the cheek
    /// distance, in the roll-free frame: grows with a real head turn, stays
    /// about 0 when a flat photo is turned or rotated.
    pub nose_offset: f32,
    /// [`SHAPE_POINTS`] face points (nose, eyes, mouth corners, cheeks, chin,
    /// forehead) relative to the face box centre, in face heights, for the
    /// 3-D check of turns ([`homography_residual`]). All zero when unknown
    /// (the check then does not run).
    pub shape: [[f32; 2]; SHAPE_POINTS],
}

/// One analysed camera frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameInput {
    /// Camera timestamp of the frame.
    pub t: Duration,
    /// Faces detected in the frame (a present `face` counts as at least one).
    pub faces: u8,
    /// The tracked face's measures, if any.
    pub face: Option<FaceInput>,
    /// The tracked face's region colours for the screen-light challenge
    /// ([`flash`]), if measured.
    pub light: Option<FaceLight>,
}

/// Why a sample is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleReason {
    /// The reference sample at the end of the baseline.
    Baseline,
    /// The neutral frame after action `index`.
    Action { index: u8 },
    /// The first neutral frame after the face was lost.
    Reacquired,
}

/// What [`Liveness::step`] reports. Within one step a `Hint` comes first, a
/// `SampleWanted` before the `ActionStarted` of the next action, and
/// `Finished` last.
#[derive(Debug, Clone, PartialEq)]
pub enum LivenessEvent {
    /// Action `index` (0-based) of `total` starts: prompt it.
    ActionStarted {
        index: u8,
        total: u8,
        action: Action,
    },
    /// A quality problem to show (debounced), or `None` when it cleared.
    Hint(Option<QualityHint>),
    /// The screen-light challenge starts at camera time `at`: show `tints`
    /// full-screen, `slot` each, from now on ([`flash`]).
    FlashStarted {
        tints: Vec<Tint>,
        slot: Duration,
        at: Duration,
    },
    /// The screen-light challenge is over (passed): back to the normal screen.
    FlashEnded,
    /// Action `index` was performed at camera time `at`.
    ActionDone {
        index: u8,
        action: Action,
        at: Duration,
    },
    /// Embed the frame just passed and keep it as sample number `sample`.
    SampleWanted { sample: u32, reason: SampleReason },
    /// The check is over; later steps return nothing.
    Finished(Outcome),
}

/// When one action was prompted and done (camera time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTiming {
    pub action: Action,
    pub started: Duration,
    pub done: Option<Duration>,
}

/// The per-session neutral measures (medians over the baseline frames).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Mean EAR of both eyes.
    pub ear: f32,
    pub mar: f32,
    pub yaw: f32,
    pub pitch: f32,
    pub nose_offset: f32,
}

/// One sample asked for, with the quality of its frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRecord {
    pub reason: SampleReason,
    /// Camera time of the frame.
    pub t: Duration,
    /// The frame's quality; `candidate.index` is the sample number.
    pub candidate: Candidate,
}

/// What the check saw, for the record and for matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The plan's seed.
    pub seed: u64,
    /// One entry per action started, in order.
    pub actions: Vec<ActionTiming>,
    /// The neutral baseline, once set.
    pub baseline: Option<Baseline>,
    /// The samples asked for, in order (sample number = position).
    pub samples: Vec<SampleRecord>,
    /// Mean PAD score, when PAD scores were reported.
    pub pad_mean: Option<f32>,
    /// What the transition and continuity checks saw.
    pub checks: CheckCounts,
    /// The screen-light challenge's figures, when it ran to its end.
    pub flash: Option<FlashReport>,
    /// Camera time the check finished.
    pub finished_at: Duration,
}

/// The findings of the physical checks ([`checks`]) over one check.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CheckCounts {
    /// Cuts: frames whose face jumped from the previous one.
    pub cuts: u32,
    /// Blinks and mouth openings not counted because they jumped between
    /// states without middle frames.
    pub abrupt_transitions: u32,
    /// Middle-band frames the transition check asked for at the end (0: the
    /// camera was too slow for it, or the rate was unknown).
    pub mid_frames_required: u32,
    /// Median frame interval at the end.
    pub frame_interval: Option<Duration>,
    /// The smallest 3-D residual of a counted or refused turn
    /// ([`homography_residual`], face heights); `None` without a turn.
    pub turn_residual: Option<f32>,
}

impl Evidence {
    /// The samples as matching candidates
    /// (for [`MatchPolicy::select_frames`](crate::matching::MatchPolicy::select_frames)).
    pub fn candidates(&self) -> Vec<Candidate> {
        self.samples.iter().map(|s| s.candidate).collect()
    }
}

/// Why a check failed. The person is told less than this (see
/// [`FailReason::to_capture_failure`]); the audit log gets all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The total time ran out.
    Timeout,
    /// The total time ran out and no usable face was ever seen.
    NoFace,
    /// One action was not performed within its time.
    ActionTimeout,
    /// A sample was farther than the same-person distance from sample 0.
    PersonChanged,
    /// The mean PAD score was below the threshold.
    Spoof,
    /// A turn moved like a flat picture (yaw changed, nose offset did not).
    PlanarMotion,
    /// The action was not done in time, and what looked like it jumped from
    /// one state to the other without the frames a real eyelid or jaw shows
    /// in between (a photo swap; [`checks`]).
    AbruptTransition,
    /// The action was not done in time, and the face jumped position, size or
    /// roll between frames during it (a cut to another picture; [`checks`]).
    Discontinuity,
    /// The face was lost and found again more often than
    /// [`MAX_REACQUIRED_SAMPLES`] allows.
    FaceLost,
    /// The face's colour did not follow the screen's tints as a real face
    /// lit by the screen does ([`flash`]; the verdict is in the evidence).
    ScreenLight,
    /// The driver did not report usable sample distances in time.
    SampleFault,
    /// The plan has no actions or more than [`MAX_PLAN_ACTIONS`].
    InvalidPlan,
}

impl FailReason {
    /// The failure shown to the person. Spoof, planar motion and face loss
    /// are told as "action not completed" on purpose: the kiosk does not
    /// explain to an attacker what gave them away.
    pub fn to_capture_failure(self, action: Option<Action>) -> CaptureFailure {
        match self {
            FailReason::Timeout | FailReason::NoFace => CaptureFailure::Timeout,
            FailReason::ActionTimeout
            | FailReason::Spoof
            | FailReason::PlanarMotion
            | FailReason::AbruptTransition
            | FailReason::Discontinuity
            | FailReason::ScreenLight
            | FailReason::FaceLost => CaptureFailure::LivenessIncomplete { action },
            FailReason::PersonChanged => CaptureFailure::PersonChanged,
            FailReason::SampleFault | FailReason::InvalidPlan => CaptureFailure::DeviceFault,
        }
    }
}

/// The result of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every action was performed by one live face.
    Passed { evidence: Evidence },
    /// The check failed; `action` is the action being asked for (if any),
    /// `hint` the quality hint shown at the time (if any).
    Failed {
        reason: FailReason,
        action: Option<Action>,
        hint: Option<QualityHint>,
        evidence: Evidence,
    },
}

impl Outcome {
    /// The evidence of either outcome.
    pub fn evidence(&self) -> &Evidence {
        match self {
            Outcome::Passed { evidence } | Outcome::Failed { evidence, .. } => evidence,
        }
    }

    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }

    /// The failure for the kiosk flow (`None` when passed).
    pub fn to_capture_failure(&self) -> Option<CaptureFailure> {
        match self {
            Outcome::Passed { .. } => None,
            Outcome::Failed { reason, action, .. } => Some(reason.to_capture_failure(*action)),
        }
    }
}

/// The usable measures of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measures {
    ear: f32,
    ear_min: f32,
    mar: f32,
    yaw: f32,
    pitch: f32,
    nose: f32,
    sharpness: f32,
    presence: f32,
    shape: [[f32; 2]; SHAPE_POINTS],
}

/// Running medians over the last [`SMOOTHING_FRAMES`] usable frames.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Smoothed {
    yaw: f32,
    pitch: f32,
    mar: f32,
    nose: f32,
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// Comparisons that are false when either side is NaN: a negated one
// (`!ge(score, threshold)`) fails safe on NaN.
fn lt(a: f32, b: f32) -> bool {
    a < b
}

fn le(a: f32, b: f32) -> bool {
    a <= b
}

fn ge(a: f32, b: f32) -> bool {
    a >= b
}

fn is_turn(a: Action) -> bool {
    matches!(a, Action::TurnLeft | Action::TurnRight)
}

fn is_nod(a: Action) -> bool {
    matches!(a, Action::RaiseHead | Action::LowerHead)
}

/// Open and closed MAR levels for a baseline.
fn mouth_levels(base: &Baseline, th: &Thresholds) -> (f32, f32) {
    let open = th.mouth_open_mar.max(base.mar + th.mouth_open_min_rise);
    (open, open - th.mouth_hysteresis)
}

fn is_neutral(s: &Smoothed, base: &Baseline, th: &Thresholds) -> bool {
    let (_, closed) = mouth_levels(base, th);
    (s.yaw - base.yaw).abs() <= th.neutral_return_yaw
        && (s.pitch - base.pitch).abs() <= th.neutral_return_pitch
        && s.mar <= closed
}

fn is_neutral_pose(s: &Smoothed, base: &Baseline, th: &Thresholds) -> bool {
    (s.yaw - base.yaw).abs() <= th.neutral_return_yaw
        && (s.pitch - base.pitch).abs() <= th.neutral_return_pitch
}

/// Frames kept for the screen-light challenge (the phase lasts under 3 s;
/// 60 fps would fill 180).
const FLASH_MAX_SAMPLES: usize = 400;

/// Frames of one blink or mouth opening kept for the transition check (2.5 s
/// at 60 fps; a blink is over after [`BLINK_MAX_DURATION`]).
const TRACE_MAX: usize = 150;

/// The running detector of the current action.
#[derive(Debug, Clone, PartialEq)]
enum Detector {
    /// `armed`: open eyes were seen (frontal) since the last reset. `trace`:
    /// the EARs below the reopened level since the eyes were last open.
    Blink {
        armed: bool,
        closed_since: Option<Duration>,
        trace: Vec<f32>,
    },
    /// `armed`: a closed mouth was seen since the last reset. `rising`: the
    /// raw MARs between the closed and the open level since the last closed
    /// frame, until the first open one.
    Mouth {
        armed: bool,
        open_since: Option<Duration>,
        rising: Vec<f32>,
        reached_open: bool,
    },
    /// Turn or nod: since when the pose has been past the threshold.
    Pose { since: Option<Duration> },
}

/// Where a detector's frame stands: the baseline, the time, the thresholds
/// and the middle frames a transition needs at this camera's rate.
struct At<'a> {
    base: &'a Baseline,
    /// The baseline's median face points.
    shape: &'a [[f32; 2]; SHAPE_POINTS],
    now: Duration,
    th: &'a Thresholds,
    required_mid: usize,
}

enum Progress {
    Nothing,
    Done,
    Planar,
    /// A blink or mouth opening without the middle frames of a real one: not
    /// counted.
    Abrupt,
}

impl Detector {
    fn new(action: Action) -> Detector {
        match action {
            Action::Blink => Detector::Blink {
                armed: false,
                closed_since: None,
                trace: Vec::new(),
            },
            Action::OpenMouth => Detector::Mouth {
                armed: false,
                open_since: None,
                rising: Vec::new(),
                reached_open: false,
            },
            _ => Detector::Pose { since: None },
        }
    }

    /// Back to the start of the same action's detector.
    fn reset(&mut self) {
        *self = match self {
            Detector::Blink { .. } => Detector::new(Action::Blink),
            Detector::Mouth { .. } => Detector::new(Action::OpenMouth),
            Detector::Pose { .. } => Detector::Pose { since: None },
        };
    }

    fn update(
        &mut self,
        action: Action,
        (m, s): (&Measures, &Smoothed),
        at: &At<'_>,
        residual: &mut Option<f32>,
    ) -> Progress {
        let &At {
            base,
            shape,
            now,
            th,
            required_mid,
        } = at;
        match self {
            Detector::Blink {
                armed,
                closed_since,
                trace,
            } => {
                let reference = base.ear.max(th.blink_min_base_ear);
                let closed = (th.blink_closed_ratio * reference).min(reference - th.blink_min_drop);
                let reopened = th.blink_reopen_ratio * reference;
                if !lt(s.yaw.abs(), th.blink_max_yaw) {
                    *armed = false;
                    *closed_since = None;
                    trace.clear();
                } else if m.ear >= reopened {
                    let was_closed = closed_since.take();
                    let counted = *armed
                        && was_closed.is_some_and(|c| {
                            let d = now.saturating_sub(c);
                            d >= th.blink_min_duration && d <= th.blink_max_duration
                        });
                    *armed = true;
                    let mid = mid_frames(trace, closed, reopened);
                    trace.clear();
                    if counted {
                        return if mid >= required_mid {
                            Progress::Done
                        } else {
                            Progress::Abrupt
                        };
                    }
                } else {
                    if trace.len() < TRACE_MAX {
                        trace.push(m.ear);
                    }
                    if m.ear <= closed && *armed {
                        let c = *closed_since.get_or_insert(now);
                        if now.saturating_sub(c) > th.blink_max_duration {
                            // Resting eyes, not a blink: reopen to try again.
                            *armed = false;
                            *closed_since = None;
                            trace.clear();
                        }
                    }
                }
                Progress::Nothing
            }
            Detector::Mouth {
                armed,
                open_since,
                rising,
                reached_open,
            } => {
                let (open, closed) = mouth_levels(base, th);
                // The raw MARs on the way up (the detector itself runs on the
                // running median, which would hide a jump's shape).
                if m.mar <= closed {
                    rising.clear();
                    *reached_open = false;
                } else if m.mar >= open {
                    *reached_open = true;
                } else if !*reached_open && rising.len() < TRACE_MAX {
                    rising.push(m.mar);
                }
                if s.mar <= closed {
                    *armed = true;
                    *open_since = None;
                } else if s.mar >= open {
                    if *armed {
                        let o = *open_since.get_or_insert(now);
                        if now.saturating_sub(o) >= th.mouth_min_open_duration {
                            if mid_frames(rising, closed, open) >= required_mid {
                                return Progress::Done;
                            }
                            // Close the mouth and open it again.
                            *armed = false;
                            *open_since = None;
                            return Progress::Abrupt;
                        }
                    }
                } else {
                    *open_since = None;
                }
                Progress::Nothing
            }
            Detector::Pose { since } => {
                let dy = s.yaw - base.yaw;
                let dp = s.pitch - base.pitch;
                let hit = match action {
                    Action::TurnLeft => dy >= th.turn_delta_yaw,
                    Action::TurnRight => dy <= -th.turn_delta_yaw,
                    Action::LowerHead => {
                        dp >= th.nod_delta_pitch && dy.abs() <= th.nod_max_yaw_delta
                    }
                    Action::RaiseHead => {
                        dp <= -th.nod_delta_pitch && dy.abs() <= th.nod_max_yaw_delta
                    }
                    Action::Blink | Action::OpenMouth => false,
                };
                if !hit {
                    *since = None;
                    return Progress::Nothing;
                }
                let first = *since.get_or_insert(now);
                if now.saturating_sub(first) < th.pose_hold_duration {
                    return Progress::Nothing;
                }
                if is_turn(action) {
                    let needed = th.planar_nose_gain * dy.to_radians().sin().abs();
                    let moved = (s.nose - base.nose_offset).abs();
                    if !ge(moved, needed) {
                        return Progress::Planar;
                    }
                    // The 3-D check: no flat picture of the baseline face
                    // maps onto this one.
                    if let Some(r) = homography_residual(shape, &m.shape) {
                        *residual = Some(residual.map_or(r, |x: f32| x.min(r)));
                        if !ge(r, th.planar_min_residual) {
                            return Progress::Planar;
                        }
                    }
                }
                Progress::Done
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Baseline {
        frames: Vec<Measures>,
    },
    /// The screen-light challenge, started at camera time `started`.
    Flash {
        started: Duration,
        tints: Vec<Tint>,
        samples: Vec<FlashSample>,
    },
    Action {
        index: usize,
        clock: Duration,
        detector: Detector,
    },
    Settle {
        done: usize,
        since: Option<Duration>,
    },
    Closing {
        since: Duration,
    },
    Done,
}

/// Debounced quality hint.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct HintState {
    shown: Option<QualityHint>,
    pending: Option<QualityHint>,
    since: Duration,
}

/// The liveness state machine of one check (see the module documentation).
#[derive(Debug, Clone)]
pub struct Liveness {
    params: LivenessParams,
    plan: Plan,
    phase: Phase,
    /// Camera time of the first frame.
    start: Option<Duration>,
    /// Latest camera time seen (never goes back).
    now: Duration,
    baseline: Option<Baseline>,
    /// The baseline's median face points (the 3-D check of turns).
    baseline_shape: [[f32; 2]; SHAPE_POINTS],
    recent: Vec<Measures>,
    hint: HintState,
    timings: Vec<ActionTiming>,
    samples: Vec<SampleRecord>,
    /// Per sample: its distance was reported.
    reported: Vec<bool>,
    person_changed: bool,
    sample_fault: bool,
    pad_sum: f64,
    pad_count: u32,
    /// The face was lost (no face / several faces) after the baseline.
    face_lost: bool,
    /// A sample is due at the next neutral frame because the face was lost.
    reacquire_pending: bool,
    ever_face: bool,
    /// The camera's frame intervals (for the transition check).
    intervals: FrameIntervals,
    /// The last usable face and its time (for the continuity check).
    prev_face: Option<(Duration, FaceInput)>,
    checks: CheckCounts,
    /// During the current action: an abrupt transition / a cut was seen.
    abrupt_in_action: bool,
    cut_in_action: bool,
    flash: Option<FlashReport>,
    outcome: Option<Outcome>,
}

impl Liveness {
    /// A check of `plan` with `params`. An invalid plan (empty, or more than
    /// [`MAX_PLAN_ACTIONS`]) fails on the first frame.
    pub fn new(params: LivenessParams, plan: Plan) -> Liveness {
        Liveness {
            params,
            plan,
            phase: Phase::Baseline { frames: Vec::new() },
            start: None,
            now: Duration::ZERO,
            baseline: None,
            baseline_shape: [[0.0; 2]; SHAPE_POINTS],
            recent: Vec::with_capacity(SMOOTHING_FRAMES),
            hint: HintState::default(),
            timings: Vec::new(),
            samples: Vec::new(),
            reported: Vec::new(),
            person_changed: false,
            sample_fault: false,
            pad_sum: 0.0,
            pad_count: 0,
            face_lost: false,
            reacquire_pending: false,
            ever_face: false,
            intervals: FrameIntervals::default(),
            prev_face: None,
            checks: CheckCounts::default(),
            abrupt_in_action: false,
            cut_in_action: false,
            flash: None,
            outcome: None,
        }
    }

    /// The plan being checked.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The neutral baseline, once set.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// The action being asked for now, with its index.
    pub fn current_action(&self) -> Option<(u8, Action)> {
        match &self.phase {
            Phase::Action { index, .. } => self
                .plan
                .actions
                .get(*index)
                .map(|&a| (u8::try_from(*index).unwrap_or(u8::MAX), a)),
            _ => None,
        }
    }

    /// The outcome, once finished.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// Reports the Euclidean distance between sample `sample`'s descriptor
    /// and sample 0's. Reports for sample 0, unknown or already reported
    /// samples, or after the check finished, are ignored. A distance above
    /// the same-person limit fails the check on the next step
    /// ([`FailReason::PersonChanged`]); a negative or non-finite one means
    /// the driver could not compare ([`FailReason::SampleFault`]).
    pub fn record_sample_distance(&mut self, sample: u32, distance: f32) {
        if self.outcome.is_some() {
            return;
        }
        let Ok(i) = usize::try_from(sample) else {
            return;
        };
        if i == 0 {
            return;
        }
        let Some(done) = self.reported.get_mut(i) else {
            return;
        };
        if *done {
            return;
        }
        *done = true;
        if !distance.is_finite() || distance < 0.0 {
            self.sample_fault = true;
        } else if !le(distance, self.params.same_person_max_distance) {
            self.person_changed = true;
        }
    }

    /// Reports one PAD "real" score (0..1). Non-finite scores count as 0 (a
    /// broken PAD model fails safe). Without any score PAD plays no part.
    pub fn record_pad_score(&mut self, score: f32) {
        if self.outcome.is_some() {
            return;
        }
        let s = if score.is_finite() {
            score.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.pad_sum += f64::from(s);
        self.pad_count = self.pad_count.saturating_add(1);
    }

    fn pad_mean(&self) -> Option<f32> {
        (self.pad_count > 0).then(|| (self.pad_sum / f64::from(self.pad_count)) as f32)
    }

    fn total(&self) -> u8 {
        u8::try_from(self.plan.actions.len()).unwrap_or(u8::MAX)
    }

    /// Feeds one frame; returns what happened (nothing once finished).
    pub fn step(&mut self, input: &FrameInput) -> Vec<LivenessEvent> {
        let mut events = Vec::new();
        if self.outcome.is_some() {
            return events;
        }
        let first_frame = self.start.is_none();
        let start = *self.start.get_or_insert(input.t);
        if !first_frame && input.t > self.now {
            self.intervals.push(input.t.saturating_sub(self.now));
        }
        let dt = if input.t > self.now {
            input.t.saturating_sub(self.now).min(MAX_FRAME_GAP)
        } else {
            Duration::ZERO
        };
        self.now = self.now.max(input.t);
        let now = self.now;

        if self.plan.actions.is_empty() || self.plan.actions.len() > MAX_PLAN_ACTIONS {
            self.fail(FailReason::InvalidPlan, None, &mut events);
            return events;
        }
        if self.person_changed {
            let action = self.current_action().map(|(_, a)| a);
            self.fail(FailReason::PersonChanged, action, &mut events);
            return events;
        }
        if self.sample_fault {
            self.fail(FailReason::SampleFault, None, &mut events);
            return events;
        }

        let (mut problem, measures) = self.classify(input);
        let smoothed = measures.map(|m| self.smooth(m));
        if problem.is_none()
            && let Some(s) = &smoothed
        {
            problem = self.not_facing(s).then_some(QualityHint::NotFacing);
        }
        self.update_hint(problem, now, &mut events);

        let frame = measures.zip(smoothed);
        let cut = match (&frame, input.face) {
            (Some(_), Some(face)) => {
                let th = &self.params.thresholds;
                let cut = self
                    .prev_face
                    .is_some_and(|(t, prev)| is_cut(&prev, &face, input.t.saturating_sub(t), th));
                self.prev_face = Some((input.t, face));
                cut
            }
            _ => {
                self.prev_face = None;
                false
            }
        };
        match frame {
            Some(_) => {
                self.ever_face = true;
                if cut && self.baseline.is_some() {
                    // Another picture, not a movement: as if the face had
                    // been lost and found again.
                    self.checks.cuts = self.checks.cuts.saturating_add(1);
                    self.face_lost = true;
                    if matches!(self.phase, Phase::Action { .. }) {
                        self.cut_in_action = true;
                    }
                }
                if self.face_lost {
                    self.face_lost = false;
                    self.reacquire_pending = true;
                    if let Phase::Action { detector, .. } = &mut self.phase {
                        detector.reset();
                    }
                }
            }
            None => {
                if self.baseline.is_some() {
                    self.face_lost = true;
                }
                if let Phase::Action { detector, .. } = &mut self.phase {
                    detector.reset();
                }
            }
        }

        self.advance(now, dt, problem, frame, input.light, &mut events);

        if self.outcome.is_none() && now.saturating_sub(start) >= self.params.total_timeout {
            self.time_out(&mut events);
        }
        events
    }

    /// The frame's top quality problem (NotFacing is added by the caller)
    /// and its measures when the face is usable at all.
    fn classify(&mut self, input: &FrameInput) -> (Option<QualityHint>, Option<Measures>) {
        let th = &self.params.thresholds;
        let faces = match input.face {
            Some(_) => input.faces.max(1),
            None => 0,
        };
        if faces >= 2 {
            self.recent.clear();
            return (Some(QualityHint::SeveralFaces), None);
        }
        let Some(f) = input.face else {
            self.recent.clear();
            return (Some(QualityHint::NoFace), None);
        };
        let all_finite = [
            f.ear_left,
            f.ear_right,
            f.mar,
            f.yaw,
            f.pitch,
            f.roll,
            f.face_size,
            f.centre[0],
            f.centre[1],
            f.brightness,
            f.sharpness,
            f.presence,
            f.nose_offset,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !all_finite || !ge(f.presence, th.presence_min) {
            self.recent.clear();
            return (Some(QualityHint::NoFace), None);
        }
        let m = Measures {
            ear: (f.ear_left + f.ear_right) / 2.0,
            ear_min: f.ear_left.min(f.ear_right),
            mar: f.mar,
            yaw: f.yaw,
            pitch: f.pitch,
            nose: f.nose_offset,
            sharpness: f.sharpness,
            presence: f.presence,
            shape: f.shape,
        };
        let problem = face_problem(th, &f);
        (problem, Some(m))
    }

    fn smooth(&mut self, m: Measures) -> Smoothed {
        if self.recent.len() >= SMOOTHING_FRAMES {
            self.recent.remove(0);
        }
        self.recent.push(m);
        let pick = |f: fn(&Measures) -> f32| median(self.recent.iter().map(f).collect());
        Smoothed {
            yaw: pick(|m| m.yaw),
            pitch: pick(|m| m.pitch),
            mar: pick(|m| m.mar),
            nose: pick(|m| m.nose),
        }
    }

    fn frontal_for_baseline(&self, yaw: f32, pitch: f32) -> bool {
        let th = &self.params.thresholds;
        yaw.abs() <= th.baseline_max_yaw
            && (pitch - th.frontal_pitch).abs() <= th.baseline_max_pitch_offset
    }

    /// Whether the head is turned away for the current phase: before the
    /// baseline, not roughly frontal; after it, |Δyaw| or |Δpitch| too large
    /// except along the axis the current action moves; during a blink also
    /// |yaw| ≥ [`BLINK_MAX_YAW`] (blinks are not counted there).
    fn not_facing(&self, s: &Smoothed) -> bool {
        let th = &self.params.thresholds;
        let Some(base) = &self.baseline else {
            return !self.frontal_for_baseline(s.yaw, s.pitch);
        };
        let action = self.current_action().map(|(_, a)| a);
        let yaw_free = action.is_some_and(is_turn);
        let pitch_free = action.is_some_and(is_nod);
        let yaw_off = !yaw_free && !le((s.yaw - base.yaw).abs(), th.not_facing_yaw);
        let pitch_off = !pitch_free && !le((s.pitch - base.pitch).abs(), th.not_facing_pitch);
        let blink_off = action == Some(Action::Blink) && !lt(s.yaw.abs(), th.blink_max_yaw);
        yaw_off || pitch_off || blink_off
    }

    fn update_hint(
        &mut self,
        problem: Option<QualityHint>,
        now: Duration,
        out: &mut Vec<LivenessEvent>,
    ) {
        let th = &self.params.thresholds;
        let h = &mut self.hint;
        if problem != h.pending {
            h.pending = problem;
            h.since = now;
        }
        if h.pending != h.shown {
            let delay = if h.pending.is_some() {
                th.hint_show_delay
            } else {
                th.hint_clear_delay
            };
            if now.saturating_sub(h.since) >= delay {
                h.shown = h.pending;
                out.push(LivenessEvent::Hint(h.shown));
            }
        }
    }

    fn advance(
        &mut self,
        now: Duration,
        dt: Duration,
        problem: Option<QualityHint>,
        frame: Option<(Measures, Smoothed)>,
        light: Option<FaceLight>,
        out: &mut Vec<LivenessEvent>,
    ) {
        let th = self.params.thresholds.clone();
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        self.phase = match phase {
            Phase::Baseline { mut frames } => {
                if let Some((m, _)) = frame
                    && self.frontal_for_baseline(m.yaw, m.pitch)
                {
                    frames.push(m);
                }
                if frames.len() >= th.baseline_frames.max(1) {
                    let pick = |f: fn(&Measures) -> f32| median(frames.iter().map(f).collect());
                    let base = Baseline {
                        ear: pick(|m| m.ear),
                        mar: pick(|m| m.mar),
                        yaw: pick(|m| m.yaw),
                        pitch: pick(|m| m.pitch),
                        nose_offset: pick(|m| m.nose),
                    };
                    self.baseline = Some(base);
                    self.baseline_shape = std::array::from_fn(|i| {
                        [0, 1].map(|k| {
                            median(
                                frames
                                    .iter()
                                    .filter_map(|m| m.shape.get(i).map(|p| p[k]))
                                    .collect(),
                            )
                        })
                    });
                    if let Some((m, _)) = frame {
                        self.request_sample(SampleReason::Baseline, now, &m, None, out);
                    }
                    match &self.params.flash {
                        Some(fp) => {
                            let tints = flash::sequence(self.plan.seed, fp.slots);
                            out.push(LivenessEvent::FlashStarted {
                                tints: tints.clone(),
                                slot: fp.slot,
                                at: now,
                            });
                            Phase::Flash {
                                started: now,
                                tints,
                                samples: Vec::new(),
                            }
                        }
                        None => self.start_action(0, now, out),
                    }
                } else {
                    Phase::Baseline { frames }
                }
            }
            Phase::Flash {
                started,
                tints,
                mut samples,
            } => {
                let Some(fp) = self.params.flash.clone() else {
                    self.phase = self.start_action(0, now, out);
                    return;
                };
                let t = now.saturating_sub(started);
                if let (Some(_), Some(light)) = (frame, light)
                    && samples.len() < FLASH_MAX_SAMPLES
                {
                    samples.push(FlashSample { t, light });
                }
                if t < fp.phase_duration() {
                    Phase::Flash {
                        started,
                        tints,
                        samples,
                    }
                } else {
                    let report = flash::judge(&tints, &fp, &samples);
                    self.flash = Some(report);
                    if report.verdict != FlashVerdict::Passed {
                        self.fail(FailReason::ScreenLight, None, out);
                        return;
                    }
                    out.push(LivenessEvent::FlashEnded);
                    self.start_action(0, now, out)
                }
            }
            Phase::Action {
                index,
                mut clock,
                mut detector,
            } => {
                if problem.is_none() {
                    clock = clock.saturating_add(dt);
                }
                let action = self.plan.actions.get(index).copied();
                let required_mid = self.required_mid_frames();
                let mut next = None;
                if let (Some(action), Some((m, s)), Some(base)) = (action, frame, self.baseline) {
                    if self.reacquire_pending && is_neutral_pose(&s, &base, &th) {
                        self.reacquire_pending = false;
                        self.request_sample(SampleReason::Reacquired, now, &m, Some(action), out);
                        if self.outcome.is_some() {
                            return;
                        }
                    }
                    let mut residual = self.checks.turn_residual;
                    let baseline_shape = self.baseline_shape;
                    let at = At {
                        base: &base,
                        shape: &baseline_shape,
                        now,
                        th: &th,
                        required_mid,
                    };
                    let progress = detector.update(action, (&m, &s), &at, &mut residual);
                    self.checks.turn_residual = residual;
                    match progress {
                        Progress::Nothing => {}
                        Progress::Done => {
                            if let Some(timing) = self.timings.get_mut(index) {
                                timing.done = Some(now);
                            }
                            out.push(LivenessEvent::ActionDone {
                                index: u8::try_from(index).unwrap_or(u8::MAX),
                                action,
                                at: now,
                            });
                            next = Some(Phase::Settle {
                                done: index,
                                since: None,
                            });
                        }
                        Progress::Planar => {
                            self.fail(FailReason::PlanarMotion, Some(action), out);
                            return;
                        }
                        Progress::Abrupt => {
                            self.checks.abrupt_transitions =
                                self.checks.abrupt_transitions.saturating_add(1);
                            self.abrupt_in_action = true;
                        }
                    }
                }
                if self.outcome.is_some() {
                    return;
                }
                match next {
                    Some(p) => p,
                    None if clock >= self.params.action_timeout => {
                        let reason = self.action_failure(FailReason::ActionTimeout);
                        self.fail(reason, action, out);
                        return;
                    }
                    None => Phase::Action {
                        index,
                        clock,
                        detector,
                    },
                }
            }
            Phase::Settle { done, mut since } => {
                let neutral = match (frame, self.baseline) {
                    (Some((m, s)), Some(base)) if is_neutral(&s, &base, &th) => Some(m),
                    _ => None,
                };
                match neutral {
                    None => Phase::Settle { done, since: None },
                    Some(m) => {
                        let first = *since.get_or_insert(now);
                        if now.saturating_sub(first) < th.neutral_min_duration {
                            Phase::Settle { done, since }
                        } else {
                            self.reacquire_pending = false;
                            let index = u8::try_from(done).unwrap_or(u8::MAX);
                            let next = self.plan.actions.get(done + 1).copied();
                            self.request_sample(SampleReason::Action { index }, now, &m, next, out);
                            if self.outcome.is_some() {
                                return;
                            }
                            if done + 1 < self.plan.actions.len() {
                                self.start_action(done + 1, now, out)
                            } else {
                                Phase::Closing { since: now }
                            }
                        }
                    }
                }
            }
            Phase::Closing { since } => {
                let all_reported = self.reported.iter().skip(1).all(|&r| r);
                if all_reported {
                    if let Some(mean) = self.pad_mean()
                        && !ge(mean, self.params.pad_threshold)
                    {
                        self.fail(FailReason::Spoof, None, out);
                        return;
                    }
                    self.finish(|evidence| Outcome::Passed { evidence }, out);
                    return;
                }
                if now.saturating_sub(since) >= SAMPLE_REPORT_TIMEOUT {
                    self.fail(FailReason::SampleFault, None, out);
                    return;
                }
                Phase::Closing { since }
            }
            Phase::Done => Phase::Done,
        };
    }

    /// Middle-band frames a real blink or mouth opening shows at the
    /// camera's measured rate ([`checks::required_mid_frames`]).
    fn required_mid_frames(&self) -> usize {
        let th = &self.params.thresholds;
        required_mid_frames(
            self.intervals.median(),
            th.transition_min_mid_time,
            th.transition_max_required,
        )
    }

    /// Why the current action ran out of time: a physical check that saw
    /// the attempt, or else `plain`.
    fn action_failure(&self, plain: FailReason) -> FailReason {
        if self.abrupt_in_action {
            FailReason::AbruptTransition
        } else if self.cut_in_action {
            FailReason::Discontinuity
        } else {
            plain
        }
    }

    fn start_action(&mut self, index: usize, now: Duration, out: &mut Vec<LivenessEvent>) -> Phase {
        let Some(&action) = self.plan.actions.get(index) else {
            return Phase::Closing { since: now };
        };
        self.abrupt_in_action = false;
        self.cut_in_action = false;
        self.timings.push(ActionTiming {
            action,
            started: now,
            done: None,
        });
        out.push(LivenessEvent::ActionStarted {
            index: u8::try_from(index).unwrap_or(u8::MAX),
            total: self.total(),
            action,
        });
        Phase::Action {
            index,
            clock: Duration::ZERO,
            detector: Detector::new(action),
        }
    }

    fn request_sample(
        &mut self,
        reason: SampleReason,
        now: Duration,
        m: &Measures,
        action: Option<Action>,
        out: &mut Vec<LivenessEvent>,
    ) {
        let reacquired = self
            .samples
            .iter()
            .filter(|s| s.reason == SampleReason::Reacquired)
            .count();
        if reason == SampleReason::Reacquired && reacquired >= MAX_REACQUIRED_SAMPLES {
            self.fail(FailReason::FaceLost, action, out);
            return;
        }
        let sample = u32::try_from(self.samples.len()).unwrap_or(u32::MAX);
        let pitch_delta = self.baseline.map_or(0.0, |b| m.pitch - b.pitch);
        self.samples.push(SampleRecord {
            reason,
            t: now,
            candidate: Candidate {
                index: sample,
                sharpness: m.sharpness,
                yaw: m.yaw,
                pitch_delta,
                ear_min: m.ear_min,
                presence: m.presence,
            },
        });
        self.reported.push(false);
        out.push(LivenessEvent::SampleWanted { sample, reason });
    }

    fn time_out(&mut self, out: &mut Vec<LivenessEvent>) {
        let (reason, action) = match &self.phase {
            Phase::Baseline { .. } if !self.ever_face => (FailReason::NoFace, None),
            Phase::Action { .. } => (
                self.action_failure(FailReason::Timeout),
                self.current_action().map(|(_, a)| a),
            ),
            Phase::Closing { .. } => (FailReason::SampleFault, None),
            _ => (FailReason::Timeout, None),
        };
        self.fail(reason, action, out);
    }

    fn fail(&mut self, reason: FailReason, action: Option<Action>, out: &mut Vec<LivenessEvent>) {
        let hint = self.hint.shown;
        self.finish(
            |evidence| Outcome::Failed {
                reason,
                action,
                hint,
                evidence,
            },
            out,
        );
    }

    fn finish(&mut self, make: impl FnOnce(Evidence) -> Outcome, out: &mut Vec<LivenessEvent>) {
        let evidence = Evidence {
            seed: self.plan.seed,
            actions: self.timings.clone(),
            baseline: self.baseline,
            samples: self.samples.clone(),
            pad_mean: self.pad_mean(),
            checks: CheckCounts {
                mid_frames_required: u32::try_from(self.required_mid_frames()).unwrap_or(u32::MAX),
                frame_interval: self.intervals.median(),
                ..self.checks
            },
            flash: self.flash,
            finished_at: self.now,
        };
        let outcome = make(evidence);
        self.phase = Phase::Done;
        self.outcome = Some(outcome.clone());
        out.push(LivenessEvent::Finished(outcome));
    }
}
