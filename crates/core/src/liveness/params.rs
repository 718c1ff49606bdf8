//! Liveness thresholds and settings.
//!
//! Every threshold is a named constant with the figures it was calibrated on.
//! "Measured" figures come from this project's vision pipeline (attention
//! face mesh, `lifecert analyze`) on the shared clips and stills:
//!
//! - EAR (mean of both eyes): open 0.24–0.35, closed 0.025–0.111. In the blink
//!   clip (24 fps) normal blinks stay below 0.18 for 3 frames (about 0.125 s
//!   from the first closed to the first reopened frame); deliberate closures
//!   last 2.3–2.7 s. Blinks are only reliable when |yaw| < 20°.
//! - MAR (mesh lips): closed 0.04–0.12, wide open 0.29–0.38 (mouth clip);
//!   stills: closed ≤ 0.076, open ≥ 0.158.
//! - Yaw (degrees, > 0 = subject turns to their OWN left): frontal 0 ± 12,
//!   turns reach 25–45°, the mesh saturates near 40°.
//! - Pitch (degrees, larger = head DOWN): frontal −3…+13 depending on the
//!   camera; nods reach ±25–40° from neutral.
//! - A still photo held in front of the camera: EAR / MAR / yaw jitter below
//!   about 0.02 / 0.01 / 2°.
//! - Webcam clips: face size 0.32–0.43 of the frame height, face-box luma
//!   82–131, sharpness (variance of the Laplacian) 177–1700.

use std::time::Duration;

use crate::action::Action;

// ---------------------------------------------------------------- plan

/// Most actions one check may ask for (config `liveness.action_count` is 1..=4).
pub const MAX_PLAN_ACTIONS: usize = 4;

// ---------------------------------------------------------------- baseline

/// Good, roughly frontal frames that set the per-session neutral baseline
/// (medians, so a blink or a word during the baseline does not shift it).
/// 15 frames ≈ 0.6 s at 25 fps; a blink (3 frames below the closed level in
/// the blink clip) stays well under half of them.
pub const BASELINE_FRAMES: usize = 15;
/// A baseline frame must have |yaw| at most this (degrees). Frontal faces
/// measured 0 ± 12°; turns start at 20° from neutral.
pub const BASELINE_MAX_YAW: f32 = 15.0;
/// Centre of the frontal pitch range (degrees): frontal pitch measured
/// −3…+13 depending on camera height.
pub const FRONTAL_PITCH: f32 = 5.0;
/// A baseline frame must have |pitch − FRONTAL_PITCH| at most this (degrees):
/// covers every measured frontal pitch with room for a low or high camera,
/// excludes a face looking down at +29° (MODELS.md §5.2).
pub const BASELINE_MAX_PITCH_OFFSET: f32 = 20.0;

// ---------------------------------------------------------------- timing

/// Frames in the running median used for yaw, pitch, MAR and nose offset
/// (MODELS.md §6.4: smooth over 3–5 frames). EAR is not smoothed: a blink is
/// only 3 frames long at 24 fps.
pub const SMOOTHING_FRAMES: usize = 3;
/// A gap between two frames longer than this counts as this much on the
/// per-action clock, so a camera stall does not eat the pensioner's time (the
/// total timeout still runs on the camera clock).
pub const MAX_FRAME_GAP: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------- blink

/// Eyes are closed when the mean EAR falls below this fraction of the
/// baseline open EAR (MODELS.md §6.4 suggests 0.5; 0.6 gives elderly users
/// with a shallow blink more room). Baseline 0.26–0.30 → closed below
/// 0.16–0.18, above every measured closed eye (≤ 0.111) and far below what a
/// still photo's jitter (< 0.02) can reach.
pub const BLINK_CLOSED_RATIO: f32 = 0.6;
/// Eyes are open again above this fraction of the baseline (hysteresis):
/// baseline 0.30 → 0.24, the lowest measured open EAR.
pub const BLINK_REOPEN_RATIO: f32 = 0.8;
/// The closed level is also at least this far below the baseline, so a low
/// baseline (half-closed eyes) cannot be "blinked" by jitter (< 0.02).
pub const BLINK_MIN_DROP: f32 = 0.05;
/// The baseline EAR used for blinks is at least this: a baseline taken with
/// closed eyes (≤ 0.111) must not make any small wobble count as a blink.
pub const BLINK_MIN_BASE_EAR: f32 = 0.15;
/// Shortest blink (first closed frame to first reopened frame). At 25–30 fps
/// one closed frame (33–40 ms) is enough: a still never reaches the closed
/// level at all. On faster cameras this drops single-frame mesh glitches.
pub const BLINK_MIN_DURATION: Duration = Duration::from_millis(30);
/// Longest blink. Measured blinks: 0.1–0.3 s; the clip's deliberate closures
/// last 2.3 s and more. 1.5 s leaves elderly users a slow, deliberate blink.
pub const BLINK_MAX_DURATION: Duration = Duration::from_millis(1500);
/// Blinks count only while |yaw| is below this (degrees): at larger yaw the far
/// eye is foreshortened and its EAR is unreliable (0.744 measured at −41.7°).
pub const BLINK_MAX_YAW: f32 = 20.0;

// ---------------------------------------------------------------- mouth

/// The mouth is open above this MAR (and [`MOUTH_OPEN_MIN_RISE`] above the
/// baseline). Closed mouths measured ≤ 0.12, open stills ≥ 0.158, wide open
/// 0.29–0.38: 0.2 accepts an elderly user's modest opening.
pub const MOUTH_OPEN_MAR: f32 = 0.2;
/// The open level is at least this far above the baseline MAR, so a photo or
/// person with the mouth already open cannot pass by standing still.
pub const MOUTH_OPEN_MIN_RISE: f32 = 0.1;
/// The mouth counts as closed again this far below the open level
/// (hysteresis): 0.2 → 0.14, above every measured closed mouth (≤ 0.12).
pub const MOUTH_HYSTERESIS: f32 = 0.06;
/// The mouth must stay open at least this long (the shared mouth clip holds it
/// open for about 0.6 s).
pub const MOUTH_MIN_OPEN_DURATION: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------- pose

/// A turn is a yaw change of at least this (degrees) from the baseline
/// (MODELS.md §6.4). Measured turns reach 25–45°; frontal jitter of one person
/// is a few degrees.
pub const TURN_DELTA_YAW: f32 = 20.0;
/// A nod is a pitch change of at least this (degrees) from the baseline
/// (MODELS.md §6.4); measured nods reach 25–40°.
pub const NOD_DELTA_PITCH: f32 = 12.0;
/// During a nod the yaw may differ from the baseline by at most this
/// (degrees): a turned head moves the mesh pitch as well.
pub const NOD_MAX_YAW_DELTA: f32 = 15.0;
/// A turned or nodded pose must be held this long (≈ 5 frames at 25 fps).
pub const POSE_HOLD_DURATION: Duration = Duration::from_millis(200);
/// Planar-motion test for turns: a real head shows a nose-offset change of at
/// least this × |sin Δyaw|. For a head, offset ≈ (d/w)·tan θ with the nose
/// tip d in front of the cheek line and w half the cheek distance; d/w ≈ 1.2
/// from typical head proportions (an estimate: no turn clip with this measure
/// was available, calibrate on real turns);
/// a flat photo turned or rotated keeps the offset ≈ 0 (an affine squeeze
/// does not move the nose relative to the cheek midpoint). 0.5 leaves more
/// than a factor two for flat or small noses.
pub const PLANAR_NOSE_GAIN: f32 = 0.5;
/// 3-D check of turns: a counted turn's 12 face points must be at least this
/// far (RMS, in face heights) from the best homography of the baseline's
/// ([`super::homography_residual`]). Measured with this pipeline: flat
/// photos held and turned by hand (the generated `still_print`,
/// `flat_turned_yaw` ±35°, `flat_turned_pitch` ±30°; 864 frames) stay at or
/// below 0.0105 (median 0.002–0.0065); the head-pose clip's counted turns
/// 0.050–0.055, its frames at |yaw| > 15° from 0.0108 up (max 0.086); a
/// frontal face talking reaches 0.026 (the mouth corners move), which is why
/// this only applies to turns. 0.012 sits just above the flat photos: thin,
/// but a flat photo's measured yaw also stayed under 5°, so it never reaches
/// the turn threshold this check guards.
pub const PLANAR_MIN_RESIDUAL: f32 = 0.012;

// ---------------------------------------------------------------- transition and continuity

/// Transition check ([`super::checks::mid_frames`]): the shortest time a
/// real blink or mouth opening spends between the detector's levels; a blink
/// or opening must show ⌊this / frame interval⌋ frames there, at most
/// [`TRANSITION_MAX_REQUIRED`]. Measured with `lifecert analyze` at the
/// kiosk's own levels: blinks close within a frame (42–84 ms) and reopen in
/// 84–125 ms; every blink and mouth opening of the live clips at 24–30 fps has
/// at least one frame between the levels (blinks mostly on the reopening
/// side). With frames dropped to 20 / 15 / 10 fps, 6 / 12 / 35 % of blinks
/// and 12 / 25 % (20 / 15 fps) of mouth openings have none. 45 ms therefore
/// asks for one frame from 22.2 fps up (24 and 30 fps cameras) and none below,
/// where the check cannot tell a swap from a fast blink. A hard photo swap
/// shows none at any rate (24 of 24 generated swap events at 30 fps).
pub const TRANSITION_MIN_MID_TIME: Duration = Duration::from_millis(45);
/// At most this many frames between the levels are asked for: 2 would reject
/// 3 of 8 live blinks at 24 fps; faster cameras have not been measured.
pub const TRANSITION_MAX_REQUIRED: usize = 1;
/// Continuity check ([`super::checks::is_cut`]): only frames at most this far
/// apart are compared (a stalled camera is not a cut).
pub const CUT_MAX_GAP: Duration = Duration::from_millis(250);
/// A cut moves the face-box centre more than this many face heights between
/// two frames (either axis, in frame fractions over the face height).
/// Largest frame-to-frame changes measured on the live clips (centre, height
/// factor, roll): 24–33 fps clips ≤ 0.046 / 1.06 / 3.9°; the head-pose GIF
/// (turns and nods at 10 fps) 0.10 / 1.07 / 8.9°. Swaps between two
/// different stills of one person, as taken: 0.22–0.88 / 1.13–1.33 /
/// 7.6–8.3°. Roll cannot tell them apart, so its limit only catches a flipped
/// or rotated picture; photos aligned to each other (or two frames of one
/// video) are not cuts at all and are left to the transition check.
pub const CUT_MAX_CENTRE_JUMP: f32 = 0.15;
/// A cut changes the face-box height by more than this factor.
pub const CUT_MAX_SIZE_RATIO: f32 = 1.12;
/// A cut changes the roll by more than this (degrees).
pub const CUT_MAX_ROLL_JUMP: f32 = 15.0;

// ---------------------------------------------------------------- neutral

/// Back to neutral: |Δyaw| at most this (degrees), half a turn.
pub const NEUTRAL_RETURN_YAW: f32 = 10.0;
/// Back to neutral: |Δpitch| at most this (degrees), two thirds of a nod, so
/// an elderly user who does not sit up exactly straight still returns.
pub const NEUTRAL_RETURN_PITCH: f32 = 8.0;
/// The neutral pose must hold this long (≈ 3 frames at 25 fps).
pub const NEUTRAL_MIN_DURATION: Duration = Duration::from_millis(120);

// ---------------------------------------------------------------- gates

/// Mesh presence below this is "no face" (the vision tracker's own limit).
pub const PRESENCE_MIN: f32 = 0.5;
/// Face box height / frame height below this: "too far". Webcam clips at a
/// normal distance measured 0.32–0.43; 0.2 is roughly 1.2 m from a camera
/// with a 45° vertical field of view (geometric estimate, not measured).
pub const FACE_SIZE_MIN: f32 = 0.2;
/// Face box height / frame height above this: "too near" (about 35 cm; the
/// chin or forehead leaves the frame when turning or nodding; geometric
/// estimate).
pub const FACE_SIZE_MAX: f32 = 0.7;
/// The face centre may be at most this far (fraction of the frame, per axis)
/// from the frame centre before "off centre".
pub const CENTRE_MAX_OFFSET: f32 = 0.2;
/// Mean face-box luma (0–255) below this: "too dark". Webcam clips measured
/// 82–131; a frame darkened to 46 still measured EAR within 0.02.
pub const BRIGHTNESS_MIN: f32 = 40.0;
/// Mean face-box luma above this: "too bright". Brightened to 234 the lips
/// washed out (MAR 0.033 → 0.004) while 211 still measured well.
pub const BRIGHTNESS_MAX: f32 = 225.0;
/// Sharpness (variance of the Laplacian of the face box) below this:
/// "blurry". Sharp webcam faces measured 177–1700; the same frame blurred
/// with a Gaussian of σ 2 gave 49, σ 4 gave 15, σ 8 gave 3.6.
pub const SHARPNESS_MIN: f32 = 25.0;
/// |Δyaw| above this (degrees) outside turn actions: "not facing".
pub const NOT_FACING_YAW: f32 = 25.0;
/// |Δpitch| above this (degrees) outside nod actions: "not facing".
pub const NOT_FACING_PITCH: f32 = 20.0;
/// A gate problem must last this long before its hint is shown.
pub const HINT_SHOW_DELAY: Duration = Duration::from_millis(500);
/// The picture must be good this long before the hint is withdrawn.
pub const HINT_CLEAR_DELAY: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- identity

/// Two samples of one session farther apart than this (Euclidean distance
/// between dlib-ResNet descriptors) are different people: dlib's design
/// radius. Genuine pairs measured 0.07–0.53, impostor pairs 0.70–0.92.
pub const SAME_PERSON_MAX_DISTANCE: f32 = 0.6;
/// Most re-check samples after face losses in one check. A pipeline that
/// loses the face more often than this cannot assure that the same person
/// stayed ([`super::FailReason::FaceLost`]). With the baseline sample and one
/// per action a check asks for at most 1 + 4 + 10 = 15 samples.
pub const MAX_REACQUIRED_SAMPLES: usize = 10;
/// After the last sample was asked for, the driver has this long (camera
/// time) to report the outstanding distances before the check fails.
pub const SAMPLE_REPORT_TIMEOUT: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------- PAD

/// Default for config `vision.pad_threshold`: a mean PAD "real" score below
/// it fails. MiniFASNet measured 0.98 on a real face, 0.028 on a printed
/// photo and 0.333 on a screen replay (MODELS.md §5.4).
pub const DEFAULT_PAD_THRESHOLD: f32 = 0.5;

/// Detector and gate thresholds. [`Default`] takes the documented constants;
/// a site calibration may override single fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub baseline_frames: usize,
    pub baseline_max_yaw: f32,
    pub frontal_pitch: f32,
    pub baseline_max_pitch_offset: f32,
    pub blink_closed_ratio: f32,
    pub blink_reopen_ratio: f32,
    pub blink_min_drop: f32,
    pub blink_min_base_ear: f32,
    pub blink_min_duration: Duration,
    pub blink_max_duration: Duration,
    pub blink_max_yaw: f32,
    pub mouth_open_mar: f32,
    pub mouth_open_min_rise: f32,
    pub mouth_hysteresis: f32,
    pub mouth_min_open_duration: Duration,
    pub turn_delta_yaw: f32,
    pub nod_delta_pitch: f32,
    pub nod_max_yaw_delta: f32,
    pub pose_hold_duration: Duration,
    pub planar_nose_gain: f32,
    pub planar_min_residual: f32,
    pub transition_min_mid_time: Duration,
    pub transition_max_required: usize,
    pub cut_max_gap: Duration,
    pub cut_max_centre_jump: f32,
    pub cut_max_size_ratio: f32,
    pub cut_max_roll_jump: f32,
    pub neutral_return_yaw: f32,
    pub neutral_return_pitch: f32,
    pub neutral_min_duration: Duration,
    pub presence_min: f32,
    pub face_size_min: f32,
    pub face_size_max: f32,
    pub centre_max_offset: f32,
    pub brightness_min: f32,
    pub brightness_max: f32,
    pub sharpness_min: f32,
    pub not_facing_yaw: f32,
    pub not_facing_pitch: f32,
    pub hint_show_delay: Duration,
    pub hint_clear_delay: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            baseline_frames: BASELINE_FRAMES,
            baseline_max_yaw: BASELINE_MAX_YAW,
            frontal_pitch: FRONTAL_PITCH,
            baseline_max_pitch_offset: BASELINE_MAX_PITCH_OFFSET,
            blink_closed_ratio: BLINK_CLOSED_RATIO,
            blink_reopen_ratio: BLINK_REOPEN_RATIO,
            blink_min_drop: BLINK_MIN_DROP,
            blink_min_base_ear: BLINK_MIN_BASE_EAR,
            blink_min_duration: BLINK_MIN_DURATION,
            blink_max_duration: BLINK_MAX_DURATION,
            blink_max_yaw: BLINK_MAX_YAW,
            mouth_open_mar: MOUTH_OPEN_MAR,
            mouth_open_min_rise: MOUTH_OPEN_MIN_RISE,
            mouth_hysteresis: MOUTH_HYSTERESIS,
            mouth_min_open_duration: MOUTH_MIN_OPEN_DURATION,
            turn_delta_yaw: TURN_DELTA_YAW,
            nod_delta_pitch: NOD_DELTA_PITCH,
            nod_max_yaw_delta: NOD_MAX_YAW_DELTA,
            pose_hold_duration: POSE_HOLD_DURATION,
            planar_nose_gain: PLANAR_NOSE_GAIN,
            planar_min_residual: PLANAR_MIN_RESIDUAL,
            transition_min_mid_time: TRANSITION_MIN_MID_TIME,
            transition_max_required: TRANSITION_MAX_REQUIRED,
            cut_max_gap: CUT_MAX_GAP,
            cut_max_centre_jump: CUT_MAX_CENTRE_JUMP,
            cut_max_size_ratio: CUT_MAX_SIZE_RATIO,
            cut_max_roll_jump: CUT_MAX_ROLL_JUMP,
            neutral_return_yaw: NEUTRAL_RETURN_YAW,
            neutral_return_pitch: NEUTRAL_RETURN_PITCH,
            neutral_min_duration: NEUTRAL_MIN_DURATION,
            presence_min: PRESENCE_MIN,
            face_size_min: FACE_SIZE_MIN,
            face_size_max: FACE_SIZE_MAX,
            centre_max_offset: CENTRE_MAX_OFFSET,
            brightness_min: BRIGHTNESS_MIN,
            brightness_max: BRIGHTNESS_MAX,
            sharpness_min: SHARPNESS_MIN,
            not_facing_yaw: NOT_FACING_YAW,
            not_facing_pitch: NOT_FACING_PITCH,
            hint_show_delay: HINT_SHOW_DELAY,
            hint_clear_delay: HINT_CLEAR_DELAY,
        }
    }
}

/// Settings of one liveness check, from the validated kiosk config.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessParams {
    /// Actions the plan may use (`liveness.actions`).
    pub actions: Vec<Action>,
    /// Actions per check (`liveness.action_count`, 1..=4).
    pub action_count: usize,
    /// Time for one action, paused while a quality problem is shown
    /// (`liveness.action_timeout_secs`, slow pacing applied).
    pub action_timeout: Duration,
    /// Time for the whole check, never paused (`liveness.total_timeout_secs`,
    /// slow pacing applied).
    pub total_timeout: Duration,
    /// A mean PAD score below this fails (`vision.pad_threshold`). Only used
    /// when the driver reports PAD scores.
    pub pad_threshold: f32,
    /// Largest distance between two samples of one person
    /// ([`SAME_PERSON_MAX_DISTANCE`]).
    pub same_person_max_distance: f32,
    /// Detector and gate thresholds.
    pub thresholds: Thresholds,
    /// The screen-light challenge after the baseline (`[liveness.flash]`);
    /// `None`: off.
    pub flash: Option<super::FlashParams>,
}

impl LivenessParams {
    /// Parameters from the config values; thresholds take their defaults and
    /// the screen-light challenge is off (the kiosk config turns it on).
    pub fn new(
        actions: Vec<Action>,
        action_count: usize,
        action_timeout: Duration,
        total_timeout: Duration,
        pad_threshold: f32,
    ) -> LivenessParams {
        LivenessParams {
            actions,
            action_count,
            action_timeout,
            total_timeout,
            pad_threshold,
            same_person_max_distance: SAME_PERSON_MAX_DISTANCE,
            thresholds: Thresholds::default(),
            flash: None,
        }
    }

    /// A plan for one check from these parameters (see [`super::plan`]).
    pub fn plan(&self, seed: u64) -> super::Plan {
        super::plan(seed, &self.actions, self.action_count)
    }
}

impl Default for LivenessParams {
    /// The documented `kiosk.toml` defaults: all six actions, 2 per check,
    /// 5 s per action, 20 s in total, PAD threshold 0.5.
    fn default() -> Self {
        LivenessParams::new(
            Action::ALL.to_vec(),
            2,
            Duration::from_secs(5),
            Duration::from_secs(20),
            DEFAULT_PAD_THRESHOLD,
        )
    }
}
