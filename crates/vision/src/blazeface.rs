//! MediaPipe BlazeFace short-range decoding (MODELS.md §6.1): anchors,
//! box/keypoint decode, weighted non-maximum suppression.

use crate::geometry::{BBox, Letterbox};
use serde::Serialize;

/// Side of the square detector input.
pub const INPUT_SIZE: usize = 128;
/// Number of anchors (16×16×2 + 8×8×6).
pub const NUM_ANCHORS: usize = 896;
/// Values per anchor in `regressors`: box (4) + 6 keypoints × 2.
pub const NUM_COORDS: usize = 16;
/// MediaPipe's own minimum score.
pub const MEDIAPIPE_SCORE_MIN: f32 = 0.5;
/// The kiosk's minimum detection score (MODELS.md §5.1: a 0.707 false
/// positive on a flag was seen).
pub const KIOSK_SCORE_MIN: f32 = 0.75;
/// Weighted-NMS overlap threshold.
pub const NMS_IOU: f32 = 0.3;

/// One face found by the detector, in image pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectedFace {
    pub score: f32,
    pub bbox: BBox,
    /// 0 = subject's right eye (image left), 1 = subject's left eye,
    /// 2 = nose tip, 3 = mouth centre, 4 = right ear tragion, 5 = left ear
    /// tragion (MODELS.md §6.1); `[x, y]` image pixels.
    pub keypoints: [[f32; 2]; 6],
}

/// Anchor centres `(x, y)` normalised to the 128 letterbox, in the model's
/// order: stride 8 (16×16 grid, 2 per cell) then stride 16 (8×8, 6 per cell),
/// each looping y, x, anchor.
pub fn anchors() -> Vec<[f32; 2]> {
    let mut out = Vec::with_capacity(NUM_ANCHORS);
    for (grid, per_cell) in [(16usize, 2usize), (8, 6)] {
        for y in 0..grid {
            for x in 0..grid {
                let a = [
                    (x as f32 + 0.5) / grid as f32,
                    (y as f32 + 0.5) / grid as f32,
                ];
                for _ in 0..per_cell {
                    out.push(a);
                }
            }
        }
    }
    out
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-100.0, 100.0)).exp())
}

/// Decodes raw outputs (`regressors` `[896·16]`, `classificators` `[896]`)
/// into candidate faces with score ≥ `score_min`, in image pixels, appended
/// to `out`. Non-finite candidates are dropped.
pub fn decode(
    regressors: &[f32],
    logits: &[f32],
    anchors: &[[f32; 2]],
    letterbox: &Letterbox,
    score_min: f32,
    out: &mut Vec<DetectedFace>,
) {
    let n = INPUT_SIZE as f32;
    let to_img = |x: f32, y: f32| letterbox.to_image([x * n, y * n]);
    for ((r, &c), a) in regressors.chunks_exact(NUM_COORDS).zip(logits).zip(anchors) {
        let score = sigmoid(c);
        // NaN scores fail this comparison too.
        if score.is_nan() || score < score_min {
            continue;
        }
        let cx = r[0] / n + a[0];
        let cy = r[1] / n + a[1];
        let w = r[2] / n;
        let h = r[3] / n;
        let p1 = to_img(cx - w * 0.5, cy - h * 0.5);
        let p2 = to_img(cx + w * 0.5, cy + h * 0.5);
        let mut keypoints = [[0.0f32; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = to_img(r[4 + 2 * k] / n + a[0], r[5 + 2 * k] / n + a[1]);
        }
        let bbox = BBox::new(p1[0], p1[1], p2[0], p2[1]);
        if bbox.is_finite()
            && keypoints
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        {
            out.push(DetectedFace {
                score,
                bbox,
                keypoints,
            });
        }
    }
}

/// MediaPipe's weighted NMS: take the best remaining candidate, gather every
/// remaining candidate overlapping it by IoU > `iou` (itself included),
/// average their boxes and keypoints weighted by score, keep the best score.
/// Returns the faces sorted by score, best first. `candidates` is consumed
/// (left empty) so its allocation can be reused.
pub fn weighted_nms(candidates: &mut Vec<DetectedFace>, iou: f32, out: &mut Vec<DetectedFace>) {
    out.clear();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    while let Some(top) = candidates.first().cloned() {
        let mut wsum = 0.0f32;
        let mut acc_box = [0.0f32; 4];
        let mut acc_kp = [[0.0f32; 2]; 6];
        let mut index = 0usize;
        // `retain` visits in order, so index 0 is `top` itself: it is always
        // taken, even when its box is degenerate and overlaps nothing.
        candidates.retain(|c| {
            let take = index == 0 || c.bbox.iou(&top.bbox) > iou;
            index += 1;
            if take {
                let w = c.score;
                wsum += w;
                acc_box[0] += c.bbox.x1 * w;
                acc_box[1] += c.bbox.y1 * w;
                acc_box[2] += c.bbox.x2 * w;
                acc_box[3] += c.bbox.y2 * w;
                for (a, k) in acc_kp.iter_mut().zip(&c.keypoints) {
                    a[0] += k[0] * w;
                    a[1] += k[1] * w;
                }
            }
            !take
        });
        let face = if wsum > 0.0 {
            let inv = 1.0 / wsum;
            let mut keypoints = acc_kp;
            for k in &mut keypoints {
                k[0] *= inv;
                k[1] *= inv;
            }
            DetectedFace {
                score: top.score,
                bbox: BBox::new(
                    acc_box[0] * inv,
                    acc_box[1] * inv,
                    acc_box[2] * inv,
                    acc_box[3] * inv,
                ),
                keypoints,
            }
        } else {
            top
        };
        out.push(face);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;

    #[test]
    fn anchors_count_and_order() {
        let a = anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        // stride 8: first cell twice, then the next x.
        assert_eq!(a[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], [1.5 / 16.0, 0.5 / 16.0]);
        // Row 1 of the 16 grid starts at index 32.
        assert_eq!(a[32], [0.5 / 16.0, 1.5 / 16.0]);
        // stride 16 starts at 512, six per cell.
        assert_eq!(a[511], [15.5 / 16.0, 15.5 / 16.0]);
        assert_eq!(a[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[517], a[512]);
        assert_eq!(a[518], [1.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[895], [7.5 / 8.0, 7.5 / 8.0]);
    }

    fn face(score: f32, x: f32) -> DetectedFace {
        DetectedFace {
            score,
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            keypoints: [[x, 0.0]; 6],
        }
    }

    #[test]
    fn weighted_nms_merges_overlaps() {
        let mut cands = vec![
            face(0.6, 2.0),
            face(0.9, 0.0),
            face(0.8, 50.0),
            face(0.3, 1.0),
        ];
        let mut out = Vec::new();
        weighted_nms(&mut cands, NMS_IOU, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        // Weighted x1 of the cluster {0.9@0, 0.6@2, 0.3@1}.
        let x = (0.9 * 0.0 + 0.6 * 2.0 + 0.3 * 1.0) / 1.8;
        assert!((out[0].bbox.x1 - x).abs() < 1e-5);
        assert!((out[0].keypoints[3][0] - x).abs() < 1e-5);
        assert_eq!(out[1].score, 0.8);
        assert_eq!(out[1].bbox.x1, 50.0);
        assert!(cands.is_empty());
    }

    #[test]
    fn weighted_nms_terminates_on_degenerate_boxes() {
        let mut cands = vec![
            DetectedFace {
                score: 0.9,
                bbox: BBox::new(1.0, 1.0, 1.0, 1.0),
                keypoints: [[0.0; 2]; 6],
            },
            DetectedFace {
                score: 0.8,
                bbox: BBox::new(1.0, 1.0, 1.0, 1.0),
                keypoints: [[0.0; 2]; 6],
            },
        ];
        let mut out = Vec::new();
        weighted_nms(&mut cands, NMS_IOU, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn decode_maps_through_letterbox() {
        // One anchor at the letterbox centre with a 32×32 box, logit 3.
        let anchors = vec![[0.5, 0.5]];
        let mut r = vec![0.0f32; NUM_COORDS];
        r[2] = 32.0;
        r[3] = 32.0;
        r[4] = -8.0; // right eye 8 px left of the centre
        let lb = Affine::letterbox(640, 480, INPUT_SIZE);
        let mut out = Vec::new();
        decode(&r, &[3.0], &anchors, &lb, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert!((f.score - sigmoid(3.0)).abs() < 1e-6);
        // Letterbox centre (64,64) is image (320,240); 32 px in the letterbox = 160 px.
        assert!((f.bbox.x1 - 240.0).abs() < 1e-3 && (f.bbox.x2 - 400.0).abs() < 1e-3);
        assert!((f.bbox.y1 - 160.0).abs() < 1e-3 && (f.bbox.y2 - 320.0).abs() < 1e-3);
        assert!((f.keypoints[0][0] - 280.0).abs() < 1e-3);
        // Below the threshold: dropped. NaN: dropped.
        decode(&r, &[-3.0], &anchors, &lb, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        decode(&r, &[f32::NAN], &anchors, &lb, 0.5, &mut out);
        assert_eq!(out.len(), 1);
    }
}
