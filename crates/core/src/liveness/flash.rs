//! The screen-light challenge (flash liveness).
//!
//! During the check the kiosk screen shows a short random sequence of
//! full-screen tints ([`sequence`], seeded from the session). The screen is
//! the strongest light on a face 40 cm in front of it, so a real face's colour
//! follows the tints, one camera latency later. What is in front of the
//! camera decides how:
//!
//! - **A face** is near the screen and curved. Its skin reflects the tint
//!   (diffuse: the reflected light is the skin's albedo times the incident
//!   light), the wall behind it is much farther (inverse square law) and
//!   reflects far less, and the parts facing the screen (nose, forehead)
//!   respond more than the cheeks, which turn away from it.
//! - **A printed photo** reflects like skin but is flat: its "cheeks" respond
//!   as much as its "nose", and the photo's own background as much as its face.
//! - **A phone or tablet replaying a face** emits its own picture. The tint
//!   reaches the camera only as a faint glare on the glass, added to every
//!   pixel alike and not shaped by the face.
//! - **An injected feed** (a virtual camera) does not see the kiosk's screen
//!   at all.
//!
//! # The measure
//!
//! For every frame the vision pipeline reports the mean colour (8-bit code
//! values) of three regions ([`FaceLight`]): the centre of the face (nose and
//! nose bridge), both cheeks, and the background around the face. Colour is
//! compared as log-chroma `χ(c) = (ln R − ln G, ln B − ln G)`. Under the
//! diffuse model a tint `(r, g, b)` lighting a surface with relative strength
//! `k` multiplies each channel by `1 + k·channel`, so χ moves by
//! `≈ k·e(tint)` with `e = (r − g, b − g)`, **whatever the skin's colour**;
//! and a camera's global gain and white balance (AE/AWB) shift the face and
//! the background alike, so the *difference* `χ(face) − χ(background)` does
//! not see them. Gamma encoding scales the log by a constant.
//!
//! [`judge`] regresses that difference on `e(tint(t − lag))` over the
//! sequence, for every lag up to [`FlashParams::max_lag`], and keeps the lag
//! with the best correlation. It passes when:
//!
//! 1. enough frames were measured ([`FlashParams::min_coverage`]);
//! 2. the correlation is at least [`FlashParams::min_correlation`] and the
//!    slope (the face's response relative to the background) at least
//!    [`FlashParams::min_response`]: the light follows the sequence in time;
//! 3. the centre responds more than the cheeks by
//!    [`FlashParams::min_shape_ratio`]: the face is curved, not flat.
//!
//! The thresholds are defaults for the reflection model of the replay
//! simulation (`src/flash_sim.rs`) and a kiosk in a dim room; `lifecert
//! flash-probe` measures a real kiosk so a technician can set them there.

use std::time::Duration;

use super::plan::SplitMix64;

/// A full-screen tint, display RGB 0..1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tint {
    pub rgb: [f32; 3],
}

impl Tint {
    /// The chroma direction `(r − g, b − g)` this tint pushes a lit surface.
    pub fn direction(&self) -> [f32; 2] {
        let [r, g, b] = self.rgb;
        [r - g, b - g]
    }

    /// Display colour as 8-bit sRGB.
    pub fn rgb8(&self) -> [u8; 3] {
        self.rgb
            .map(|c| (c.clamp(0.0, 1.0) * 255.0).round().clamp(0.0, 255.0) as u8)
    }
}

/// The tints the sequence is drawn from: the six saturated primaries and
/// secondaries, whose directions span both chroma axes.
pub const PALETTE: [Tint; 6] = [
    Tint {
        rgb: [1.0, 0.0, 0.0],
    },
    Tint {
        rgb: [0.0, 1.0, 0.0],
    },
    Tint {
        rgb: [0.0, 0.0, 1.0],
    },
    Tint {
        rgb: [1.0, 1.0, 0.0],
    },
    Tint {
        rgb: [0.0, 1.0, 1.0],
    },
    Tint {
        rgb: [1.0, 0.0, 1.0],
    },
];

/// Mixed into the plan seed so the tints are not the action stream's bits.
const FLASH_STREAM: u64 = 0x666C_6173_685F_7631; // "flash_v1"

/// `slots` tints from [`PALETTE`] for `seed`: never the same tint twice in a
/// row, and (with 3 slots or more) never fewer than three different tints, so
/// both chroma axes change. The same seed always gives the same sequence.
pub fn sequence(seed: u64, slots: usize) -> Vec<Tint> {
    let mut rng = SplitMix64::new(seed ^ FLASH_STREAM);
    let mut out: Vec<usize> = Vec::with_capacity(slots);
    for i in 0..slots {
        let prev = out.last().copied();
        let before = if i >= 2 {
            out.get(i - 2).copied()
        } else {
            None
        };
        // Not the previous tint, and not the one before it (so the tints
        // never alternate between two): at least three distinct ones.
        let choices: Vec<usize> = (0..PALETTE.len())
            .filter(|&c| Some(c) != prev && Some(c) != before)
            .collect();
        if let Some(&c) = choices.get(rng.below(choices.len())) {
            out.push(c);
        }
    }
    out.into_iter()
        .filter_map(|i| PALETTE.get(i).copied())
        .collect()
}

/// Mean colours (8-bit code values, RGB) of the regions one frame measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaceLight {
    /// Nose tip and bridge.
    pub centre: [f32; 3],
    /// Both cheeks together.
    pub cheeks: [f32; 3],
    /// Around the face, outside an enlarged face box.
    pub background: [f32; 3],
}

impl FaceLight {
    fn is_finite(&self) -> bool {
        self.centre
            .iter()
            .chain(&self.cheeks)
            .chain(&self.background)
            .all(|v| v.is_finite())
    }
}

fn chroma(c: [f32; 3]) -> [f32; 2] {
    let l = c.map(|v| (v.max(0.0) + 1.0).ln());
    [l[0] - l[1], l[2] - l[1]]
}

/// One measured frame, `t` from the start of the sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashSample {
    pub t: Duration,
    pub light: FaceLight,
}

/// Settings of the screen-light challenge (`[liveness.flash]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FlashParams {
    /// Tints in the sequence.
    pub slots: usize,
    /// How long each tint shows.
    pub slot: Duration,
    /// Longest display-to-camera latency searched.
    pub max_lag: Duration,
    /// Least fraction of the sequence's time covered by measured frames.
    pub min_coverage: f32,
    /// Least correlation between the face's colour and the sequence.
    pub min_correlation: f32,
    /// Least slope (log-chroma per unit tint direction) of the face relative
    /// to the background.
    pub min_response: f32,
    /// Least ratio of the centre's response to the cheeks'.
    pub min_shape_ratio: f32,
}

/// Six tints: enough that a sequence is not guessed (6·4⁵ ≈ 6 000 orders),
/// few enough to take 2.4 s.
pub const FLASH_SLOTS: usize = 6;
/// 400 ms a tint: 2.5 changes a second stays under the WCAG 2.3.1 limit of
/// three flashes a second (photosensitive epilepsy), and gives 4 frames a
/// tint even at 10 fps.
pub const FLASH_SLOT: Duration = Duration::from_millis(400);
/// Display (one or two refreshes) plus camera (exposure, buffering) latency:
/// 50–150 ms on USB webcams; searched up to 300 ms.
pub const FLASH_MAX_LAG: Duration = Duration::from_millis(300);
/// Frames must cover at least 60 % of the sequence (a face lost for a moment
/// is tolerated; most of the sequence must be seen).
pub const FLASH_MIN_COVERAGE: f32 = 0.6;
/// Correlation of 0.5: noise alone, with ≥ 12 frames × 2 chroma axes,
/// correlates below 0.5 with odds of about 1 in 400 at the best of 31 lags
/// searched (σ ≈ 1/√24 ≈ 0.2, so 0.5 ≈ 2.5 σ; see the proptest for noise).
/// The simulated face measured 0.93–0.99.
pub const FLASH_MIN_CORRELATION: f32 = 0.5;
/// Response slope of 0.02: the reflection model's face (flash 25 % of the
/// ambient light at the nose, background 3× farther) gives ≈ 0.08; a phone
/// screen's glare gives < 0.01; code-value noise on a region mean ≈ 0.003.
pub const FLASH_MIN_RESPONSE: f32 = 0.02;
/// Centre/cheek response ratio of 1.05: an ellipsoid head lit from the
/// screen gives ≈ 1.2 (cheek normals about 35° from the screen), a flat
/// surface 1.0. Conservative, because side light in a real room changes the
/// cheeks' share; `flash-probe` measures it on site.
pub const FLASH_MIN_SHAPE_RATIO: f32 = 1.05;

impl Default for FlashParams {
    fn default() -> Self {
        FlashParams {
            slots: FLASH_SLOTS,
            slot: FLASH_SLOT,
            max_lag: FLASH_MAX_LAG,
            min_coverage: FLASH_MIN_COVERAGE,
            min_correlation: FLASH_MIN_CORRELATION,
            min_response: FLASH_MIN_RESPONSE,
            min_shape_ratio: FLASH_MIN_SHAPE_RATIO,
        }
    }
}

impl FlashParams {
    /// How long the tints show.
    pub fn duration(&self) -> Duration {
        self.slot
            .saturating_mul(u32::try_from(self.slots).unwrap_or(u32::MAX))
    }

    /// How long the phase lasts: the sequence plus the longest lag.
    pub fn phase_duration(&self) -> Duration {
        self.duration().saturating_add(self.max_lag)
    }
}

/// The tint showing `t` after the sequence started, if any.
pub fn tint_at(tints: &[Tint], slot: Duration, t: Duration) -> Option<Tint> {
    if slot.is_zero() {
        return None;
    }
    let i = usize::try_from(t.as_nanos() / slot.as_nanos()).ok()?;
    tints.get(i).copied()
}

/// What the challenge found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashVerdict {
    Passed,
    /// Too few frames measured during the sequence.
    TooFewFrames,
    /// The face's colour did not follow the sequence (correlation or response
    /// too low): a screen, an injected feed, or no light reaching the face.
    NoResponse,
    /// It followed, but the centre did not respond more than the cheeks: a
    /// flat surface.
    Flat,
}

impl FlashVerdict {
    pub fn name(self) -> &'static str {
        match self {
            FlashVerdict::Passed => "passed",
            FlashVerdict::TooFewFrames => "too_few_frames",
            FlashVerdict::NoResponse => "no_response",
            FlashVerdict::Flat => "flat",
        }
    }
}

/// The challenge's figures, for the verdict and the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashReport {
    pub verdict: FlashVerdict,
    /// Frames used.
    pub frames: u32,
    /// Fraction of the sequence covered by frames.
    pub coverage: f32,
    /// Best correlation found (face − background against the tints).
    pub correlation: f32,
    /// The lag it was found at.
    pub lag: Duration,
    /// Slope of the face (centre and cheeks) relative to the background.
    pub response: f32,
    /// Centre slope / cheek slope.
    pub shape_ratio: f32,
}

/// Least-squares slope and correlation of `y` on `x` (pairs of 2-D points,
/// each axis centred on its own mean).
fn fit(pairs: &[([f32; 2], [f32; 2])]) -> (f32, f32) {
    let n = pairs.len() as f64;
    if n < 2.0 {
        return (0.0, 0.0);
    }
    let mut mx = [0.0f64; 2];
    let mut my = [0.0f64; 2];
    for (x, y) in pairs {
        for k in 0..2 {
            mx[k] += f64::from(x[k]) / n;
            my[k] += f64::from(y[k]) / n;
        }
    }
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in pairs {
        for k in 0..2 {
            let dx = f64::from(x[k]) - mx[k];
            let dy = f64::from(y[k]) - my[k];
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
    }
    if sxx <= f64::EPSILON {
        return (0.0, 0.0);
    }
    let slope = sxy / sxx;
    let corr = if syy <= f64::MIN_POSITIVE {
        0.0
    } else {
        sxy / (sxx.sqrt() * syy.sqrt())
    };
    (slope as f32, corr as f32)
}

fn sub(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

/// Samples paired with the tint direction expected at their time.
type Pairs<'a> = Vec<([f32; 2], &'a FlashSample)>;

/// Judges the samples of one sequence (see the module documentation).
/// Non-finite samples are ignored; no input panics.
pub fn judge(tints: &[Tint], params: &FlashParams, samples: &[FlashSample]) -> FlashReport {
    let usable: Vec<&FlashSample> = samples.iter().filter(|s| s.light.is_finite()).collect();
    let duration = params.duration();
    let mut report = FlashReport {
        verdict: FlashVerdict::TooFewFrames,
        frames: 0,
        coverage: 0.0,
        correlation: 0.0,
        lag: Duration::ZERO,
        response: 0.0,
        shape_ratio: 0.0,
    };
    if tints.is_empty() || duration.is_zero() || params.slot.is_zero() {
        return report;
    }
    // Best lag, in 10 ms steps.
    let step = Duration::from_millis(10);
    let mut lag = Duration::ZERO;
    let mut best: Option<(f32, Duration, Pairs<'_>)> = None;
    loop {
        let pairs: Pairs<'_> = usable
            .iter()
            .filter_map(|s| {
                let t = s.t.checked_sub(lag)?;
                tint_at(tints, params.slot, t).map(|tint| (tint.direction(), *s))
            })
            .collect();
        let xy: Vec<([f32; 2], [f32; 2])> = pairs
            .iter()
            .map(|(e, s)| (*e, face_minus_background(&s.light)))
            .collect();
        let (_, corr) = fit(&xy);
        if corr.is_finite() && best.as_ref().is_none_or(|(c, _, _)| corr > *c) {
            best = Some((corr, lag, pairs));
        }
        if lag >= params.max_lag {
            break;
        }
        lag = lag.saturating_add(step).min(params.max_lag);
    }
    let Some((corr, lag, pairs)) = best else {
        return report;
    };
    // Coverage: distinct 50 ms bins of the sequence holding a frame.
    let bin = Duration::from_millis(50);
    let bins = duration.as_nanos().div_ceil(bin.as_nanos()).max(1);
    let mut seen: Vec<u128> = pairs
        .iter()
        .filter_map(|(_, s)| s.t.checked_sub(lag))
        .map(|t| t.as_nanos() / bin.as_nanos())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    // A frame covers the time to the next one, up to 150 ms.
    let per_frame = 3u128;
    let covered = seen
        .windows(2)
        .map(|w| (w[1] - w[0]).min(per_frame))
        .sum::<u128>()
        + u128::from(!seen.is_empty());
    report.frames = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
    report.coverage = (covered as f64 / bins as f64).min(1.0) as f32;
    report.correlation = corr;
    report.lag = lag;
    let slope_of = |f: fn(&FaceLight) -> [f32; 2]| {
        let xy: Vec<([f32; 2], [f32; 2])> = pairs.iter().map(|(e, s)| (*e, f(&s.light))).collect();
        fit(&xy).0
    };
    report.response = slope_of(face_minus_background);
    let centre = slope_of(|l| sub(chroma(l.centre), chroma(l.background)));
    let cheeks = slope_of(|l| sub(chroma(l.cheeks), chroma(l.background)));
    report.shape_ratio = if cheeks > 1e-6 {
        centre / cheeks
    } else if centre > 1e-6 {
        f32::INFINITY
    } else {
        0.0
    };
    report.verdict = if report.coverage < params.min_coverage || report.frames < 4 {
        FlashVerdict::TooFewFrames
    } else if !(super::ge(corr, params.min_correlation)
        && super::ge(report.response, params.min_response))
    {
        FlashVerdict::NoResponse
    } else if !super::ge(report.shape_ratio, params.min_shape_ratio) {
        FlashVerdict::Flat
    } else {
        FlashVerdict::Passed
    };
    report
}

/// χ(face) − χ(background), the face being centre and cheeks together.
fn face_minus_background(l: &FaceLight) -> [f32; 2] {
    let face = [0, 1, 2].map(|k| (l.centre[k] + l.cheeks[k]) / 2.0);
    sub(chroma(face), chroma(l.background))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const FRAME: Duration = Duration::from_micros(41_667); // 24 fps

    /// Light of a scene: each region's colour times `1 + k·tint` for the tint
    /// showing `lag` earlier (the reflection model of the module docs).
    fn scene(
        tints: &[Tint],
        p: &FlashParams,
        gains: [f32; 3],
        lag: Duration,
        every: Duration,
    ) -> Vec<FlashSample> {
        let (centre, cheeks, background) = ([150.0, 110.0, 90.0], [140.0, 100.0, 85.0], [90.0; 3]);
        let lit = |c: [f32; 3], k: f32, t: Option<Tint>| -> [f32; 3] {
            let tint = t.map_or([0.0; 3], |t| t.rgb);
            [0, 1, 2].map(|i| c[i] * (1.0 + k * tint[i]))
        };
        let mut out = Vec::new();
        let mut t = Duration::ZERO;
        while t < p.phase_duration() {
            let tint = t.checked_sub(lag).and_then(|s| tint_at(tints, p.slot, s));
            out.push(FlashSample {
                t,
                light: FaceLight {
                    centre: lit(centre, gains[0], tint),
                    cheeks: lit(cheeks, gains[1], tint),
                    background: lit(background, gains[2], tint),
                },
            });
            t += every;
        }
        out
    }

    #[rstest]
    #[case::face(            [0.25, 0.20, 0.03], 100, FlashVerdict::Passed)]
    #[case::face_late(       [0.25, 0.20, 0.03], 250, FlashVerdict::Passed)]
    #[case::face_no_lag(     [0.25, 0.20, 0.03], 0,   FlashVerdict::Passed)]
    #[case::flat_print(      [0.22, 0.22, 0.03], 100, FlashVerdict::Flat)]
    #[case::print_filling(   [0.22, 0.22, 0.22], 100, FlashVerdict::NoResponse)]
    #[case::screen_glare(    [0.01, 0.01, 0.01], 100, FlashVerdict::NoResponse)]
    #[case::injected(        [0.0, 0.0, 0.0],    100, FlashVerdict::NoResponse)]
    #[case::too_weak(        [0.015, 0.012, 0.0], 100, FlashVerdict::NoResponse)]
    fn scenes_get_their_verdict(
        #[case] gains: [f32; 3],
        #[case] lag_ms: u64,
        #[case] want: FlashVerdict,
    ) {
        let p = FlashParams::default();
        let tints = sequence(7, p.slots);
        let lag = Duration::from_millis(lag_ms);
        let r = judge(&tints, &p, &scene(&tints, &p, gains, lag, FRAME));
        assert_eq!(r.verdict, want, "{r:?}");
        if want == FlashVerdict::Passed {
            assert!(r.lag.abs_diff(lag) <= Duration::from_millis(45), "{r:?}");
            assert!(r.correlation > 0.9, "{r:?}");
        }
    }

    #[rstest]
    #[case::ten_fps(Duration::from_millis(100))]
    #[case::fifteen_fps(Duration::from_micros(66_667))]
    #[case::thirty_fps(Duration::from_micros(33_333))]
    fn slow_and_fast_cameras_pass_a_face(#[case] every: Duration) {
        let p = FlashParams::default();
        let tints = sequence(3, p.slots);
        let s = scene(
            &tints,
            &p,
            [0.25, 0.2, 0.03],
            Duration::from_millis(80),
            every,
        );
        assert_eq!(judge(&tints, &p, &s).verdict, FlashVerdict::Passed);
    }

    #[test]
    fn a_response_to_another_sequence_does_not_pass() {
        // A replay that learnt an earlier session's tints.
        let p = FlashParams::default();
        let shown = sequence(1, p.slots);
        let other = sequence(2, p.slots);
        assert_ne!(shown, other);
        let s = scene(
            &other,
            &p,
            [0.25, 0.2, 0.03],
            Duration::from_millis(100),
            FRAME,
        );
        let r = judge(&shown, &p, &s);
        assert_ne!(r.verdict, FlashVerdict::Passed, "{r:?}");
    }

    #[test]
    fn too_few_frames_are_not_judged() {
        let p = FlashParams::default();
        let tints = sequence(9, p.slots);
        let s = scene(&tints, &p, [0.25, 0.2, 0.03], Duration::ZERO, FRAME);
        // Only the first half second was seen.
        let short: Vec<FlashSample> = s
            .into_iter()
            .filter(|x| x.t < Duration::from_millis(500))
            .collect();
        assert_eq!(
            judge(&tints, &p, &short).verdict,
            FlashVerdict::TooFewFrames
        );
        assert_eq!(judge(&tints, &p, &[]).verdict, FlashVerdict::TooFewFrames);
        assert_eq!(judge(&[], &p, &[]).verdict, FlashVerdict::TooFewFrames);
    }

    #[rstest]
    #[case(0)]
    #[case(1)]
    #[case(42)]
    #[case(u64::MAX)]
    fn sequences_change_every_slot_and_use_three_tints(#[case] seed: u64) {
        let s = sequence(seed, 6);
        assert_eq!(s.len(), 6);
        assert_eq!(s, sequence(seed, 6), "deterministic");
        for w in s.windows(2) {
            assert_ne!(w[0], w[1]);
        }
        for w in s.windows(3) {
            assert_ne!(w[0], w[2], "never alternates between two tints");
        }
        assert!(s.iter().all(|t| PALETTE.contains(t)));
    }

    #[test]
    fn the_tint_showing_follows_the_slots() {
        let tints = sequence(5, 3);
        let slot = Duration::from_millis(400);
        assert_eq!(tint_at(&tints, slot, Duration::ZERO), Some(tints[0]));
        assert_eq!(
            tint_at(&tints, slot, Duration::from_millis(799)),
            Some(tints[1])
        );
        assert_eq!(tint_at(&tints, slot, Duration::from_millis(1200)), None);
        assert_eq!(tint_at(&tints, Duration::ZERO, Duration::ZERO), None);
    }

    fn rgb() -> impl Strategy<Value = [f32; 3]> {
        prop::array::uniform3(prop_oneof![
            -1e6f32..1e6,
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(0.0)
        ])
    }

    proptest! {
        #[test]
        fn random_samples_never_panic(
            seed in any::<u64>(),
            samples in prop::collection::vec(
                (0u64..5_000, rgb(), rgb(), rgb()),
                0..120,
            ),
        ) {
            let p = FlashParams::default();
            let tints = sequence(seed, p.slots);
            let s: Vec<FlashSample> = samples
                .into_iter()
                .map(|(ms, centre, cheeks, background)| FlashSample {
                    t: Duration::from_millis(ms),
                    light: FaceLight { centre, cheeks, background },
                })
                .collect();
            let r = judge(&tints, &p, &s);
            prop_assert!(r.coverage >= 0.0 && r.coverage <= 1.0);
            prop_assert!(r.lag <= p.max_lag);
        }

        /// A scene that does not answer the light (a screen, an injected
        /// feed), whatever its noise up to ±1 code value, never passes.
        #[test]
        fn an_unlit_scene_with_sensor_noise_never_passes(
            seed in any::<u64>(),
            noise in prop::collection::vec(prop::array::uniform3(-1.0f32..1.0), 80),
        ) {
            let p = FlashParams::default();
            let tints = sequence(seed, p.slots);
            let s: Vec<FlashSample> = noise
                .iter()
                .enumerate()
                .map(|(i, n)| FlashSample {
                    t: FRAME * i as u32,
                    light: FaceLight {
                        centre: [150.0 + n[0], 110.0 + n[1], 90.0 + n[2]],
                        cheeks: [140.0 - n[1], 100.0 + n[2], 85.0 - n[0]],
                        background: [90.0 + n[2], 90.0 - n[0], 90.0 + n[1]],
                    },
                })
                .collect();
            let r = judge(&tints, &p, &s);
            prop_assert_ne!(r.verdict, FlashVerdict::Passed, "{:?}", r);
        }
    }
}
