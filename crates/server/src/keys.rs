//! The server's secrets in `data_dir`, created 0600 on first start:
//! - `server-sealing.key`: the X25519 secret kiosks seal payloads to (32 raw bytes);
//! - `subject-key.secret`: the salt that turns an ID number into the opaque
//!   template key (32 raw bytes).
//!
//! Several servers sharing one PostgreSQL must share both files.

use std::io::Write;
use std::path::{Path, PathBuf};

use lifecert_protocol::seal::OpeningKey;
use sha2::{Digest, Sha256};

/// File name of the sealing key.
pub const SEALING_KEY_FILE: &str = "server-sealing.key";
/// File name of the subject-key secret.
pub const SUBJECT_SECRET_FILE: &str = "subject-key.secret";

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}; check data_dir and its permissions", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: expected exactly 32 bytes; restore the file from backup (kiosks sealed to the old \
         key cannot be read without it)",
        .0.display()
    )]
    Corrupt(PathBuf),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a 32-byte secret, or creates it (0600) with `fresh` when missing.
fn load_or_create(
    path: &Path,
    fresh: impl FnOnce() -> Result<[u8; 32], KeyError>,
) -> Result<[u8; 32], KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| KeyError::Corrupt(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let bytes = fresh()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut f) => {
                    f.write_all(&bytes).map_err(io(path))?;
                    f.sync_all().map_err(io(path))?;
                    Ok(bytes)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path)
                    .map_err(io(path))?
                    .try_into()
                    .map_err(|_| KeyError::Corrupt(path.to_path_buf())),
                Err(e) => Err(io(path)(e)),
            }
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Loads (or creates) the sealing key in `data_dir`.
pub fn load_opening_key(data_dir: &Path) -> Result<OpeningKey, KeyError> {
    let bytes = load_or_create(&data_dir.join(SEALING_KEY_FILE), || {
        Ok(OpeningKey::generate().to_bytes())
    })?;
    Ok(OpeningKey::from_bytes(bytes))
}

/// 32 random bytes from the OS.
pub fn random_bytes() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Turns ID numbers into opaque keys: SHA-256 over a server secret, a purpose
/// tag and the number. Two purposes, so the tables cannot be joined without
/// the secret file:
/// - [`SubjectKeyer::key`]: the `templates.subject_key` (biometrics);
/// - [`SubjectKeyer::person_key`]: `persons.person_key`, by which
///   `person_benefits` and `certifications` refer to a person (the full ID
///   number lives only in `persons.id_number`).
#[derive(Clone)]
pub struct SubjectKeyer([u8; 32]);

impl std::fmt::Debug for SubjectKeyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKeyer(..)")
    }
}

impl SubjectKeyer {
    /// Loads (or creates) the secret in `data_dir`.
    pub fn load(data_dir: &Path) -> Result<SubjectKeyer, KeyError> {
        load_or_create(&data_dir.join(SUBJECT_SECRET_FILE), random_bytes).map(SubjectKeyer)
    }

    /// The opaque template key of a (normalised) ID number.
    pub fn key(&self, id_number: &str) -> String {
        self.keyed(b"lifecert-subject-v1\n", id_number)
    }

    /// The opaque person key of a (normalised) ID number.
    pub fn person_key(&self, id_number: &str) -> String {
        self.keyed(b"lifecert-person-v1\n", id_number)
    }

    fn keyed(&self, purpose: &[u8], id_number: &str) -> String {
        let mut h = Sha256::new();
        h.update(purpose);
        h.update(self.0);
        h.update(id_number.as_bytes());
        hex(&h.finalize())
    }
}

/// A new one-time secret (token or operator secret): 64 lowercase hex characters.
pub fn new_secret() -> Result<String, KeyError> {
    Ok(hex(&random_bytes()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_with_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_opening_key(dir.path()).unwrap();
        let b = load_opening_key(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SEALING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let s1 = SubjectKeyer::load(dir.path()).unwrap();
        let s2 = SubjectKeyer::load(dir.path()).unwrap();
        assert_eq!(s1.key("110105195203150013"), s2.key("110105195203150013"));
        assert_ne!(s1.key("110105195203150013"), s1.key("110105194807220022"));
        assert!(!s1.key("110105195203150013").contains("110105"));
        assert_eq!(
            s1.person_key("110105195203150013"),
            s2.person_key("110105195203150013")
        );
        assert_ne!(
            s1.person_key("110105195203150013"),
            s1.key("110105195203150013")
        );
        std::fs::write(dir.path().join(SEALING_KEY_FILE), b"short").unwrap();
        assert!(matches!(
            load_opening_key(dir.path()),
            Err(KeyError::Corrupt(_))
        ));
    }
}
