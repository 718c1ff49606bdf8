//! Loading the ONNX models: manifest verification (size + sha256), fixed
//! input facts, tract optimisation, output selection by name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::VisionError;
use crate::error::{REBUILD_COMMAND, REBUILD_FORCE_COMMAND};

/// The detector file (MODELS.md §6.1).
pub const DETECTOR_FILE: &str = "mp_face_detection_short_range.onnx";
/// The attention face mesh file (§6.3).
pub const MESH_FILE: &str = "human_facemesh_attention_pinto.onnx";
/// The face-api 68-point landmark file (§6.5).
pub const LANDMARK68_FILE: &str = "faceapi_landmark68.onnx";
/// The dlib descriptor file (§6.6).
pub const RECOGNITION_FILE: &str = "faceapi_recognition_u8.onnx";
/// The manifest the model build writes next to the models.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Model ids as they appear in `manifest.json` (file name without `.onnx`).
pub const DETECTOR_ID: &str = "mp_face_detection_short_range";
pub const MESH_ID: &str = "human_facemesh_attention_pinto";
pub const LANDMARK68_ID: &str = "faceapi_landmark68";
pub const RECOGNITION_ID: &str = crate::embedding::EMBEDDING_MODEL_ID;

/// Mesh outputs, selected by name in this order (MODELS.md §6.3). The
/// lips and iris heads are left out: tract then prunes them, which saves
/// ~2.3 ms a frame (lips 1.5 ms); MAR uses the mesh's own lip points as
/// MODELS.md §6.4 specifies.
pub(crate) const MESH_OUTPUTS: [&str; 4] = [
    "output_mesh_identity",
    "conv_faceflag",
    "output_left_eye:0",
    "output_right_eye:0",
];

/// The mesh outputs [`Models::run_raw`] returns, in order.
pub const MESH_OUTPUT_NAMES: [&str; 4] = MESH_OUTPUTS;

/// The kiosk's models, for [`Models::run_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Detector,
    Mesh,
    Landmark68,
    Recognition,
}

/// MiniFASNet input side.
pub const PAD_INPUT_SIZE: usize = 80;
/// Crop scale of MiniFASNetV2 (`2.7_80x80`).
pub const PAD_SCALE_V2: f32 = 2.7;
/// Crop scale of MiniFASNetV1SE (`4.0_80x80`).
pub const PAD_SCALE_V1SE: f32 = 4.0;

/// `manifest.json`: `{"models":[{"id","file","source","license","sha256","bytes","max_abs_diff"}]}`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Manifest {
    pub models: Vec<ManifestEntry>,
}

/// One model's entry in `manifest.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ManifestEntry {
    pub id: String,
    pub file: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub license: String,
    pub sha256: String,
    pub bytes: u64,
    #[serde(default)]
    pub max_abs_diff: Option<f64>,
}

impl Manifest {
    /// Reads `dir/manifest.json`. Missing → [`VisionError::ModelMissing`],
    /// unparsable → [`VisionError::ModelCorrupt`].
    pub fn load(dir: &Path) -> Result<Manifest, VisionError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VisionError::ModelMissing {
                    path,
                    rebuild: REBUILD_COMMAND,
                });
            }
            Err(e) => {
                return Err(VisionError::ModelCorrupt {
                    path,
                    reason: e.to_string(),
                    rebuild: REBUILD_FORCE_COMMAND,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| VisionError::ModelCorrupt {
            path,
            reason: format!("unreadable manifest: {e}"),
            rebuild: REBUILD_FORCE_COMMAND,
        })
    }

    /// The entry for a model id (or, failing that, a file name).
    pub fn entry(&self, id_or_file: &str) -> Option<&ManifestEntry> {
        self.models
            .iter()
            .find(|m| m.id == id_or_file)
            .or_else(|| self.models.iter().find(|m| m.file == id_or_file))
    }

    /// Reads `dir/<file>` for the model `id` and checks it against the
    /// manifest (size, then sha256). Returns the verified bytes.
    pub fn read_verified(&self, dir: &Path, id: &str, file: &str) -> Result<Vec<u8>, VisionError> {
        let path = dir.join(file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VisionError::ModelMissing {
                    path,
                    rebuild: REBUILD_COMMAND,
                });
            }
            Err(e) => {
                return Err(VisionError::ModelLoad {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let corrupt = |reason: String| VisionError::ModelCorrupt {
            path: path.clone(),
            reason,
            rebuild: REBUILD_FORCE_COMMAND,
        };
        let entry = self
            .entry(id)
            .or_else(|| self.entry(file))
            .ok_or_else(|| corrupt(format!("no entry for {id} in {MANIFEST_FILE}")))?;
        if entry.bytes != bytes.len() as u64 {
            return Err(corrupt(format!(
                "{} bytes, manifest says {}",
                bytes.len(),
                entry.bytes
            )));
        }
        let digest = sha256_hex(&bytes);
        if !digest.eq_ignore_ascii_case(entry.sha256.trim()) {
            return Err(corrupt(format!(
                "sha256 {digest}, manifest says {}",
                entry.sha256
            )));
        }
        Ok(bytes)
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) type Plan = Arc<TypedRunnableModel>;

/// One operator-supplied MiniFASNet-interface PAD model.
#[derive(Debug, Clone)]
pub struct PadModelSpec {
    pub path: PathBuf,
    /// Crop scale around the face box (2.7 for V2, 4.0 for V1SE).
    pub scale: f32,
}

impl PadModelSpec {
    /// The scale from the file name: names containing `v1se`, `4.0` or `4_0`
    /// use 4.0; everything else (e.g. `minifasnet_v2_2.7_80x80.onnx`) 2.7.
    pub fn from_path(path: &Path) -> PadModelSpec {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let scale = if name.contains("v1se") || name.contains("4.0") || name.contains("4_0") {
            PAD_SCALE_V1SE
        } else {
            PAD_SCALE_V2
        };
        PadModelSpec {
            path: path.to_path_buf(),
            scale,
        }
    }

    /// Specs for a PAD path: a single `.onnx` file, or a directory whose
    /// `*.onnx` files are all used (sorted by name, outputs averaged).
    pub fn discover(path: &Path) -> Result<Vec<PadModelSpec>, VisionError> {
        let load_err = |reason: String| VisionError::ModelLoad {
            path: path.to_path_buf(),
            reason,
        };
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| load_err(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("onnx"))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(load_err("no .onnx PAD model in this directory (the PAD model is operator-supplied; fix or remove the PAD setting)".into()));
            }
            Ok(files.iter().map(|p| PadModelSpec::from_path(p)).collect())
        } else if path.is_file() {
            Ok(vec![PadModelSpec::from_path(path)])
        } else {
            Err(load_err(
                "file not found (the PAD model is operator-supplied; fix or remove the PAD setting)".into(),
            ))
        }
    }
}

pub(crate) struct PadModel {
    pub(crate) plan: Plan,
    pub(crate) scale: f32,
}

/// The loaded, optimised models, shared by all sessions (`Arc<Models>`).
/// Each model is loaded once with fixed input facts.
pub struct Models {
    pub(crate) detector: Plan,
    /// Output indices of `regressors` and `classificators`.
    pub(crate) detector_outputs: [usize; 2],
    pub(crate) mesh: Plan,
    pub(crate) landmark68: Plan,
    pub(crate) recognition: Plan,
    pub(crate) pad: Vec<PadModel>,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models")
            .field("pad_models", &self.pad.len())
            .finish()
    }
}

fn load_err(path: &Path) -> impl Fn(TractError) -> VisionError + '_ {
    move |e| VisionError::ModelLoad {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    }
}

/// Parses ONNX bytes, fixes the input to `f32 shape`, optionally selects
/// outputs by name, fuses expanded PReLUs ([`crate::fuse`]), optimises and
/// makes it runnable.
fn build_plan(
    path: &Path,
    bytes: &[u8],
    shape: &[usize],
    outputs: Option<&[&str]>,
) -> Result<Plan, VisionError> {
    let err = load_err(path);
    let mut reader = bytes;
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut reader)
        .map_err(&err)?;
    model
        .set_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape))
        .map_err(&err)?;
    if let Some(names) = outputs {
        model
            .select_outputs_by_name(names.iter().copied())
            .map_err(&err)?;
    }
    let mut typed = model
        .into_typed()
        .map_err(&err)?
        .into_decluttered()
        .map_err(&err)?;
    crate::fuse::fuse_prelu(&mut typed).map_err(&err)?;
    let plan = typed
        .into_optimized()
        .map_err(&err)?
        .into_runnable()
        .map_err(&err)?;
    Ok(plan)
}

/// Finds which output of the detector is `regressors` ([1,896,16]) and which
/// `classificators` ([1,896,1]), by name and failing that by shape.
fn detector_output_indices(path: &Path, plan: &Plan) -> Result<[usize; 2], VisionError> {
    let model = plan.model();
    let outlets = model.output_outlets().map_err(load_err(path))?;
    let mut reg = None;
    let mut cls = None;
    for (i, o) in outlets.iter().enumerate() {
        let label = model
            .outlet_label(*o)
            .unwrap_or(&model.node(o.node).name)
            .to_string();
        let shape = model
            .outlet_fact(*o)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()));
        let last = shape.as_ref().and_then(|s| s.last().copied());
        if label.contains("regressors")
            || (reg.is_none() && last == Some(crate::blazeface::NUM_COORDS))
        {
            reg = Some(i);
        } else if label.contains("classificators") || (cls.is_none() && last == Some(1)) {
            cls = Some(i);
        }
    }
    match (reg, cls) {
        (Some(r), Some(c)) if r != c => Ok([r, c]),
        _ => Err(VisionError::ModelLoad {
            path: path.to_path_buf(),
            reason: "outputs `regressors` [1,896,16] and `classificators` [1,896,1] not found"
                .into(),
        }),
    }
}

impl Models {
    /// Loads the four kiosk models from `dir`, verifying each file against
    /// `dir/manifest.json` (size and sha256) first.
    pub fn load(dir: &Path) -> Result<Models, VisionError> {
        Models::load_with_pad_models(dir, &[])
    }

    /// As [`Models::load`], plus an optional operator-supplied PAD model
    /// (MiniFASNet interface: input `[1,3,80,80]` NCHW BGR 0–255, output
    /// `[1,3]` logits, class 1 = real). `pad` is a file or a directory of
    /// `.onnx` files (all are used and their softmax outputs averaged). The
    /// crop scale comes from each file name: `v1se` / `4.0` / `4_0` → 4.0,
    /// otherwise 2.7. PAD files are not in the manifest and not hash-checked.
    pub fn load_with_pad(dir: &Path, pad: Option<&Path>) -> Result<Models, VisionError> {
        let specs = match pad {
            Some(p) => PadModelSpec::discover(p)?,
            None => Vec::new(),
        };
        Models::load_with_pad_models(dir, &specs)
    }

    /// As [`Models::load`] with an explicit list of PAD models and scales.
    pub fn load_with_pad_models(dir: &Path, pad: &[PadModelSpec]) -> Result<Models, VisionError> {
        let manifest = Manifest::load(dir)?;
        // Verify every file before the (slower) tract work, so a broken
        // install is reported at once.
        let det_bytes = manifest.read_verified(dir, DETECTOR_ID, DETECTOR_FILE)?;
        let mesh_bytes = manifest.read_verified(dir, MESH_ID, MESH_FILE)?;
        let lm_bytes = manifest.read_verified(dir, LANDMARK68_ID, LANDMARK68_FILE)?;
        let rec_bytes = manifest.read_verified(dir, RECOGNITION_ID, RECOGNITION_FILE)?;

        let n = crate::blazeface::INPUT_SIZE;
        let det_path = dir.join(DETECTOR_FILE);
        let detector = build_plan(&det_path, &det_bytes, &[1, n, n, 3], None)?;
        let detector_outputs = detector_output_indices(&det_path, &detector)?;
        let n = crate::mesh::INPUT_SIZE;
        let mesh = build_plan(
            &dir.join(MESH_FILE),
            &mesh_bytes,
            &[1, n, n, 3],
            Some(&MESH_OUTPUTS),
        )?;
        let n = crate::analyzer::LANDMARK68_INPUT;
        let landmark68 = build_plan(&dir.join(LANDMARK68_FILE), &lm_bytes, &[1, n, n, 3], None)?;
        let n = crate::analyzer::RECOGNITION_INPUT;
        let recognition = build_plan(&dir.join(RECOGNITION_FILE), &rec_bytes, &[1, n, n, 3], None)?;

        let mut pads = Vec::with_capacity(pad.len());
        for spec in pad {
            let bytes = std::fs::read(&spec.path).map_err(|e| VisionError::ModelLoad {
                path: spec.path.clone(),
                reason: format!(
                    "{e} (the PAD model is operator-supplied; fix or remove the PAD setting)"
                ),
            })?;
            let plan = build_plan(
                &spec.path,
                &bytes,
                &[1, 3, PAD_INPUT_SIZE, PAD_INPUT_SIZE],
                None,
            )?;
            if !(spec.scale.is_finite() && spec.scale > 0.0) {
                return Err(VisionError::ModelLoad {
                    path: spec.path.clone(),
                    reason: format!("invalid PAD crop scale {}", spec.scale),
                });
            }
            pads.push(PadModel {
                plan,
                scale: spec.scale,
            });
        }
        Ok(Models {
            detector,
            detector_outputs,
            mesh,
            landmark68,
            recognition,
            pad: pads,
        })
    }

    /// Diagnostics: runs one model on a raw input tensor (the model's input
    /// layout, see MODELS.md §6) and returns its outputs flattened, in the
    /// order this crate uses (detector: as in the file; mesh:
    /// [`MESH_OUTPUT_NAMES`]). Used by the golden-tensor tests.
    pub fn run_raw(&self, kind: ModelKind, input: &[f32]) -> Result<Vec<Vec<f32>>, VisionError> {
        let (plan, shape, name): (&Plan, Vec<usize>, &'static str) = match kind {
            ModelKind::Detector => (&self.detector, vec![1, 128, 128, 3], "face detector"),
            ModelKind::Mesh => (&self.mesh, vec![1, 192, 192, 3], "face mesh"),
            ModelKind::Landmark68 => (&self.landmark68, vec![1, 112, 112, 3], "68-point landmarks"),
            ModelKind::Recognition => (&self.recognition, vec![1, 150, 150, 3], "face descriptor"),
        };
        let err = |e: TractError| VisionError::Inference {
            model: name,
            reason: format!("{e:#}"),
        };
        let t = Tensor::from_shape(&shape, input).map_err(err)?;
        let outputs = plan.run(tvec![t.into_tvalue()]).map_err(err)?;
        outputs
            .iter()
            .map(|o| {
                let view = o.try_as_plain_ram().map_err(err)?;
                Ok(view.as_slice::<f32>().map_err(err)?.to_vec())
            })
            .collect()
    }

    /// Whether a PAD model is configured.
    pub fn has_pad(&self) -> bool {
        !self.pad.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_scale_from_name() {
        assert_eq!(
            PadModelSpec::from_path(Path::new("/x/minifasnet_v1se_4.0_80x80.onnx")).scale,
            4.0
        );
        assert_eq!(
            PadModelSpec::from_path(Path::new("/x/4_0_0_80x80_MiniFASNetV1SE.onnx")).scale,
            4.0
        );
        assert_eq!(
            PadModelSpec::from_path(Path::new("/x/minifasnet_v2_2.7_80x80.onnx")).scale,
            2.7
        );
        assert_eq!(PadModelSpec::from_path(Path::new("pad.onnx")).scale, 2.7);
    }

    #[test]
    fn sha_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
