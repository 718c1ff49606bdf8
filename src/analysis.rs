//! The vision command-line tools: `analyze`, `compare` and `enroll-template`.
//!
//! Exit codes are part of the interface (README, "Command line"):
//! - `analyze`: 0 done, 2 error (unreadable input, models missing);
//! - `compare`: 0 same person, 1 different people (at `matching.threshold`),
//!   2 error (no face, unreadable file, models missing);
//! - `enroll-template`: 0 written, 2 error (no face, inconsistent photos).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifecert_vision::{Analyzer, Embedding, FaceAnalysis, Frame, Models, Template};

use crate::camera::{Pacing, open_replay};
use crate::config::Config;

/// Exit code: the check ran and said yes / the command succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: the check ran and said no (different people).
pub const EXIT_NO: u8 = 1;
/// Exit code: bad input or a broken installation; the message says what to fix.
pub const EXIT_ERROR: u8 = 2;

/// Enrolment photos farther apart than this are not one person. dlib's design
/// radius: genuine pairs of the identity set measure 0.2–0.6, impostors
/// median 0.80 (tests/vision_eval.rs), so it catches a wrong photo without
/// refusing a real person's older picture. Stricter than this is the match
/// threshold's job.
pub const ENROL_CONSISTENCY_DISTANCE: f32 = 0.6;

/// EAR below this counts as "eyes closed" in the `analyze` summary. Attention
/// mesh EAR on the shared blink clip: open ≈ 0.30, closed 0.025–0.04; on the
/// stills: closed ≤ 0.111, open ≥ 0.240.
pub const SUMMARY_EYES_CLOSED_EAR: f32 = 0.15;
/// MAR above this counts as "mouth open" in the `analyze` summary. Mesh-lip
/// MAR on the shared mouth clip: closed 0.04–0.12, wide open 0.29–0.38; on the
/// stills: closed ≤ 0.076, open ≥ 0.158.
pub const SUMMARY_MOUTH_OPEN_MAR: f32 = 0.2;

/// Where the models are: `vision.models_dir`, else the first of `./models`,
/// next to the executable, `../share/lifecert/models` from the executable, the
/// source tree (`target/*/../../models`) and `/usr/share/lifecert/models` that
/// holds a `manifest.json`.
pub fn models_dir(config: &Config) -> PathBuf {
    if let Some(dir) = &config.vision.models_dir {
        return dir.clone();
    }
    let mut candidates = vec![PathBuf::from("models")];
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("models"));
        candidates.push(dir.join("../share/lifecert/models"));
        candidates.push(dir.join("../../models"));
    }
    candidates.push(PathBuf::from("/usr/share/lifecert/models"));
    candidates
        .iter()
        .find(|d| d.join("manifest.json").is_file())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// Loads the models named by the config (with the optional PAD model).
pub fn load_models(config: &Config) -> Result<Arc<Models>, String> {
    let dir = models_dir(config);
    Models::load_with_pad(&dir, config.vision.pad_model.as_deref())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table plus a summary of eye closures and mouth openings.
    Table,
    /// One JSON object per frame (JSON lines).
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// One analysed frame, as printed.
#[derive(Debug, serde::Serialize)]
struct Row<'a> {
    index: u64,
    t: f64,
    #[serde(flatten)]
    analysis: &'a FaceAnalysis,
}

/// `lifecert analyze INPUT`: per-frame measures of a video, GIF, image
/// directory or still image.
pub fn analyze(config: &Config, input: &Path, format: Format, out: &mut dyn Write) -> u8 {
    let models = match load_models(config) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let mut source = match open_replay(input, Pacing::AsFastAsPossible) {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot open {}: {e}", input.display())),
    };
    let mut analyzer = Analyzer::new(models);
    let mut summary = Summary::default();
    if format == Format::Csv {
        let _ = writeln!(
            out,
            "index,t,faces,score,presence,ear_left,ear_right,mar,yaw,pitch,roll,face_size,brightness,sharpness,tracked"
        );
    } else if format == Format::Table {
        let _ = writeln!(
            out,
            "{:>5} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>5} {:>6} {:>7}",
            "frame",
            "t(s)",
            "faces",
            "EAR-L",
            "EAR-R",
            "MAR",
            "yaw",
            "pitch",
            "roll",
            "size",
            "light",
            "sharp",
            "score"
        );
    }
    loop {
        let timed = match source.next_frame() {
            Ok(Some(t)) => t,
            Ok(None) => break,
            Err(e) => return fail(&format!("reading {} failed: {e}", input.display())),
        };
        let t = timed.timestamp.as_secs_f64();
        let analysis = match analyzer.analyze(&timed.frame) {
            Ok(a) => a,
            Err(e) => return fail(&format!("frame {}: {e}", timed.index)),
        };
        summary.add(t, &analysis);
        let written = match format {
            Format::Json => serde_json::to_string(&Row {
                index: timed.index,
                t,
                analysis: &analysis,
            })
            .map(|line| writeln!(out, "{line}"))
            .unwrap_or(Ok(())),
            Format::Csv => write_csv(out, timed.index, t, &analysis),
            Format::Table => write_table(out, timed.index, t, &analysis),
        };
        if written.is_err() {
            // A closed pipe (e.g. `| head`) is not an error of ours.
            return EXIT_OK;
        }
    }
    if format == Format::Table {
        let _ = summary.write(out);
    }
    EXIT_OK
}

fn write_csv(out: &mut dyn Write, index: u64, t: f64, a: &FaceAnalysis) -> std::io::Result<()> {
    match &a.primary {
        Some(p) => writeln!(
            out,
            "{index},{t:.3},{},{:.3},{:.3},{:.4},{:.4},{:.4},{:.1},{:.1},{:.1},{:.3},{:.1},{:.1},{}",
            a.faces.len(),
            p.detection_score,
            p.presence,
            p.ear_left,
            p.ear_right,
            p.mar,
            p.yaw,
            p.pitch,
            p.roll,
            p.face_size,
            p.brightness,
            p.sharpness,
            p.tracked
        ),
        None => writeln!(out, "{index},{t:.3},{},,,,,,,,,,,,", a.faces.len()),
    }
}

fn write_table(out: &mut dyn Write, index: u64, t: f64, a: &FaceAnalysis) -> std::io::Result<()> {
    match &a.primary {
        Some(p) => writeln!(
            out,
            "{index:>5} {t:>7.3} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>7.1} {:>7.1} {:>7.1} {:>5.2} {:>6.0} {:>7.0} {:.2}",
            a.faces.len(),
            p.ear_left,
            p.ear_right,
            p.mar,
            p.yaw,
            p.pitch,
            p.roll,
            p.face_size,
            p.brightness,
            p.sharpness,
            p.detection_score
        ),
        None => writeln!(out, "{index:>5} {t:>7.3} {:>5}   (no face)", a.faces.len()),
    }
}

/// Intervals of closed eyes and open mouth, for the table output.
#[derive(Debug, Default)]
struct Summary {
    frames: u64,
    with_face: u64,
    eyes: Intervals,
    mouth: Intervals,
}

#[derive(Debug, Default)]
struct Intervals {
    open: Option<f64>,
    last: f64,
    done: Vec<(f64, f64)>,
}

impl Intervals {
    fn step(&mut self, t: f64, on: bool) {
        match (self.open, on) {
            (None, true) => self.open = Some(t),
            (Some(start), false) => {
                self.done.push((start, self.last));
                self.open = None;
            }
            _ => {}
        }
        self.last = t;
    }

    fn finish(&mut self) -> &[(f64, f64)] {
        if let Some(start) = self.open.take() {
            self.done.push((start, self.last));
        }
        &self.done
    }
}

impl Summary {
    fn add(&mut self, t: f64, a: &FaceAnalysis) {
        self.frames += 1;
        let Some(p) = &a.primary else {
            return;
        };
        self.with_face += 1;
        let closed = p.ear_left.max(p.ear_right) < SUMMARY_EYES_CLOSED_EAR && p.yaw.abs() < 25.0;
        self.eyes.step(t, closed);
        self.mouth.step(t, p.mar > SUMMARY_MOUTH_OPEN_MAR);
    }

    fn write(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out)?;
        writeln!(out, "{} frames, a face in {}.", self.frames, self.with_face)?;
        for (label, intervals) in [
            ("eyes closed (EAR < 0.15)", &mut self.eyes),
            ("mouth open (MAR > 0.20)", &mut self.mouth),
        ] {
            let list = intervals.finish();
            let text: Vec<String> = list
                .iter()
                .map(|(a, b)| format!("{a:.2}–{b:.2} s"))
                .collect();
            writeln!(
                out,
                "{label}: {} time(s){}{}",
                list.len(),
                if list.is_empty() { "" } else { ": " },
                text.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A copy of `frame` centred on a black canvas `1 + 2·margin` times its size.
///
/// The short-range detector misses faces that fill the whole picture (ID-card
/// photos, aligned face chips); on a padded canvas they look like a selfie.
pub fn pad_frame(frame: &Frame, margin: f32) -> Frame {
    let pad_x = (frame.width as f32 * margin).round() as u32;
    let pad_y = (frame.height as f32 * margin).round() as u32;
    let width = frame.width + 2 * pad_x;
    let height = frame.height + 2 * pad_y;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    let row = frame.width as usize * 3;
    for (y, src) in frame.rgb.chunks_exact(row.max(1)).enumerate() {
        let start = ((y + pad_y as usize) * width as usize + pad_x as usize) * 3;
        if let Some(dst) = rgb.get_mut(start..start + row) {
            dst.copy_from_slice(src);
        }
    }
    Frame { width, height, rgb }
}

/// Margin used by [`pad_frame`] when a still shows no face at first.
pub const STILL_RETRY_MARGIN: f32 = 0.5;

/// Analyses a still (retrying on a padded canvas when no face is found) and
/// embeds its primary face.
pub fn embed_frame(analyzer: &mut Analyzer, frame: &Frame) -> Result<Option<Embedding>, String> {
    for candidate in [None, Some(STILL_RETRY_MARGIN)] {
        let padded;
        let frame = match candidate {
            None => frame,
            Some(margin) => {
                padded = pad_frame(frame, margin);
                &padded
            }
        };
        analyzer.reset();
        let analysis = analyzer.analyze(frame).map_err(|e| e.to_string())?;
        if let Some(face) = analysis.primary.as_ref() {
            return analyzer
                .embed(frame, face)
                .map(Some)
                .map_err(|e| e.to_string());
        }
    }
    Ok(None)
}

fn embed_still(analyzer: &mut Analyzer, path: &Path) -> Result<Embedding, String> {
    let frame: Frame =
        lifecert_vision::load_image(path).map_err(|e| format!("{}: {e}", path.display()))?;
    embed_frame(analyzer, &frame)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| {
            format!(
                "no face found in {}; use a clear, frontal photo",
                path.display()
            )
        })
}

/// `lifecert compare A B`: are the faces in two photos the same person?
pub fn compare(config: &Config, a: &Path, b: &Path, out: &mut dyn Write) -> u8 {
    let models = match load_models(config) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let mut analyzer = Analyzer::new(models);
    let (ea, eb) = match (embed_still(&mut analyzer, a), embed_still(&mut analyzer, b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return fail(&e),
    };
    let distance = ea.distance(&eb);
    let threshold = config.matching.threshold as f32;
    let same = distance < threshold;
    let _ = writeln!(
        out,
        "distance {distance:.4}  similarity {:.4}  threshold {threshold:.2}  -> {}",
        ea.similarity(&eb),
        if same {
            "same person"
        } else {
            "different people"
        }
    );
    if same { EXIT_OK } else { EXIT_NO }
}

/// `lifecert enroll-template IMG... -o FILE`: averages the embeddings of one
/// or more photos of the same person into a template file.
pub fn enroll(config: &Config, images: &[PathBuf], output: &Path, out: &mut dyn Write) -> u8 {
    if images.is_empty() {
        return fail("give at least one photo");
    }
    let models = match load_models(config) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let mut analyzer = Analyzer::new(models);
    let mut embeddings = Vec::with_capacity(images.len());
    for path in images {
        match embed_still(&mut analyzer, path) {
            Ok(e) => embeddings.push(e),
            Err(e) => return fail(&e),
        }
    }
    let Some(mean) = Embedding::mean(&embeddings) else {
        return fail("no embedding could be computed");
    };
    // Every photo must agree with the average of the others (leave-one-out;
    // pairwise for two photos): one wrong photo must not poison a template.
    let threshold = ENROL_CONSISTENCY_DISTANCE;
    if embeddings.len() > 1 {
        for (i, path) in images.iter().enumerate() {
            let others: Vec<Embedding> = embeddings
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, e)| *e)
                .collect();
            let (Some(rest), Some(this)) = (Embedding::mean(&others), embeddings.get(i)) else {
                continue;
            };
            let d = this.distance(&rest);
            if d >= threshold {
                return fail(&format!(
                    "{} does not look like the other photos (distance {d:.3}, threshold \
                     {threshold:.2}); use photos of one person only",
                    path.display()
                ));
            }
        }
    }
    let template = Template {
        model_id: lifecert_vision::EMBEDDING_MODEL_ID.to_string(),
        version: 1,
        frames: u32::try_from(embeddings.len()).unwrap_or(u32::MAX),
        embedding: mean,
    };
    if let Err(e) = template.save(output) {
        return fail(&e.to_string());
    }
    let _ = writeln!(
        out,
        "wrote {} from {} photo(s)",
        output.display(),
        embeddings.len()
    );
    EXIT_OK
}

fn fail(message: &str) -> u8 {
    eprintln!("lifecert: {message}");
    EXIT_ERROR
}
