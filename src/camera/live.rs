//! Live cameras through nokhwa (V4L2 on Linux, Media Foundation on Windows).
//!
//! `nokhwa::Camera` is `!Send`: open a [`LiveCamera`] on the thread that
//! reads it (see [`super::CaptureThread`]). The camera is switched off
//! (stream stopped, device closed) when the `LiveCamera` is dropped.
//!
//! Before streaming, the camera must pass the trusted-device check
//! ([`super::trust`]): on Linux from sysfs before the device is opened, on
//! Windows from Media Foundation's name and symbolic link once it is.

use std::time::Instant;

use lifecert_vision::Frame;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};
use nokhwa::{Buffer, Camera, FormatDecoder};

use super::mode::{CaptureMode, PixelKind, choose_mode};
use super::trust::{self, CaptureDeviceIdentity, IdentityError};
use super::{CameraError, FrameSource, TimedFrame};
use crate::config::CameraTrust;

/// After this many undecodable frames in a row the camera counts as failed.
const MAX_BAD_FRAMES_IN_A_ROW: u32 = 30;

/// Which camera to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The OS's device index (`/dev/video<N>` on Linux).
    Index(u32),
    /// A device path (`/dev/video2`, `/dev/v4l/by-id/…-video-index0`) or a
    /// camera name as reported by the driver (exact, then substring, case-insensitive).
    Name(String),
}

fn kind_of(format: FrameFormat) -> PixelKind {
    match format {
        FrameFormat::MJPEG => PixelKind::Mjpeg,
        FrameFormat::YUYV => PixelKind::Yuyv,
        _ => PixelKind::Other,
    }
}

/// Whether nokhwa can decode `format` to RGB.
fn decodable(format: FrameFormat) -> bool {
    <RgbFormat as FormatDecoder>::FORMATS.contains(&format)
}

fn mode_of(format: CameraFormat) -> CaptureMode {
    CaptureMode {
        width: format.width(),
        height: format.height(),
        fps: format.frame_rate(),
        kind: kind_of(format.format()),
    }
}

/// Decodes a captured buffer (MJPEG, YUYV, NV12, RGB, BGR) to a [`Frame`].
///
/// nokhwa decodes MJPEG with mozjpeg, whose fatal libjpeg errors (a
/// truncated or corrupt frame from the camera) *unwind* with
/// `resume_unwind` instead of returning an error (silently: the panic hook
/// is not called), and nokhwa does not catch them. Caught here, they become
/// an ordinary decode error instead of killing the capture thread.
fn buffer_to_frame(buffer: &Buffer) -> Result<Frame, String> {
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        buffer.decode_image::<RgbFormat>()
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the frame decoder failed".to_owned())
    })?;
    let img = decoded.map_err(|e| e.to_string())?;
    let (w, h) = img.dimensions();
    Frame::from_rgb(w, h, img.into_raw())
        .ok_or_else(|| "decoded frame has the wrong size".to_owned())
}

/// The `/dev/videoN` index a device path points at (following symlinks).
fn index_from_path(path: &str) -> Option<u32> {
    let real = std::fs::canonicalize(path).ok()?;
    let name = real.file_name()?.to_str()?;
    name.strip_prefix("video")?.parse().ok()
}

fn list_cameras() -> Result<Vec<nokhwa::utils::CameraInfo>, CameraError> {
    nokhwa::query(ApiBackend::Auto).map_err(|e| CameraError::Open {
        device: "(listing cameras)".to_owned(),
        reason: e.to_string(),
    })
}

/// Names of the cameras the OS reports (for the maintenance screen and errors).
pub fn camera_names() -> Result<Vec<String>, CameraError> {
    Ok(list_cameras()?
        .iter()
        .map(|c| format!("{} ({})", c.human_name(), c.index()))
        .collect())
}

/// The identity of Media Foundation camera `index` (Windows), from the camera list.
pub fn msmf_identity(index: u32) -> Option<CaptureDeviceIdentity> {
    let cameras = list_cameras().ok()?;
    let info = cameras
        .iter()
        .find(|c| *c.index() == CameraIndex::Index(index))?;
    Some(trust::identify_msmf(
        &format!("msmf:{index}"),
        &info.human_name(),
        &info.misc(),
    ))
}

/// Applies a trust verdict: logs it, remembers a refusal for the health
/// check, and turns a refusal into an error.
fn admit(
    device: &str,
    verdict: Result<Option<CaptureDeviceIdentity>, trust::UntrustedCamera>,
) -> Result<(), CameraError> {
    trust::record_verdict(&verdict, device);
    verdict.map(|_| ()).map_err(CameraError::from)
}

/// The Linux check, from sysfs, before the device is opened.
fn check_v4l(device: &str, index: &CameraIndex, trust: &CameraTrust) -> Result<(), CameraError> {
    let node = match index {
        CameraIndex::Index(i) => format!("video{i}"),
        CameraIndex::String(s) => s.trim_start_matches("/dev/").to_owned(),
    };
    let identified = trust::identify_v4l(std::path::Path::new(trust::SYSFS_ROOT), &node);
    let lab = trust.allow_virtual && !trust.is_bound();
    if let Err(e @ IdentityError::NoSuchNode { .. }) = &identified
        && !lab
    {
        // Not connected: the usual open error, not a trust fault.
        return Err(CameraError::Open {
            device: device.to_owned(),
            reason: e.to_string(),
        });
    }
    admit(
        device,
        trust::judge(&format!("/dev/{node}"), identified, trust),
    )
}

fn resolve(device: &str, selector: &Selector) -> Result<CameraIndex, CameraError> {
    match selector {
        Selector::Index(i) => Ok(CameraIndex::Index(*i)),
        Selector::Name(name) if name.starts_with('/') || name.starts_with('.') => {
            index_from_path(name)
                .map(CameraIndex::Index)
                .ok_or_else(|| CameraError::Open {
                    device: device.to_owned(),
                    reason: format!("{name} does not exist or is not a /dev/videoN device"),
                })
        }
        Selector::Name(name) => {
            let cameras = list_cameras()?;
            let wanted = name.to_lowercase();
            let exact = cameras
                .iter()
                .find(|c| c.human_name().to_lowercase() == wanted);
            let partial = || {
                cameras
                    .iter()
                    .find(|c| c.human_name().to_lowercase().contains(&wanted))
            };
            match exact.or_else(partial) {
                Some(c) => Ok(c.index().clone()),
                None => Err(CameraError::DeviceNotFound {
                    wanted: name.clone(),
                    found: if cameras.is_empty() {
                        "none".to_owned()
                    } else {
                        cameras
                            .iter()
                            .map(|c| format!("\"{}\"", c.human_name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                }),
            }
        }
    }
}

/// An open, streaming camera.
pub struct LiveCamera {
    camera: Camera,
    device: String,
    name: String,
    mode: CaptureMode,
    start: Instant,
    index: u64,
}

impl LiveCamera {
    /// Opens the camera `selector` (`device` is the configured string, for
    /// messages), checks that it is a real capture device matching `trust`
    /// ([`CameraError::Untrusted`] if not), negotiates the mode closest to
    /// `wanted` and starts streaming.
    pub fn open(
        device: &str,
        selector: &Selector,
        wanted: CaptureMode,
        trust: &CameraTrust,
    ) -> Result<LiveCamera, CameraError> {
        let index = resolve(device, selector)?;
        if cfg!(target_os = "linux") {
            check_v4l(device, &index, trust)?;
        }
        let open_failed = |e: nokhwa::NokhwaError| CameraError::open_failed(device, e.to_string());
        let any_format = || RequestedFormat::new::<RgbFormat>(RequestedFormatType::None);
        // Open with any RGB-decodable format and list the modes; nokhwa's
        // `Closest` fails unless the requested resolution exists exactly.
        let mut camera = Camera::new(index.clone(), any_format()).map_err(open_failed)?;
        if !cfg!(target_os = "linux") {
            // Media Foundation: name and symbolic link, known once the device is open.
            let info = camera.info();
            let identity = trust::identify_msmf(device, &info.human_name(), &info.misc());
            admit(device, trust::judge(device, Ok(identity), trust))?;
        }
        let offered: Vec<CameraFormat> = camera
            .compatible_camera_formats()
            .map_err(open_failed)?
            .into_iter()
            .filter(|f| decodable(f.format()))
            .collect();
        let modes: Vec<CaptureMode> = offered.iter().map(|f| mode_of(*f)).collect();
        let best = choose_mode(&modes, wanted)
            .and_then(|best| offered.iter().copied().find(|f| mode_of(*f) == best));
        if let Some(best) = best
            && best != camera.camera_format()
        {
            // Reopen with the exact mode: the constructor sets and verifies it.
            drop(camera);
            let exact = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Exact(best));
            camera = match Camera::new(index.clone(), exact) {
                Ok(camera) => camera,
                Err(e) => {
                    tracing::warn!(device, mode = %mode_of(best), error = %e,
                        "camera rejected the chosen mode; using its default");
                    Camera::new(index, any_format()).map_err(open_failed)?
                }
            };
        }
        camera.open_stream().map_err(open_failed)?;
        let mode = mode_of(camera.camera_format());
        let name = camera.info().human_name();
        tracing::info!(device, name, %mode, "camera on");
        Ok(LiveCamera {
            camera,
            device: device.to_owned(),
            name,
            mode,
            start: Instant::now(),
            index: 0,
        })
    }

    /// The negotiated mode.
    pub fn mode(&self) -> CaptureMode {
        self.mode
    }
}

impl FrameSource for LiveCamera {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        let mut bad = 0u32;
        loop {
            let buffer = self.camera.frame().map_err(|e| CameraError::Disconnected {
                device: self.device.clone(),
                reason: e.to_string(),
            })?;
            // The capture clock: time since the stream was opened.
            let timestamp = self.start.elapsed();
            match buffer_to_frame(&buffer) {
                Ok(frame) => {
                    let index = self.index;
                    self.index += 1;
                    return Ok(Some(TimedFrame {
                        frame,
                        timestamp,
                        index,
                    }));
                }
                Err(reason) => {
                    // A corrupt MJPEG frame now and then is normal; a stream of them is not.
                    bad += 1;
                    tracing::debug!(device = %self.device, reason, "undecodable camera frame");
                    if bad >= MAX_BAD_FRAMES_IN_A_ROW {
                        return Err(CameraError::Disconnected {
                            device: self.device.clone(),
                            reason: format!("{bad} undecodable frames in a row: {reason}"),
                        });
                    }
                }
            }
        }
    }

    fn describe(&self) -> String {
        format!("camera {} \"{}\" ({})", self.device, self.name, self.mode)
    }
}

impl Drop for LiveCamera {
    fn drop(&mut self) {
        // nokhwa's own Drop stops the stream too (and unwraps the result, which
        // cannot fail on V4L2); stopping here first logs the privacy-relevant event.
        if let Err(e) = self.camera.stop_stream() {
            tracing::warn!(device = %self.device, error = %e, "stopping the camera stream failed");
        }
        tracing::info!(device = %self.device, "camera off");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nokhwa::utils::Resolution;

    #[test]
    fn mjpeg_buffers_decode_to_frames() {
        let mut img = image::RgbImage::new(64, 48);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([(x * 4) as u8, 128, 200]);
        }
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let buffer = Buffer::new(Resolution::new(64, 48), &jpeg, FrameFormat::MJPEG);
        let frame = buffer_to_frame(&buffer).unwrap();
        assert_eq!((frame.width, frame.height), (64, 48));
        let [r, g, b] = frame.pixel(32, 24);
        assert!(r.abs_diff(128) < 12 && g.abs_diff(128) < 12 && b.abs_diff(200) < 12);
        // A corrupt frame is an error, not an unwind (mozjpeg unwinds on fatal errors).
        let bad = Buffer::new(Resolution::new(64, 48), &jpeg[..40], FrameFormat::MJPEG);
        let err = buffer_to_frame(&bad).unwrap_err();
        assert!(err.contains("libjpeg"), "{err}");
        let garbage = Buffer::new(Resolution::new(64, 48), b"not a jpeg", FrameFormat::MJPEG);
        assert!(buffer_to_frame(&garbage).is_err());
    }

    #[test]
    fn yuyv_buffers_decode_to_frames() {
        // Mid-grey: Y=128, U=V=128 for a 4x2 image (2 bytes per pixel).
        let yuyv = vec![128u8; 4 * 2 * 2];
        let buffer = Buffer::new(Resolution::new(4, 2), &yuyv, FrameFormat::YUYV);
        let frame = buffer_to_frame(&buffer).unwrap();
        assert_eq!((frame.width, frame.height), (4, 2));
        let [r, g, b] = frame.pixel(1, 1);
        assert!(r.abs_diff(128) < 8 && g.abs_diff(128) < 8 && b.abs_diff(128) < 8);
    }

    #[test]
    fn camera_mode_conversion() {
        let f = CameraFormat::new(Resolution::new(1280, 720), FrameFormat::YUYV, 10);
        let m = mode_of(f);
        assert_eq!(
            (m.width, m.height, m.fps, m.kind),
            (1280, 720, 10, PixelKind::Yuyv)
        );
        assert!(decodable(FrameFormat::MJPEG));
    }
}
