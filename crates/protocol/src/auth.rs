//! Device request signatures (Ed25519) and the headers that carry them.
//!
//! A device signs [`signing_message`]: a domain tag, the method, the path
//! (with query), the unix timestamp, a random nonce and the SHA-256 of the
//! body, one per line. The server rejects a skew over [`MAX_SKEW_SECS`], a
//! reused nonce, an unknown device and a bad signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The device id.
pub const HEADER_DEVICE: &str = "x-lifecert-device";
/// Unix seconds, decimal.
pub const HEADER_TIMESTAMP: &str = "x-lifecert-timestamp";
/// 32 lowercase hex characters (16 random bytes), never reused.
pub const HEADER_NONCE: &str = "x-lifecert-nonce";
/// Standard base64 of the 64-byte Ed25519 signature.
pub const HEADER_SIGNATURE: &str = "x-lifecert-signature";
/// Staff operator credential `<operator id>:<secret>` (enrolment only).
pub const HEADER_OPERATOR: &str = "x-lifecert-operator";
/// The largest accepted clock difference between device and server.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the public key is not 32 bytes of standard base64")]
    BadKey,
    #[error("the signature is not 64 bytes of standard base64")]
    BadSignatureEncoding,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the nonce must be 32 lowercase hex characters")]
    BadNonce,
}

/// Lowercase hex SHA-256 of a body.
pub fn body_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The exact bytes a device signs.
pub fn signing_message(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "lifecert-v1\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        nonce,
        body_hash(body)
    )
    .into_bytes()
}

/// Whether `nonce` has the required shape.
pub fn valid_nonce(nonce: &str) -> bool {
    nonce.len() == 32
        && nonce
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh random nonce.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex(&bytes)
}

/// The headers of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub device: String,
    pub timestamp: i64,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs to add to the request.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_DEVICE, self.device.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }
}

/// A kiosk's Ed25519 signing key. The bytes never leave the kiosk.
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.public_key_b64())
    }
}

impl DeviceKey {
    /// A new random key.
    pub fn generate() -> DeviceKey {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        DeviceKey(SigningKey::from_bytes(&bytes))
    }

    /// From the 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> DeviceKey {
        DeviceKey(SigningKey::from_bytes(bytes))
    }

    /// The 32 secret bytes (to store in the key file).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key, standard base64.
    pub fn public_key_b64(&self) -> String {
        STANDARD.encode(self.0.verifying_key().to_bytes())
    }

    /// Signs one request.
    pub fn sign_request(
        &self,
        device: &str,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        body: &[u8],
    ) -> SignedHeaders {
        let nonce = new_nonce();
        let message = signing_message(method, path_and_query, timestamp, &nonce, body);
        let signature = STANDARD.encode(self.0.sign(&message).to_bytes());
        SignedHeaders {
            device: device.to_string(),
            timestamp,
            nonce,
            signature,
        }
    }
}

/// Parses a base64 public key (as registered).
pub fn parse_public_key(b64: &str) -> Result<VerifyingKey, AuthError> {
    let bytes = STANDARD.decode(b64.trim()).map_err(|_| AuthError::BadKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| AuthError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| AuthError::BadKey)
}

/// Checks a request signature (skew and nonce reuse are the server's job).
pub fn verify_request(
    key: &VerifyingKey,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
    signature_b64: &str,
) -> Result<(), AuthError> {
    if !valid_nonce(nonce) {
        return Err(AuthError::BadNonce);
    }
    let bytes = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| AuthError::BadSignatureEncoding)?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| AuthError::BadSignatureEncoding)?;
    let signature = Signature::from_bytes(&bytes);
    let message = signing_message(method, path_and_query, timestamp, nonce, body);
    key.verify(&message, &signature)
        .map_err(|_| AuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = DeviceKey::generate();
        let public = parse_public_key(&key.public_key_b64()).unwrap();
        let h = key.sign_request("k1", "post", "/v1/heartbeat", 1_700_000_000, b"{}");
        assert!(valid_nonce(&h.nonce));
        verify_request(
            &public,
            "POST",
            "/v1/heartbeat",
            h.timestamp,
            &h.nonce,
            b"{}",
            &h.signature,
        )
        .unwrap();
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let key = DeviceKey::generate();
        let public = parse_public_key(&key.public_key_b64()).unwrap();
        let h = key.sign_request("k1", "POST", "/v1/certifications", 100, b"{\"a\":1}");
        let v = |m: &str, p: &str, t: i64, n: &str, b: &[u8]| {
            verify_request(&public, m, p, t, n, b, &h.signature)
        };
        assert_eq!(
            v("GET", "/v1/certifications", 100, &h.nonce, b"{\"a\":1}"),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            v("POST", "/v1/heartbeat", 100, &h.nonce, b"{\"a\":1}"),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            v("POST", "/v1/certifications", 101, &h.nonce, b"{\"a\":1}"),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            v(
                "POST",
                "/v1/certifications",
                100,
                &new_nonce(),
                b"{\"a\":1}"
            ),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            v("POST", "/v1/certifications", 100, &h.nonce, b"{\"a\":2}"),
            Err(AuthError::BadSignature)
        );
        let other = parse_public_key(&DeviceKey::generate().public_key_b64()).unwrap();
        assert_eq!(
            verify_request(
                &other,
                "POST",
                "/v1/certifications",
                100,
                &h.nonce,
                b"{\"a\":1}",
                &h.signature
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(
            parse_public_key("not base64!").unwrap_err(),
            AuthError::BadKey
        );
        assert_eq!(parse_public_key("AAAA").unwrap_err(), AuthError::BadKey);
        let key = DeviceKey::generate();
        let public = parse_public_key(&key.public_key_b64()).unwrap();
        assert_eq!(
            verify_request(&public, "POST", "/", 1, &new_nonce(), b"", "xx"),
            Err(AuthError::BadSignatureEncoding)
        );
        assert_eq!(
            verify_request(&public, "POST", "/", 1, "short", b"", "xx"),
            Err(AuthError::BadNonce)
        );
    }
}
