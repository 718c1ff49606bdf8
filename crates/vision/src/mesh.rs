//! Attention FaceMesh geometry (MODELS.md §6.2–§6.4): landmark ROIs, and the
//! per-frame liveness measures computed from the mesh and eye contours.

use crate::blazeface::DetectedFace;
use crate::geometry::{BBox, Roi, dist};

/// Side of the square mesh input.
pub const INPUT_SIZE: usize = 192;
/// Number of mesh points.
pub const NUM_POINTS: usize = 468;
/// Points per refined eye contour.
pub const EYE_POINTS: usize = 71;
/// ROI side = this × the face box's longer side (MODELS.md §6.2).
pub const ROI_SCALE: f32 = 1.5;

/// Mesh point indices used by the measures.
pub mod idx {
    /// Subject's right eye, outer corner (image left in an unmirrored frame).
    pub const RIGHT_EYE_OUTER: usize = 33;
    /// Subject's left eye, outer corner.
    pub const LEFT_EYE_OUTER: usize = 263;
    /// Inner upper lip, centre.
    pub const LIP_UPPER_INNER: usize = 13;
    /// Inner lower lip, centre.
    pub const LIP_LOWER_INNER: usize = 14;
    /// Inner mouth corner on the subject's right.
    pub const MOUTH_RIGHT_INNER: usize = 78;
    /// Inner mouth corner on the subject's left.
    pub const MOUTH_LEFT_INNER: usize = 308;
    /// Subject's right cheek (face outline).
    pub const CHEEK_RIGHT: usize = 234;
    /// Subject's left cheek.
    pub const CHEEK_LEFT: usize = 454;
    /// Top of the forehead.
    pub const FOREHEAD: usize = 10;
    /// Chin.
    pub const CHIN: usize = 152;
    /// Nose tip.
    pub const NOSE_TIP: usize = 1;
}

/// Mesh indices of the first 16 eye-contour points for the subject's right
/// eye (MODELS.md §6.3); the subject's left eye mirrors them.
pub const RIGHT_EYE_CONTOUR_TO_MESH: [usize; 16] = [
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
];

/// The landmark ROI of a detection (MODELS.md §6.2): centre = box centre,
/// side = 1.5 × longer box side, θ = roll of the eye line (keypoint 0 → 1).
pub fn roi_from_detection(face: &DetectedFace) -> Roi {
    roi_from_box(&face.bbox, face.keypoints[0], face.keypoints[1], ROI_SCALE)
}

/// A square ROI around `bbox`, `scale` × its longer side, rotated so that the
/// line from `right_eye` (subject's right, image left) to `left_eye` is level.
pub fn roi_from_box(bbox: &BBox, right_eye: [f32; 2], left_eye: [f32; 2], scale: f32) -> Roi {
    let [cx, cy] = bbox.centre();
    Roi {
        cx,
        cy,
        size: scale * bbox.width().max(bbox.height()),
        theta: eye_line_angle(right_eye, left_eye),
    }
}

/// Roll of the line from the subject's right eye to their left eye, radians:
/// `θ = −atan2(−(l.y − r.y), l.x − r.x)`; positive when the subject's left
/// eye is lower in the image (clockwise on screen).
pub fn eye_line_angle(right_eye: [f32; 2], left_eye: [f32; 2]) -> f32 {
    (left_eye[1] - right_eye[1]).atan2(left_eye[0] - right_eye[0])
}

/// The tracking ROI from a previous frame's mesh (image pixels): θ from the
/// outer eye corners, the mesh's bounding box in that rotated frame, side
/// 1.5 × its longer side (MODELS.md §6.2 "for tracking").
pub fn roi_from_mesh(mesh: &[[f32; 3]]) -> Option<Roi> {
    if mesh.len() < NUM_POINTS {
        return None;
    }
    let r = mesh[idx::RIGHT_EYE_OUTER];
    let l = mesh[idx::LEFT_EYE_OUTER];
    let theta = eye_line_angle([r[0], r[1]], [l[0], l[1]]);
    let frame = Roi {
        cx: 0.0,
        cy: 0.0,
        size: 1.0,
        theta,
    };
    let local = BBox::around(mesh.iter().map(|p| frame.to_local([p[0], p[1]])))?;
    let [cx, cy] = frame.from_local(local.centre());
    let roi = Roi {
        cx,
        cy,
        size: ROI_SCALE * local.width().max(local.height()),
        theta,
    };
    roi.is_valid().then_some(roi)
}

/// Eye aspect ratio of one refined eye contour (≥ 16 points: 0 outer corner,
/// 1–7 lower lid, 8 inner corner, 9–15 upper lid):
/// `(|c11 − c3| + |c13 − c5|) / (2·|c0 − c8|)`. 0 for degenerate input.
pub fn ear(contour: &[[f32; 2]]) -> f32 {
    if contour.len() < 16 {
        return 0.0;
    }
    let width = dist(contour[0], contour[8]);
    if width.is_nan() || width <= 1e-6 {
        return 0.0;
    }
    (dist(contour[11], contour[3]) + dist(contour[13], contour[5])) / (2.0 * width)
}

/// Mouth aspect ratio from four mouth points: `|upper − lower| / |right − left|`
/// (mesh 13, 14, 78, 308). 0 for degenerate input.
pub fn mar(upper: [f32; 2], lower: [f32; 2], right_corner: [f32; 2], left_corner: [f32; 2]) -> f32 {
    let width = dist(right_corner, left_corner);
    if width.is_nan() || width <= 1e-6 {
        return 0.0;
    }
    dist(upper, lower) / width
}

/// Head pose in degrees from the mesh in *crop* coordinates (roll already
/// removed by the ROI rotation), MODELS.md §6.4:
/// - yaw = atan2(z454 − z234, x454 − x234): > 0 when the subject turns to
///   their own left (face points toward the image right, unmirrored);
/// - pitch = atan2(z152 − z10, y152 − y10): larger = head down (chin toward
///   the chest); frontal ≈ +9…+13°.
pub fn yaw_pitch(mesh_crop: &[[f32; 3]]) -> (f32, f32) {
    if mesh_crop.len() < NUM_POINTS {
        return (0.0, 0.0);
    }
    let l = mesh_crop[idx::CHEEK_LEFT];
    let r = mesh_crop[idx::CHEEK_RIGHT];
    let chin = mesh_crop[idx::CHIN];
    let top = mesh_crop[idx::FOREHEAD];
    let yaw = (l[2] - r[2]).atan2(l[0] - r[0]).to_degrees();
    let pitch = (chin[2] - top[2]).atan2(chin[1] - top[1]).to_degrees();
    (yaw, pitch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic eye contour in the model's order: corners at (0,0) (outer)
    /// and (w,0) (inner), lower lid 1–7 and upper lid 9–15 both running
    /// outer → inner, lids at ±h/2.
    fn eye(w: f32, h: f32) -> Vec<[f32; 2]> {
        let mut c = vec![[0.0f32; 2]; 16];
        c[8] = [w, 0.0];
        for i in 1..8 {
            c[i] = [w * i as f32 / 8.0, h / 2.0];
            c[i + 8] = [w * i as f32 / 8.0, -h / 2.0];
        }
        c
    }

    #[test]
    fn ear_formula() {
        // Upper point 11 sits above lower point 3, 13 above 5: EAR = h / w.
        let c = eye(8.0, 2.0);
        assert!((ear(&c) - 0.25).abs() < 1e-6);
        assert_eq!(ear(&eye(8.0, 0.0)), 0.0);
        // Scale invariance.
        let big: Vec<[f32; 2]> = c.iter().map(|p| [p[0] * 10.0, p[1] * 10.0]).collect();
        assert!((ear(&big) - ear(&c)).abs() < 1e-6);
        // Degenerate input.
        assert_eq!(ear(&c[..10]), 0.0);
        assert_eq!(ear(&[[1.0, 1.0]; 16]), 0.0);
    }

    #[test]
    fn ear_of_aligned_lids() {
        // Lids directly above each other: EAR = h / w.
        let mut c = vec![[0.0f32; 2]; 16];
        c[0] = [0.0, 0.0];
        c[8] = [10.0, 0.0];
        c[3] = [4.0, 1.5];
        c[11] = [4.0, -1.5];
        c[5] = [6.0, 1.5];
        c[13] = [6.0, -1.5];
        assert!((ear(&c) - 0.3).abs() < 1e-6);
    }

    #[test]
    fn mar_formula() {
        assert!((mar([5.0, 4.0], [5.0, 8.0], [0.0, 6.0], [10.0, 6.0]) - 0.4).abs() < 1e-6);
        assert_eq!(mar([0.0, 0.0], [0.0, 1.0], [3.0, 3.0], [3.0, 3.0]), 0.0);
    }

    #[test]
    fn pose_signs() {
        let mut m = vec![[0.0f32; 3]; NUM_POINTS];
        m[idx::CHEEK_RIGHT] = [50.0, 100.0, 0.0];
        m[idx::CHEEK_LEFT] = [150.0, 100.0, 0.0];
        m[idx::FOREHEAD] = [100.0, 30.0, 0.0];
        m[idx::CHIN] = [100.0, 170.0, 0.0];
        let (y, p) = yaw_pitch(&m);
        assert!(y.abs() < 1e-4 && p.abs() < 1e-4);
        // Subject turns to their own left: their left cheek recedes (z grows).
        m[idx::CHEEK_LEFT][2] = 30.0;
        m[idx::CHEEK_RIGHT][2] = -30.0;
        let (y, _) = yaw_pitch(&m);
        assert!(y > 30.0 && y < 32.0, "{y}");
        // Head down: chin recedes.
        m[idx::CHIN][2] = 40.0;
        let (_, p) = yaw_pitch(&m);
        assert!(p > 15.0, "{p}");
    }

    #[test]
    fn detection_roi() {
        let face = DetectedFace {
            score: 0.9,
            bbox: BBox::new(100.0, 50.0, 200.0, 130.0),
            keypoints: [
                [120.0, 80.0],
                [180.0, 80.0],
                [150.0, 100.0],
                [150.0, 115.0],
                [100.0, 90.0],
                [200.0, 90.0],
            ],
        };
        let roi = roi_from_detection(&face);
        assert_eq!((roi.cx, roi.cy, roi.size), (150.0, 90.0, 150.0));
        assert!(roi.theta.abs() < 1e-6);
        // Subject's left eye lower → positive θ.
        let t = eye_line_angle([120.0, 80.0], [180.0, 140.0]);
        assert!((t - std::f32::consts::FRAC_PI_4).abs() < 1e-5);
    }

    #[test]
    fn mesh_roi_follows_rotation() {
        // A rectangle of points 100 wide, 140 tall, rotated by 0.3 rad about (300, 200).
        let theta = 0.3f32;
        let frame = Roi {
            cx: 300.0,
            cy: 200.0,
            size: 1.0,
            theta,
        };
        let mut mesh = vec![[0.0f32; 3]; NUM_POINTS];
        for (i, p) in mesh.iter_mut().enumerate() {
            let q = [(i % 11) as f32 * 10.0 - 50.0, (i % 15) as f32 * 10.0 - 70.0];
            let w = frame.from_local(q);
            *p = [w[0], w[1], 0.0];
        }
        let r = frame.from_local([-40.0, -20.0]);
        let l = frame.from_local([40.0, -20.0]);
        mesh[idx::RIGHT_EYE_OUTER] = [r[0], r[1], 0.0];
        mesh[idx::LEFT_EYE_OUTER] = [l[0], l[1], 0.0];
        let roi = roi_from_mesh(&mesh).unwrap();
        assert!((roi.theta - theta).abs() < 1e-4);
        assert!((roi.cx - 300.0).abs() < 1e-3 && (roi.cy - 200.0).abs() < 1e-3);
        assert!((roi.size - 1.5 * 140.0).abs() < 1e-2);
        assert!(roi_from_mesh(&mesh[..10]).is_none());
    }
}
