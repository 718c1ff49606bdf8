//! Operator commands of the `lifecert-server` binary that touch storage:
//! `put-template` (a face template file made by the kiosk's
//! `lifecert enroll-template`) and `hash-password` (the admin password hash).

use argon2::{Argon2, PasswordHasher};
use lifecert_core::id::IdNumber;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AppState;
use crate::storage::{AuditEntry, StorageError};

/// The template file written by `lifecert enroll-template -o FILE.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TemplateFile {
    /// The embedding model, e.g. `faceapi_recognition_u8`.
    pub model_id: String,
    /// The file format version (1).
    pub version: u32,
    /// How many good frames were averaged.
    #[serde(default)]
    pub frames: Option<u32>,
    /// The 128-d descriptor (not normalised).
    pub embedding: Vec<f32>,
}

/// Why `put-template` failed (messages never contain a full ID or the embedding).
#[derive(Debug, thiserror::Error)]
pub enum PutTemplateError {
    #[error("--id: {0}; give the person's 18-character ID number")]
    BadId(String),
    #[error(
        "{0}: not a template file from `lifecert enroll-template -o FILE.json` ({1}); \
         enrol the person again on a kiosk"
    )]
    BadFile(String, String),
    #[error("{path}: {why}; enrol the person again on a kiosk")]
    BadTemplate { path: String, why: String },
    #[error(
        "no person {0} in the roster; import the roster first (admin page /admin/import) \
         and retry"
    )]
    UnknownPerson(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Parses and checks a template file's text.
pub fn parse_template_file(path: &str, text: &str) -> Result<TemplateFile, PutTemplateError> {
    let t: TemplateFile = serde_json::from_str(text).map_err(|e| {
        // serde's message may quote a value; keep only its position.
        PutTemplateError::BadFile(
            path.to_owned(),
            format!("invalid JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    let bad = |why: String| PutTemplateError::BadTemplate {
        path: path.to_owned(),
        why,
    };
    if t.version != 1 {
        return Err(bad(format!(
            "format version {} is not supported (expected 1)",
            t.version
        )));
    }
    if t.model_id.is_empty() || t.model_id.len() > 64 {
        return Err(bad("model_id must be 1 to 64 characters".into()));
    }
    crate::api::validate_embedding(&t.embedding).map_err(|e| bad(e.message))?;
    Ok(t)
}

/// Stores the template for the person with ID `raw_id` (who must be in the
/// roster); returns the new template version.
pub async fn put_template(
    state: &AppState,
    raw_id: &str,
    template: &TemplateFile,
) -> Result<u32, PutTemplateError> {
    let id = IdNumber::parse(raw_id).map_err(|e| PutTemplateError::BadId(e.to_string()))?;
    if state.storage.person(id.expose()).await?.is_none() {
        return Err(PutTemplateError::UnknownPerson(id.masked()));
    }
    Ok(store_template(
        state,
        &id,
        &template.model_id,
        &template.embedding,
        None,
        "put-template",
    )
    .await?)
}

/// Stores a checked face template for `id` under its template key and audits
/// it (`template.enrol`, masked ID and who did it); returns the new version.
/// Shared by the enrolment API and `put-template`.
pub(crate) async fn store_template(
    state: &AppState,
    id: &IdNumber,
    model_id: &str,
    embedding: &[f32],
    device: Option<&str>,
    by: &str,
) -> Result<u32, StorageError> {
    let version = state
        .storage
        .upsert_template(
            &state.subject.key(id.expose()),
            model_id,
            embedding,
            OffsetDateTime::now_utc(),
        )
        .await?;
    state
        .storage
        .audit(AuditEntry::now(
            "template.enrol",
            "ok",
            device,
            Some(format!("{} by {by}", id.masked())),
        ))
        .await?;
    Ok(version)
}

/// The argon2id PHC string of `password` (default parameters, random salt)
/// for `[admin] password_hash`.
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.is_empty() {
        return Err("the password is empty; type it on standard input".into());
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn template_files() {
        let emb: Vec<String> = (0..128)
            .map(|i| format!("{}", (i as f32) / 1000.0))
            .collect();
        let good = format!(
            "{{\"model_id\":\"faceapi_recognition_u8\",\"version\":1,\"frames\":5,\"embedding\":[{}]}}",
            emb.join(",")
        );
        let t = parse_template_file("t.json", &good).unwrap();
        assert_eq!(t.embedding.len(), 128);
        assert_eq!(t.frames, Some(5));
        let short = good.replace("[0,", "[");
        assert!(matches!(
            parse_template_file("t.json", &short),
            Err(PutTemplateError::BadTemplate { .. })
        ));
        assert!(matches!(
            parse_template_file("t.json", "{"),
            Err(PutTemplateError::BadFile(..))
        ));
        let v2 = good.replace("\"version\":1", "\"version\":2");
        assert!(parse_template_file("t.json", &v2).is_err());
    }

    #[test]
    fn password_hash_verifies() {
        let h = hash_password("s3cret pass").unwrap();
        assert!(h.starts_with("$argon2id$"));
        crate::admin::check_password_hash(&h).unwrap();
        assert!(crate::admin::verify_password(&h, "s3cret pass"));
        assert!(!crate::admin::verify_password(&h, "other"));
        assert!(hash_password("").is_err());
    }
}
