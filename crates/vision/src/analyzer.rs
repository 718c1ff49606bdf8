//! Per-session face analysis: detection, ROI tracking, attention mesh,
//! liveness measures, embeddings and the optional PAD score.

use std::sync::Arc;

use serde::Serialize;

use crate::blazeface::{self, DetectedFace};
use crate::embedding::{EMBEDDING_DIM, Embedding};
use crate::geometry::{Affine, BBox, Roi};
use crate::imaging;
use crate::mesh::{self, idx};
use crate::models::{Models, PAD_INPUT_SIZE};
use crate::runner::{Runner, output_f32};
use crate::{Frame, VisionError};

/// Run the detector at least every this many frames while tracking, so that
/// a second face is noticed within ~5 frames.
pub const DETECT_EVERY_N_FRAMES: u32 = 5;
/// Mesh face presence needed to keep tracking (MODELS.md §6.2).
pub const TRACK_PRESENCE_MIN: f32 = 0.5;
/// Two faces are "the same" when their boxes overlap by more than this.
pub const SAME_FACE_IOU: f32 = 0.3;
/// face-api 68-point model input side (MODELS.md §6.5).
pub const LANDMARK68_INPUT: usize = 112;
/// 68-point crop side = this × the face box's longer side.
pub const LANDMARK68_ROI_SCALE: f32 = 1.25;
/// Descriptor input side (MODELS.md §6.6).
pub const RECOGNITION_INPUT: usize = 150;
/// Descriptor crop side = this × the longer side of the 68 points' box.
pub const RECOGNITION_CROP_SCALE: f32 = 1.2;
/// The face box is enlarged by this before the MiniFASNet crop: BlazeFace
/// boxes are 4–8 % smaller than the RetinaFace boxes MiniFASNet was trained
/// with (MODELS.md §6.7).
pub const PAD_BOX_ENLARGE: f32 = 1.05;

/// The detector-equivalent face box from the mesh. BlazeFace's box is a
/// square about 1.09 × the mesh's width (cheek to cheek) and 0.92 × its
/// height (the mesh reaches the hairline), centred 0.05 mesh heights below
/// the mesh's centre. Fitted on 8 test stills; on all 55 test
/// stills the result overlaps BlazeFace's box with median IoU 0.88 (side
/// within ±12 %, one outlier: a small face in sunglasses, −25 %).
pub(crate) const BOX_FROM_MESH: MeshBoxFit = MeshBoxFit {
    width: 1.09,
    height: 0.92,
    dy: 0.05,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct MeshBoxFit {
    /// Box side / mesh width (in the face's upright frame).
    pub width: f32,
    /// Box side / mesh height.
    pub height: f32,
    /// Box centre shift toward the chin, in mesh heights.
    pub dy: f32,
}

/// Everything `analyze` found in one frame.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAnalysis {
    /// Faces in the frame, best first. When the primary face is tracked, it
    /// is entry 0 and the others come from the latest detector run (at most
    /// [`DETECT_EVERY_N_FRAMES`]` − 1` frames old); otherwise the detector's
    /// faces sorted by score.
    pub faces: Vec<DetectedFace>,
    /// The face the measures are about: the highest-scoring detection, then
    /// tracked from frame to frame while its mesh presence stays ≥ 0.5.
    pub primary: Option<PrimaryFace>,
}

impl FaceAnalysis {
    fn empty() -> FaceAnalysis {
        FaceAnalysis {
            faces: Vec::new(),
            primary: None,
        }
    }
}

/// The measured primary face. Points are image pixels of the frame as given
/// (an unmirrored camera frame: the subject's left eye is on the image right).
#[derive(Debug, Clone, Serialize)]
pub struct PrimaryFace {
    /// Face box, derived from the mesh the same way on every frame (about the
    /// size and place of the BlazeFace box), so it does not jump between
    /// detected and tracked frames.
    pub bbox: BBox,
    /// Score of the detection this face was found (or last re-confirmed) by.
    pub detection_score: f32,
    /// Mesh face-flag probability (sigmoid); < 0.5 means "probably no face".
    pub presence: f32,
    /// 468 mesh points `[x, y, z]`, image pixels; z in the same scale,
    /// smaller = closer to the camera.
    #[serde(skip)]
    pub mesh: Vec<[f32; 3]>,
    /// Refined contour (71 points) of the subject's own LEFT eye (image right).
    #[serde(skip)]
    pub left_eye: Vec<[f32; 2]>,
    /// Refined contour (71 points) of the subject's own RIGHT eye (image left).
    #[serde(skip)]
    pub right_eye: Vec<[f32; 2]>,
    /// Eye aspect ratio of the subject's own left eye (open ≈ 0.2–0.35,
    /// closed ≲ 0.1 with this model).
    pub ear_left: f32,
    /// Eye aspect ratio of the subject's own right eye.
    pub ear_right: f32,
    /// Mouth aspect ratio `|13 − 14| / |78 − 308|` (closed ≈ 0–0.06).
    pub mar: f32,
    /// Degrees; > 0 when the subject turns to their own left (face points to
    /// the image right in an unmirrored frame). Frontal ≈ 0.
    pub yaw: f32,
    /// Degrees; larger = head down (chin toward the chest). Frontal ≈ +9…+13.
    pub pitch: f32,
    /// Degrees; angle of the line from the subject's right eye to their left
    /// eye: > 0 when the head tilts toward the subject's own left shoulder
    /// (their left eye lower; clockwise on an unmirrored image).
    pub roll: f32,
    /// Face box height / frame height.
    pub face_size: f32,
    /// Face box centre / frame size, each 0..1.
    pub centre: [f32; 2],
    /// Mean luma (BT.601), 0..255, over the face box.
    pub brightness: f32,
    /// Variance of the 4-neighbour Laplacian of the grey face box (sampled at
    /// most 256 px per side).
    pub sharpness: f32,
    /// True when this frame's ROI came from the previous frame's mesh rather
    /// than a fresh detection.
    pub tracked: bool,
    /// Region colours for the screen-light challenge ([`crate::light`]).
    #[serde(skip)]
    pub light: Option<crate::light::RegionLight>,
}

/// Tracking state carried between frames.
#[derive(Debug, Clone)]
struct Track {
    /// ROI for the next frame, from this frame's mesh.
    roi: Roi,
    /// Frames since the detector last ran.
    since_detection: u32,
    detection_score: f32,
    /// Other faces seen by the latest detector run.
    others: Vec<DetectedFace>,
}

/// The mesh model's outputs for one ROI, mapped to the image.
struct MeshOut {
    presence: f32,
    mesh: Vec<[f32; 3]>,
    left_eye: Vec<[f32; 2]>,
    right_eye: Vec<[f32; 2]>,
    mar: f32,
    yaw: f32,
    pitch: f32,
}

/// Per-session analysis state: one tract state and input buffer per model,
/// the ROI tracker and scratch buffers. Create one per camera session (or
/// call [`Analyzer::reset`] between sessions); it is `Send`, not `Sync`.
pub struct Analyzer {
    models: Arc<Models>,
    anchors: Vec<[f32; 2]>,
    detector: Runner,
    mesh: Runner,
    landmark68: Runner,
    recognition: Runner,
    pads: Vec<Runner>,
    candidates: Vec<DetectedFace>,
    detections: Vec<DetectedFace>,
    mesh_crop: Vec<[f32; 3]>,
    grey: Vec<f32>,
    track: Option<Track>,
    frame_size: (u32, u32),
    detect_every: u32,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("tracking", &self.track.is_some())
            .finish()
    }
}

impl Analyzer {
    /// A new session. Cheap: the tract states and input buffers are created
    /// on first use and then reused for every frame.
    pub fn new(models: Arc<Models>) -> Analyzer {
        let d = blazeface::INPUT_SIZE;
        let m = mesh::INPUT_SIZE;
        let l = LANDMARK68_INPUT;
        let r = RECOGNITION_INPUT;
        let p = PAD_INPUT_SIZE;
        Analyzer {
            anchors: blazeface::anchors(),
            detector: Runner::new(&models.detector, &[1, d, d, 3], "face detector"),
            mesh: Runner::new(&models.mesh, &[1, m, m, 3], "face mesh"),
            landmark68: Runner::new(&models.landmark68, &[1, l, l, 3], "68-point landmarks"),
            recognition: Runner::new(&models.recognition, &[1, r, r, 3], "face descriptor"),
            pads: models
                .pad
                .iter()
                .map(|pad| Runner::new(&pad.plan, &[1, 3, p, p], "anti-spoofing"))
                .collect(),
            candidates: Vec::with_capacity(64),
            detections: Vec::with_capacity(8),
            mesh_crop: Vec::with_capacity(mesh::NUM_POINTS),
            grey: Vec::new(),
            track: None,
            frame_size: (0, 0),
            detect_every: DETECT_EVERY_N_FRAMES,
            models,
        }
    }

    /// Runs the detector every `n`th frame while tracking (default
    /// [`DETECT_EVERY_N_FRAMES`]; `n` is at least 1, where 1 = every frame).
    /// Larger values save ~3 ms on those frames but notice a second face later.
    pub fn with_detect_interval(mut self, n: u32) -> Analyzer {
        self.detect_every = n.max(1);
        self
    }

    /// The shared models.
    pub fn models(&self) -> &Arc<Models> {
        &self.models
    }

    /// Forgets the tracked face (start of a new session).
    pub fn reset(&mut self) {
        self.track = None;
        self.frame_size = (0, 0);
    }

    /// Analyses one frame. Detection runs on the first frame, whenever the
    /// tracked face is lost (mesh presence < 0.5) and every
    /// [`DETECT_EVERY_N_FRAMES`]th frame; otherwise the ROI comes from the
    /// previous frame's mesh. While tracking, the detector's runs only refresh
    /// the other faces in [`FaceAnalysis::faces`] (and the detection score):
    /// the session keeps following the same person even if another face
    /// scores higher, and a head turned too far for BlazeFace stays tracked.
    ///
    /// An empty (0×0) frame gives an empty analysis; a frame whose buffer
    /// does not match its size is [`VisionError::InvalidFrame`].
    ///
    /// Allocation: the model inputs, tract states and scratch buffers are
    /// reused; per frame only tract's own activations and the returned
    /// vectors (faces, mesh, contours) are allocated.
    pub fn analyze(&mut self, frame: &Frame) -> Result<FaceAnalysis, VisionError> {
        frame.check()?;
        if frame.width == 0 || frame.height == 0 {
            self.reset();
            return Ok(FaceAnalysis::empty());
        }
        if self.frame_size != (frame.width, frame.height) {
            self.track = None;
            self.frame_size = (frame.width, frame.height);
        }
        let track = self.track.take();
        let mut detected = match &track {
            Some(t) => t.since_detection + 1 >= self.detect_every,
            None => true,
        };
        if detected {
            self.detect(frame)?;
        }

        // Tracked path first.
        let mut result = None;
        if let Some(t) = &track {
            let out = self.run_mesh(frame, &t.roi)?;
            if out.presence >= TRACK_PRESENCE_MIN {
                result = Some((out, true, t.detection_score));
            } else if !detected {
                // Lost: detect now rather than losing a frame.
                self.detect(frame)?;
                detected = true;
            }
        }
        if result.is_none() {
            let Some(top) = self.detections.first() else {
                return Ok(FaceAnalysis::empty());
            };
            let score = top.score;
            let roi = mesh::roi_from_detection(top);
            let out = self.run_mesh(frame, &roi)?;
            result = Some((out, false, score));
        }
        let Some((out, tracked, mut detection_score)) = result else {
            return Ok(FaceAnalysis::empty());
        };

        let bbox = face_box_from_mesh(&out.mesh);
        // Faces: the primary first, then the others of the latest detection.
        let mut faces = Vec::with_capacity(self.detections.len().max(1));
        let others: Vec<DetectedFace> = if detected {
            if let Some(same) = self
                .detections
                .iter()
                .find(|d| d.bbox.iou(&bbox) > SAME_FACE_IOU)
            {
                detection_score = same.score;
            }
            self.detections
                .iter()
                .filter(|d| d.bbox.iou(&bbox) <= SAME_FACE_IOU)
                .cloned()
                .collect()
        } else {
            track.as_ref().map(|t| t.others.clone()).unwrap_or_default()
        };
        if tracked {
            faces.push(DetectedFace {
                score: detection_score,
                bbox,
                keypoints: keypoints_from_mesh(&out.mesh),
            });
            faces.extend(others.iter().cloned());
        } else {
            faces.extend(self.detections.iter().cloned());
        }

        let primary = self.measure(frame, out, bbox, detection_score, tracked);
        self.track = if primary.presence >= TRACK_PRESENCE_MIN {
            mesh::roi_from_mesh(&primary.mesh).map(|roi| Track {
                roi,
                since_detection: if detected {
                    0
                } else {
                    track.as_ref().map_or(0, |t| t.since_detection + 1)
                },
                detection_score,
                others,
            })
        } else {
            None
        };
        Ok(FaceAnalysis {
            faces,
            primary: Some(primary),
        })
    }

    /// Runs BlazeFace on the whole frame; fills `self.detections` (score ≥
    /// 0.75, weighted NMS, best first).
    fn detect(&mut self, frame: &Frame) -> Result<(), VisionError> {
        self.detect_with(frame, blazeface::KIOSK_SCORE_MIN)
    }

    /// Runs BlazeFace on the whole frame; fills `self.detections` with the
    /// faces scoring at least `score_min` (weighted NMS, best first).
    fn detect_with(&mut self, frame: &Frame, score_min: f32) -> Result<(), VisionError> {
        let n = blazeface::INPUT_SIZE;
        let lb = Affine::letterbox(frame.width, frame.height, n);
        let t = lb.affine();
        self.detector
            .fill(|buf| imaging::warp_rgb(frame, &t, n, n, 1.0 / 127.5, -1.0, buf))?;
        let outputs = self.detector.run()?;
        let [ri, ci] = self.models.detector_outputs;
        let name = self.detector.name;
        let reg = output_f32(
            &outputs,
            ri,
            blazeface::NUM_ANCHORS * blazeface::NUM_COORDS,
            name,
        )?;
        let cls = output_f32(&outputs, ci, blazeface::NUM_ANCHORS, name)?;
        self.candidates.clear();
        blazeface::decode(
            reg,
            cls,
            &self.anchors,
            &lb,
            score_min,
            &mut self.candidates,
        );
        blazeface::weighted_nms(
            &mut self.candidates,
            blazeface::NMS_IOU,
            &mut self.detections,
        );
        Ok(())
    }

    /// Detects faces in a still (no tracking state is touched): the
    /// detector's faces, best first, with score ≥ `score_min` (≥ 0.5 is
    /// MediaPipe's default, the kiosk uses 0.75).
    pub fn detect_faces(
        &mut self,
        frame: &Frame,
        score_min: f32,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        frame.check()?;
        if frame.width == 0 || frame.height == 0 {
            return Ok(Vec::new());
        }
        // The tracker's view of the other faces stays as it was.
        let tracked = std::mem::take(&mut self.detections);
        let result = self.detect_with(frame, score_min);
        let found = std::mem::replace(&mut self.detections, tracked);
        result.map(|()| found)
    }

    /// Runs the attention mesh on `roi` and maps its outputs to the image.
    fn run_mesh(&mut self, frame: &Frame, roi: &Roi) -> Result<MeshOut, VisionError> {
        let n = mesh::INPUT_SIZE;
        if !roi.is_valid() {
            return Err(self.mesh.err(format!("invalid ROI {roi:?}")));
        }
        let t = roi.affine(n);
        self.mesh
            .fill(|buf| imaging::warp_rgb(frame, &t, n, n, 1.0 / 255.0, 0.0, buf))?;
        let outputs = self.mesh.run()?;
        let name = self.mesh.name;
        let raw_mesh = output_f32(&outputs, 0, mesh::NUM_POINTS * 3, name)?;
        let flag = output_f32(&outputs, 1, 1, name)?;
        let left = output_f32(&outputs, 2, mesh::EYE_POINTS * 2, name)?;
        let right = output_f32(&outputs, 3, mesh::EYE_POINTS * 2, name)?;

        let presence = 1.0 / (1.0 + (-flag[0].clamp(-100.0, 100.0)).exp());
        self.mesh_crop.clear();
        self.mesh_crop.extend(
            raw_mesh
                .chunks_exact(3)
                .take(mesh::NUM_POINTS)
                .map(|p| [p[0], p[1], p[2]]),
        );
        let (yaw, pitch) = mesh::yaw_pitch(&self.mesh_crop);
        let zscale = roi.size / n as f32;
        let mesh_img: Vec<[f32; 3]> = self
            .mesh_crop
            .iter()
            .map(|p| {
                let q = t.apply([p[0], p[1]]);
                [q[0], q[1], p[2] * zscale]
            })
            .collect();
        let map2 = |s: &[f32], count: usize| -> Vec<[f32; 2]> {
            s.chunks_exact(2)
                .take(count)
                .map(|p| t.apply([p[0], p[1]]))
                .collect()
        };
        // `output_left_eye` is the image-left eye = the subject's RIGHT eye.
        let right_eye = map2(left, mesh::EYE_POINTS);
        let left_eye = map2(right, mesh::EYE_POINTS);
        let p2 = |i: usize| mesh_img.get(i).map_or([0.0, 0.0], |p| [p[0], p[1]]);
        let mar = mesh::mar(
            p2(idx::LIP_UPPER_INNER),
            p2(idx::LIP_LOWER_INNER),
            p2(idx::MOUTH_RIGHT_INNER),
            p2(idx::MOUTH_LEFT_INNER),
        );
        Ok(MeshOut {
            presence: if presence.is_nan() { 0.0 } else { presence },
            mesh: mesh_img,
            left_eye,
            right_eye,
            mar,
            yaw,
            pitch,
        })
    }

    fn measure(
        &mut self,
        frame: &Frame,
        out: MeshOut,
        bbox: BBox,
        detection_score: f32,
        tracked: bool,
    ) -> PrimaryFace {
        let (brightness, sharpness) = imaging::face_stats(frame, &bbox, &mut self.grey);
        let r = out.mesh[idx::RIGHT_EYE_OUTER];
        let l = out.mesh[idx::LEFT_EYE_OUTER];
        let roll = mesh::eye_line_angle([r[0], r[1]], [l[0], l[1]]).to_degrees();
        let [cx, cy] = bbox.centre();
        let light = crate::light::measure(frame, &out.mesh, &bbox);
        PrimaryFace {
            light,
            bbox,
            detection_score,
            presence: out.presence,
            ear_left: mesh::ear(&out.left_eye),
            ear_right: mesh::ear(&out.right_eye),
            mar: out.mar,
            yaw: out.yaw,
            pitch: out.pitch,
            roll,
            face_size: bbox.height() / frame.height as f32,
            centre: [cx / frame.width as f32, cy / frame.height as f32],
            brightness,
            sharpness,
            tracked,
            mesh: out.mesh,
            left_eye: out.left_eye,
            right_eye: out.right_eye,
        }
    }

    /// The 68 face-api landmarks (image pixels) for a face (MODELS.md §6.5):
    /// crop = the face box centre, 1.25 × its longer side, rotated by the roll.
    pub fn landmarks68(
        &mut self,
        frame: &Frame,
        face: &PrimaryFace,
    ) -> Result<Vec<[f32; 2]>, VisionError> {
        frame.check()?;
        let roi = Roi {
            cx: face.bbox.centre()[0],
            cy: face.bbox.centre()[1],
            size: LANDMARK68_ROI_SCALE * face.bbox.width().max(face.bbox.height()),
            theta: face.roll.to_radians(),
        };
        if !roi.is_valid() || frame.width == 0 || frame.height == 0 {
            return Err(VisionError::NoFace);
        }
        let n = LANDMARK68_INPUT;
        let t = roi.affine(n);
        self.landmark68
            .fill(|buf| imaging::warp_rgb(frame, &t, n, n, 1.0, 0.0, buf))?;
        let outputs = self.landmark68.run()?;
        let pts = output_f32(&outputs, 0, 136, self.landmark68.name)?;
        let nf = n as f32;
        let out: Vec<[f32; 2]> = pts
            .chunks_exact(2)
            .take(68)
            .map(|p| t.apply([p[0] * nf, p[1] * nf]))
            .collect();
        if out.iter().any(|p| !(p[0].is_finite() && p[1].is_finite())) {
            return Err(self.landmark68.err("non-finite landmarks"));
        }
        Ok(out)
    }

    /// The descriptor crop ROI from the 68 points (MODELS.md §6.6): the
    /// points' box in the upright face frame (roll removed), squared to
    /// 1.2 × its longer side, rotated back by the roll.
    fn recognition_roi(points: &[[f32; 2]], theta: f32) -> Option<Roi> {
        let frame = Roi {
            cx: 0.0,
            cy: 0.0,
            size: 1.0,
            theta,
        };
        let local = BBox::around(points.iter().map(|p| frame.to_local(*p)))?;
        let [cx, cy] = frame.from_local(local.centre());
        let roi = Roi {
            cx,
            cy,
            size: RECOGNITION_CROP_SCALE * local.width().max(local.height()),
            theta,
        };
        roi.is_valid().then_some(roi)
    }

    /// The 128-D descriptor of `face`: face-api 68 points → upright aligned
    /// 150×150 crop → dlib ResNet (MODELS.md §6.5–6.6). About 9 ms.
    pub fn embed(&mut self, frame: &Frame, face: &PrimaryFace) -> Result<Embedding, VisionError> {
        let points = self.landmarks68(frame, face)?;
        let roi =
            Self::recognition_roi(&points, face.roll.to_radians()).ok_or(VisionError::NoFace)?;
        let n = RECOGNITION_INPUT;
        let t = roi.affine(n);
        self.recognition
            .fill(|buf| imaging::warp_rgb(frame, &t, n, n, 1.0, 0.0, buf))?;
        let outputs = self.recognition.run()?;
        let v = output_f32(&outputs, 0, EMBEDDING_DIM, self.recognition.name)?;
        let mut e = [0.0f32; EMBEDDING_DIM];
        e.copy_from_slice(&v[..EMBEDDING_DIM]);
        let e = Embedding(e);
        if !e.is_finite() {
            return Err(self.recognition.err("non-finite descriptor"));
        }
        Ok(e)
    }

    /// Averaged softmax `[spoof type 0, real, spoof type 2]` of the PAD
    /// model(s) for `face`, or `None` when no PAD model is configured
    /// (MODELS.md §6.7). Use on upright frames.
    pub fn pad_probabilities(
        &mut self,
        frame: &Frame,
        face: &PrimaryFace,
    ) -> Result<Option<[f32; 3]>, VisionError> {
        if self.pads.is_empty() {
            return Ok(None);
        }
        frame.check()?;
        let [cx, cy] = face.bbox.centre();
        let bw = face.bbox.width() * PAD_BOX_ENLARGE;
        let bh = face.bbox.height() * PAD_BOX_ENLARGE;
        if !(bw >= 1.0 && bh >= 1.0 && cx.is_finite() && cy.is_finite())
            || frame.width < 2
            || frame.height < 2
        {
            return Err(VisionError::NoFace);
        }
        let mut acc = [0.0f32; 3];
        let n = PAD_INPUT_SIZE;
        for (runner, model) in self.pads.iter_mut().zip(&self.models.pad) {
            let (x0, y0, x1, y1) =
                pad_crop_box(frame.width, frame.height, cx, cy, bw, bh, model.scale);
            runner.fill(|buf| imaging::crop_resize_bgr_nchw(frame, x0, y0, x1, y1, n, buf))?;
            let outputs = runner.run()?;
            let logits = output_f32(&outputs, 0, 3, runner.name)?;
            let m = logits[..3]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            let e = [
                (logits[0] - m).exp(),
                (logits[1] - m).exp(),
                (logits[2] - m).exp(),
            ];
            let s: f32 = e.iter().sum();
            if !(s.is_finite() && s > 0.0) {
                return Err(runner.err("non-finite logits"));
            }
            for (a, v) in acc.iter_mut().zip(&e) {
                *a += v / s;
            }
        }
        let k = self.pads.len() as f32;
        Ok(Some(acc.map(|v| v / k)))
    }

    /// The PAD "real" probability (class 1 of the averaged softmax), or
    /// `None` when no PAD model is configured. The face counts as real when
    /// class 1 is the largest of the three (≈ score > 0.5 in practice).
    pub fn pad_score(
        &mut self,
        frame: &Frame,
        face: &PrimaryFace,
    ) -> Result<Option<f32>, VisionError> {
        Ok(self.pad_probabilities(frame, face)?.map(|p| p[1]))
    }
}

/// Silent-Face's `_get_new_box`: the box scaled around its centre (scale
/// capped so it fits the frame), shifted back inside, truncated to integers;
/// inclusive pixel bounds.
pub(crate) fn pad_crop_box(
    w: u32,
    h: u32,
    cx: f32,
    cy: f32,
    bw: f32,
    bh: f32,
    scale: f32,
) -> (i64, i64, i64, i64) {
    let (wf, hf) = (w as f32, h as f32);
    let scale = scale.min((hf - 1.0) / bh).min((wf - 1.0) / bw);
    let (nw, nh) = (bw * scale, bh * scale);
    let (mut l, mut t, mut r, mut b) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if l < 0.0 {
        r -= l;
        l = 0.0;
    }
    if t < 0.0 {
        b -= t;
        t = 0.0;
    }
    if r > wf - 1.0 {
        l -= r - wf + 1.0;
        r = wf - 1.0;
    }
    if b > hf - 1.0 {
        t -= b - hf + 1.0;
        b = hf - 1.0;
    }
    (l as i64, t as i64, r as i64, b as i64)
}

/// The face box from mesh points: their box in the face's upright frame
/// (roll removed via the outer eye corners), turned into a BlazeFace-like
/// axis-aligned square by [`BOX_FROM_MESH`].
pub(crate) fn face_box_from_mesh(mesh: &[[f32; 3]]) -> BBox {
    let empty = BBox::new(0.0, 0.0, 0.0, 0.0);
    if mesh.len() < mesh::NUM_POINTS {
        return empty;
    }
    let r = mesh[idx::RIGHT_EYE_OUTER];
    let l = mesh[idx::LEFT_EYE_OUTER];
    let frame = Roi {
        cx: 0.0,
        cy: 0.0,
        size: 1.0,
        theta: mesh::eye_line_angle([r[0], r[1]], [l[0], l[1]]),
    };
    let Some(local) = BBox::around(mesh.iter().map(|p| frame.to_local([p[0], p[1]]))) else {
        return empty;
    };
    let fit = BOX_FROM_MESH;
    let [lcx, lcy] = local.centre();
    let side = 0.5 * (fit.width * local.width() + fit.height * local.height());
    let [cx, cy] = frame.from_local([lcx, lcy + fit.dy * local.height()]);
    let half = side * 0.5;
    BBox::new(cx - half, cy - half, cx + half, cy + half)
}

/// BlazeFace-style keypoints from mesh points: eye centres (corner
/// midpoints), nose tip, mouth centre, cheek points for the ear tragions.
fn keypoints_from_mesh(mesh: &[[f32; 3]]) -> [[f32; 2]; 6] {
    let p = |i: usize| mesh.get(i).map_or([0.0, 0.0], |q| [q[0], q[1]]);
    let mid = |a: [f32; 2], b: [f32; 2]| [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
    [
        mid(p(33), p(133)),
        mid(p(362), p(263)),
        p(idx::NOSE_TIP),
        mid(p(idx::LIP_UPPER_INNER), p(idx::LIP_LOWER_INNER)),
        p(idx::CHEEK_RIGHT),
        p(idx::CHEEK_LEFT),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_box_like_silent_face() {
        // 640×480, box 100×120 at centre (320, 240), scale 2.7 → capped by height: 479/120.
        let (l, t, r, b) = pad_crop_box(640, 480, 320.0, 240.0, 100.0, 120.0, 2.7);
        assert_eq!((l, t, r, b), (185, 78, 455, 402));
        // Near the left edge: shifted inside.
        let (l, _, r, _) = pad_crop_box(640, 480, 20.0, 240.0, 100.0, 100.0, 2.7);
        assert_eq!(l, 0);
        assert_eq!(r, 270);
        // Scale capped by the frame: the crop spans the whole height.
        let (_, t, _, b) = pad_crop_box(640, 480, 320.0, 240.0, 200.0, 200.0, 4.0);
        assert_eq!((t, b), (0, 479));
    }

    #[test]
    fn analyzer_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Analyzer>();
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Models>();
    }
}
