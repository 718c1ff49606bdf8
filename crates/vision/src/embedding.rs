//! Face descriptors (dlib ResNet, 128-D) and the enrolled-template file.

use std::path::Path;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::VisionError;

/// Descriptor length.
pub const EMBEDDING_DIM: usize = 128;
/// Model id recorded in templates; a template from another model is refused.
pub const EMBEDDING_MODEL_ID: &str = "faceapi_recognition_u8";
/// Current template file format version.
pub const TEMPLATE_VERSION: u32 = 1;
/// dlib's own "same person" radius (Euclidean). MODELS.md §6.6 recommends
/// starting a kiosk at 0.50–0.55 and calibrating; the policy lives in core.
pub const DLIB_SAME_PERSON_DISTANCE: f32 = 0.6;

/// A 128-D face descriptor, not normalised (compare with Euclidean
/// distance). Serialised as a JSON array of 128 numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Embedding(pub [f32; EMBEDDING_DIM]);

impl Embedding {
    /// Euclidean (L2) distance. Same person typically 0.3–0.6, different
    /// people 0.55–1.0 on this model (MODELS.md §5.3).
    pub fn distance(&self, other: &Embedding) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    }

    /// A similarity in 0..=1 derived from the distance: `1 − d/2`, clamped.
    /// Monotone in the distance, so thresholds translate 1:1
    /// (distance 0.55 ⇔ similarity 0.725; 0.6 ⇔ 0.70). NaN maps to 0.
    pub fn similarity(&self, other: &Embedding) -> f32 {
        let s = 1.0 - self.distance(other) * 0.5;
        if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) }
    }

    /// Component-wise mean (not re-normalised, as face-api/dlib enrolment
    /// averages descriptors); `None` for an empty slice.
    pub fn mean(items: &[Embedding]) -> Option<Embedding> {
        if items.is_empty() {
            return None;
        }
        let mut acc = [0.0f32; EMBEDDING_DIM];
        for e in items {
            for (a, v) in acc.iter_mut().zip(&e.0) {
                *a += v;
            }
        }
        let inv = 1.0 / items.len() as f32;
        for a in &mut acc {
            *a *= inv;
        }
        Some(Embedding(acc))
    }

    /// L2 norm of the descriptor.
    pub fn norm(&self) -> f32 {
        self.0.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    /// True when every component is finite.
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|v| v.is_finite())
    }
}

impl Serialize for Embedding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(EMBEDDING_DIM)?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Embedding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Embedding, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Embedding;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "an array of {EMBEDDING_DIM} numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Embedding, A::Error> {
                let mut out = [0.0f32; EMBEDDING_DIM];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(EMBEDDING_DIM + 1, &self));
                }
                Ok(Embedding(out))
            }
        }
        deserializer.deserialize_tuple(EMBEDDING_DIM, V)
    }
}

/// An enrolled face template: the JSON file `lifecert enroll-template` writes.
///
/// ```json
/// {"model_id":"faceapi_recognition_u8","version":1,"frames":5,"embedding":[0.01, …128 numbers]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub model_id: String,
    pub version: u32,
    /// How many frames were averaged into `embedding`.
    pub frames: u32,
    pub embedding: Embedding,
}

impl Template {
    /// A template for the current model and format version.
    pub fn new(embedding: Embedding, frames: u32) -> Template {
        Template {
            model_id: EMBEDDING_MODEL_ID.to_string(),
            version: TEMPLATE_VERSION,
            frames,
            embedding,
        }
    }

    /// Parses and validates a template (model id, version, finite values).
    pub fn from_json(text: &str) -> Result<Template, String> {
        let t: Template = serde_json::from_str(text).map_err(|e| e.to_string())?;
        t.validate()?;
        Ok(t)
    }

    /// The template as pretty JSON.
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| e.to_string())
    }

    fn validate(&self) -> Result<(), String> {
        if self.model_id != EMBEDDING_MODEL_ID {
            return Err(format!(
                "made with model {:?}, this kiosk uses {EMBEDDING_MODEL_ID:?}; re-enrol the face",
                self.model_id
            ));
        }
        if self.version != TEMPLATE_VERSION {
            return Err(format!(
                "format version {} is not supported (expected {TEMPLATE_VERSION})",
                self.version
            ));
        }
        if !self.embedding.is_finite() {
            return Err("embedding has non-finite values".into());
        }
        Ok(())
    }

    /// Reads and validates a template file.
    pub fn load(path: &Path) -> Result<Template, VisionError> {
        let err = |reason: String| VisionError::Template {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Template::from_json(&text).map_err(err)
    }

    /// Writes the template atomically (temporary file in the same directory,
    /// then rename).
    pub fn save(&self, path: &Path) -> Result<(), VisionError> {
        let err = |reason: String| VisionError::Template {
            path: path.to_path_buf(),
            reason,
        };
        self.validate().map_err(err)?;
        let json = self.to_json().map_err(err)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, json.as_bytes()).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(v: f32) -> Embedding {
        let mut a = [0.0; EMBEDDING_DIM];
        a[0] = v;
        Embedding(a)
    }

    #[test]
    fn distance_similarity_mean() {
        let a = emb(0.0);
        let b = emb(0.5);
        assert!((a.distance(&b) - 0.5).abs() < 1e-6);
        assert!((a.similarity(&b) - 0.75).abs() < 1e-6);
        assert_eq!(a.similarity(&emb(5.0)), 0.0);
        assert_eq!(a.similarity(&a), 1.0);
        assert_eq!(a.similarity(&emb(f32::NAN)), 0.0);
        let m = Embedding::mean(&[a, b, emb(1.0)]).unwrap();
        assert!((m.0[0] - 0.5).abs() < 1e-6);
        assert!(Embedding::mean(&[]).is_none());
    }

    #[test]
    fn serde_round_trip_and_length_check() {
        let mut a = [0.0f32; EMBEDDING_DIM];
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as f32 / 1000.0 - 0.05;
        }
        let t = Template::new(Embedding(a), 5);
        let json = t.to_json().unwrap();
        let back = Template::from_json(&json).unwrap();
        assert_eq!(back, t);
        let arr: Vec<f32> =
            serde_json::from_str(&serde_json::to_string(&t.embedding).unwrap()).unwrap();
        assert_eq!(arr.len(), EMBEDDING_DIM);
        let short = serde_json::to_string(&vec![0.0f32; 127]).unwrap();
        assert!(serde_json::from_str::<Embedding>(&short).is_err());
        let long = serde_json::to_string(&vec![0.0f32; 129]).unwrap();
        assert!(serde_json::from_str::<Embedding>(&long).is_err());
    }

    #[test]
    fn template_validation() {
        let mut t = Template::new(emb(0.1), 3);
        t.model_id = "other".into();
        assert!(
            Template::from_json(&serde_json::to_string(&t).unwrap())
                .unwrap_err()
                .contains("re-enrol")
        );
        let mut t = Template::new(emb(0.1), 3);
        t.version = 99;
        assert!(Template::from_json(&serde_json::to_string(&t).unwrap()).is_err());
        assert!(Template::from_json("{}").is_err());
    }

    #[test]
    fn template_file_round_trip() {
        let dir =
            std::env::temp_dir().join(format!("lifecert-vision-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.json");
        let t = Template::new(emb(0.25), 4);
        t.save(&p).unwrap();
        assert_eq!(Template::load(&p).unwrap(), t);
        std::fs::write(&p, "not json").unwrap();
        let e = Template::load(&p).unwrap_err();
        assert!(matches!(e, VisionError::Template { .. }));
        assert!(matches!(
            Template::load(&dir.join("missing.json")),
            Err(VisionError::Template { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
