//! Staff PIN hashing (argon2id PHC strings) and the [`PinHash`] config value.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};

/// The documented demo staff PIN. Shipped kiosks must replace its hash.
pub const DEMO_PIN: &str = "246810";

/// Argon2id PHC hash of [`DEMO_PIN`], as shipped in `kiosk.toml` and used as the
/// default of `session.staff_pin_hash`.
pub const DEMO_PIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$1QHGOU2QTeAquMjHVFjxkA$ADnH18ppQaNgT3UxvF2cb7PpLa5JJ0HsLXt+Q3mv9Ns";

/// Placeholder printed instead of secret values.
pub const REDACTED: &str = "<redacted>";

/// Why a staff PIN could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The PIN is not 4–8 ASCII digits.
    #[error("a staff PIN must be 4 to 8 digits (0-9)")]
    Format,
    /// The hashing library failed (for example, no system randomness).
    #[error("cannot hash the staff PIN: {0}")]
    Hash(String),
}

/// Checks the staff PIN rules: 4–8 ASCII digits.
pub fn check_pin_format(pin: &str) -> Result<(), PinError> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::Format)
    }
}

/// Hashes a staff PIN to an argon2id PHC string with a fresh random salt,
/// suitable for `session.staff_pin_hash`.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    check_pin_format(pin)?;
    Argon2::default()
        .hash_password(pin.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Returns true when `pin` matches the PHC string `phc`. A malformed `phc`
/// never matches.
pub fn verify_pin(phc: &str, pin: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(pin.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A validated argon2 PHC string for the staff PIN. Its `Debug` output is
/// redacted so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHash(String);

impl PinHash {
    /// Validates a PHC string: it must parse, name an argon2 variant, carry
    /// valid argon2 parameters, a salt and a hash. The error text never
    /// contains the value itself.
    pub fn parse(phc: &str) -> Result<PinHash, String> {
        let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e})"))?;
        Algorithm::new(hash.algorithm.as_str()).map_err(|_| {
            "not an argon2 hash (expected a string starting with \"$argon2id$\")".to_owned()
        })?;
        Params::try_from(&hash).map_err(|e| format!("invalid argon2 parameters ({e})"))?;
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err("the PHC string has no salt or no hash part".to_owned());
        }
        Ok(PinHash(phc.to_owned()))
    }

    /// An empty value that matches no PIN; fills the slot while validation
    /// problems are collected (never part of a returned config).
    pub(crate) fn placeholder() -> PinHash {
        PinHash(String::new())
    }

    /// Returns true when `pin` matches this hash.
    pub fn verify(&self, pin: &str) -> bool {
        verify_pin(&self.0, pin)
    }

    /// Returns true when this is a hash of the shipped [`DEMO_PIN`] (costs
    /// one argon2 computation unless it is the shipped hash itself).
    pub fn is_demo(&self) -> bool {
        self.0 == DEMO_PIN_HASH || self.verify(DEMO_PIN)
    }

    /// The PHC string (a secret: do not log or display it).
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinHash({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_hash_is_valid_and_matches_demo_pin() {
        let hash = PinHash::parse(DEMO_PIN_HASH).unwrap();
        assert!(hash.verify(DEMO_PIN));
        assert!(!hash.verify("135790"));
        assert!(hash.is_demo());
    }

    #[test]
    fn pin_format_rules() {
        for ok in ["0000", "1234", "12345678"] {
            assert_eq!(check_pin_format(ok), Ok(()), "{ok}");
        }
        for bad in ["", "123", "123456789", "12a4", " 1234", "１２３４"] {
            assert_eq!(check_pin_format(bad), Err(PinError::Format), "{bad}");
        }
    }

    #[test]
    fn parse_rejects_non_argon2_and_garbage_without_echoing_it() {
        for bad in [
            "",
            "hunter2",
            "$argon2id$nonsense",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1",
        ] {
            let err = PinHash::parse(bad).unwrap_err();
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let hash = PinHash::parse(DEMO_PIN_HASH).unwrap();
        let shown = format!("{hash:?}");
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(shown.contains(REDACTED));
    }
}
