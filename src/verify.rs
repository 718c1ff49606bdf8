//! `lifecert verify`: the whole liveness-and-match session, headless, on a
//! recording, through the same driver the kiosk uses ([`crate::session`]).
//!
//! Exit codes: 0 passed, 1 not passed, 2 error. Deterministic for the same
//! input and seed: the replay camera feeds the file's timestamps.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use lifecert_core::action::Action;
use lifecert_core::liveness::{LivenessParams, Outcome, Plan, plan};
use lifecert_core::matching::{MatchDecision, MatchPolicy};
use lifecert_vision::{Analyzer, Models, Template};

use crate::analysis::{EXIT_ERROR, EXIT_NO, EXIT_OK, load_models};
use crate::camera::{Pacing, ReplayOptions, StillRepeat, open_replay_with};
use crate::config::Config;
use crate::session::{self, MatchResult, SessionError, SessionReport};

/// Parses `--challenges`: action names (`blink`, `open_mouth`, `turn_left`,
/// …) or the short forms `mouth`, `left`, `right`, `up`, `down`.
pub fn parse_challenges(text: &str) -> Result<Vec<Action>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            let action = match name {
                "mouth" => Some(Action::OpenMouth),
                "left" => Some(Action::TurnLeft),
                "right" => Some(Action::TurnRight),
                "up" => Some(Action::RaiseHead),
                "down" => Some(Action::LowerHead),
                other => Action::from_name(other),
            };
            action.ok_or_else(|| {
                format!(
                    "unknown challenge `{name}` (allowed: blink, open_mouth/mouth, turn_left/left, \
                     turn_right/right, raise_head/up, lower_head/down)"
                )
            })
        })
        .collect()
}

/// The liveness parameters of the config.
pub fn liveness_params(config: &Config) -> LivenessParams {
    let mut params = LivenessParams::new(
        config.liveness.actions.clone(),
        config.liveness.action_count,
        config.liveness.effective_action_timeout(),
        config.liveness.effective_total_timeout(),
        config.vision.pad_threshold as f32,
    );
    params.flash = config.liveness.flash.map(|f| f.params());
    params
}

/// The matching policy of the config.
pub fn match_policy(config: &Config) -> MatchPolicy {
    MatchPolicy::new(
        config.matching.threshold as f32,
        config.matching.margin as f32,
        u8::try_from(config.matching.attempts).unwrap_or(u8::MAX),
        lifecert_core::matching::MAX_BEST_FRAMES,
    )
}

/// What the session is asked to do.
pub struct Request<'a> {
    pub template: Option<&'a Path>,
    pub input: &'a Path,
    pub challenges: Option<Vec<Action>>,
    pub seed: u64,
    pub json: bool,
    /// Replay the recording in a loop until the check finishes (a short clip
    /// whose movements come before the neutral baseline is set).
    pub looping: bool,
}

/// Runs `lifecert verify`.
pub fn verify(config: &Config, request: &Request<'_>, out: &mut dyn Write) -> u8 {
    match run(config, request) {
        Ok(Verdict::Report(report)) => {
            let threshold = config.matching.threshold;
            let written = if request.json {
                writeln!(out, "{}", to_json(&report, threshold))
            } else {
                write_text(out, &report, threshold)
            };
            let _ = written;
            if report.passed() { EXIT_OK } else { EXIT_NO }
        }
        Ok(Verdict::Ended(frames)) => {
            let _ = if request.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"passed": false, "reason": "recording_ended", "frames": frames})
                )
            } else {
                writeln!(
                    out,
                    "verdict: NOT PASSED (the recording ended after {frames} frames, before the check finished)"
                )
            };
            EXIT_NO
        }
        Err(message) => {
            eprintln!("lifecert: {message}");
            EXIT_ERROR
        }
    }
}

enum Verdict {
    Report(Box<SessionReport>),
    Ended(u64),
}

/// Replays a recording through one session, the way both `verify` and `eval`
/// do: as fast as possible, a single photo held up past the total timeout (a
/// picture must fail, not end the recording early), optionally looped.
pub fn replay_session(
    config: &Config,
    models: Arc<Models>,
    input: &Path,
    plan: Plan,
    template: Option<&Template>,
    looping: bool,
) -> Result<SessionReport, SessionError> {
    let params = liveness_params(config);
    let options = ReplayOptions {
        pacing: Pacing::AsFastAsPossible,
        still: StillRepeat::For(params.total_timeout + std::time::Duration::from_secs(2)),
        looping,
        ..ReplayOptions::default()
    };
    let mut source = open_replay_with(input, &options).map_err(|e| SessionError::Open {
        path: input.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut light = crate::flash_sim::SimulatedScreen::for_recording(input).map_err(|reason| {
        SessionError::Open {
            path: input.display().to_string(),
            reason,
        }
    })?;
    let mut analyzer = Analyzer::new(models);
    session::run(
        source.as_mut(),
        &mut analyzer,
        params,
        plan,
        &match_policy(config),
        template,
        session::Hooks {
            progress: &mut (),
            light: &mut light,
        },
    )
}

fn run(config: &Config, request: &Request<'_>) -> Result<Verdict, String> {
    let template = match request.template {
        Some(path) => Some(Template::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let models = load_models(config)?;
    let plan = match &request.challenges {
        Some(actions) => Plan {
            seed: request.seed,
            actions: actions.clone(),
        },
        None => plan(
            request.seed,
            &config.liveness.actions,
            config.liveness.action_count,
        ),
    };
    match replay_session(
        config,
        models,
        request.input,
        plan,
        template.as_ref(),
        request.looping,
    ) {
        Ok(report) => Ok(Verdict::Report(Box::new(report))),
        Err(SessionError::Ended { frames }) => Ok(Verdict::Ended(frames)),
        Err(e) => Err(e.to_string()),
    }
}

fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn liveness_reason(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Passed { .. } => None,
        Outcome::Failed {
            reason,
            action,
            hint,
            ..
        } => Some(format!(
            "{reason:?}{}{}",
            action
                .map(|a| format!(" during {}", a.name()))
                .unwrap_or_default(),
            hint.map(|h| format!(" (hint: {h:?})")).unwrap_or_default()
        )),
    }
}

fn decision_name(d: MatchDecision) -> &'static str {
    match d {
        MatchDecision::Match { .. } => "match",
        MatchDecision::Uncertain => "uncertain",
        MatchDecision::NoMatch => "no_match",
    }
}

fn to_json(report: &SessionReport, threshold: f64) -> serde_json::Value {
    let evidence = report.liveness.evidence();
    let actions: Vec<serde_json::Value> = evidence
        .actions
        .iter()
        .map(|a| {
            serde_json::json!({
                "action": a.action.name(),
                "prompted_s": secs(a.started),
                "done_s": a.done.map(secs),
            })
        })
        .collect();
    let matching = match report.matching {
        MatchResult::NotRun => serde_json::Value::Null,
        MatchResult::Decided { distance, decision } => serde_json::json!({
            "distance": if distance.is_finite() { Some(distance) } else { None },
            "threshold": threshold,
            "decision": decision_name(decision),
        }),
    };
    serde_json::json!({
        "passed": report.passed(),
        "seed": report.plan.seed,
        "plan": report.plan.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "liveness": {
            "passed": report.liveness.passed(),
            "reason": liveness_reason(&report.liveness),
            "actions": actions,
            "finished_s": secs(evidence.finished_at),
            "pad_mean": evidence.pad_mean,
            "checks": {
                "cuts": evidence.checks.cuts,
                "abrupt_transitions": evidence.checks.abrupt_transitions,
                "mid_frames_required": evidence.checks.mid_frames_required,
                "frame_interval_ms": evidence.checks.frame_interval.map(|d| d.as_secs_f64() * 1000.0),
                "turn_residual": evidence.checks.turn_residual,
            },
            "flash": evidence.flash.map(|f| serde_json::json!({
                "verdict": f.verdict.name(),
                "frames": f.frames,
                "coverage": f.coverage,
                "correlation": f.correlation,
                "response": f.response,
                "shape_ratio": if f.shape_ratio.is_finite() { Some(f.shape_ratio) } else { None },
                "lag_ms": f.lag.as_millis(),
            })),
        },
        "matching": matching,
        "frames": report.frames,
        "record": session::liveness_summary(report, Some("replay".to_string()), None),
    })
}

fn write_text(out: &mut dyn Write, report: &SessionReport, threshold: f64) -> std::io::Result<()> {
    let evidence = report.liveness.evidence();
    let names: Vec<&str> = report.plan.actions.iter().map(|a| a.name()).collect();
    writeln!(
        out,
        "plan (seed {}): {}",
        report.plan.seed,
        names.join(", ")
    )?;
    for a in &evidence.actions {
        match a.done {
            Some(done) => writeln!(
                out,
                "  {:<11} prompted {:>6.2} s   done {:>6.2} s   ({:.2} s)",
                a.action.name(),
                secs(a.started),
                secs(done),
                secs(done.saturating_sub(a.started))
            )?,
            None => writeln!(
                out,
                "  {:<11} prompted {:>6.2} s   not done",
                a.action.name(),
                secs(a.started)
            )?,
        }
    }
    match liveness_reason(&report.liveness) {
        None => writeln!(
            out,
            "liveness: passed at {:.2} s",
            secs(evidence.finished_at)
        )?,
        Some(reason) => writeln!(out, "liveness: FAILED: {reason}")?,
    }
    if let Some(pad) = evidence.pad_mean {
        writeln!(out, "PAD mean real score: {pad:.3}")?;
    }
    match report.matching {
        MatchResult::NotRun => writeln!(out, "matching: not run")?,
        MatchResult::Decided { distance, decision } => writeln!(
            out,
            "matching: distance {distance:.3} (threshold {threshold:.2}): {}",
            decision_name(decision)
        )?,
    }
    writeln!(
        out,
        "verdict: {} ({} frames)",
        if report.passed() {
            "PASSED"
        } else {
            "NOT PASSED"
        },
        report.frames
    )
}
