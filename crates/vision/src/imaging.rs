//! Pixel work: bilinear warps into model input buffers, the MiniFASNet
//! resize, and the brightness / sharpness measures.
//!
//! All functions write into caller-owned buffers so the per-frame path does
//! not allocate once the buffers have grown to size.

use crate::Frame;
use crate::geometry::{Affine, BBox};

/// Samples `frame` through `t` (crop pixel → image pixel) into an
/// `n_w × n_h` NHWC RGB `f32` buffer, each value `pixel · mul + add`.
///
/// Bilinear, pixel centres at +0.5, out-of-image samples black (0 before
/// scaling), as MODELS.md §6 prescribes. `out.len()` must be `n_w·n_h·3`;
/// a shorter buffer is filled as far as it goes.
pub fn warp_rgb(
    frame: &Frame,
    t: &Affine,
    n_w: usize,
    n_h: usize,
    mul: f32,
    add: f32,
    out: &mut [f32],
) {
    let fw = i64::from(frame.width);
    let fh = i64::from(frame.height);
    let stride = frame.width as usize * 3;
    let rgb = &frame.rgb[..];
    // The fast path reads pixel (x0+1, y0+1) directly: only when the buffer
    // really holds the whole frame.
    let fast_ok = rgb.len() >= stride * frame.height as usize;
    let m = t.m;
    // Fixed-point scale: weights sum to 65536 and `mul` folds in.
    let k = mul * (1.0 / 65536.0);
    // Source positions step in 16.16 fixed point along a row (error ≤ n/65536 px).
    let to_fixed = |v: f32| (v.clamp(-1.0e6, 1.0e6) * FIXED_ONE) as i64;
    let (dx, dy) = (to_fixed(m[0]), to_fixed(m[3]));
    let rows = out.len() / (3 * n_w.max(1));
    for v in 0..n_h.min(rows) {
        let vc = v as f32 + 0.5;
        // Source position of the centre of destination pixel (0, v), shifted
        // by −0.5 so that integer values land on source pixel centres.
        let x = m[0] * 0.5 + m[1] * vc + m[2] - 0.5;
        let y = m[3] * 0.5 + m[4] * vc + m[5] - 0.5;
        let row = &mut out[v * n_w * 3..(v + 1) * n_w * 3];
        if !(x.is_finite() && y.is_finite() && m[0].is_finite() && m[3].is_finite()) {
            row.fill(add);
            continue;
        }
        let (mut xf, mut yf) = (to_fixed(x), to_fixed(y));
        for dst in row.chunks_exact_mut(3) {
            // Arithmetic shift = floor, also for negative positions.
            let (x0, y0) = (xf >> 16, yf >> 16);
            if fast_ok && x0 >= 0 && y0 >= 0 && x0 + 1 < fw && y0 + 1 < fh {
                let fx = ((xf >> 8) & 255) as u32;
                let fy = ((yf >> 8) & 255) as u32;
                let i = y0 as usize * stride + x0 as usize * 3;
                let j = i + stride;
                // In bounds: x0 + 1 < width, y0 + 1 < height and the buffer
                // holds the whole frame (`fast_ok`).
                let (a, b) = (&rgb[i..i + 6], &rgb[j..j + 6]);
                // 8-bit fractions (1/256 px); one int→float per channel.
                let (q00, q01) = ((256 - fx) * (256 - fy), fx * (256 - fy));
                let (q10, q11) = ((256 - fx) * fy, fx * fy);
                for c in 0..3 {
                    let p = q00 * u32::from(a[c])
                        + q01 * u32::from(a[c + 3])
                        + q10 * u32::from(b[c])
                        + q11 * u32::from(b[c + 3]);
                    dst[c] = p as f32 * k + add;
                }
            } else {
                sample_slow(
                    frame,
                    xf as f32 / FIXED_ONE,
                    yf as f32 / FIXED_ONE,
                    mul,
                    add,
                    dst,
                );
            }
            xf += dx;
            yf += dy;
        }
    }
}

/// 1.0 in the 16.16 fixed point of [`warp_rgb`].
const FIXED_ONE: f32 = 65536.0;

/// Bilinear sample at source position `(x, y)` (pixel-centre coordinates)
/// with black outside the frame; any of the four neighbours may be outside.
#[cold]
fn sample_slow(frame: &Frame, x: f32, y: f32, mul: f32, add: f32, dst: &mut [f32]) {
    let fw = i64::from(frame.width);
    let fh = i64::from(frame.height);
    let (x0, ax) = split(x);
    let (y0, ay) = split(y);
    if x0 + 1 < 0 || y0 + 1 < 0 || x0 >= fw || y0 >= fh || !(ax.is_finite() && ay.is_finite()) {
        dst.fill(add);
        return;
    }
    let p00 = frame.pixel(x0, y0);
    let p01 = frame.pixel(x0 + 1, y0);
    let p10 = frame.pixel(x0, y0 + 1);
    let p11 = frame.pixel(x0 + 1, y0 + 1);
    for (c, d) in dst.iter_mut().enumerate().take(3) {
        let p = (1.0 - ax) * (1.0 - ay) * f32::from(p00[c])
            + ax * (1.0 - ay) * f32::from(p01[c])
            + (1.0 - ax) * ay * f32::from(p10[c])
            + ax * ay * f32::from(p11[c]);
        *d = p * mul + add;
    }
}

/// `(floor(x), x − floor(x))` without a libm call (`f32::floor` is one on
/// baseline x86-64); `x` is clamped to ±1e6 first, far outside any frame.
#[inline(always)]
fn split(x: f32) -> (i64, f32) {
    let xc = x.clamp(-1.0e6, 1.0e6);
    let t = xc as i64;
    let t = if (t as f32) > xc { t - 1 } else { t };
    (t, xc - t as f32)
}

/// Crops the integer box `[x0, x1] × [y0, y1]` (inclusive, as Silent-Face's
/// `src[y0:y1+1, x0:x1+1]`) and resizes it, non-square, to `n × n` like
/// OpenCV's `INTER_LINEAR` (half-pixel centres, edge replication), writing
/// NCHW **BGR** raw 0–255 into `out` (`3·n·n` values).
pub fn crop_resize_bgr_nchw(
    frame: &Frame,
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
    n: usize,
    out: &mut [f32],
) {
    let cw = (x1 - x0 + 1).max(1) as f32;
    let ch = (y1 - y0 + 1).max(1) as f32;
    let sx = cw / n as f32;
    let sy = ch / n as f32;
    let plane = n * n;
    if out.len() < 3 * plane {
        return;
    }
    // Clamp a crop-relative coordinate into the crop, then into the frame.
    let clamp_x =
        |v: i64| -> i64 { (x0 + v.clamp(0, cw as i64 - 1)).clamp(0, i64::from(frame.width) - 1) };
    let clamp_y =
        |v: i64| -> i64 { (y0 + v.clamp(0, ch as i64 - 1)).clamp(0, i64::from(frame.height) - 1) };
    for v in 0..n {
        let fy = ((v as f32 + 0.5) * sy - 0.5).max(0.0);
        let yi = fy.floor();
        let ay = fy - yi;
        let ya = clamp_y(yi as i64);
        let yb = clamp_y(yi as i64 + 1);
        for u in 0..n {
            let fx = ((u as f32 + 0.5) * sx - 0.5).max(0.0);
            let xi = fx.floor();
            let ax = fx - xi;
            let xa = clamp_x(xi as i64);
            let xb = clamp_x(xi as i64 + 1);
            let p00 = frame.pixel(xa, ya);
            let p01 = frame.pixel(xb, ya);
            let p10 = frame.pixel(xa, yb);
            let p11 = frame.pixel(xb, yb);
            for c in 0..3 {
                let p = (1.0 - ax) * (1.0 - ay) * f32::from(p00[c])
                    + ax * (1.0 - ay) * f32::from(p01[c])
                    + (1.0 - ax) * ay * f32::from(p10[c])
                    + ax * ay * f32::from(p11[c]);
                // RGB → BGR: channel c goes to plane 2 − c.
                out[(2 - c) * plane + v * n + u] = p;
            }
        }
    }
}

/// At most this many samples per side of the face box go into the
/// brightness/sharpness measures; larger boxes are sampled with an integer
/// step (the Laplacian is then taken on that coarser grid).
pub const STATS_MAX_SIDE: usize = 256;

/// ITU-R BT.601 luma of an RGB pixel, 0..255.
#[inline]
pub fn luma(p: [u8; 3]) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// Mean luma (0..255) and the variance of the 4-neighbour Laplacian of the
/// grey image over `bbox` (clamped to the frame). `grey` is scratch space.
/// Returns `(0, 0)` for an empty box; sharpness is 0 for boxes under 3×3.
pub fn face_stats(frame: &Frame, bbox: &BBox, grey: &mut Vec<f32>) -> (f32, f32) {
    let (x0, y0, x1, y1) = bbox.pixel_range(frame.width, frame.height);
    let (w, h) = (x1 - x0, y1 - y0);
    if w == 0 || h == 0 {
        return (0.0, 0.0);
    }
    let step = w.max(h).div_ceil(STATS_MAX_SIDE).max(1);
    let gw = w.div_ceil(step);
    let gh = h.div_ceil(step);
    grey.clear();
    grey.reserve(gw * gh);
    let stride = frame.width as usize * 3;
    let mut sum = 0.0f64;
    for gy in 0..gh {
        let y = y0 + gy * step;
        for gx in 0..gw {
            let x = x0 + gx * step;
            let i = y * stride + x * 3;
            let g = match frame.rgb.get(i..i + 3) {
                Some(p) => luma([p[0], p[1], p[2]]),
                None => 0.0,
            };
            sum += f64::from(g);
            grey.push(g);
        }
    }
    let brightness = (sum / (gw * gh) as f64) as f32;
    (brightness, laplacian_variance(grey, gw, gh))
}

/// Variance of the 4-neighbour Laplacian over the interior of a `w × h`
/// grey image (row-major). 0 when the image is smaller than 3×3.
pub fn laplacian_variance(grey: &[f32], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 || grey.len() < w * h {
        return 0.0;
    }
    let mut s = 0.0f64;
    let mut s2 = 0.0f64;
    for y in 1..h - 1 {
        let row = &grey[y * w..(y + 1) * w];
        let up = &grey[(y - 1) * w..y * w];
        let down = &grey[(y + 1) * w..(y + 2) * w];
        for x in 1..w - 1 {
            let l = f64::from(up[x] + down[x] + row[x - 1] + row[x + 1] - 4.0 * row[x]);
            s += l;
            s2 += l * l;
        }
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = s / n;
    ((s2 / n - mean * mean).max(0.0)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Roi;

    fn frame_from(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Frame {
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(&f(x, y));
            }
        }
        Frame {
            width: w,
            height: h,
            rgb,
        }
    }

    #[test]
    fn laplacian_of_flat_and_ramp_is_zero() {
        let flat = vec![100.0; 20 * 10];
        assert_eq!(laplacian_variance(&flat, 20, 10), 0.0);
        let ramp: Vec<f32> = (0..200).map(|i| (i % 20) as f32 * 3.0).collect();
        assert!(laplacian_variance(&ramp, 20, 10) < 1e-6);
        assert_eq!(laplacian_variance(&flat, 2, 100), 0.0);
    }

    #[test]
    fn laplacian_of_checkerboard_is_known() {
        // Checkerboard 0/255: the Laplacian is ±4·255 everywhere → variance (1020)².
        let (w, h) = (16, 16);
        let g: Vec<f32> = (0..w * h)
            .map(|i| if (i % w + i / w) % 2 == 0 { 0.0 } else { 255.0 })
            .collect();
        let v = laplacian_variance(&g, w, h);
        assert!(
            (v - 1020.0f32 * 1020.0).abs() / (1020.0 * 1020.0) < 1e-4,
            "{v}"
        );
    }

    #[test]
    fn sharp_image_scores_higher_than_blurred() {
        let sharp = frame_from(64, 64, |x, y| {
            if (x / 4 + y / 4) % 2 == 0 {
                [0; 3]
            } else {
                [255; 3]
            }
        });
        // The same pattern box-blurred horizontally and vertically.
        let blurred = frame_from(64, 64, |x, y| {
            let mut acc = 0u32;
            for dy in 0..3u32 {
                for dx in 0..3u32 {
                    let (xx, yy) = ((x + dx).saturating_sub(1), (y + dy).saturating_sub(1));
                    acc += if (xx / 4 + yy / 4) % 2 == 0 { 0 } else { 255 };
                }
            }
            [(acc / 9) as u8; 3]
        });
        let b = BBox::new(0.0, 0.0, 64.0, 64.0);
        let mut scratch = Vec::new();
        let (l1, s1) = face_stats(&sharp, &b, &mut scratch);
        let (l2, s2) = face_stats(&blurred, &b, &mut scratch);
        assert!((l1 - 127.5).abs() < 1.0, "{l1}");
        assert!((l2 - 127.5).abs() < 8.0, "{l2}");
        assert!(s1 > 2.0 * s2, "{s1} vs {s2}");
    }

    #[test]
    fn face_stats_on_empty_or_outside_box() {
        let f = frame_from(8, 8, |_, _| [10, 20, 30]);
        let mut scratch = Vec::new();
        assert_eq!(
            face_stats(&f, &BBox::new(100.0, 100.0, 200.0, 200.0), &mut scratch),
            (0.0, 0.0)
        );
        let (l, s) = face_stats(&f, &BBox::new(-5.0, -5.0, 50.0, 50.0), &mut scratch);
        assert!((l - luma([10, 20, 30])).abs() < 1e-3 && s == 0.0);
    }

    #[test]
    fn warp_identity_reproduces_pixels_and_pads_black() {
        let f = frame_from(10, 6, |x, y| [(x * 20) as u8, (y * 40) as u8, 7]);
        let roi = Roi {
            cx: 5.0,
            cy: 3.0,
            size: 10.0,
            theta: 0.0,
        };
        // 10×10 crop of a 10×6 image: exact pixels in rows 2..8, black elsewhere.
        let mut out = vec![0.0; 10 * 10 * 3];
        warp_rgb(&f, &roi.affine(10), 10, 10, 1.0, 0.0, &mut out);
        for v in 0..10usize {
            for u in 0..10usize {
                let o = &out[(v * 10 + u) * 3..][..3];
                if (2..8).contains(&v) {
                    let p = f.pixel(u as i64, v as i64 - 2);
                    for c in 0..3 {
                        assert!(
                            (o[c] - f32::from(p[c])).abs() < 1e-3,
                            "({u},{v}) {o:?} {p:?}"
                        );
                    }
                } else {
                    assert_eq!(o, &[0.0, 0.0, 0.0]);
                }
            }
        }
        // Normalisation applies to the padding too.
        warp_rgb(&f, &roi.affine(10), 10, 10, 1.0 / 127.5, -1.0, &mut out);
        assert_eq!(out[0], -1.0);
    }

    #[test]
    fn warp_handles_degenerate_frames() {
        let empty = Frame {
            width: 0,
            height: 0,
            rgb: vec![],
        };
        let mut out = vec![1.0; 4 * 4 * 3];
        let roi = Roi {
            cx: 0.0,
            cy: 0.0,
            size: 4.0,
            theta: 0.3,
        };
        warp_rgb(&empty, &roi.affine(4), 4, 4, 1.0, 0.0, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        let nan = Roi {
            cx: f32::NAN,
            cy: 0.0,
            size: 4.0,
            theta: 0.0,
        };
        warp_rgb(&empty, &nan.affine(4), 4, 4, 1.0, 0.0, &mut out);
    }

    #[test]
    fn bgr_resize_swaps_channels() {
        let f = frame_from(4, 4, |_, _| [1, 2, 3]);
        let mut out = vec![0.0; 3 * 2 * 2];
        crop_resize_bgr_nchw(&f, 0, 0, 3, 3, 2, &mut out);
        assert_eq!(&out[0..4], &[3.0; 4]);
        assert_eq!(&out[4..8], &[2.0; 4]);
        assert_eq!(&out[8..12], &[1.0; 4]);
    }
}
