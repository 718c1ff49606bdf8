//! Synthetic 25 fps traces built from the measured ranges in `params.rs`.

use std::time::Duration;

use proptest::prelude::*;
use rstest::rstest;

use super::*;
use crate::matching::MatchPolicy;

/// Frame interval at 25 fps.
const FRAME: f64 = 0.04;
/// The baseline (15 frames) completes at frame 14: action 0 starts at 0.56 s.
const FIRST_ACTION_AT: f64 = 0.56;
/// Genuine same-person distance reported by the fake driver.
const GENUINE: f32 = 0.3;

fn secs(t: f64) -> Duration {
    Duration::from_secs_f64(t)
}

/// Nose offset of a real head turned by `yaw_deg`: (d/w)·tan θ with d/w ≈ 1.2.
fn real_nose(yaw_deg: f32) -> f32 {
    1.2 * yaw_deg.to_radians().tan()
}

/// A frontal face at a good distance, well lit, sharp, eyes open, mouth closed.
fn neutral() -> FaceInput {
    FaceInput {
        ear_left: 0.30,
        ear_right: 0.30,
        mar: 0.06,
        yaw: 2.0,
        pitch: 6.0,
        roll: 0.0,
        face_size: 0.4,
        centre: [0.5, 0.5],
        brightness: 120.0,
        sharpness: 300.0,
        presence: 1.0,
        nose_offset: real_nose(2.0),
        shape: [[0.0; 2]; SHAPE_POINTS],
    }
}

/// 0 before `start`, ramps to 1 over `rise`, holds `hold`, falls over `fall`.
fn bump(t: f64, start: f64, rise: f64, hold: f64, fall: f64) -> f32 {
    let x = t - start;
    let v = if x < 0.0 {
        0.0
    } else if x < rise {
        x / rise
    } else if x <= rise + hold {
        1.0
    } else if x < rise + hold + fall {
        1.0 - (x - rise - hold) / fall
    } else {
        0.0
    };
    v as f32
}

/// Movements applied on top of the neutral face.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Both eyes close to EAR 0.05 for `dur` seconds (closing in one frame,
    /// reopening over 0.2 s).
    Blink { at: f64, dur: f64 },
    /// MAR rises to 0.33 (wide open) over 0.25 s and stays `dur` seconds.
    Mouth { at: f64, dur: f64 },
    /// A real head turn: yaw + `peak`, nose offset follows.
    Turn { at: f64, peak: f32, hold: f64 },
    /// A nod: pitch + `peak` (positive = head down).
    Nod { at: f64, peak: f32 },
    /// A flat photo turned/rotated: yaw + `peak`, nose offset unchanged.
    PhotoTurn { at: f64, peak: f32 },
    /// A still photo: tiny jitter only (EAR 0.01, MAR 0.005, yaw 1.5°, pitch 1°).
    Jitter,
    /// Roll sweeps ±30° and the face size 0.3–0.6: neither is a turn or nod.
    RollAndScale,
    /// Head held at `yaw` from `at` on.
    HoldYaw { at: f64, yaw: f32 },
    /// Brightness 20 (too dark) between `from` and `to`.
    Dark { from: f64, to: f64 },
    /// No face between `from` and `to`.
    Gone { from: f64, to: f64 },
}

fn apply(f: &mut FaceInput, m: Move, t: f64) {
    match m {
        Move::Blink { at, dur } => {
            // As measured (blink clip, 24 fps): the lid closes within a frame
            // and reopens more slowly, with 1–2 frames between the closed and
            // reopened levels. Linear here: 0.2 s up, 48 ms of it between
            // the levels (0.18–0.24), the first reopened frame after 0.15 s.
            let b = bump(t, at, 0.04, (dur - 0.16).max(0.0), 0.2);
            f.ear_left -= 0.25 * b;
            f.ear_right -= 0.25 * b;
        }
        // The jaw passes the closed-to-open band (0.14–0.2) in about 55 ms:
        // the mouth clip shows 1–2 frames there at 30 fps.
        Move::Mouth { at, dur } => f.mar += 0.27 * bump(t, at, 0.25, dur, 0.15),
        Move::Turn { at, peak, hold } => {
            f.yaw += peak * bump(t, at, 0.5, hold, 0.5);
            f.nose_offset = real_nose(f.yaw);
        }
        Move::Nod { at, peak } => f.pitch += peak * bump(t, at, 0.5, 0.6, 0.5),
        Move::PhotoTurn { at, peak } => f.yaw += peak * bump(t, at, 0.5, 1.0, 0.5),
        Move::Jitter => {
            let s = |k: f64| (t * k).sin() as f32;
            f.ear_left += 0.01 * s(7.0);
            f.ear_right += 0.01 * s(6.1);
            f.mar += 0.005 * s(5.3);
            f.yaw += 1.5 * s(3.1);
            f.pitch += 1.0 * s(2.3);
            f.nose_offset += 0.01 * s(4.7);
        }
        Move::RollAndScale => {
            f.roll = 30.0 * (t * 2.0).sin() as f32;
            f.face_size = 0.45 + 0.15 * (t * 1.3).sin() as f32;
        }
        Move::HoldYaw { at, yaw } => {
            if t >= at {
                f.yaw = yaw;
                f.nose_offset = real_nose(yaw);
            }
        }
        Move::Dark { from, to } => {
            if t >= from && t < to {
                f.brightness = 20.0;
            }
        }
        Move::Gone { .. } => {}
    }
}

fn frame_at(t: f64, moves: &[Move]) -> FrameInput {
    let gone = moves
        .iter()
        .any(|m| matches!(*m, Move::Gone { from, to } if t >= from && t < to));
    if gone {
        return FrameInput {
            t: secs(t),
            faces: 0,
            face: None,
            light: None,
        };
    }
    let mut f = neutral();
    for &m in moves {
        apply(&mut f, m, t);
    }
    FrameInput {
        t: secs(t),
        faces: 1,
        face: Some(f),
        light: None,
    }
}

/// What a run produced.
struct Run {
    events: Vec<(f64, LivenessEvent)>,
    outcome: Option<Outcome>,
}

impl Run {
    fn done(&self) -> Vec<Action> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                LivenessEvent::ActionDone { action, .. } => Some(*action),
                _ => None,
            })
            .collect()
    }

    fn hints(&self) -> Vec<(f64, Option<QualityHint>)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                LivenessEvent::Hint(h) => Some((*t, *h)),
                _ => None,
            })
            .collect()
    }

    fn failed(&self) -> Option<(FailReason, Option<Action>, Option<QualityHint>)> {
        match &self.outcome {
            Some(Outcome::Failed {
                reason,
                action,
                hint,
                ..
            }) => Some((*reason, *action, *hint)),
            _ => None,
        }
    }

    fn finished_at(&self) -> Option<f64> {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, LivenessEvent::Finished(_)))
            .map(|(t, _)| *t)
    }

    fn passed(&self) -> bool {
        self.outcome.as_ref().is_some_and(Outcome::passed)
    }
}

/// Runs a scene through a fake driver that answers every sample with
/// `distance` (None: never answers) until finished or `until` seconds.
fn run_with(
    params: LivenessParams,
    actions: &[Action],
    moves: &[Move],
    until: f64,
    distance: Option<f32>,
    pad: Option<f32>,
) -> Run {
    let mut l = Liveness::new(
        params,
        Plan {
            seed: 7,
            actions: actions.to_vec(),
        },
    );
    let mut events = Vec::new();
    let mut i = 0u32;
    loop {
        let t = f64::from(i) * FRAME;
        if t > until {
            break;
        }
        if let Some(p) = pad {
            l.record_pad_score(p);
        }
        for e in l.step(&frame_at(t, moves)) {
            if let (LivenessEvent::SampleWanted { sample, .. }, Some(d)) = (&e, distance) {
                l.record_sample_distance(*sample, d);
            }
            events.push((t, e));
        }
        if l.is_finished() {
            break;
        }
        i += 1;
    }
    Run {
        events,
        outcome: l.outcome().cloned(),
    }
}

fn run(actions: &[Action], moves: &[Move], until: f64) -> Run {
    run_with(
        LivenessParams::default(),
        actions,
        moves,
        until,
        Some(GENUINE),
        None,
    )
}

fn performs(action: Action, at: f64) -> Move {
    match action {
        Action::Blink => Move::Blink { at, dur: 0.2 },
        Action::OpenMouth => Move::Mouth { at, dur: 0.6 },
        Action::TurnLeft => Move::Turn {
            at,
            peak: 30.0,
            hold: 0.6,
        },
        Action::TurnRight => Move::Turn {
            at,
            peak: -30.0,
            hold: 0.6,
        },
        Action::RaiseHead => Move::Nod { at, peak: -20.0 },
        Action::LowerHead => Move::Nod { at, peak: 20.0 },
    }
}

fn opposite(action: Action) -> Action {
    match action {
        Action::Blink => Action::OpenMouth,
        Action::OpenMouth => Action::Blink,
        Action::TurnLeft => Action::TurnRight,
        Action::TurnRight => Action::TurnLeft,
        Action::RaiseHead => Action::LowerHead,
        Action::LowerHead => Action::RaiseHead,
    }
}

// ------------------------------------------------------------ detection

#[rstest]
fn each_action_is_detected_from_its_trace(
    #[values(
        Action::Blink,
        Action::OpenMouth,
        Action::TurnLeft,
        Action::TurnRight,
        Action::RaiseHead,
        Action::LowerHead
    )]
    action: Action,
) {
    let r = run(&[action], &[performs(action, 1.0)], 10.0);
    assert!(r.passed(), "{action:?}: {:?}", r.outcome);
    assert_eq!(r.done(), vec![action]);
    let ev = r.outcome.as_ref().map(Outcome::evidence).cloned().unwrap();
    assert_eq!(ev.seed, 7);
    assert_eq!(ev.actions.len(), 1);
    let timing = ev.actions[0];
    assert_eq!(timing.started, secs(FIRST_ACTION_AT));
    let done = timing.done.unwrap().as_secs_f64();
    assert!((1.0..3.0).contains(&done), "{action:?} done at {done}");
    // baseline sample + neutral sample after the action
    assert_eq!(ev.samples.len(), 2);
    assert_eq!(ev.samples[0].reason, SampleReason::Baseline);
    assert_eq!(ev.samples[1].reason, SampleReason::Action { index: 0 });
}

#[rstest]
fn the_opposite_trace_does_not_satisfy_an_action(
    #[values(
        Action::Blink,
        Action::OpenMouth,
        Action::TurnLeft,
        Action::TurnRight,
        Action::RaiseHead,
        Action::LowerHead
    )]
    action: Action,
) {
    let r = run(&[action], &[performs(opposite(action), 1.0)], 12.0);
    assert!(r.done().is_empty(), "{action:?}: {:?}", r.done());
    assert_eq!(
        r.failed(),
        Some((FailReason::ActionTimeout, Some(action), None)),
        "{action:?}"
    );
}

#[test]
fn turn_left_is_the_users_own_left_positive_yaw() {
    // yaw > 0: the subject turns to their own left (unmirrored frame).
    let left = run(
        &[Action::TurnLeft],
        &[Move::Turn {
            at: 1.0,
            peak: 25.0,
            hold: 0.5,
        }],
        10.0,
    );
    assert!(left.passed());
    let right = run(
        &[Action::TurnRight],
        &[Move::Turn {
            at: 1.0,
            peak: 25.0,
            hold: 0.5,
        }],
        10.0,
    );
    assert!(!right.passed());
}

#[rstest]
fn a_still_picture_times_out_for_every_action(
    #[values(
        Action::Blink,
        Action::OpenMouth,
        Action::TurnLeft,
        Action::TurnRight,
        Action::RaiseHead,
        Action::LowerHead
    )]
    action: Action,
) {
    let r = run(&[action], &[Move::Jitter], 30.0);
    assert!(r.done().is_empty());
    let (reason, failed_action, _) = r.failed().unwrap();
    assert_eq!(reason, FailReason::ActionTimeout);
    assert_eq!(failed_action, Some(action));
    // 5 s after the action started
    let at = r.finished_at().unwrap();
    assert!((at - (FIRST_ACTION_AT + 5.0)).abs() < 0.05, "{at}");
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::LivenessIncomplete {
            action: Some(action)
        })
    );
}

#[rstest]
fn roll_and_scale_are_never_turns_or_nods(
    #[values(
        Action::TurnLeft,
        Action::TurnRight,
        Action::RaiseHead,
        Action::LowerHead
    )]
    action: Action,
) {
    let r = run(&[action], &[Move::Jitter, Move::RollAndScale], 30.0);
    assert!(r.done().is_empty());
    assert!(matches!(
        r.failed(),
        Some((FailReason::ActionTimeout, _, _))
    ));
}

#[rstest]
#[case(Action::TurnLeft, 30.0)]
#[case(Action::TurnRight, -30.0)]
#[case(Action::TurnLeft, 45.0)]
fn a_turned_flat_photo_is_planar_motion(#[case] action: Action, #[case] peak: f32) {
    let r = run(&[action], &[Move::PhotoTurn { at: 1.0, peak }], 10.0);
    assert!(r.done().is_empty());
    assert_eq!(
        r.failed(),
        Some((FailReason::PlanarMotion, Some(action), None))
    );
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::LivenessIncomplete {
            action: Some(action)
        })
    );
}

#[test]
fn a_blink_at_yaw_30_is_not_counted() {
    // Frontal baseline, then the head stays at 30° and blinks every second.
    let mut moves = vec![Move::HoldYaw { at: 0.8, yaw: 30.0 }];
    for k in 0..20 {
        moves.push(Move::Blink {
            at: 1.2 + f64::from(k),
            dur: 0.2,
        });
    }
    let r = run(&[Action::Blink], &moves, 30.0);
    assert!(r.done().is_empty());
    // The not-facing hint pauses the action clock; the total timeout ends it.
    assert_eq!(
        r.failed(),
        Some((
            FailReason::Timeout,
            Some(Action::Blink),
            Some(QualityHint::NotFacing)
        ))
    );
    assert!((r.finished_at().unwrap() - 20.0).abs() < 0.05);
    assert_eq!(
        r.hints().first().map(|h| h.1),
        Some(Some(QualityHint::NotFacing))
    );
}

#[rstest]
// normal, elderly slow blink, fast one-frame-ish blink
#[case(0.2, true)]
#[case(0.8, true)]
#[case(0.12, true)]
// resting eyes, not a blink
#[case(2.5, false)]
fn blink_durations(#[case] dur: f64, #[case] counted: bool) {
    let r = run(&[Action::Blink], &[Move::Blink { at: 1.0, dur }], 8.0);
    assert_eq!(r.passed(), counted, "{dur}: {:?}", r.outcome);
}

#[test]
fn elderly_small_slow_movements_pass() {
    // A 22° turn taking 1.5 s each way, a 14° nod, a modest mouth opening.
    let turn = run(
        &[Action::TurnLeft],
        &[Move::Turn {
            at: 1.0,
            peak: 22.0,
            hold: 0.3,
        }],
        10.0,
    );
    assert!(turn.passed(), "{:?}", turn.outcome);
    let nod = run(
        &[Action::LowerHead],
        &[Move::Nod {
            at: 1.0,
            peak: 14.0,
        }],
        10.0,
    );
    assert!(nod.passed(), "{:?}", nod.outcome);
    // MAR 0.06 → 0.23 (an open still measured ≥ 0.158, wide open 0.29–0.38).
    let mut mouth = neutral();
    let r = run_with(
        LivenessParams::default(),
        &[Action::OpenMouth],
        &[],
        10.0,
        Some(GENUINE),
        None,
    );
    assert!(!r.passed());
    mouth.mar = 0.23;
    let mut l = Liveness::new(
        LivenessParams::default(),
        Plan {
            seed: 0,
            actions: vec![Action::OpenMouth],
        },
    );
    let mut done = false;
    for i in 0..100 {
        let t = f64::from(i) * FRAME;
        // A jaw takes time to open: MAR rises over 0.16 s (4 frames).
        let face = if (1.0..1.6).contains(&t) {
            let mut f = mouth;
            f.mar = 0.06 + (0.23 - 0.06) * (((t - 1.0) / 0.16).min(1.0) as f32);
            f
        } else {
            neutral()
        };
        let events = l.step(&FrameInput {
            t: secs(t),
            faces: 1,
            face: Some(face),
            light: None,
        });
        for e in events {
            match e {
                LivenessEvent::SampleWanted { sample, .. } => {
                    l.record_sample_distance(sample, GENUINE);
                }
                LivenessEvent::ActionDone { .. } => done = true,
                _ => {}
            }
        }
    }
    assert!(done);
    assert!(l.outcome().is_some_and(Outcome::passed));
}

#[test]
fn a_three_action_check_passes_with_samples_between_actions() {
    let actions = [Action::TurnLeft, Action::Blink, Action::LowerHead];
    let moves = [
        performs(Action::TurnLeft, 1.0),
        performs(Action::Blink, 3.5),
        performs(Action::LowerHead, 5.0),
    ];
    let r = run(&actions, &moves, 15.0);
    assert!(r.passed(), "{:?}", r.outcome);
    assert_eq!(r.done(), actions.to_vec());
    let started: Vec<(u8, u8, Action)> = r
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            LivenessEvent::ActionStarted {
                index,
                total,
                action,
            } => Some((*index, *total, *action)),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        vec![
            (0, 3, Action::TurnLeft),
            (1, 3, Action::Blink),
            (2, 3, Action::LowerHead)
        ]
    );
    let ev = r.outcome.as_ref().unwrap().evidence().clone();
    assert!(ev.actions.iter().all(|a| a.done.is_some()));
    assert_eq!(ev.samples.len(), 4);
    // The samples are neutral, open-eyed frames: all usable for matching.
    let chosen = MatchPolicy::default().select_frames(&ev.candidates());
    assert_eq!(chosen.len(), 3);
    assert!(ev.baseline.is_some());
}

#[test]
fn the_next_action_waits_for_a_return_to_neutral() {
    // Turns left and stays there; while turned, nods down. The nod must not
    // count and the second action never starts.
    let moves = [
        Move::HoldYaw { at: 1.0, yaw: 30.0 },
        Move::Nod {
            at: 3.0,
            peak: 20.0,
        },
    ];
    let r = run(&[Action::TurnLeft, Action::LowerHead], &moves, 30.0);
    assert_eq!(r.done(), vec![Action::TurnLeft]);
    assert_eq!(r.failed().map(|f| f.0), Some(FailReason::Timeout));
    let starts = r
        .events
        .iter()
        .filter(|(_, e)| matches!(e, LivenessEvent::ActionStarted { .. }))
        .count();
    assert_eq!(starts, 1);
}

// ------------------------------------------------------------ clocks and hints

#[test]
fn the_action_clock_pauses_while_a_problem_is_shown() {
    // Too dark from 1 s to 9 s, otherwise still: 0.44 s of the 5 s run before
    // the dark, the remaining 4.56 s after it.
    let r = run(&[Action::Blink], &[Move::Dark { from: 1.0, to: 9.0 }], 30.0);
    assert_eq!(
        r.failed(),
        Some((FailReason::ActionTimeout, Some(Action::Blink), None))
    );
    let at = r.finished_at().unwrap();
    assert!((at - 13.56).abs() < 0.1, "{at}");
    let hints = r.hints();
    assert_eq!(hints.len(), 2, "{hints:?}");
    assert_eq!(hints[0].1, Some(QualityHint::TooDark));
    assert!((hints[0].0 - 1.5).abs() < 0.05, "{hints:?}");
    assert_eq!(hints[1].1, None);
    assert!((hints[1].0 - 9.3).abs() < 0.05, "{hints:?}");
}

#[test]
fn the_total_timeout_holds_while_a_problem_is_shown() {
    let r = run(
        &[Action::Blink],
        &[Move::Dark {
            from: 1.0,
            to: 99.0,
        }],
        60.0,
    );
    assert_eq!(
        r.failed(),
        Some((
            FailReason::Timeout,
            Some(Action::Blink),
            Some(QualityHint::TooDark)
        ))
    );
    assert!((r.finished_at().unwrap() - 20.0).abs() < 0.05);
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::Timeout)
    );
}

#[test]
fn detection_still_works_in_poor_light() {
    let r = run(
        &[Action::Blink],
        &[
            Move::Dark {
                from: 0.0,
                to: 99.0,
            },
            performs(Action::Blink, 2.0),
        ],
        10.0,
    );
    assert!(r.passed(), "{:?}", r.outcome);
}

#[test]
fn hints_are_debounced() {
    // Flicker: no face for 2 frames every second → no hint at all.
    let flicker: Vec<Move> = (1..8)
        .map(|k| Move::Gone {
            from: f64::from(k) + 0.01,
            to: f64::from(k) + 0.09,
        })
        .collect();
    let r = run(&[Action::Blink], &flicker, 8.0);
    assert!(r.hints().is_empty(), "{:?}", r.hints());

    // One second without a face: shown after 0.5 s, withdrawn 0.3 s after.
    let r = run(&[Action::Blink], &[Move::Gone { from: 2.0, to: 3.0 }], 8.0);
    let hints = r.hints();
    assert_eq!(hints.len(), 2, "{hints:?}");
    assert_eq!(hints[0].1, Some(QualityHint::NoFace));
    assert!((hints[0].0 - 2.5).abs() < 0.05);
    assert_eq!(hints[1].1, None);
    assert!((hints[1].0 - 3.3).abs() < 0.05);
}

fn with(f: impl Fn(&mut FaceInput)) -> FaceInput {
    let mut face = neutral();
    f(&mut face);
    face
}

#[rstest]
#[case(2, Some(with(|f| f.brightness = 10.0)), QualityHint::SeveralFaces)]
#[case(0, None, QualityHint::NoFace)]
#[case(1, Some(with(|f| f.presence = 0.2)), QualityHint::NoFace)]
#[case(1, Some(with(|f| f.ear_left = f32::NAN)), QualityHint::NoFace)]
#[case(1, Some(with(|f| { f.brightness = 10.0; f.face_size = 0.1; })), QualityHint::TooDark)]
#[case(1, Some(with(|f| { f.brightness = 250.0; f.centre = [0.9, 0.5]; })), QualityHint::TooBright)]
#[case(1, Some(with(|f| { f.face_size = 0.1; f.centre = [0.9, 0.5]; })), QualityHint::TooFar)]
#[case(1, Some(with(|f| { f.face_size = 0.9; f.sharpness = 1.0; })), QualityHint::TooNear)]
#[case(1, Some(with(|f| { f.centre = [0.5, 0.1]; f.sharpness = 1.0; })), QualityHint::OffCentre)]
#[case(1, Some(with(|f| { f.sharpness = 5.0; f.yaw = 40.0; })), QualityHint::Blurry)]
#[case(1, Some(with(|f| f.yaw = 40.0)), QualityHint::NotFacing)]
#[case(1, Some(with(|f| f.pitch = 40.0)), QualityHint::NotFacing)]
fn hint_priorities(#[case] faces: u8, #[case] face: Option<FaceInput>, #[case] want: QualityHint) {
    let mut l = Liveness::new(LivenessParams::default(), plan(1, &Action::ALL, 2));
    let mut hints = Vec::new();
    for i in 0..20 {
        let input = FrameInput {
            t: secs(f64::from(i) * FRAME),
            faces,
            face,
            light: None,
        };
        for e in l.step(&input) {
            if let LivenessEvent::Hint(h) = e {
                hints.push(h);
            }
        }
    }
    assert_eq!(hints, vec![Some(want)]);
}

// ------------------------------------------------------------ identity and PAD

#[test]
fn a_different_person_fails() {
    let r = run_with(
        LivenessParams::default(),
        &[Action::Blink, Action::OpenMouth],
        &[
            performs(Action::Blink, 1.0),
            performs(Action::OpenMouth, 2.5),
        ],
        10.0,
        Some(0.75),
        None,
    );
    let (reason, action, _) = r.failed().unwrap();
    assert_eq!(reason, FailReason::PersonChanged);
    // Reported after the blink's neutral sample: the mouth is being asked for.
    assert_eq!(action, Some(Action::OpenMouth));
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::PersonChanged)
    );
}

#[rstest]
#[case(0.59, true)]
#[case(0.6, true)]
#[case(0.61, false)]
fn same_person_distance_limit(#[case] d: f32, #[case] passes: bool) {
    let r = run_with(
        LivenessParams::default(),
        &[Action::Blink],
        &[performs(Action::Blink, 1.0)],
        10.0,
        Some(d),
        None,
    );
    assert_eq!(r.passed(), passes, "{:?}", r.outcome);
}

#[rstest]
#[case(None, Some(FailReason::SampleFault))]
#[case(Some(f32::NAN), Some(FailReason::SampleFault))]
#[case(Some(-1.0), Some(FailReason::SampleFault))]
fn missing_or_broken_sample_distances_fail(
    #[case] d: Option<f32>,
    #[case] want: Option<FailReason>,
) {
    let r = run_with(
        LivenessParams::default(),
        &[Action::Blink],
        &[performs(Action::Blink, 1.0)],
        10.0,
        d,
        None,
    );
    assert_eq!(r.failed().map(|f| f.0), want);
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::DeviceFault)
    );
}

#[test]
fn losing_the_face_asks_for_a_new_sample_and_restarts_the_movement() {
    // The face disappears in the middle of the turn: the turn before the loss
    // does not count, the one after it does; a re-acquisition sample is taken
    // at the first neutral frame.
    let moves = [
        Move::Turn {
            at: 1.0,
            peak: 30.0,
            hold: 0.6,
        },
        Move::Gone { from: 1.6, to: 2.5 },
        Move::Turn {
            at: 3.5,
            peak: 30.0,
            hold: 0.6,
        },
    ];
    let r = run(&[Action::TurnLeft], &moves, 10.0);
    assert!(r.passed(), "{:?}", r.outcome);
    let ev = r.outcome.unwrap().evidence().clone();
    let reasons: Vec<SampleReason> = ev.samples.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        vec![
            SampleReason::Baseline,
            SampleReason::Reacquired,
            SampleReason::Action { index: 0 }
        ]
    );
    assert!(ev.actions[0].done.unwrap() > secs(3.5));
}

#[test]
fn a_face_lost_too_often_fails() {
    // Two frames without a face every 0.4 s while standing still: each
    // return asks for a re-check sample; the eleventh is one too many.
    let flicker: Vec<Move> = (3..40)
        .map(|k| Move::Gone {
            from: f64::from(k) * 0.4 + 0.01,
            to: f64::from(k) * 0.4 + 0.09,
        })
        .collect();
    let r = run(&[Action::Blink], &flicker, 30.0);
    assert_eq!(
        r.failed().map(|f| (f.0, f.1)),
        Some((FailReason::FaceLost, Some(Action::Blink)))
    );
    let samples = r.outcome.unwrap().evidence().samples.len();
    assert_eq!(samples, 1 + MAX_REACQUIRED_SAMPLES);
}

#[rstest]
#[case(None, true)]
#[case(Some(0.9), true)]
#[case(Some(0.2), false)]
#[case(Some(f32::NAN), false)]
fn pad_scores(#[case] pad: Option<f32>, #[case] passes: bool) {
    let params = LivenessParams {
        pad_threshold: 0.5,
        ..LivenessParams::default()
    };
    let r = run_with(
        params,
        &[Action::Blink],
        &[performs(Action::Blink, 1.0)],
        10.0,
        Some(GENUINE),
        pad,
    );
    assert_eq!(r.passed(), passes, "{:?}", r.outcome);
    if !passes {
        assert_eq!(r.failed().map(|f| f.0), Some(FailReason::Spoof));
        assert!(r.outcome.unwrap().evidence().pad_mean.is_some());
    }
}

#[test]
fn an_empty_plan_never_passes() {
    let mut l = Liveness::new(
        LivenessParams::default(),
        Plan {
            seed: 1,
            actions: vec![],
        },
    );
    let ev = l.step(&frame_at(0.0, &[]));
    assert!(matches!(
        ev.as_slice(),
        [LivenessEvent::Finished(Outcome::Failed {
            reason: FailReason::InvalidPlan,
            ..
        })]
    ));
    assert!(l.step(&frame_at(0.04, &[])).is_empty());
}

#[test]
fn nobody_in_front_of_the_camera_is_no_face() {
    let r = run(
        &[Action::Blink],
        &[Move::Gone {
            from: 0.0,
            to: 99.0,
        }],
        30.0,
    );
    assert_eq!(
        r.failed(),
        Some((FailReason::NoFace, None, Some(QualityHint::NoFace)))
    );
    assert_eq!(
        r.outcome.unwrap().to_capture_failure(),
        Some(CaptureFailure::Timeout)
    );
}

// ------------------------------------------------------------ plan

#[test]
fn plan_is_deterministic_and_records_the_seed() {
    let a = plan(42, &Action::ALL, 3);
    assert_eq!(a, plan(42, &Action::ALL, 3));
    assert_eq!(a.seed, 42);
    assert_eq!(a.actions.len(), 3);
    // Different seeds give different plans (over a few seeds).
    let distinct: std::collections::BTreeSet<Vec<Action>> =
        (0..20).map(|s| plan(s, &Action::ALL, 2).actions).collect();
    assert!(distinct.len() > 5);
}

#[test]
fn splitmix64_reference_values() {
    // First outputs for seed 0 (reference implementation by S. Vigna).
    let mut r = SplitMix64::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[rstest]
#[case(&[Action::RaiseHead, Action::LowerHead], 2, 2)]
#[case(&[Action::RaiseHead], 3, 1)]
#[case(&[], 2, 0)]
fn plan_edge_cases(#[case] allowed: &[Action], #[case] count: usize, #[case] len: usize) {
    // Nods only when nothing else is allowed; a single action is not repeated.
    for seed in 0..50 {
        assert_eq!(plan(seed, allowed, count).actions.len(), len);
    }
}

fn allowed_from(mask: u8, dup: bool) -> Vec<Action> {
    let mut v: Vec<Action> = Action::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| *a)
        .collect();
    if dup && let Some(&a) = v.first() {
        v.push(a);
    }
    v
}

proptest! {
    #[test]
    fn plans_never_repeat_in_a_row(seed: u64, mask in 1u8..64, count in 0usize..8, dup: bool) {
        let allowed = allowed_from(mask, dup);
        let mut distinct = allowed.clone();
        distinct.sort();
        distinct.dedup();
        let p = plan(seed, &allowed, count);
        prop_assert_eq!(&p, &plan(seed, &allowed, count));
        prop_assert_eq!(p.seed, seed);
        let want = if distinct.len() == 1 { 1 } else { count.clamp(1, MAX_PLAN_ACTIONS) };
        prop_assert_eq!(p.actions.len(), want);
        prop_assert!(p.actions.iter().all(|a| distinct.contains(a)));
        prop_assert!(p.actions.windows(2).all(|w| w[0] != w[1]));
        if want <= distinct.len() {
            let mut seen = p.actions.clone();
            seen.sort();
            seen.dedup();
            prop_assert_eq!(seen.len(), p.actions.len());
        }
        let nod = |a: &Action| matches!(a, Action::RaiseHead | Action::LowerHead);
        if distinct.iter().any(|a| !nod(a)) {
            prop_assert!(!p.actions.iter().all(nod));
        }
    }
}

// ------------------------------------------------------------ robustness

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        prop::num::f32::ANY,
        Just(f32::NAN),
        -1.0f32..1.0,
        -60.0f32..60.0,
        0.0f32..300.0,
    ]
}

fn any_face() -> impl Strategy<Value = FaceInput> {
    prop::collection::vec(any_f32(), 13).prop_map(|v| FaceInput {
        ear_left: v[0],
        ear_right: v[1],
        mar: v[2],
        yaw: v[3],
        pitch: v[4],
        roll: v[5],
        face_size: v[6],
        centre: [v[7], v[8]],
        brightness: v[9],
        sharpness: v[10],
        presence: v[11],
        nose_offset: v[12],
        shape: [[v[0], v[1]]; SHAPE_POINTS],
    })
}

#[derive(Debug, Clone)]
enum Input {
    Frame {
        dt_ms: i64,
        faces: u8,
        face: Option<FaceInput>,
        /// Replace the random face by one performing `Action::ALL[k % 6]`
        /// (repeating every 4 s), so the detectors make progress too.
        plausible: Option<u8>,
    },
    Distance(u32, f32),
    Pad(f32),
}

fn any_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        8 => (-100i64..400, 0u8..4, prop::option::of(any_face()), prop::option::of(0u8..6)).prop_map(
            |(dt_ms, faces, face, plausible)| Input::Frame { dt_ms, faces, face, plausible }
        ),
        1 => (0u32..6, any_f32()).prop_map(|(s, d)| Input::Distance(s, d)),
        1 => any_f32().prop_map(Input::Pad),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_inputs_never_panic_and_always_finish_in_time(
        seed: u64,
        start_ms in 0u64..1_000_000,
        inputs in prop::collection::vec(any_input(), 0..300),
    ) {
        let params = LivenessParams::default();
        let total = params.total_timeout;
        let mut l = Liveness::new(params.clone(), params.plan(seed));
        let mut t = Duration::from_millis(start_ms);
        let mut first: Option<Duration> = None;
        let mut max_t = t;
        let mut finished = 0;
        let feed = |l: &mut Liveness, input: &FrameInput, finished: &mut usize| {
            let events = l.step(input);
            let n = events.iter().filter(|e| matches!(e, LivenessEvent::Finished(_))).count();
            if *finished > 0 {
                assert!(events.is_empty(), "events after finishing: {events:?}");
            }
            *finished += n;
        };
        for input in inputs {
            match input {
                Input::Frame { dt_ms, faces, face, plausible } => {
                    t = if dt_ms >= 0 {
                        t + Duration::from_millis(dt_ms.unsigned_abs())
                    } else {
                        t.saturating_sub(Duration::from_millis(dt_ms.unsigned_abs()))
                    };
                    let face = match plausible {
                        Some(k) => {
                            let action = Action::ALL[usize::from(k) % 6];
                            let local = t.as_secs_f64() % 4.0;
                            face.and(frame_at(local, &[performs(action, 1.0)]).face)
                        }
                        None => face,
                    };
                    let frame = FrameInput {
                        t,
                        faces,
                        face,
                        light: None,
                    };
                    let start = *first.get_or_insert(t);
                    max_t = max_t.max(t);
                    feed(&mut l, &frame, &mut finished);
                    if max_t.saturating_sub(start) >= total {
                        prop_assert_eq!(finished, 1);
                    }
                }
                Input::Distance(s, d) => l.record_sample_distance(s, d),
                Input::Pad(p) => l.record_pad_score(p),
            }
        }
        // Keep going with empty frames: finished by the total timeout.
        loop {
            t += Duration::from_millis(40);
            let start = *first.get_or_insert(t);
            feed(&mut l, &FrameInput {
                    t,
                    faces: 0,
                    face: None,
                    light: None,
                }, &mut finished);
            max_t = max_t.max(t);
            if max_t.saturating_sub(start) >= total {
                break;
            }
        }
        prop_assert_eq!(finished, 1);
        prop_assert!(l.is_finished());
        let outcome = l.outcome().cloned();
        prop_assert!(outcome.is_some());
    }
}

// ------------------------------------------------------------ slideshows and cuts

#[rstest]
// The blink clip's first blink (24 fps) at its levels (closed 0.177, reopened
// 0.236): closed within a frame, reopening through 0.181 and 0.212.
#[case(&[0.032, 0.028, 0.03, 0.181, 0.212], 0.177, 0.236, 2)]
// Its blink at 10.2 s: one frame between the levels.
#[case(&[0.116, 0.031, 0.124, 0.213], 0.177, 0.236, 1)]
// A photo swap: the closed photo only.
#[case(&[0.05, 0.05, 0.06, 0.05], 0.18, 0.24, 0)]
// A blended swap frame mostly reads as one of the two photos.
#[case(&[0.175, 0.05, 0.05, 0.05], 0.18, 0.24, 0)]
#[case(&[0.2, 0.05, 0.05, 0.05], 0.18, 0.24, 1)]
// A mouth on its way up through the closed (0.14) and open (0.2) levels.
#[case(&[0.15, 0.18], 0.14, 0.2, 2)]
// The levels in either order.
#[case(&[0.15, 0.18], 0.2, 0.14, 2)]
// Nothing, or only broken values or levels.
#[case(&[], 0.18, 0.24, 0)]
#[case(&[f32::NAN, f32::INFINITY], 0.18, 0.24, 0)]
#[case(&[0.2], f32::NAN, 0.24, 0)]
// A non-finite value is skipped, not counted.
#[case(&[0.05, f32::NAN, 0.2], 0.18, 0.24, 1)]
fn transition_counts_frames_between_the_levels(
    #[case] trace: &[f32],
    #[case] a: f32,
    #[case] b: f32,
    #[case] mid: usize,
) {
    assert_eq!(mid_frames(trace, a, b), mid);
}

#[rstest]
#[case(Some(1000.0 / 60.0), 1)]
#[case(Some(1000.0 / 30.0), 1)]
#[case(Some(1000.0 / 24.0), 1)]
// 20 fps and slower: too slow to tell a fast blink's middle frames (measured:
// 6 % of blinks at 20 fps and 12 % at 15 fps had none), so none are asked for.
#[case(Some(1000.0 / 20.0), 0)]
#[case(Some(1000.0 / 15.0), 0)]
#[case(Some(1000.0 / 240.0), TRANSITION_MAX_REQUIRED)]
#[case(Some(0.0), 0)]
#[case(None, 0)]
fn transition_requirement_follows_the_frame_rate(#[case] ms: Option<f64>, #[case] want: usize) {
    let interval = ms.map(|ms| Duration::from_secs_f64(ms / 1000.0));
    assert_eq!(
        required_mid_frames(interval, TRANSITION_MIN_MID_TIME, TRANSITION_MAX_REQUIRED),
        want
    );
}

fn moved(dx: f32, size: f32, roll: f32) -> FaceInput {
    let mut f = neutral();
    f.centre[0] += dx;
    f.face_size = size;
    f.roll = roll;
    f
}

#[rstest]
// The live clips' largest frame-to-frame changes are not cuts.
#[case(moved(0.102 * 0.4, 0.4 * 1.065, 8.9), 40, false)]
// Two different stills of one person, as taken: the smallest measured jump.
#[case(moved(0.22 * 0.4, 0.4, 0.0), 40, true)]
#[case(moved(0.0, 0.4 * 1.13, 0.0), 40, true)]
#[case(moved(0.0, 0.4, 0.0), 40, false)]
// Another picture: the face jumps, grows or tilts between two frames.
#[case(moved(0.3 * 0.4, 0.4, 0.0), 40, true)]
#[case(moved(0.0, 0.4 * 1.3, 0.0), 40, true)]
#[case(moved(0.0, 0.4 / 1.3, 0.0), 40, true)]
#[case(moved(0.0, 0.4, 20.0), 40, true)]
// Roll wraps round: 179° and −179° are 2° apart.
#[case(FaceInput { roll: -179.0, ..neutral() }, 40, false)]
// A stalled camera is not a cut.
#[case(moved(0.3 * 0.4, 0.4, 0.0), 600, false)]
// Broken measures are never a cut.
#[case(moved(f32::NAN, 0.4, 0.0), 40, false)]
#[case(moved(0.0, 0.0, 0.0), 40, false)]
fn continuity_tells_cuts_from_movements(
    #[case] next: FaceInput,
    #[case] ms: u64,
    #[case] cut: bool,
) {
    let prev = FaceInput {
        roll: if next.roll < -170.0 { 179.0 } else { 0.0 },
        ..neutral()
    };
    let th = Thresholds::default();
    assert_eq!(is_cut(&prev, &next, Duration::from_millis(ms), &th), cut);
}

/// Runs `face_at(t)` at `fps` through a one-action check.
fn run_scene(action: Action, fps: f64, until: f64, face_at: impl Fn(f64) -> FaceInput) -> Run {
    let mut l = Liveness::new(
        LivenessParams::default(),
        Plan {
            seed: 3,
            actions: vec![action],
        },
    );
    let mut events = Vec::new();
    let mut i = 0u32;
    loop {
        let t = f64::from(i) / fps;
        if t > until || l.is_finished() {
            break;
        }
        for e in l.step(&FrameInput {
            t: secs(t),
            faces: 1,
            face: Some(face_at(t)),
            light: None,
        }) {
            if let LivenessEvent::SampleWanted { sample, .. } = &e {
                l.record_sample_distance(*sample, GENUINE);
            }
            events.push((t, e));
        }
        i += 1;
    }
    Run {
        events,
        outcome: l.outcome().cloned(),
    }
}

/// A two-photo slideshow: the closed-eye photo from `at` for `hold` seconds,
/// again every 1.5 s; `blend` adds one half-way frame at each swap.
fn slideshow_eyes(t: f64, fps: f64, blend: bool) -> FaceInput {
    let mut f = neutral();
    let phase = (t - 1.0).rem_euclid(1.5);
    let closed = t >= 1.0 && phase < 0.3;
    let at_swap = t >= 1.0 && (phase < 1.0 / fps || (phase >= 0.3 && phase < 0.3 + 1.0 / fps));
    let ear = if closed { 0.05 } else { 0.30 };
    let ear = if blend && at_swap { 0.175 } else { ear };
    f.ear_left = ear;
    f.ear_right = ear;
    f
}

#[rstest]
#[case(30.0)]
#[case(25.0)]
#[case(24.0)]
fn a_two_photo_blink_slideshow_fails_on_its_transitions(#[case] fps: f64) {
    let r = run_scene(Action::Blink, fps, 20.0, |t| slideshow_eyes(t, fps, false));
    assert!(!r.passed(), "{fps} fps: {:?}", r.outcome);
    assert_eq!(r.failed().map(|f| f.0), Some(FailReason::AbruptTransition));
    let checks = r.outcome.as_ref().map(|o| o.evidence().checks);
    assert!(checks.is_some_and(|c| c.abrupt_transitions >= 2 && c.mid_frames_required == 1));
}

#[rstest]
#[case(30.0)]
#[case(24.0)]
#[case(15.0)]
fn a_real_blink_passes_at_common_camera_rates(#[case] fps: f64) {
    // The measured shape: closed within a frame, reopening more slowly.
    let blink = Move::Blink { at: 1.5, dur: 0.25 };
    let r = run_scene(Action::Blink, fps, 8.0, |t| {
        let mut f = neutral();
        apply(&mut f, blink, t);
        f
    });
    assert!(r.passed(), "{fps} fps: {:?}", r.outcome);
    let checks = r.outcome.as_ref().map(|o| o.evidence().checks);
    assert!(checks.is_some_and(|c| c.abrupt_transitions == 0 && c.cuts == 0));
}

#[test]
fn a_mouth_slideshow_fails_and_a_real_opening_passes() {
    let swap = run_scene(Action::OpenMouth, 30.0, 20.0, |t| {
        let mut f = neutral();
        if t >= 1.0 && (t - 1.0).rem_euclid(1.5) < 0.6 {
            f.mar = 0.33;
        }
        f
    });
    assert_eq!(
        swap.failed().map(|f| f.0),
        Some(FailReason::AbruptTransition)
    );
    let real = run_scene(Action::OpenMouth, 30.0, 8.0, |t| {
        let mut f = neutral();
        apply(&mut f, Move::Mouth { at: 1.5, dur: 0.6 }, t);
        f
    });
    assert!(real.passed(), "{:?}", real.outcome);
}

#[test]
fn a_slideshow_of_two_unaligned_photos_is_a_cut() {
    // The closed-eye photo sits elsewhere in the frame and is smaller: each
    // swap is a cut, the blink is never seen on one continuous face.
    let r = run_scene(Action::Blink, 30.0, 20.0, |t| {
        let mut f = slideshow_eyes(t, 30.0, false);
        if f.ear_left < 0.1 {
            f.centre = [0.58, 0.47];
            f.face_size = 0.3;
        }
        f
    });
    assert_eq!(r.failed().map(|f| f.0), Some(FailReason::Discontinuity));
    let checks = r.outcome.as_ref().map(|o| o.evidence().checks);
    assert!(checks.is_some_and(|c| c.cuts >= 2));
}

#[rstest]
// A blend frame reading just below the closed level (most blend ratios).
#[case(0.175, false)]
// A cross-fade frame landing between the levels (0.18–0.24): the transition
// check alone does not stop it. This pins the limit so a change is noticed.
#[case(0.21, true)]
fn a_blended_slideshow_at_30_fps(#[case] blend: f32, #[case] passes: bool) {
    let r = run_scene(Action::Blink, 30.0, 20.0, |t| {
        let mut f = slideshow_eyes(t, 30.0, true);
        if (f.ear_left - 0.175).abs() < 1e-6 {
            f.ear_left = blend;
            f.ear_right = blend;
        }
        f
    });
    assert_eq!(r.passed(), passes, "{:?}", r.outcome);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn physical_checks_never_panic(
        trace in prop::collection::vec(any_f32(), 0..64),
        rest in any_f32(),
        margin in any_f32(),
        ms in prop::option::of(0u64..10_000),
        a in any_face(),
        b in any_face(),
        dt_ms in 0u64..2_000,
    ) {
        let mid = mid_frames(&trace, rest, margin);
        prop_assert!(mid <= trace.len());
        let req = required_mid_frames(ms.map(Duration::from_millis), TRANSITION_MIN_MID_TIME, 3);
        prop_assert!(req <= 3);
        let th = Thresholds::default();
        let _ = is_cut(&a, &b, Duration::from_millis(dt_ms), &th);
        // A face never jumps from itself.
        prop_assert!(!is_cut(&a, &a, Duration::from_millis(dt_ms), &th));
    }
}

// ---------------------------------------------------------------- screen light

/// Runs a blink check with the screen-light challenge on; the scene's
/// regions answer the tints with `gains` (centre, cheeks, background), as in
/// the reflection model of [`flash`].
fn run_with_screen_light(gains: [f32; 3], moves: &[Move]) -> (Vec<LivenessEvent>, Outcome) {
    let params = LivenessParams {
        flash: Some(FlashParams::default()),
        ..LivenessParams::default()
    };
    let plan = Plan {
        seed: 11,
        actions: vec![Action::Blink],
    };
    let mut l = Liveness::new(params, plan);
    let mut schedule: Option<(Vec<Tint>, Duration, Duration)> = None;
    let mut events = Vec::new();
    let lag = Duration::from_millis(80);
    for i in 0..1000u32 {
        let t = f64::from(i) * FRAME;
        let mut input = frame_at(t, moves);
        let tint = schedule.as_ref().and_then(|(tints, slot, at)| {
            input
                .t
                .checked_sub(*at + lag)
                .and_then(|s| flash::tint_at(tints, *slot, s))
        });
        let lit = |c: [f32; 3], k: f32| {
            let tint = tint.map_or([0.0; 3], |t| t.rgb);
            [0, 1, 2].map(|i| c[i] * (1.0 + k * tint[i]))
        };
        input.light = Some(FaceLight {
            centre: lit([160.0, 120.0, 100.0], gains[0]),
            cheeks: lit([150.0, 112.0, 95.0], gains[1]),
            background: lit([80.0, 85.0, 90.0], gains[2]),
        });
        for e in l.step(&input) {
            if let LivenessEvent::FlashStarted { tints, slot, at } = &e {
                schedule = Some((tints.clone(), *slot, *at));
            }
            if let LivenessEvent::SampleWanted { sample, .. } = &e
                && *sample > 0
            {
                l.record_sample_distance(*sample, GENUINE);
            }
            events.push(e);
        }
        if let Some(o) = l.outcome() {
            return (events, o.clone());
        }
    }
    panic!("the check never finished");
}

#[test]
fn a_face_lit_by_the_screen_goes_on_to_its_actions_and_passes() {
    let (events, outcome) =
        run_with_screen_light([0.25, 0.2, 0.03], &[Move::Blink { at: 4.0, dur: 0.2 }]);
    let started = events
        .iter()
        .position(|e| matches!(e, LivenessEvent::FlashStarted { .. }));
    let ended = events
        .iter()
        .position(|e| matches!(e, LivenessEvent::FlashEnded));
    let action = events
        .iter()
        .position(|e| matches!(e, LivenessEvent::ActionStarted { .. }));
    assert!(started < ended && ended < action, "{events:?}");
    assert!(outcome.passed(), "{outcome:?}");
    let report = outcome.evidence().flash.expect("flash report");
    assert_eq!(report.verdict, FlashVerdict::Passed);
    assert!(report.correlation > 0.9, "{report:?}");
}

#[rstest]
#[case::screen_or_injected([0.0, 0.0, 0.0], FlashVerdict::NoResponse)]
#[case::flat_print([0.22, 0.22, 0.03], FlashVerdict::Flat)]
fn a_scene_that_does_not_answer_like_a_face_fails_before_any_action(
    #[case] gains: [f32; 3],
    #[case] verdict: FlashVerdict,
) {
    let (events, outcome) = run_with_screen_light(gains, &[Move::Blink { at: 4.0, dur: 0.2 }]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, LivenessEvent::ActionStarted { .. })),
        "{events:?}"
    );
    let Outcome::Failed {
        reason, evidence, ..
    } = outcome
    else {
        panic!("passed")
    };
    assert_eq!(reason, FailReason::ScreenLight);
    assert_eq!(evidence.flash.map(|f| f.verdict), Some(verdict));
    assert_eq!(
        reason.to_capture_failure(None),
        CaptureFailure::LivenessIncomplete { action: None },
        "the person is not told what gave an attack away"
    );
}

// ---------------------------------------------------------------- 3-D turns

/// A turn whose yaw and nose offset look real, with face points that move
/// as a head does (`flat = false`) or as a flat picture does.
fn turn_with_shape(flat: bool) -> Outcome {
    let plan = Plan {
        seed: 3,
        actions: vec![Action::TurnLeft],
    };
    let mut l = Liveness::new(LivenessParams::default(), plan);
    let moves = [Move::Turn {
        at: 1.0,
        peak: 30.0,
        hold: 1.0,
    }];
    for i in 0..600u32 {
        let t = f64::from(i) * FRAME;
        let mut input = frame_at(t, &moves);
        if let Some(f) = input.face.as_mut() {
            f.shape = super::checks::residual_tests::view(f.yaw - 2.0, 0.0, flat);
        }
        for e in l.step(&input) {
            if let LivenessEvent::SampleWanted { sample, .. } = e
                && sample > 0
            {
                l.record_sample_distance(sample, GENUINE);
            }
        }
        if let Some(o) = l.outcome() {
            return o.clone();
        }
    }
    panic!("never finished");
}

#[test]
fn a_turn_that_fits_a_flat_homography_is_planar_and_a_head_turn_passes() {
    let flat = turn_with_shape(true);
    assert!(
        matches!(
            flat,
            Outcome::Failed {
                reason: FailReason::PlanarMotion,
                ..
            }
        ),
        "{flat:?}"
    );
    let head = turn_with_shape(false);
    assert!(head.passed(), "{head:?}");
    let r = head.evidence().checks.turn_residual.expect("residual");
    assert!(r >= PLANAR_MIN_RESIDUAL, "{r}");
}
