//! Boxes, rotated square regions of interest (MODELS.md §6 conventions) and
//! the affine maps between model crops and the image.
//!
//! Coordinates are continuous image pixels: pixel `(i, j)` covers
//! `[i, i+1) × [j, j+1)` and its centre is `(i + 0.5, j + 0.5)`.

use serde::Serialize;

/// An axis-aligned box in image pixels, `x1 <= x2`, `y1 <= y2` (not enforced
/// for degenerate inputs; use [`BBox::width`]/[`BBox::height`] which clamp at 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    /// The smallest box holding every point; `None` for no points.
    pub fn around<I: IntoIterator<Item = [f32; 2]>>(points: I) -> Option<BBox> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut b = BBox::new(first[0], first[1], first[0], first[1]);
        for [x, y] in it {
            b.x1 = b.x1.min(x);
            b.y1 = b.y1.min(y);
            b.x2 = b.x2.max(x);
            b.y2 = b.y2.max(y);
        }
        Some(b)
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn centre(&self) -> [f32; 2] {
        [(self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5]
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union > 0.0 && union.is_finite() {
            inter / union
        } else {
            0.0
        }
    }

    /// The integer pixel range `[x0, x1) × [y0, y1)` this box covers inside a
    /// `width × height` frame (possibly empty).
    pub fn pixel_range(&self, width: u32, height: u32) -> (usize, usize, usize, usize) {
        let clampf = |v: f32, hi: u32| -> usize {
            if v.is_nan() || v <= 0.0 {
                0
            } else {
                (v as usize).min(hi as usize)
            }
        };
        let x0 = clampf(self.x1.floor(), width);
        let y0 = clampf(self.y1.floor(), height);
        let x1 = clampf(self.x2.ceil(), width).max(x0);
        let y1 = clampf(self.y2.ceil(), height).max(y0);
        (x0, y0, x1, y1)
    }

    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }
}

/// A square region of side `size` pixels centred at `(cx, cy)`, rotated by
/// `theta` radians (positive = clockwise on screen, since image y points down).
///
/// Sampled into an `n × n` crop, crop point `(u, v)` (continuous crop pixels)
/// maps to the image point `(cx, cy) + R(θ)·((u − n/2)·S/n, (v − n/2)·S/n)`
/// with `R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]` (MODELS.md §6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub cx: f32,
    pub cy: f32,
    pub size: f32,
    pub theta: f32,
}

impl Roi {
    /// The affine map from an `n × n` crop's pixel coordinates to the image.
    pub fn affine(&self, n: usize) -> Affine {
        let k = self.size / n as f32;
        let (s, c) = self.theta.sin_cos();
        let h = n as f32 * 0.5;
        // x = cx + c·k·(u − h) − s·k·(v − h)
        // y = cy + s·k·(u − h) + c·k·(v − h)
        Affine {
            m: [
                c * k,
                -s * k,
                self.cx - c * k * h + s * k * h,
                s * k,
                c * k,
                self.cy - s * k * h - c * k * h,
            ],
        }
    }

    /// Crop point (in `n × n` crop pixels) to image point.
    pub fn to_image(&self, n: usize, p: [f32; 2]) -> [f32; 2] {
        self.affine(n).apply(p)
    }

    /// Image point to crop point (the inverse of [`Roi::to_image`]).
    pub fn to_crop(&self, n: usize, p: [f32; 2]) -> [f32; 2] {
        let k = self.size / n as f32;
        let (s, c) = self.theta.sin_cos();
        let dx = p[0] - self.cx;
        let dy = p[1] - self.cy;
        // R(−θ)·d / k + n/2
        let h = n as f32 * 0.5;
        let inv = if k != 0.0 { 1.0 / k } else { 0.0 };
        [(c * dx + s * dy) * inv + h, (-s * dx + c * dy) * inv + h]
    }

    /// Rotates an image point into the ROI's own upright frame (relative to
    /// the centre, in image pixel units): `R(−θ)·(p − c)`.
    pub fn to_local(&self, p: [f32; 2]) -> [f32; 2] {
        let (s, c) = self.theta.sin_cos();
        let dx = p[0] - self.cx;
        let dy = p[1] - self.cy;
        [c * dx + s * dy, -s * dx + c * dy]
    }

    /// Inverse of [`Roi::to_local`].
    pub fn from_local(&self, q: [f32; 2]) -> [f32; 2] {
        let (s, c) = self.theta.sin_cos();
        [self.cx + c * q[0] - s * q[1], self.cy + s * q[0] + c * q[1]]
    }

    pub fn is_valid(&self) -> bool {
        self.cx.is_finite()
            && self.cy.is_finite()
            && self.theta.is_finite()
            && self.size.is_finite()
            && self.size > 1.0
    }
}

/// `x = m0·u + m1·v + m2`, `y = m3·u + m4·v + m5`: destination (crop) point to
/// source (image) point, both in continuous pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub m: [f32; 6],
}

impl Affine {
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        let m = &self.m;
        [
            m[0] * p[0] + m[1] * p[1] + m[2],
            m[3] * p[0] + m[4] * p[1] + m[5],
        ]
    }

    /// Letterbox into a `n × n` square (MODELS.md §6.1): `s = n / max(W, H)`,
    /// image centred, so crop point `(u, v)` is image point
    /// `((u − px)/s, (v − py)/s)`.
    pub fn letterbox(width: u32, height: u32, n: usize) -> Letterbox {
        let longest = width.max(height).max(1) as f32;
        let s = n as f32 / longest;
        let px = (n as f32 - width as f32 * s) * 0.5;
        let py = (n as f32 - height as f32 * s) * 0.5;
        Letterbox { s, px, py }
    }
}

/// The letterbox transform of an image into an `n × n` square.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub s: f32,
    pub px: f32,
    pub py: f32,
}

impl Letterbox {
    /// Letterbox point (pixels of the square) to image point.
    pub fn to_image(&self, p: [f32; 2]) -> [f32; 2] {
        [(p[0] - self.px) / self.s, (p[1] - self.py) / self.s]
    }

    /// Image point to letterbox point.
    pub fn to_letterbox(&self, p: [f32; 2]) -> [f32; 2] {
        [p[0] * self.s + self.px, p[1] * self.s + self.py]
    }

    pub fn affine(&self) -> Affine {
        let inv = 1.0 / self.s;
        Affine {
            m: [inv, 0.0, -self.px * inv, 0.0, inv, -self.py * inv],
        }
    }
}

/// Euclidean distance of two 2-D points.
#[inline]
pub fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_basics() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        let b = BBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        let c = BBox::new(20.0, 20.0, 30.0, 30.0);
        assert_eq!(a.iou(&c), 0.0);
        let empty = BBox::new(1.0, 1.0, 1.0, 1.0);
        assert_eq!(empty.iou(&empty), 0.0);
    }

    #[test]
    fn roi_round_trip() {
        let roi = Roi {
            cx: 321.5,
            cy: 199.25,
            size: 187.0,
            theta: 0.4,
        };
        for p in [[0.0, 0.0], [96.0, 96.0], [191.0, 12.5], [-20.0, 250.0]] {
            let img = roi.to_image(192, p);
            let back = roi.to_crop(192, img);
            assert!((back[0] - p[0]).abs() < 1e-3 && (back[1] - p[1]).abs() < 1e-3);
            let q = roi.to_local(img);
            let img2 = roi.from_local(q);
            assert!((img2[0] - img[0]).abs() < 1e-3 && (img2[1] - img[1]).abs() < 1e-3);
        }
        // The crop centre is the ROI centre, the crop's x axis follows θ.
        let c = roi.to_image(192, [96.0, 96.0]);
        assert!((c[0] - roi.cx).abs() < 1e-3 && (c[1] - roi.cy).abs() < 1e-3);
        let r = roi.to_image(192, [192.0, 96.0]);
        let ang = (r[1] - c[1]).atan2(r[0] - c[0]);
        assert!((ang - 0.4).abs() < 1e-4);
        assert!((dist(r, c) - 187.0 / 2.0).abs() < 1e-3);
    }

    #[test]
    fn letterbox_mapping() {
        // 640×480 into 128: s = 0.2, px = 0, py = (128 − 96)/2 = 16.
        let lb = Affine::letterbox(640, 480, 128);
        assert!((lb.s - 0.2).abs() < 1e-6);
        assert!(lb.px.abs() < 1e-6);
        assert!((lb.py - 16.0).abs() < 1e-5);
        let p = lb.to_image([64.0, 64.0]);
        assert!((p[0] - 320.0).abs() < 1e-3 && (p[1] - 240.0).abs() < 1e-3);
        let q = lb.to_letterbox([0.0, 0.0]);
        assert!(q[0].abs() < 1e-5 && (q[1] - 16.0).abs() < 1e-5);
        let a = lb.affine().apply([128.0, 112.0]);
        assert!((a[0] - 640.0).abs() < 1e-3 && (a[1] - 480.0).abs() < 1e-3);
        // Portrait: padding left and right.
        let lb = Affine::letterbox(480, 640, 128);
        assert!((lb.px - 16.0).abs() < 1e-5 && lb.py.abs() < 1e-6);
    }

    #[test]
    fn pixel_range_clamps() {
        let b = BBox::new(-5.0, 2.2, 700.0, 9.9);
        assert_eq!(b.pixel_range(640, 480), (0, 2, 640, 10));
        let nan = BBox::new(f32::NAN, f32::NAN, f32::NAN, f32::NAN);
        let (x0, y0, x1, y1) = nan.pixel_range(640, 480);
        assert!(x1 <= x0 || y1 <= y0);
    }
}
