//! One liveness-and-match session: camera frames → vision → the core liveness
//! state machine → matching against the template.
//!
//! The kiosk runs this on its capture worker; `lifecert verify` runs the very
//! same driver headless on a recording. Time comes from the frames'
//! timestamps (the replay camera reads them from the file), so a recording
//! and a seed always give the same verdict.

use std::time::Duration;

use lifecert_core::flow::{CaptureFailure, CaptureOutcome};
use lifecert_core::liveness::{
    FaceInput, FaceLight, FrameInput, Liveness, LivenessEvent, LivenessParams, Outcome, Plan, Tint,
};
use lifecert_core::matching::{MatchDecision, MatchPolicy};
use lifecert_vision::{Analyzer, BBox, Embedding, Frame, PrimaryFace, Template, VisionError};

use crate::camera::FrameSource;

/// Mesh indices of the cheek edges (subject's right, image left; and left)
/// and the nose tip (MediaPipe face mesh).
const RIGHT_CHEEK: usize = 234;
const LEFT_CHEEK: usize = 454;
const NOSE_TIP: usize = 1;

/// The 2D nose-tip offset from the cheek midpoint along the cheek line,
/// divided by half the cheek distance (roll-free by construction). A real
/// head turn moves the nose towards one cheek; a turned flat photo does not.
pub fn nose_offset(face: &PrimaryFace) -> f32 {
    let (Some(r), Some(l), Some(n)) = (
        face.mesh.get(RIGHT_CHEEK),
        face.mesh.get(LEFT_CHEEK),
        face.mesh.get(NOSE_TIP),
    ) else {
        return f32::NAN;
    };
    let (dx, dy) = (l[0] - r[0], l[1] - r[1]);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1e-3 {
        return f32::NAN;
    }
    let (mx, my) = ((l[0] + r[0]) / 2.0, (l[1] + r[1]) / 2.0);
    ((n[0] - mx) * dx + (n[1] - my) * dy) / len / (len / 2.0)
}

/// Mesh points of the 3-D check of turns: nose tip, nose bridge, forehead,
/// chin, the outer and inner eye corners, the mouth corners and the
/// cheekbones (MediaPipe face mesh).
const SHAPE_MESH: [usize; lifecert_core::liveness::SHAPE_POINTS] =
    [1, 6, 10, 152, 33, 263, 133, 362, 61, 291, 50, 280];

/// The face points relative to the face box centre, in face heights; zeros
/// when the mesh is incomplete.
pub fn face_shape(face: &PrimaryFace) -> [[f32; 2]; lifecert_core::liveness::SHAPE_POINTS] {
    let [cx, cy] = face.bbox.centre();
    let h = face.bbox.height();
    let mut out = [[0.0; 2]; lifecert_core::liveness::SHAPE_POINTS];
    if h.is_nan() || h <= 1e-3 {
        return out;
    }
    for (o, &i) in out.iter_mut().zip(&SHAPE_MESH) {
        match face.mesh.get(i) {
            Some(p) => *o = [(p[0] - cx) / h, (p[1] - cy) / h],
            None => return [[0.0; 2]; lifecert_core::liveness::SHAPE_POINTS],
        }
    }
    out
}

/// The liveness engine's view of one analysed frame.
pub fn frame_input(t: Duration, faces: usize, face: Option<&PrimaryFace>) -> FrameInput {
    FrameInput {
        t,
        faces: u8::try_from(faces).unwrap_or(u8::MAX),
        face: face.map(|p| FaceInput {
            ear_left: p.ear_left,
            ear_right: p.ear_right,
            mar: p.mar,
            yaw: p.yaw,
            pitch: p.pitch,
            roll: p.roll,
            face_size: p.face_size,
            centre: p.centre,
            brightness: p.brightness,
            sharpness: p.sharpness,
            presence: p.presence,
            nose_offset: nose_offset(p),
            shape: face_shape(p),
        }),
        light: face.and_then(|p| p.light).map(|l| FaceLight {
            centre: l.centre,
            cheeks: l.cheeks,
            background: l.background,
        }),
    }
}

/// The screen-light challenge's tints, as shown: from camera time `at`,
/// `slot` each.
#[derive(Debug, Clone, PartialEq)]
pub struct FlashSchedule {
    pub at: Duration,
    pub tints: Vec<Tint>,
    pub slot: Duration,
}

/// The kiosk screen's light on the scene in front of the camera.
///
/// On a kiosk the screen itself lights the face (the UI paints the tints on
/// `LivenessEvent::FlashStarted`), so the kiosk passes `()`, which does
/// nothing. A replay has no screen: `crate::flash_sim` renders the light of
/// the schedule onto the recorded frames with a reflection model.
pub trait ScreenLight {
    /// The tints start (`Some`) or stop (`None`).
    fn schedule(&mut self, _schedule: Option<FlashSchedule>) {}
    /// Lights `frame` (camera time `t`, frame number `index`). `face` is the
    /// face box of the previous frame, if any.
    fn light(&mut self, _frame: &mut Frame, _t: Duration, _index: u64, _face: Option<BBox>) {}
}

impl ScreenLight for () {}

/// How the matching ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchResult {
    /// No template given (offline evidence, or liveness only).
    NotRun,
    /// Distance of the averaged live embedding to the template.
    Decided {
        distance: f32,
        decision: MatchDecision,
    },
}

/// Everything a session produced (no images; embeddings stay in memory).
#[derive(Debug, Clone)]
pub struct SessionReport {
    pub plan: Plan,
    /// The liveness outcome (with per-action timings).
    pub liveness: Outcome,
    pub matching: MatchResult,
    /// Frames analysed.
    pub frames: u64,
    /// Offline evidence: when liveness passed without a template, the mean
    /// embedding of the best frames (chosen as for matching). Biometric: the
    /// kiosk seals it for the server and drops it.
    pub evidence: Option<Box<Embedding>>,
}

impl SessionReport {
    /// Liveness passed and, when a template was given, the face matched.
    pub fn passed(&self) -> bool {
        self.liveness.passed()
            && match self.matching {
                MatchResult::NotRun => true,
                MatchResult::Decided { decision, .. } => {
                    matches!(decision, MatchDecision::Match { .. })
                }
            }
    }

    /// The outcome for the kiosk flow.
    pub fn capture_outcome(&self) -> CaptureOutcome {
        if let Some(failure) = self.liveness.to_capture_failure() {
            return CaptureOutcome::Failed(failure);
        }
        match self.matching {
            MatchResult::NotRun => CaptureOutcome::EvidenceCaptured,
            MatchResult::Decided {
                decision: MatchDecision::Match { score },
                ..
            } => CaptureOutcome::Matched { score },
            MatchResult::Decided { .. } => CaptureOutcome::Failed(CaptureFailure::Mismatch),
        }
    }
}

/// What can stop a session before the engine decides.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("camera: {0}")]
    Camera(String),
    #[error("vision: {0}")]
    Vision(#[from] VisionError),
    #[error("the recording ended after {frames} frames before the check finished")]
    Ended { frames: u64 },
}

/// Receives the engine's progress (the kiosk turns these into flow events).
pub trait Progress {
    fn event(&mut self, event: &LivenessEvent);
}

impl Progress for () {
    fn event(&mut self, _: &LivenessEvent) {}
}

/// Who hears of a session's progress: the flow (prompts, hints) and the
/// screen's light.
pub struct Hooks<'a> {
    pub progress: &'a mut dyn Progress,
    pub light: &'a mut dyn ScreenLight,
}

/// Runs one session over `source` until the engine finishes.
pub fn run(
    source: &mut dyn FrameSource,
    analyzer: &mut Analyzer,
    params: LivenessParams,
    plan: Plan,
    policy: &MatchPolicy,
    template: Option<&Template>,
    hooks: Hooks<'_>,
) -> Result<SessionReport, SessionError> {
    let Hooks { progress, light } = hooks;
    analyzer.reset();
    let pad = analyzer.models().has_pad();
    let mut engine = Liveness::new(params, plan.clone());
    let mut samples: Vec<Option<Embedding>> = Vec::new();
    let mut frames = 0u64;
    let mut last_box: Option<BBox> = None;
    let outcome = loop {
        let Some(mut timed) = source
            .next_frame()
            .map_err(|e| SessionError::Camera(e.to_string()))?
        else {
            return Err(SessionError::Ended { frames });
        };
        frames += 1;
        light.light(&mut timed.frame, timed.timestamp, timed.index, last_box);
        let analysis = analyzer.analyze(&timed.frame)?;
        last_box = analysis.primary.as_ref().map(|p| p.bbox);
        let input = frame_input(
            timed.timestamp,
            analysis.faces.len(),
            analysis.primary.as_ref(),
        );
        let mut finished = None;
        for event in engine.step(&input) {
            if let LivenessEvent::SampleWanted { sample, .. } = event {
                take_sample(
                    analyzer,
                    &mut engine,
                    &timed.frame,
                    analysis.primary.as_ref(),
                    sample,
                    pad,
                    &mut samples,
                )?;
            }
            match &event {
                LivenessEvent::FlashStarted { tints, slot, at } => {
                    light.schedule(Some(FlashSchedule {
                        at: *at,
                        tints: tints.clone(),
                        slot: *slot,
                    }));
                }
                LivenessEvent::FlashEnded | LivenessEvent::Finished(_) => light.schedule(None),
                _ => {}
            }
            progress.event(&event);
            if let LivenessEvent::Finished(outcome) = event {
                finished = Some(outcome);
            }
        }
        if let Some(outcome) = finished {
            break outcome;
        }
    };
    let evidence = match (&outcome, template) {
        (Outcome::Passed { evidence }, None) => {
            let chosen: Vec<Embedding> = policy
                .select_frames(&evidence.candidates())
                .into_iter()
                .filter_map(|i| samples.get(i as usize).copied().flatten())
                .collect();
            Embedding::mean(&chosen)
                .filter(Embedding::is_finite)
                .map(Box::new)
        }
        _ => None,
    };
    let matching = match (&outcome, template) {
        (Outcome::Passed { evidence }, Some(template)) => {
            let chosen: Vec<Embedding> = policy
                .select_frames(&evidence.candidates())
                .into_iter()
                .filter_map(|i| samples.get(i as usize).copied().flatten())
                .collect();
            match Embedding::mean(&chosen) {
                Some(mean) => {
                    let distance = mean.distance(&template.embedding);
                    MatchResult::Decided {
                        distance,
                        decision: policy.decide(distance),
                    }
                }
                None => MatchResult::Decided {
                    distance: f32::INFINITY,
                    decision: MatchDecision::NoMatch,
                },
            }
        }
        _ => MatchResult::NotRun,
    };
    // Embeddings are biometric data: gone with the session.
    samples.clear();
    Ok(SessionReport {
        plan,
        liveness: outcome,
        matching,
        frames,
        evidence,
    })
}

/// Embeds the frame for sample `sample`, reports its distance to sample 0
/// (same person throughout) and, with a PAD model, its spoof score.
fn take_sample(
    analyzer: &mut Analyzer,
    engine: &mut Liveness,
    frame: &Frame,
    face: Option<&PrimaryFace>,
    sample: u32,
    pad: bool,
    samples: &mut Vec<Option<Embedding>>,
) -> Result<(), SessionError> {
    let index = sample as usize;
    if samples.len() <= index {
        samples.resize(index + 1, None);
    }
    let Some(face) = face else {
        // No face: the engine's sample deadline fails the check.
        return Ok(());
    };
    let embedding = analyzer.embed(frame, face)?;
    if pad && let Some(score) = analyzer.pad_score(frame, face)? {
        engine.record_pad_score(score);
    }
    if let Some(slot) = samples.get_mut(index) {
        *slot = Some(embedding);
    }
    if index > 0
        && let Some(first) = samples.first().copied().flatten()
    {
        engine.record_sample_distance(sample, embedding.distance(&first));
    }
    Ok(())
}

/// The record's liveness summary of a session (no images, no embeddings):
/// the plan and seed, each action's prompt and done times, the physical
/// checks with their figures, the screen-light challenge, the camera and the
/// PAD mean. `camera` is the capture device's identity summary.
pub fn liveness_summary(
    report: &SessionReport,
    camera: Option<String>,
    exposure_locked: Option<bool>,
) -> lifecert_protocol::LivenessSummary {
    use lifecert_core::liveness::{FailReason, FlashVerdict};
    use lifecert_protocol::{ActionStep, CheckScore, FlashSummary, LivenessSummary};
    let evidence = report.liveness.evidence();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    // Camera time: from the stream's first frame, which is the check's start.
    let start = Duration::ZERO;
    let reason = match &report.liveness {
        Outcome::Passed { .. } => None,
        Outcome::Failed { reason, .. } => Some(*reason),
    };
    let outcome = match reason {
        None => "passed".to_string(),
        Some(r) => snake(&format!("{r:?}")),
    };
    let failed = |r: FailReason| reason == Some(r);
    let c = &evidence.checks;
    let mut checks = vec![
        CheckScore {
            name: "continuity".into(),
            passed: !failed(FailReason::Discontinuity),
            score: c.cuts as f32,
        },
        CheckScore {
            name: "transitions".into(),
            passed: !failed(FailReason::AbruptTransition),
            score: c.abrupt_transitions as f32,
        },
    ];
    if report.plan.actions.iter().any(|a| {
        matches!(
            a,
            lifecert_core::action::Action::TurnLeft | lifecert_core::action::Action::TurnRight
        )
    }) {
        checks.push(CheckScore {
            name: "planar_motion".into(),
            passed: !failed(FailReason::PlanarMotion),
            score: c.turn_residual.unwrap_or(0.0),
        });
    }
    if let Some(f) = evidence.flash {
        checks.push(CheckScore {
            name: "screen_light".into(),
            passed: f.verdict == FlashVerdict::Passed,
            score: f.correlation,
        });
    }
    if let Some(p) = evidence.pad_mean {
        checks.push(CheckScore {
            name: "pad".into(),
            passed: !failed(FailReason::Spoof),
            score: p,
        });
    }
    let flash = evidence.flash.map(|f| {
        let tints = lifecert_core::liveness::flash::sequence(
            report.plan.seed,
            lifecert_core::liveness::flash::FLASH_SLOTS,
        );
        FlashSummary {
            verdict: f.verdict.name().to_string(),
            tints: tints
                .iter()
                .map(|t| {
                    let [r, g, b] = t.rgb8();
                    format!("#{r:02x}{g:02x}{b:02x}")
                })
                .collect(),
            slot_ms: u32::try_from(lifecert_core::liveness::flash::FLASH_SLOT.as_millis())
                .unwrap_or(u32::MAX),
            frames: f.frames,
            correlation: f.correlation,
            response: f.response,
            shape_ratio: f.shape_ratio.is_finite().then_some(f.shape_ratio),
            lag_ms: u32::try_from(f.lag.as_millis()).unwrap_or(u32::MAX),
        }
    });
    LivenessSummary {
        actions: report
            .plan
            .actions
            .iter()
            .map(|a| a.name().to_string())
            .collect(),
        seed: report.plan.seed,
        duration_ms: ms(evidence.finished_at.saturating_sub(start)),
        outcome: Some(outcome),
        steps: evidence
            .actions
            .iter()
            .map(|a| ActionStep {
                action: a.action.name().to_string(),
                prompted_ms: ms(a.started.saturating_sub(start)),
                done_ms: a.done.map(|d| ms(d.saturating_sub(start))),
            })
            .collect(),
        checks,
        flash,
        camera,
        exposure_locked,
        pad_mean: evidence.pad_mean,
    }
}

/// `ScreenLight` → `screen_light`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use lifecert_core::action::Action;
    use lifecert_core::liveness::{
        ActionTiming, Baseline, CheckCounts, Evidence, FlashReport, FlashVerdict,
    };

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn report(outcome: impl FnOnce(Evidence) -> Outcome) -> SessionReport {
        let evidence = Evidence {
            seed: 42,
            actions: vec![
                ActionTiming {
                    action: Action::Blink,
                    started: ms(3300),
                    done: Some(ms(4100)),
                },
                ActionTiming {
                    action: Action::TurnLeft,
                    started: ms(4700),
                    done: Some(ms(6000)),
                },
            ],
            baseline: Some(Baseline {
                ear: 0.3,
                mar: 0.06,
                yaw: 1.0,
                pitch: 6.0,
                nose_offset: 0.125,
            }),
            samples: Vec::new(),
            pad_mean: None,
            checks: CheckCounts {
                cuts: 0,
                abrupt_transitions: 1,
                mid_frames_required: 1,
                frame_interval: Some(ms(40)),
                turn_residual: Some(0.0625),
            },
            flash: Some(FlashReport {
                verdict: FlashVerdict::Passed,
                frames: 66,
                coverage: 1.0,
                correlation: 0.5,
                lag: ms(100),
                response: 0.0625,
                shape_ratio: 1.25,
            }),
            finished_at: ms(6500),
        };
        SessionReport {
            plan: Plan {
                seed: 42,
                actions: vec![Action::Blink, Action::TurnLeft],
            },
            liveness: outcome(evidence),
            matching: MatchResult::NotRun,
            frames: 160,
            evidence: None,
        }
    }

    /// The wire form of the record's liveness summary, frozen: the server
    /// stores it and the admin page shows it, so a change must be deliberate.
    #[test]
    fn the_liveness_summary_wire_form_is_frozen() {
        let r = report(|evidence| Outcome::Passed { evidence });
        let s = liveness_summary(
            &r,
            Some("bus=usb id=046d:0825 virtual=no".into()),
            Some(true),
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"actions":["blink","turn_left"],"seed":42,"duration_ms":6500,"#,
                r#""outcome":"passed","steps":[{"action":"blink","prompted_ms":3300,"done_ms":4100},"#,
                r#"{"action":"turn_left","prompted_ms":4700,"done_ms":6000}],"#,
                r#""checks":[{"name":"continuity","passed":true,"score":0.0},"#,
                r#"{"name":"transitions","passed":true,"score":1.0},"#,
                r#"{"name":"planar_motion","passed":true,"score":0.0625},"#,
                r#"{"name":"screen_light","passed":true,"score":0.5}],"#,
                r##""flash":{"verdict":"passed","tints":["#ff0000","#ffff00","#00ff00","#0000ff","#ff00ff","#ff0000"],"##,
                r#""slot_ms":400,"frames":66,"correlation":0.5,"response":0.0625,"shape_ratio":1.25,"lag_ms":100},"#,
                r#""camera":"bus=usb id=046d:0825 virtual=no","exposure_locked":true}"#
            )
        );
        let back: lifecert_protocol::LivenessSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_failed_check_names_its_reason_and_the_check_that_failed() {
        let r = report(|evidence| Outcome::Failed {
            reason: lifecert_core::liveness::FailReason::ScreenLight,
            action: None,
            hint: None,
            evidence,
        });
        let s = liveness_summary(&r, None, None);
        assert_eq!(s.outcome.as_deref(), Some("screen_light"));
        // An older record without the new fields still parses.
        let old: lifecert_protocol::LivenessSummary =
            serde_json::from_str(r#"{"actions":["blink"],"seed":1,"duration_ms":5}"#).unwrap();
        assert_eq!(old.flash, None);
    }
}
