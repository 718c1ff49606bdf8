//! Sealed boxes (libsodium `crypto_box_seal`, X25519 + XSalsa20-Poly1305):
//! payloads a kiosk queues for the server are sealed to the server's public
//! key, so a stolen kiosk disk yields neither ID numbers nor face data. Only
//! the holder of the server's secret key can open them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::{PublicKey, SecretKey};

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealing key is not 32 bytes of standard base64")]
    BadKey,
    #[error("the sealed payload is not standard base64")]
    BadEncoding,
    #[error(
        "the sealed payload does not open with this server's key (tampered, or sealed to another key)"
    )]
    CannotOpen,
    #[error("sealing failed")]
    Seal,
}

/// The server's public sealing key, as kiosks hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealingKey(PublicKey);

impl SealingKey {
    /// Parses the standard base64 form.
    pub fn from_b64(b64: &str) -> Result<SealingKey, SealError> {
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| SealError::BadKey)?;
        PublicKey::from_slice(&bytes)
            .map(SealingKey)
            .map_err(|_| SealError::BadKey)
    }

    /// The standard base64 form.
    pub fn to_b64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// Seals `plaintext`; the answer is the base64 of the sealed box.
    pub fn seal_b64(&self, plaintext: &[u8]) -> Result<String, SealError> {
        let sealed = self
            .0
            .seal(&mut rand_core::OsRng, plaintext)
            .map_err(|_| SealError::Seal)?;
        Ok(STANDARD.encode(sealed))
    }
}

/// The server's secret opening key.
#[derive(Clone)]
pub struct OpeningKey(SecretKey);

impl std::fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpeningKey(public {})", self.public().to_b64())
    }
}

impl OpeningKey {
    /// A new random key.
    pub fn generate() -> OpeningKey {
        OpeningKey(SecretKey::generate(&mut rand_core::OsRng))
    }

    /// From the 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> OpeningKey {
        OpeningKey(SecretKey::from_bytes(bytes))
    }

    /// The 32 secret bytes (to store in the key file).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public(&self) -> SealingKey {
        SealingKey(self.0.public_key())
    }

    /// Opens the base64 of a sealed box.
    pub fn open_b64(&self, sealed_b64: &str) -> Result<Vec<u8>, SealError> {
        let sealed = STANDARD
            .decode(sealed_b64.trim())
            .map_err(|_| SealError::BadEncoding)?;
        self.0.unseal(&sealed).map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let key = OpeningKey::generate();
        let public = SealingKey::from_b64(&key.public().to_b64()).unwrap();
        let sealed = public.seal_b64(b"110105195203150013").unwrap();
        assert!(!sealed.contains("110105"));
        assert_eq!(key.open_b64(&sealed).unwrap(), b"110105195203150013");
        let again = OpeningKey::from_bytes(key.to_bytes());
        assert_eq!(again.open_b64(&sealed).unwrap(), b"110105195203150013");
    }

    #[test]
    fn tampered_or_foreign_boxes_do_not_open() {
        let key = OpeningKey::generate();
        let sealed = key.public().seal_b64(b"payload").unwrap();
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            key.open_b64(&STANDARD.encode(&bytes)),
            Err(SealError::CannotOpen)
        );
        assert_eq!(
            OpeningKey::generate().open_b64(&sealed),
            Err(SealError::CannotOpen)
        );
        assert_eq!(key.open_b64("%%%"), Err(SealError::BadEncoding));
        assert_eq!(SealingKey::from_b64("AAAA"), Err(SealError::BadKey));
    }
}
