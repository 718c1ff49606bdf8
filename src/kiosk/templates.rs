//! Enrolled face templates kept on this kiosk.
//!
//! The 2025 face-recognition rules want face data kept on the device. A
//! template file holds only the averaged embedding (no image). Files are named
//! by a salted SHA-256 of the ID number (the salt is random per kiosk), so the
//! directory does not list who is enrolled and biometrics stay apart from
//! identity data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lifecert_core::id::IdNumber;
use lifecert_vision::Template;
use sha2::{Digest, Sha256};

/// Where templates live.
pub trait TemplateStore: Send + Sync {
    /// The person's template, if enrolled.
    fn get(&self, person: &IdNumber) -> Result<Option<Template>, String>;
    /// Store (replace) the person's template.
    fn put(&self, person: &IdNumber, template: &Template) -> Result<(), String>;
    /// Whether the person is enrolled.
    fn has(&self, person: &IdNumber) -> bool {
        matches!(self.get(person), Ok(Some(_)))
    }
    /// How many templates are stored.
    fn count(&self) -> usize;
}

/// Template files in a directory.
pub struct DirTemplates {
    dir: PathBuf,
    salt: Vec<u8>,
}

const SALT_FILE: &str = "salt";
const SALT_LEN: usize = 32;

impl DirTemplates {
    /// Opens (creating) `dir` and its salt.
    pub fn open(dir: &Path) -> Result<DirTemplates, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the template directory {}: {e}",
                dir.display()
            )
        })?;
        let salt_path = dir.join(SALT_FILE);
        let salt = match std::fs::read(&salt_path) {
            Ok(salt) if salt.len() == SALT_LEN => salt,
            Ok(_) => {
                return Err(format!(
                    "{} is damaged (wrong length); restore it from backup, or move the \
                     template directory away and enrol everyone again",
                    salt_path.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut salt = vec![0u8; SALT_LEN];
                getrandom::fill(&mut salt)
                    .map_err(|e| format!("no system randomness for the template salt: {e}"))?;
                std::fs::write(&salt_path, &salt)
                    .map_err(|e| format!("cannot write {}: {e}", salt_path.display()))?;
                salt
            }
            Err(e) => return Err(format!("cannot read {}: {e}", salt_path.display())),
        };
        Ok(DirTemplates {
            dir: dir.to_path_buf(),
            salt,
        })
    }

    fn path(&self, person: &IdNumber) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(&self.salt);
        hasher.update(person.expose().as_bytes());
        let digest = hasher.finalize();
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.json"))
    }
}

impl TemplateStore for DirTemplates {
    fn get(&self, person: &IdNumber) -> Result<Option<Template>, String> {
        let path = self.path(person);
        if !path.exists() {
            return Ok(None);
        }
        Template::load(&path).map(Some).map_err(|e| e.to_string())
    }

    fn put(&self, person: &IdNumber, template: &Template) -> Result<(), String> {
        let path = self.path(person);
        let tmp = path.with_extension("json.tmp");
        template.save(&tmp).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("cannot store the template: {e}"))
    }

    fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().extension().and_then(|x| x.to_str()) == Some("json"))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// Templates in memory (tests, and a kiosk whose data directory is unusable).
#[derive(Default)]
pub struct MemoryTemplates {
    map: Mutex<BTreeMap<String, Template>>,
}

impl MemoryTemplates {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Template>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Enrol `person` with a fixed embedding (tests).
    pub fn put_embedding_for_test(&self, person: &IdNumber) {
        let template = Template::new(lifecert_vision::Embedding([0.1; 128]), 1);
        self.map().insert(person.expose().to_string(), template);
    }
}

impl TemplateStore for MemoryTemplates {
    fn get(&self, person: &IdNumber) -> Result<Option<Template>, String> {
        Ok(self.map().get(person.expose()).cloned())
    }
    fn put(&self, person: &IdNumber, template: &Template) -> Result<(), String> {
        self.map()
            .insert(person.expose().to_string(), template.clone());
        Ok(())
    }
    fn count(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dir_templates_round_trip_and_hide_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirTemplates::open(dir.path()).unwrap();
        let person = IdNumber::parse("110105195203150013").unwrap();
        assert!(!store.has(&person));
        let template = Template::new(lifecert_vision::Embedding([0.25; 128]), 5);
        store.put(&person, &template).unwrap();
        assert!(store.has(&person));
        assert_eq!(store.count(), 1);
        assert_eq!(store.get(&person).unwrap().unwrap().frames, 5);
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            assert!(!name.contains("110105"), "{name}");
            let text = std::fs::read(entry.path()).unwrap();
            assert!(!String::from_utf8_lossy(&text).contains("110105195203150013"));
        }
        // The same salt is used after reopening.
        let again = DirTemplates::open(dir.path()).unwrap();
        assert!(again.has(&person));
    }

    #[test]
    fn a_damaged_salt_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SALT_FILE), b"short").unwrap();
        let err = DirTemplates::open(dir.path()).err().unwrap();
        assert!(err.contains("damaged"), "{err}");
    }
}
