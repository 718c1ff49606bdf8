//! Physical checks on the frame sequence, against photo slideshows and cuts.
//!
//! Two named checks, each pure:
//!
//! - **Transition** (temporal plausibility). A real eyelid or jaw moves
//!   through intermediate states: between the open and the closed level a
//!   blink or a mouth opening shows frames between the detector's two levels
//!   (closed and open). A photo swap jumps from one level to the other in one
//!   frame; a frame blended when the camera's exposure straddles the swap
//!   mostly reads as one of the two (measured: only 5–15 % of blend ratios
//!   land between the levels). [`mid_frames`] counts an event's frames
//!   between the levels, and [`required_mid_frames`] says how many a real
//!   movement shows at the measured frame interval, so a slow camera is not
//!   punished.
//! - **Continuity** (rigid continuity). Between two consecutive frames a head
//!   moves a little: the face box cannot jump position, scale or roll. A
//!   larger jump between frames close in time is a cut: another picture, not
//!   a movement ([`is_cut`]). The engine treats a cut as a loss of the face:
//!   the running movement is dropped and the same-person sample is taken
//!   again.
//!
//! The thresholds and their calibration are in [`super::params`].

use std::time::Duration;

use super::FaceInput;
use super::params::Thresholds;

/// The frames of one event lying strictly between the two levels `a` and `b`
/// (in either order): for a blink the EARs between the closed and the
/// reopened level, for a mouth opening the MARs between the closed and the
/// open level on the way up. Non-finite values never count.
pub fn mid_frames(trace: &[f32], a: f32, b: f32) -> usize {
    if !a.is_finite() || !b.is_finite() {
        return 0;
    }
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    trace
        .iter()
        .filter(|v| v.is_finite() && **v > lo && **v < hi)
        .count()
}

/// How many middle-band frames a real movement shows when frames arrive
/// every `interval`: the whole frames that fit in `min_mid_time` (the
/// shortest time a real blink or mouth opening spends in the middle band,
/// closing and reopening together), and never more than `cap`. A camera
/// slower than that (or an unknown interval) is asked for none.
pub fn required_mid_frames(
    interval: Option<Duration>,
    min_mid_time: Duration,
    cap: usize,
) -> usize {
    let Some(interval) = interval.filter(|i| !i.is_zero()) else {
        return 0;
    };
    let n = min_mid_time.as_secs_f64() / interval.as_secs_f64();
    if !n.is_finite() || n < 1.0 {
        return 0;
    }
    (n.floor() as usize).min(cap)
}

/// Whether `next`, `dt` after `prev`, is a cut rather than a movement: the
/// face box centre moved more than `cut_max_centre_jump` face heights, its
/// height changed by more than the factor `cut_max_size_ratio`, or its roll by
/// more than `cut_max_roll_jump` degrees (either way round the circle). Frames farther apart than
/// `cut_max_gap` are not compared (a stalled camera); neither are faces with
/// non-finite or non-positive measures.
pub fn is_cut(prev: &FaceInput, next: &FaceInput, dt: Duration, th: &Thresholds) -> bool {
    if dt > th.cut_max_gap {
        return false;
    }
    let values = [
        prev.centre[0],
        prev.centre[1],
        prev.face_size,
        prev.roll,
        next.centre[0],
        next.centre[1],
        next.face_size,
        next.roll,
    ];
    if !values.iter().all(|v| v.is_finite()) || prev.face_size <= 0.0 || next.face_size <= 0.0 {
        return false;
    }
    let size = prev.face_size.min(next.face_size);
    let moved = (next.centre[0] - prev.centre[0])
        .abs()
        .max((next.centre[1] - prev.centre[1]).abs())
        / size;
    let ratio = prev.face_size.max(next.face_size) / size;
    let roll = (next.roll - prev.roll).abs() % 360.0;
    let roll = roll.min(360.0 - roll);
    moved > th.cut_max_centre_jump || ratio > th.cut_max_size_ratio || roll > th.cut_max_roll_jump
}

/// Running median of the last few frame intervals (the camera's real rate,
/// whatever it was configured to).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameIntervals {
    recent: Vec<Duration>,
}

/// Intervals kept for the median.
const INTERVALS_KEPT: usize = 15;

impl FrameIntervals {
    /// Records the interval to the next frame (zero intervals are ignored).
    pub fn push(&mut self, dt: Duration) {
        if dt.is_zero() {
            return;
        }
        if self.recent.len() >= INTERVALS_KEPT {
            self.recent.remove(0);
        }
        self.recent.push(dt);
    }

    /// The median interval, once three are known.
    pub fn median(&self) -> Option<Duration> {
        if self.recent.len() < 3 {
            return None;
        }
        let mut v = self.recent.clone();
        v.sort();
        v.get(v.len() / 2).copied()
    }
}
