//! The kiosk screen's light, simulated on replayed recordings.
//!
//! A recording has no kiosk screen in front of it, so `lifecert verify` and
//! `lifecert eval` render the screen-light challenge's tints onto the frames
//! with a documented reflection model before the vision pipeline sees them.
//! What the light does depends on what is in front of the camera, the
//! [`Scene`]:
//!
//! - [`Scene::Face`] (a recording of a real person): diffuse (Lambertian)
//!   reflection. In linear light each channel `c` of a pixel becomes
//!   `p·(1 + g·tint_c·cos θ)`: `p` is the skin's albedo times the ambient
//!   light, `g` the screen's light at the face relative to the ambient
//!   ([`ReflectionModel::face_gain`]), `θ` the angle between the surface
//!   normal and the direction to the screen (beside the camera). The head is
//!   an ellipsoid over the previous frame's face box (normal
//!   `(u, v, √(1 − u² − v²))` at normalised offset `(u, v)` from the box
//!   centre, the box height stretched by [`ReflectionModel::head_height`]
//!   to take in the forehead); everything else is the room behind, 3× farther
//!   from the screen, so lit 9× less ([`ReflectionModel::background_gain`]).
//! - [`Scene::Print`]: a flat photo. Inside its outline (per frame, from the
//!   attack generator) every pixel is lit as a plane facing the screen at
//!   [`ReflectionModel::print_cos`]; outside it, the room.
//! - [`Scene::Screen`]: a phone or tablet showing the attack. It emits its
//!   picture; the tint only adds a faint glare (glass reflects about 4 %,
//!   [`ReflectionModel::glass`]), the same on every pixel of the display.
//! - [`Scene::Injected`]: a feed sent straight to the camera input. Nothing
//!   in it sees the kiosk screen.
//!
//! Light reaches the camera [`ReflectionModel::lag`] after the tint is
//! scheduled (display refresh plus camera exposure and buffering).
//!
//! The attack generator (`lifecert attacks make`) writes a `.scene.json`
//! beside each recording ([`SceneFile`]); a recording without one is a face.

use std::path::Path;
use std::time::Duration;

use crate::attacks::SceneFile;
use crate::session::{FlashSchedule, ScreenLight};
use lifecert_core::liveness::flash::tint_at;
use lifecert_vision::{BBox, Frame};

/// A quadrilateral in image pixels: four corners in order.
pub type Quad = [[f32; 2]; 4];

/// What is in front of the camera.
#[derive(Debug, Clone, PartialEq)]
pub enum Scene {
    Face,
    /// A flat photo with its outline per frame (the last one holds after).
    Print {
        outlines: Vec<Quad>,
    },
    /// A display with its outline per frame.
    Screen {
        outlines: Vec<Quad>,
    },
    Injected,
}

/// The scene of `recording`: its sidecar's, or a face without one.
pub fn scene_of(recording: &Path) -> Result<Scene, String> {
    let path = SceneFile::path_for(recording);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<crate::attacks::SceneFile>(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .scene(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Scene::Face),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The reflection model's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflectionModel {
    /// Screen light at a face 40 cm away relative to a dim room's ambient
    /// light: a 250 cd/m² display covering about 60° of view gives roughly
    /// 100 lux per saturated primary's channel at the face, against 300–400
    /// lux indoors, so 0.25.
    pub face_gain: f32,
    /// The room behind the person, about 3× farther from the screen than the
    /// face: 0.25 / 9.
    pub background_gain: f32,
    /// A flat print held facing the camera, tilted about 25°: cos 25°.
    pub print_cos: f32,
    /// Glass reflectance of a phone or tablet (about 4 %), of the light a
    /// face would get, on a mid-grey linear level of 0.2.
    pub glass: f32,
    /// The face box height is stretched by this for the head ellipsoid.
    pub head_height: f32,
    /// Display plus camera latency.
    pub lag: Duration,
}

impl Default for ReflectionModel {
    fn default() -> Self {
        ReflectionModel {
            face_gain: 0.25,
            background_gain: 0.25 / 9.0,
            print_cos: 0.9,
            glass: 0.04,
            head_height: 1.15,
            lag: Duration::from_millis(100),
        }
    }
}

/// A replay's simulated screen light ([`ScreenLight`]).
pub struct SimulatedScreen {
    scene: Scene,
    model: ReflectionModel,
    schedule: Option<FlashSchedule>,
    to_linear: [f32; 256],
}

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_code(l: f32) -> u8 {
    let l = l.clamp(0.0, 1.0);
    let c = if l <= 0.003_130_8 {
        12.92 * l
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    };
    (c * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Whether `p` is inside the convex quad `q` (either winding).
fn in_quad(q: &Quad, p: [f32; 2]) -> bool {
    let mut sign = 0.0f32;
    for i in 0..4 {
        let a = q[i];
        let b = q[(i + 1) % 4];
        let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        if cross != 0.0 {
            if sign != 0.0 && cross.signum() != sign {
                return false;
            }
            sign = cross.signum();
        }
    }
    true
}

fn outline_at(outlines: &[Quad], index: u64) -> Option<&Quad> {
    let i = usize::try_from(index).unwrap_or(usize::MAX);
    outlines.get(i).or_else(|| outlines.last())
}

impl SimulatedScreen {
    /// The default model over the scene of `recording` ([`scene_of`]).
    pub fn for_recording(recording: &Path) -> Result<SimulatedScreen, String> {
        Ok(SimulatedScreen::new(
            scene_of(recording)?,
            ReflectionModel::default(),
        ))
    }

    pub fn new(scene: Scene, model: ReflectionModel) -> SimulatedScreen {
        let mut to_linear = [0.0f32; 256];
        for (i, v) in to_linear.iter_mut().enumerate() {
            *v = srgb_to_linear(i as f32 / 255.0);
        }
        SimulatedScreen {
            scene,
            model,
            schedule: None,
            to_linear,
        }
    }

    /// Multiplies every pixel by `1 + gain(x, y)·tint` in linear light, or
    /// adds `add·tint` where `gain` says so.
    fn render(&self, frame: &mut Frame, tint: [f32; 3], light: impl Fn(f32, f32) -> Light) {
        let w = frame.width as usize;
        for (i, px) in frame.rgb.chunks_exact_mut(3).enumerate() {
            let (x, y) = ((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
            let l = light(x, y);
            for (c, v) in px.iter_mut().enumerate() {
                let lin = self.to_linear[usize::from(*v)];
                let t = tint[c];
                let out = match l {
                    Light::Diffuse(g) => lin * (1.0 + g * t),
                    Light::Glare(a) => lin + a * t,
                    Light::None => lin,
                };
                *v = linear_to_code(out);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Light {
    Diffuse(f32),
    Glare(f32),
    None,
}

impl ScreenLight for SimulatedScreen {
    fn schedule(&mut self, schedule: Option<FlashSchedule>) {
        self.schedule = schedule;
    }

    fn light(&mut self, frame: &mut Frame, t: Duration, index: u64, face: Option<BBox>) {
        let Some(s) = &self.schedule else {
            return;
        };
        let Some(since) = t.checked_sub(s.at.saturating_add(self.model.lag)) else {
            return;
        };
        let Some(tint) = tint_at(&s.tints, s.slot, since) else {
            return;
        };
        if frame.check().is_err() {
            return;
        }
        let m = self.model;
        let tint = tint.rgb;
        match &self.scene {
            Scene::Injected => {}
            Scene::Face => {
                let ellipse = face.filter(BBox::is_finite).map(|b| {
                    let [cx, cy] = b.centre();
                    let a = (b.width() / 2.0).max(1.0);
                    let bh = (b.height() * m.head_height / 2.0).max(1.0);
                    (cx, cy, a, bh)
                });
                self.render(frame, tint, |x, y| {
                    if let Some((cx, cy, a, b)) = ellipse {
                        let (u, v) = ((x - cx) / a, (y - cy) / b);
                        let r2 = u * u + v * v;
                        if r2 < 1.0 {
                            return Light::Diffuse(m.face_gain * (1.0 - r2).sqrt());
                        }
                    }
                    Light::Diffuse(m.background_gain)
                });
            }
            Scene::Print { outlines } => {
                let q = outline_at(outlines, index).copied();
                self.render(frame, tint, |x, y| match q {
                    Some(q) if in_quad(&q, [x, y]) => Light::Diffuse(m.face_gain * m.print_cos),
                    _ => Light::Diffuse(m.background_gain),
                });
            }
            Scene::Screen { outlines } => {
                let q = outline_at(outlines, index).copied();
                let glare = m.glass * m.face_gain * 0.2;
                self.render(frame, tint, |x, y| match q {
                    Some(q) if in_quad(&q, [x, y]) => Light::Glare(glare),
                    Some(_) => Light::Diffuse(m.background_gain),
                    None => Light::None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecert_core::liveness::flash::PALETTE;

    fn grey(w: u32, h: u32) -> Frame {
        Frame::from_rgb(w, h, vec![128; (w * h * 3) as usize]).unwrap()
    }

    fn red_schedule() -> FlashSchedule {
        FlashSchedule {
            at: Duration::ZERO,
            tints: vec![PALETTE[0]],
            slot: Duration::from_secs(1),
        }
    }

    fn px(f: &Frame, x: usize, y: usize) -> [u8; 3] {
        let i = (y * f.width as usize + x) * 3;
        [f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]]
    }

    #[test]
    fn a_face_reddens_most_at_its_centre_and_the_room_least() {
        let mut s = SimulatedScreen::new(Scene::Face, ReflectionModel::default());
        s.schedule(Some(red_schedule()));
        let mut f = grey(100, 100);
        let face = BBox::new(30.0, 30.0, 70.0, 70.0);
        s.light(&mut f, Duration::from_millis(500), 0, Some(face));
        let (centre, cheek, room) = (px(&f, 50, 50), px(&f, 65, 50), px(&f, 5, 5));
        assert!(centre[0] > cheek[0] && cheek[0] > room[0] && room[0] >= 128);
        // Only the red channel: green and blue stay.
        assert_eq!([centre[1], centre[2]], [128, 128]);
    }

    #[test]
    fn nothing_before_the_lag_or_after_the_sequence_and_nothing_injected() {
        let mut s = SimulatedScreen::new(Scene::Face, ReflectionModel::default());
        s.schedule(Some(red_schedule()));
        for t in [50, 1200] {
            let mut f = grey(20, 20);
            s.light(&mut f, Duration::from_millis(t), 0, None);
            assert_eq!(f, grey(20, 20), "t = {t} ms");
        }
        let mut s = SimulatedScreen::new(Scene::Injected, ReflectionModel::default());
        s.schedule(Some(red_schedule()));
        let mut f = grey(20, 20);
        s.light(&mut f, Duration::from_millis(500), 0, None);
        assert_eq!(f, grey(20, 20));
    }

    #[test]
    fn a_print_is_lit_evenly_inside_its_outline() {
        let q: Quad = [[10.0, 10.0], [90.0, 10.0], [90.0, 90.0], [10.0, 90.0]];
        let mut s = SimulatedScreen::new(
            Scene::Print { outlines: vec![q] },
            ReflectionModel::default(),
        );
        s.schedule(Some(red_schedule()));
        let mut f = grey(100, 100);
        s.light(&mut f, Duration::from_millis(500), 7, None);
        assert_eq!(px(&f, 20, 20), px(&f, 50, 50));
        assert!(px(&f, 50, 50)[0] > px(&f, 2, 2)[0]);
    }

    #[test]
    fn a_screen_only_glares_faintly() {
        let q: Quad = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]];
        let mut s = SimulatedScreen::new(
            Scene::Screen { outlines: vec![q] },
            ReflectionModel::default(),
        );
        s.schedule(Some(red_schedule()));
        let mut f = grey(100, 100);
        s.light(&mut f, Duration::from_millis(500), 0, None);
        let p = px(&f, 50, 50);
        assert!(p[0] > 128 && p[0] <= 131, "{p:?}");
    }

    #[test]
    fn sidecars_parse_and_bad_ones_say_why() {
        let f: SceneFile = serde_json::from_str(
            r#"{"scene":"screen","species":"x","description":"y","plans":[],"victim":"v","enrol_at_secs":1.0}"#,
        )
        .unwrap();
        assert_eq!(f.scene().unwrap(), Scene::Screen { outlines: vec![] });
        let bad = SceneFile {
            scene: "hologram".into(),
            ..f
        };
        assert!(bad.scene().unwrap_err().contains("hologram"));
        assert_eq!(
            scene_of(Path::new("/nonexistent/clip.mp4")).unwrap(),
            Scene::Face
        );
    }
}
