//! Capture-mode negotiation, independent of any camera library so it can be
//! unit-tested without hardware.
//!
//! nokhwa 0.10's own `RequestedFormatType::Closest` fails when the requested
//! resolution is not offered exactly (it looks up frame rates for the
//! *requested* resolution), so the live backend lists the camera's modes and
//! picks one with [`choose_mode`].

/// Pixel encodings a camera may deliver (the ones nokhwa decodes to RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelKind {
    /// Motion-JPEG: compressed, high frame rates over USB 2.
    Mjpeg,
    /// YUYV 4:2:2: uncompressed, cheap to decode, bandwidth-limited.
    Yuyv,
    /// Packed RGB, BGR, grey, NV12 …
    Other,
}

/// One capture mode: resolution, frame rate and pixel encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaptureMode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub kind: PixelKind,
}

impl std::fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} {:?} @ {} fps",
            self.width, self.height, self.kind, self.fps
        )
    }
}

/// Picks the offered mode closest to `wanted`:
/// 1. the closest resolution (squared pixel distance; on a tie, the larger one);
/// 2. then a frame rate of at least `wanted.fps` if possible, the closest one;
/// 3. then MJPEG over YUYV over anything else.
///
/// `None` when nothing is offered.
pub fn choose_mode(offered: &[CaptureMode], wanted: CaptureMode) -> Option<CaptureMode> {
    let dist = |m: &CaptureMode| {
        let dx = i64::from(m.width) - i64::from(wanted.width);
        let dy = i64::from(m.height) - i64::from(wanted.height);
        dx * dx + dy * dy
    };
    let kind_rank = |k: PixelKind| match k {
        PixelKind::Mjpeg => 0u8,
        PixelKind::Yuyv => 1,
        PixelKind::Other => 2,
    };
    offered
        .iter()
        .filter(|m| m.width > 0 && m.height > 0 && m.fps > 0)
        .min_by_key(|m| {
            let too_slow = m.fps < wanted.fps;
            (
                dist(m),
                std::cmp::Reverse(u64::from(m.width) * u64::from(m.height)),
                too_slow,
                m.fps.abs_diff(wanted.fps),
                kind_rank(m.kind),
            )
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(width: u32, height: u32, fps: u32, kind: PixelKind) -> CaptureMode {
        CaptureMode {
            width,
            height,
            fps,
            kind,
        }
    }

    #[test]
    fn exact_match_wins_and_prefers_mjpeg() {
        let offered = [
            m(640, 480, 30, PixelKind::Yuyv),
            m(640, 480, 30, PixelKind::Mjpeg),
            m(1280, 720, 30, PixelKind::Mjpeg),
        ];
        let want = m(640, 480, 30, PixelKind::Mjpeg);
        assert_eq!(choose_mode(&offered, want), Some(offered[1]));
    }

    #[test]
    fn closest_resolution_when_not_offered_exactly() {
        // The case nokhwa's own `Closest` cannot resolve.
        let offered = [
            m(320, 240, 30, PixelKind::Yuyv),
            m(800, 600, 20, PixelKind::Yuyv),
            m(1920, 1080, 30, PixelKind::Mjpeg),
        ];
        let want = m(640, 480, 15, PixelKind::Mjpeg);
        assert_eq!(choose_mode(&offered, want), Some(offered[1]));
    }

    #[test]
    fn prefers_fast_enough_frame_rates() {
        let offered = [
            m(1280, 720, 10, PixelKind::Yuyv),
            m(1280, 720, 30, PixelKind::Mjpeg),
            m(1280, 720, 60, PixelKind::Mjpeg),
        ];
        let want = m(1280, 720, 15, PixelKind::Mjpeg);
        assert_eq!(choose_mode(&offered, want), Some(offered[1]));
        // Only slow modes: take the closest.
        let slow = [
            m(1280, 720, 5, PixelKind::Yuyv),
            m(1280, 720, 10, PixelKind::Yuyv),
        ];
        assert_eq!(choose_mode(&slow, want), Some(slow[1]));
    }

    #[test]
    fn nothing_offered() {
        assert_eq!(choose_mode(&[], m(640, 480, 30, PixelKind::Mjpeg)), None);
        assert_eq!(
            choose_mode(
                &[m(0, 0, 30, PixelKind::Mjpeg)],
                m(640, 480, 30, PixelKind::Mjpeg)
            ),
            None
        );
    }
}
