//! Face matching policy: which frames to embed, how to average them and when a
//! distance to the enrolled template is a match.
//!
//! Pure math on 128-D dlib-ResNet descriptors (`faceapi_recognition_u8`), no
//! vision dependency. Descriptors are compared with the Euclidean distance
//! (MODELS.md §6.6); lower is more alike.
//!
//! # Calibration of the threshold
//!
//! On this project's identity set (79 photos, 349 genuine / 2732 impostor
//! pairs, ROC AUC 0.9999):
//!
//! | distance threshold | false rejects | false accepts |
//! |---|---|---|
//! | 0.50 | 8.6 % | 0.00 % |
//! | 0.55 | 2.0 % | 0.04 % |
//! | 0.585 (FAR 0.1 %) | 0.6 % | 0.10 % |
//! | 0.60 | 0.6 % | 0.18 % |
//!
//! On MODELS.md's harder grey LFW crops the false-accept rate is 0.10 % at
//! 0.50 and 0.99 % at 0.55. The kiosk default stays at **0.50**
//! ([`DEFAULT_THRESHOLD`]): a false accept lets someone else draw a pension,
//! a false reject costs another attempt. Averaging 3–5 good frames
//! ([`MatchPolicy::select_frames`]) pulls genuine distances down, and the
//! uncertainty margin asks for another attempt instead of failing outright
//! just below the line.

/// Length of a face descriptor.
pub const EMBEDDING_DIM: usize = 128;

/// A face descriptor (dlib-ResNet, not normalised).
pub type Embedding = [f32; EMBEDDING_DIM];

/// Default of config `matching.threshold`: see the module documentation.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Default of config `matching.margin` (`kiosk.toml`): distances in
/// [0.47, 0.50) are "uncertain" and ask for another capture. Impostor pairs
/// of the identity set measured 0.70 and more, so the band only catches
/// genuine faces near the line (and the rare hard impostor).
pub const DEFAULT_MARGIN: f32 = 0.03;
/// Default of config `matching.attempts`: captures per certification before
/// appeal / staff help (DESIGN.md §2).
pub const DEFAULT_ATTEMPTS: u8 = 3;
/// Fewest frames averaged for a match (DESIGN.md §3: best 3–5).
pub const MIN_BEST_FRAMES: usize = 3;
/// Most frames averaged for a match.
pub const MAX_BEST_FRAMES: usize = 5;

/// Frame selection: EAR (smaller eye) below this is "eyes closed" and the
/// frame is not used. Attention mesh: closed ≤ 0.111, open ≥ 0.21 when frontal.
pub const SELECT_MIN_EAR: f32 = 0.15;
/// Frame selection: |yaw| above this (degrees) is "turned" and not used. The
/// descriptor is trained on roughly frontal faces; turns start at 20°.
pub const SELECT_MAX_YAW: f32 = 20.0;
/// Frame selection: |pitch − neutral| above this (degrees) is not used; nods
/// start at 12° from neutral.
pub const SELECT_MAX_PITCH_DELTA: f32 = 12.0;
/// Frame selection: mesh presence below this is not a face.
pub const SELECT_MIN_PRESENCE: f32 = 0.5;
/// Frame selection: sharpness (variance of the Laplacian) at which the
/// sharpness factor is one half. Sharp webcam faces measured 177–1700, a
/// σ 2 Gaussian blur 49, σ 4 15: 100 ranks the blurred frames clearly lower
/// while sharp frames score 0.64–0.94.
pub const SELECT_SHARPNESS_HALF: f32 = 100.0;
/// Frame selection: EAR (smaller eye) at which the eye factor reaches one
/// (open eyes measured 0.24–0.35).
pub const SELECT_OPEN_EAR: f32 = 0.24;

/// One frame that could be embedded for matching (the liveness engine records
/// its samples as candidates: `liveness::Evidence::candidates`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Candidate {
    /// The caller's index of the frame (or of its embedding).
    pub index: u32,
    /// Variance of the Laplacian of the face box.
    pub sharpness: f32,
    /// Degrees, 0 = frontal.
    pub yaw: f32,
    /// Degrees from the session's neutral pitch.
    pub pitch_delta: f32,
    /// EAR of the less open eye.
    pub ear_min: f32,
    /// Mesh presence (0..1).
    pub presence: f32,
}

impl Candidate {
    /// Whether the frame may be used at all: finite measures, a face, eyes
    /// open, roughly frontal.
    pub fn usable(&self) -> bool {
        self.presence >= SELECT_MIN_PRESENCE
            && self.ear_min >= SELECT_MIN_EAR
            && self.yaw.abs() <= SELECT_MAX_YAW
            && self.pitch_delta.abs() <= SELECT_MAX_PITCH_DELTA
            && self.sharpness > 0.0
            && self.sharpness.is_finite()
            && self.ear_min.is_finite()
    }

    /// Quality score in 0..1 (0 for unusable frames), the product of:
    /// - sharpness `s / (s + SELECT_SHARPNESS_HALF)`;
    /// - frontality `(1 − ½(yaw/SELECT_MAX_YAW)²) · (1 − ½(pitchΔ/SELECT_MAX_PITCH_DELTA)²)`
    ///   (1 when frontal, ¼ at both limits);
    /// - eyes `min(ear_min / SELECT_OPEN_EAR, 1)`;
    /// - presence (clamped to 0..1).
    pub fn score(&self) -> f32 {
        if !self.usable() {
            return 0.0;
        }
        let sharp = self.sharpness / (self.sharpness + SELECT_SHARPNESS_HALF);
        let y = self.yaw / SELECT_MAX_YAW;
        let p = self.pitch_delta / SELECT_MAX_PITCH_DELTA;
        let frontal = (1.0 - 0.5 * y * y) * (1.0 - 0.5 * p * p);
        let eyes = (self.ear_min / SELECT_OPEN_EAR).min(1.0);
        let score = sharp * frontal * eyes * self.presence.clamp(0.0, 1.0);
        if score.is_finite() { score } else { 0.0 }
    }
}

/// The answer for one averaged live descriptor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchDecision {
    /// Below `threshold − margin`: the same person. `score` is the similarity
    /// in 0..1 ([`similarity`]).
    Match { score: f32 },
    /// In `[threshold − margin, threshold)`: too close to call; take another
    /// capture instead of passing.
    Uncertain,
    /// At or above the threshold (or not a number): not the same person.
    NoMatch,
}

/// Matching settings, from config `[matching]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchPolicy {
    /// Largest Euclidean distance that can match (`matching.threshold`).
    pub threshold: f32,
    /// Width of the uncertain band below the threshold (`matching.margin`).
    pub margin: f32,
    /// Captures per certification (`matching.attempts`).
    pub attempts: u8,
    /// Frames averaged per capture, 3..=5.
    pub best_frames: usize,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy {
            threshold: DEFAULT_THRESHOLD,
            margin: DEFAULT_MARGIN,
            attempts: DEFAULT_ATTEMPTS,
            best_frames: MIN_BEST_FRAMES,
        }
    }
}

impl MatchPolicy {
    /// A policy from config values, made safe: a non-finite or non-positive
    /// threshold falls back to [`DEFAULT_THRESHOLD`]; the margin is clamped
    /// to `0..threshold` (not a number → 0); at least one attempt;
    /// `best_frames` clamped to 3..=5.
    pub fn new(threshold: f32, margin: f32, attempts: u8, best_frames: usize) -> MatchPolicy {
        let threshold = if threshold.is_finite() && threshold > 0.0 {
            threshold
        } else {
            DEFAULT_THRESHOLD
        };
        let margin = if margin.is_finite() {
            margin.clamp(0.0, threshold * 0.99)
        } else {
            0.0
        };
        MatchPolicy {
            threshold,
            margin,
            attempts: attempts.max(1),
            best_frames: best_frames.clamp(MIN_BEST_FRAMES, MAX_BEST_FRAMES),
        }
    }

    /// Decides on the distance between the averaged live descriptor and the
    /// template.
    pub fn decide(&self, distance: f32) -> MatchDecision {
        if !distance.is_finite() || distance < 0.0 {
            return MatchDecision::NoMatch;
        }
        if distance < self.threshold - self.margin {
            MatchDecision::Match {
                score: similarity(distance),
            }
        } else if distance < self.threshold {
            MatchDecision::Uncertain
        } else {
            MatchDecision::NoMatch
        }
    }

    /// Averages the live descriptors and decides against the template;
    /// `NoMatch` when there is nothing (finite) to average.
    pub fn compare(&self, live: &[Embedding], template: &Embedding) -> MatchDecision {
        match mean_embedding(live) {
            Some(mean) => self.decide(euclidean_distance(&mean, template)),
            None => MatchDecision::NoMatch,
        }
    }

    /// Indices of the best frames to embed, best first: at most
    /// `best_frames`, fewer when fewer are usable (none: ask for another
    /// capture). Unusable frames (eyes closed, turned, nodded, no face, not
    /// a number) are never chosen; the rest are ranked by
    /// [`Candidate::score`], ties by lower index. A repeated index counts once.
    pub fn select_frames(&self, candidates: &[Candidate]) -> Vec<u32> {
        let mut scored: Vec<(f32, u32)> = candidates
            .iter()
            .filter(|c| c.usable())
            .map(|c| (c.score(), c.index))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut chosen: Vec<u32> = Vec::with_capacity(self.best_frames);
        for (_, index) in scored {
            if chosen.len() >= self.best_frames {
                break;
            }
            if !chosen.contains(&index) {
                chosen.push(index);
            }
        }
        chosen
    }

    /// Attempts left after `used` captures.
    pub fn attempts_left(&self, used: u8) -> u8 {
        self.attempts.saturating_sub(used)
    }
}

/// Similarity in 0..1 shown for a distance: `clamp(1 − d/2)` (0 for not a
/// number). Threshold 0.50 ↔ 0.75.
pub fn similarity(distance: f32) -> f32 {
    let s = 1.0 - distance / 2.0;
    if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) }
}

/// Element-wise mean of the descriptors; `None` when there are none or any
/// value is not finite.
pub fn mean_embedding(embeddings: &[Embedding]) -> Option<Embedding> {
    if embeddings.is_empty() {
        return None;
    }
    let mut sum = [0.0f64; EMBEDDING_DIM];
    for e in embeddings {
        for (s, &v) in sum.iter_mut().zip(e.iter()) {
            if !v.is_finite() {
                return None;
            }
            *s += f64::from(v);
        }
    }
    let n = embeddings.len() as f64;
    let mut mean = [0.0f32; EMBEDDING_DIM];
    for (m, s) in mean.iter_mut().zip(sum.iter()) {
        *m = (s / n) as f32;
    }
    Some(mean)
}

/// Euclidean distance between two descriptors (not a number if either holds one).
pub fn euclidean_distance(a: &Embedding, b: &Embedding) -> f32 {
    let sum: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    sum.sqrt() as f32
}

/// The largest distance of any descriptor to their mean (MODELS.md §6.6:
/// "average the descriptors and re-check each frame against the average");
/// `None` when there is no mean.
pub fn spread(embeddings: &[Embedding]) -> Option<f32> {
    let mean = mean_embedding(embeddings)?;
    Some(
        embeddings
            .iter()
            .map(|e| euclidean_distance(e, &mean))
            .fold(0.0f32, f32::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn policy() -> MatchPolicy {
        MatchPolicy::new(0.5, 0.03, 3, 3)
    }

    #[rstest]
    #[case(0.0, MatchDecision::Match { score: 1.0 })]
    #[case(0.3, MatchDecision::Match { score: 0.85 })]
    #[case(0.469, MatchDecision::Match { score: similarity(0.469) })]
    #[case(0.47, MatchDecision::Uncertain)]
    #[case(0.499, MatchDecision::Uncertain)]
    #[case(0.5, MatchDecision::NoMatch)]
    #[case(0.8, MatchDecision::NoMatch)]
    #[case(f32::NAN, MatchDecision::NoMatch)]
    #[case(f32::INFINITY, MatchDecision::NoMatch)]
    #[case(-0.1, MatchDecision::NoMatch)]
    fn decide_table(#[case] d: f32, #[case] want: MatchDecision) {
        assert_eq!(policy().decide(d), want);
    }

    #[test]
    fn zero_margin_has_no_uncertain_band() {
        let p = MatchPolicy::new(0.5, 0.0, 3, 3);
        assert!(matches!(p.decide(0.4999), MatchDecision::Match { .. }));
        assert_eq!(p.decide(0.5), MatchDecision::NoMatch);
    }

    #[rstest]
    #[case((f32::NAN, 0.03, 0, 1), (DEFAULT_THRESHOLD, 0.03, 1, 3))]
    #[case((0.55, f32::NAN, 3, 9), (0.55, 0.0, 3, 5))]
    #[case((0.1, 0.5, 2, 4), (0.1, 0.099, 2, 4))]
    #[case((-1.0, -0.2, 5, 3), (DEFAULT_THRESHOLD, 0.0, 5, 3))]
    fn new_sanitises(#[case] given: (f32, f32, u8, usize), #[case] want: (f32, f32, u8, usize)) {
        let p = MatchPolicy::new(given.0, given.1, given.2, given.3);
        assert_eq!(p.threshold, want.0);
        assert!((p.margin - want.1).abs() < 1e-6, "{}", p.margin);
        assert_eq!(p.attempts, want.2);
        assert_eq!(p.best_frames, want.3);
    }

    #[rstest]
    #[case(0.0, 1.0)]
    #[case(0.5, 0.75)]
    #[case(1.0, 0.5)]
    #[case(2.0, 0.0)]
    #[case(3.0, 0.0)]
    #[case(f32::NAN, 0.0)]
    fn similarity_table(#[case] d: f32, #[case] want: f32) {
        assert!((similarity(d) - want).abs() < 1e-6);
    }

    fn cand(index: u32, sharpness: f32, yaw: f32, pitch_delta: f32, ear_min: f32) -> Candidate {
        Candidate {
            index,
            sharpness,
            yaw,
            pitch_delta,
            ear_min,
            presence: 1.0,
        }
    }

    #[rstest]
    // eyes closed, turned, nodded, blurry-but-usable, no face, NaN
    #[case(cand(0, 300.0, 0.0, 0.0, 0.05), false)]
    #[case(cand(0, 300.0, 30.0, 0.0, 0.3), false)]
    #[case(cand(0, 300.0, -21.0, 0.0, 0.3), false)]
    #[case(cand(0, 300.0, 0.0, 15.0, 0.3), false)]
    #[case(cand(0, 15.0, 0.0, 0.0, 0.3), true)]
    #[case(Candidate { presence: 0.2, ..cand(0, 300.0, 0.0, 0.0, 0.3) }, false)]
    #[case(cand(0, f32::NAN, 0.0, 0.0, 0.3), false)]
    #[case(cand(0, 300.0, f32::NAN, 0.0, 0.3), false)]
    #[case(cand(0, 300.0, 0.0, 0.0, f32::NAN), false)]
    #[case(cand(0, 300.0, 5.0, -3.0, 0.28), true)]
    fn usable_table(#[case] c: Candidate, #[case] want: bool) {
        assert_eq!(c.usable(), want);
        assert_eq!(c.score() > 0.0, want);
        assert!((0.0..=1.0).contains(&c.score()));
    }

    #[rstest]
    // The sharp frontal open-eyed frames win; closed/turned ones never appear.
    #[case(
        vec![
            cand(0, 300.0, 0.0, 0.0, 0.30),
            cand(1, 300.0, 0.0, 0.0, 0.05),
            cand(2, 300.0, 35.0, 0.0, 0.30),
            cand(3, 40.0, 2.0, 1.0, 0.28),
            cand(4, 500.0, 3.0, 2.0, 0.29),
            cand(5, 250.0, 12.0, 0.0, 0.30),
        ],
        3,
        vec![4, 0, 5],
    )]
    // Five wanted, only two usable.
    #[case(
        vec![cand(7, 200.0, 0.0, 0.0, 0.3), cand(8, 200.0, 0.0, 0.0, 0.1), cand(9, 100.0, 0.0, 0.0, 0.3)],
        5,
        vec![7, 9],
    )]
    // Ties go to the lower index; a repeated index counts once.
    #[case(
        vec![cand(3, 200.0, 0.0, 0.0, 0.3), cand(1, 200.0, 0.0, 0.0, 0.3), cand(1, 200.0, 0.0, 0.0, 0.3), cand(2, 200.0, 0.0, 0.0, 0.3)],
        3,
        vec![1, 2, 3],
    )]
    #[case(vec![], 3, vec![])]
    fn select_frames_table(#[case] c: Vec<Candidate>, #[case] best: usize, #[case] want: Vec<u32>) {
        let p = MatchPolicy::new(0.5, 0.03, 3, best);
        assert_eq!(p.select_frames(&c), want);
    }

    #[test]
    fn mean_and_distance() {
        let mut a = [0.0f32; EMBEDDING_DIM];
        let mut b = [0.0f32; EMBEDDING_DIM];
        a[0] = 1.0;
        b[0] = 3.0;
        b[1] = 4.0;
        let m = mean_embedding(&[a, b]).unwrap();
        assert_eq!(m[0], 2.0);
        assert_eq!(m[1], 2.0);
        assert!(m[2..].iter().all(|&v| v == 0.0));
        // |(1,0) − (3,4)| = √(4 + 16)
        assert!((euclidean_distance(&a, &b) - 20f32.sqrt()).abs() < 1e-6);
        assert_eq!(euclidean_distance(&a, &a), 0.0);
        // each is √(1 + 4) = √5 from the mean (2,2)
        assert!((spread(&[a, b]).unwrap() - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(mean_embedding(&[]), None);
        let mut bad = a;
        bad[5] = f32::NAN;
        assert_eq!(mean_embedding(&[a, bad]), None);
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn compare_averages_then_decides() {
        let p = policy();
        let template = [0.1f32; EMBEDDING_DIM];
        let mut near = template;
        near[0] += 0.2; // distance 0.2
        let mut far = template;
        far[0] += 0.6; // distance 0.6
        assert!(matches!(
            p.compare(&[near], &template),
            MatchDecision::Match { .. }
        ));
        assert_eq!(p.compare(&[far], &template), MatchDecision::NoMatch);
        // mean of the two is 0.4 away → match
        assert!(matches!(
            p.compare(&[near, far], &template),
            MatchDecision::Match { score } if (score - 0.8).abs() < 1e-5
        ));
        assert_eq!(p.compare(&[], &template), MatchDecision::NoMatch);
    }

    #[test]
    fn attempts_accounting() {
        let p = MatchPolicy::default();
        assert_eq!(p.attempts, 3);
        assert_eq!(p.attempts_left(0), 3);
        assert_eq!(p.attempts_left(2), 1);
        assert_eq!(p.attempts_left(7), 0);
        assert_eq!(p.best_frames, 3);
        assert_eq!(p.threshold, 0.5);
    }
}
