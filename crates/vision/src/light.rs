//! Region colours for the screen-light challenge: the mean RGB of the face's
//! centre (nose and bridge), its cheeks, and the background around it.
//!
//! The core's `liveness::flash` compares how these follow the kiosk screen's
//! tints; this module only measures. Means are of 8-bit code values.

use crate::frame::Frame;
use crate::geometry::BBox;

/// Mesh points of the nose tip and bridge (MediaPipe face mesh).
pub const CENTRE_POINTS: [usize; 4] = [1, 4, 6, 197];
/// Mesh points on the cheekbones, subject's right (image left) and left,
/// about 35° from the face's forward direction.
pub const CHEEK_POINTS: [usize; 2] = [50, 280];
/// Half side of a patch around a mesh point, as a fraction of the face width.
pub const PATCH_HALF: f32 = 0.06;
/// The background is outside the face box scaled by this…
pub const BACKGROUND_INNER: f32 = 1.6;
/// …and inside the face box scaled by this.
pub const BACKGROUND_OUTER: f32 = 2.6;
/// At most this many background pixels are read (sampled on a grid).
const BACKGROUND_SAMPLES: usize = 4096;

/// Mean colours (8-bit code values) of the measured regions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionLight {
    pub centre: [f32; 3],
    pub cheeks: [f32; 3],
    pub background: [f32; 3],
}

#[derive(Default)]
struct Acc {
    sum: [f64; 3],
    n: u64,
}

impl Acc {
    fn add(&mut self, p: &[u8]) {
        for (s, v) in self.sum.iter_mut().zip(p) {
            *s += f64::from(*v);
        }
        self.n += 1;
    }

    fn mean(&self) -> Option<[f32; 3]> {
        (self.n > 0).then(|| self.sum.map(|s| (s / self.n as f64) as f32))
    }
}

fn pixel(frame: &Frame, x: usize, y: usize) -> Option<&[u8]> {
    let i = (y * frame.width as usize + x) * 3;
    frame.rgb.get(i..i + 3)
}

fn patch(frame: &Frame, c: [f32; 2], half: f32, acc: &mut Acc) {
    let b = BBox::new(c[0] - half, c[1] - half, c[0] + half, c[1] + half);
    let (x0, y0, x1, y1) = b.pixel_range(frame.width, frame.height);
    for y in y0..y1 {
        for x in x0..x1 {
            if let Some(p) = pixel(frame, x, y) {
                acc.add(p);
            }
        }
    }
}

fn scaled(b: &BBox, s: f32) -> BBox {
    let [cx, cy] = b.centre();
    let (hw, hh) = (b.width() * s / 2.0, b.height() * s / 2.0);
    BBox::new(cx - hw, cy - hh, cx + hw, cy + hh)
}

fn inside(b: &BBox, x: f32, y: f32) -> bool {
    x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2
}

/// Measures the regions of one face; `None` when a region has no pixels in
/// the frame or a mesh point is missing or not finite.
pub fn measure(frame: &Frame, mesh: &[[f32; 3]], bbox: &BBox) -> Option<RegionLight> {
    if frame.check().is_err() || !bbox.is_finite() {
        return None;
    }
    let half = (PATCH_HALF * bbox.width()).max(1.0);
    let point = |i: usize| -> Option<[f32; 2]> {
        let p = mesh.get(i)?;
        (p[0].is_finite() && p[1].is_finite()).then_some([p[0], p[1]])
    };
    let mut centre = Acc::default();
    for i in CENTRE_POINTS {
        patch(frame, point(i)?, half, &mut centre);
    }
    let mut cheeks = Acc::default();
    for i in CHEEK_POINTS {
        patch(frame, point(i)?, half, &mut cheeks);
    }
    let inner = scaled(bbox, BACKGROUND_INNER);
    let outer = scaled(bbox, BACKGROUND_OUTER);
    let (x0, y0, x1, y1) = outer.pixel_range(frame.width, frame.height);
    let area = (x1 - x0) * (y1 - y0);
    let step = ((area / BACKGROUND_SAMPLES) as f64).sqrt().ceil().max(1.0) as usize;
    let mut background = Acc::default();
    for y in (y0..y1).step_by(step) {
        for x in (x0..x1).step_by(step) {
            if !inside(&inner, x as f32 + 0.5, y as f32 + 0.5)
                && let Some(p) = pixel(frame, x, y)
            {
                background.add(p);
            }
        }
    }
    Some(RegionLight {
        centre: centre.mean()?,
        cheeks: cheeks.mean()?,
        background: background.mean()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: u32, h: u32, rgb: [u8; 3]) -> Frame {
        let mut v = Vec::with_capacity((w * h * 3) as usize);
        for _ in 0..w * h {
            v.extend_from_slice(&rgb);
        }
        Frame::from_rgb(w, h, v).unwrap()
    }

    fn mesh_at(c: [f32; 2]) -> Vec<[f32; 3]> {
        vec![[c[0], c[1], 0.0]; 468]
    }

    #[test]
    fn a_uniform_frame_measures_its_colour_everywhere() {
        let f = flat(200, 100, [10, 20, 30]);
        let b = BBox::new(80.0, 30.0, 120.0, 70.0);
        let l = measure(&f, &mesh_at([100.0, 50.0]), &b).unwrap();
        assert_eq!(l.centre, [10.0, 20.0, 30.0]);
        assert_eq!(l.cheeks, [10.0, 20.0, 30.0]);
        assert_eq!(l.background, [10.0, 20.0, 30.0]);
    }

    #[test]
    fn the_background_excludes_the_face() {
        let mut f = flat(200, 100, [0, 0, 0]);
        // Paint the face box white: the background must stay black.
        for y in 30..70 {
            for x in 80..120 {
                let i = (y * 200 + x) * 3;
                f.rgb[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let b = BBox::new(80.0, 30.0, 120.0, 70.0);
        let l = measure(&f, &mesh_at([100.0, 50.0]), &b).unwrap();
        assert_eq!(l.centre, [255.0; 3]);
        assert_eq!(l.background, [0.0; 3]);
    }

    #[test]
    fn missing_or_broken_input_is_none() {
        let f = flat(50, 50, [1, 2, 3]);
        let b = BBox::new(10.0, 10.0, 40.0, 40.0);
        assert!(measure(&f, &[], &b).is_none());
        assert!(measure(&f, &mesh_at([f32::NAN, 5.0]), &b).is_none());
        // The face fills the frame: no background.
        let b = BBox::new(-100.0, -100.0, 150.0, 150.0);
        assert!(measure(&f, &mesh_at([25.0, 25.0]), &b).is_none());
        // Mesh outside the frame: no pixels in the patches.
        let b = BBox::new(10.0, 10.0, 40.0, 40.0);
        assert!(measure(&f, &mesh_at([-500.0, -500.0]), &b).is_none());
    }
}
