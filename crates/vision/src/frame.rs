//! Frames: RGB8 images in memory. Raw frames never touch disk.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::VisionError;

/// One RGB8 frame, row-major, 3 bytes per pixel, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    // Never dump pixels into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// A frame from raw RGB8 bytes; `None` if the length does not match.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<Frame> {
        let expected = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(3)?;
        (rgb.len() == expected).then_some(Frame { width, height, rgb })
    }

    /// A frame from a decoded image (converted to RGB8).
    pub fn from_image(image: DynamicImage) -> Frame {
        let rgb = image.into_rgb8();
        let (width, height) = rgb.dimensions();
        Frame {
            width,
            height,
            rgb: rgb.into_raw(),
        }
    }

    /// Checks that the buffer holds exactly `width × height × 3` bytes.
    pub fn check(&self) -> Result<(), VisionError> {
        let expected = (self.width as usize)
            .checked_mul(self.height as usize)
            .and_then(|n| n.checked_mul(3));
        if expected == Some(self.rgb.len()) {
            Ok(())
        } else {
            Err(VisionError::InvalidFrame {
                reason: format!(
                    "{}x{} frame has {} bytes, expected {}",
                    self.width,
                    self.height,
                    self.rgb.len(),
                    expected.map_or_else(|| "overflow".to_string(), |n| n.to_string())
                ),
            })
        }
    }

    /// The RGB of pixel (x, y); black outside the frame.
    #[inline]
    pub fn pixel(&self, x: i64, y: i64) -> [u8; 3] {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return [0, 0, 0];
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        match self.rgb.get(i..i + 3) {
            Some(p) => [p[0], p[1], p[2]],
            None => [0, 0, 0],
        }
    }
}

/// Loads a still image (PNG, JPEG, GIF's first frame) with its EXIF
/// orientation applied, so a phone photo is upright.
pub fn load_image(path: &Path) -> Result<Frame, VisionError> {
    let unreadable = |reason: String| VisionError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| unreadable(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(Frame::from_image(image))
}
