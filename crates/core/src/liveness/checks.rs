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

/// Face points compared by the 3-D check of turns ([`homography_residual`]),
/// in the face's own frame (see `FaceInput::shape`).
pub const SHAPE_POINTS: usize = 12;

/// How far the face points of a turn are from any flat picture of the
/// baseline face: the RMS distance (in face heights) between `after` and the
/// best projective map (homography) of `before` onto it.
///
/// All points of a flat picture lie on one plane, and a plane seen from any
/// camera position maps to another view by a homography, so a turned, tilted
/// or rotated photo leaves a residual of only the landmark noise. A head is
/// not flat: the nose tip, the cheeks and the jaw lie at different depths, so
/// a turn moves them relative to one another (parallax) in a way no
/// homography reproduces. This generalises the nose-offset test.
///
/// Least squares with the last entry of the map fixed at 1, on
/// Hartley-normalised points. `None` with fewer than 5 finite pairs or a
/// degenerate fit; never panics.
pub fn homography_residual(before: &[[f32; 2]], after: &[[f32; 2]]) -> Option<f32> {
    let pairs: Vec<([f64; 2], [f64; 2])> = before
        .iter()
        .zip(after)
        .filter(|(a, b)| a.iter().chain(b.iter()).all(|v| v.is_finite()))
        .map(|(a, b)| {
            (
                [f64::from(a[0]), f64::from(a[1])],
                [f64::from(b[0]), f64::from(b[1])],
            )
        })
        .collect();
    if pairs.len() < 5 {
        return None;
    }
    // Hartley normalisation: centroid at 0, mean distance √2.
    let norm = |pts: Vec<[f64; 2]>| -> Option<(Vec<[f64; 2]>, f64)> {
        let n = pts.len() as f64;
        let c = [
            pts.iter().map(|p| p[0]).sum::<f64>() / n,
            pts.iter().map(|p| p[1]).sum::<f64>() / n,
        ];
        let d = pts
            .iter()
            .map(|p| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt())
            .sum::<f64>()
            / n;
        if d <= 1e-12 {
            return None;
        }
        let s = std::f64::consts::SQRT_2 / d;
        Some((
            pts.iter()
                .map(|p| [(p[0] - c[0]) * s, (p[1] - c[1]) * s])
                .collect(),
            s,
        ))
    };
    let (a, _) = norm(pairs.iter().map(|p| p.0).collect())?;
    let (b, sb) = norm(pairs.iter().map(|p| p.1).collect())?;
    // Normal equations of the 8 unknowns h11..h32 (h33 = 1).
    let mut m = [[0.0f64; 9]; 8];
    for (p, q) in a.iter().zip(&b) {
        let (x, y, u, v) = (p[0], p[1], q[0], q[1]);
        let rows = [
            [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u],
            [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v],
        ];
        for r in rows {
            for i in 0..8 {
                for j in 0..9 {
                    m[i][j] += r[i] * r[j];
                }
            }
        }
    }
    let h = solve8(m)?;
    let mut sum = 0.0f64;
    for (p, q) in a.iter().zip(&b) {
        let w = h[6] * p[0] + h[7] * p[1] + 1.0;
        if w.abs() < 1e-9 {
            return None;
        }
        let u = (h[0] * p[0] + h[1] * p[1] + h[2]) / w;
        let v = (h[3] * p[0] + h[4] * p[1] + h[5]) / w;
        sum += (u - q[0]).powi(2) + (v - q[1]).powi(2);
    }
    // Back to the units of `after`.
    let rms = (sum / a.len() as f64).sqrt() / sb;
    rms.is_finite().then_some(rms as f32)
}

/// Solves the 8×8 system `m[..][..8] · h = m[..][8]` (Gaussian elimination
/// with partial pivoting); `None` when singular.
fn solve8(mut m: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let top = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / top[col];
                for (x, t) in row.iter_mut().zip(top.iter()).skip(col) {
                    *x -= f * t;
                }
            }
        }
    }
    let mut h = [0.0f64; 8];
    for (i, v) in h.iter_mut().enumerate() {
        *v = m[i][8] / m[i][i];
    }
    h.iter().all(|v| v.is_finite()).then_some(h)
}

#[cfg(test)]
pub(super) mod residual_tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    /// Head-like points (x, y, depth toward the camera), in face heights:
    /// nose tip and bridge in front, cheeks and jaw behind.
    const HEAD: [[f32; 3]; SHAPE_POINTS] = [
        [0.0, 0.05, 0.30],
        [0.0, -0.12, 0.18],
        [0.0, -0.45, 0.10],
        [0.0, 0.45, 0.08],
        [-0.30, -0.15, 0.05],
        [0.30, -0.15, 0.05],
        [-0.10, -0.14, 0.10],
        [0.10, -0.14, 0.10],
        [-0.17, 0.25, 0.10],
        [0.17, 0.25, 0.10],
        [-0.25, 0.02, 0.06],
        [0.25, 0.02, 0.06],
    ];

    /// The points turned by `yaw` and tilted by `pitch` (degrees), seen
    /// through a pinhole camera 3 face heights away. `flat`: all at depth 0.
    pub(in crate::liveness) fn view(yaw: f32, pitch: f32, flat: bool) -> [[f32; 2]; SHAPE_POINTS] {
        let (y, p) = (yaw.to_radians(), pitch.to_radians());
        HEAD.map(|[x, v, z]| {
            let z = if flat { 0.0 } else { z };
            let (x, z) = (x * y.cos() + z * y.sin(), -x * y.sin() + z * y.cos());
            let (v, z) = (v * p.cos() - z * p.sin(), v * p.sin() + z * p.cos());
            let d = 3.0 - z;
            [x * 3.0 / d, v * 3.0 / d]
        })
    }

    #[rstest]
    #[case::flat_turned(30.0, 0.0, true, 0.0, 0.001)]
    #[case::flat_tilted(0.0, 25.0, true, 0.0, 0.001)]
    #[case::flat_both(35.0, -20.0, true, 0.0, 0.001)]
    #[case::head_turned_20(20.0, 0.0, false, 0.012, 1.0)]
    #[case::head_turned_35(35.0, 0.0, false, 0.02, 1.0)]
    #[case::head_turned_right(-25.0, 0.0, false, 0.012, 1.0)]
    #[case::head_still(0.0, 0.0, false, 0.0, 0.001)]
    fn flat_pictures_fit_a_homography_and_heads_do_not(
        #[case] yaw: f32,
        #[case] pitch: f32,
        #[case] flat: bool,
        #[case] lo: f32,
        #[case] hi: f32,
    ) {
        let r = homography_residual(&view(0.0, 0.0, flat), &view(yaw, pitch, flat)).unwrap();
        assert!(r >= lo && r < hi, "residual {r} not in [{lo}, {hi})");
    }

    #[test]
    fn too_few_or_degenerate_points_give_none() {
        let zeros = [[0.0f32; 2]; SHAPE_POINTS];
        assert_eq!(homography_residual(&zeros, &zeros), None);
        let v = view(0.0, 0.0, false);
        assert_eq!(homography_residual(&v[..4], &v[..4]), None);
        let mut nan = v;
        for p in nan.iter_mut().skip(4) {
            p[0] = f32::NAN;
        }
        assert_eq!(homography_residual(&nan, &v), None);
    }

    proptest! {
        #[test]
        fn random_points_never_panic(
            a in prop::collection::vec(prop::array::uniform2(prop_oneof![
                -1e6f32..1e6, Just(f32::NAN), Just(f32::INFINITY), Just(0.0)]), 0..20),
            b in prop::collection::vec(prop::array::uniform2(-1e6f32..1e6), 0..20),
        ) {
            if let Some(r) = homography_residual(&a, &b) {
                prop_assert!(r.is_finite() && r >= 0.0);
            }
        }
    }
}
