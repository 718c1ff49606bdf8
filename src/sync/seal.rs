//! Sealed outbox payloads: what the outbox stores is the base64 sealed box of
//! an [`UploadItem`](lifecert_protocol::api::UploadItem) (`sealed` field),
//! never a readable ID number or embedding. The plaintext JSON is wiped from
//! memory once sealed.

use lifecert_protocol::CertificationRecord;
use lifecert_protocol::api::{EnrolTemplate, Evidence, ItemKind};
use lifecert_protocol::seal::{SealError, SealingKey};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Outbox `kind` of a sealed [`CertificationRecord`].
pub const KIND_CERTIFICATION: &str = "certification";
/// Outbox `kind` of a sealed [`Evidence`].
pub const KIND_EVIDENCE: &str = "evidence";

/// The wire kind of an outbox `kind` string.
pub fn item_kind(kind: &str) -> Option<ItemKind> {
    match kind {
        KIND_CERTIFICATION => Some(ItemKind::Certification),
        KIND_EVIDENCE => Some(ItemKind::Evidence),
        _ => None,
    }
}

/// Why a payload could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealPayloadError {
    #[error("this kiosk is not registered with a server (no sealing key): run `lifecert register`")]
    NotRegistered,
    #[error("cannot encode the payload: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cannot seal the payload: {0}")]
    Seal(#[from] SealError),
}

/// Seals payloads to the registered server's key.
#[derive(Debug, Clone)]
pub struct Sealer {
    pub device_id: String,
    pub key: SealingKey,
}

fn seal_json<T: serde::Serialize>(key: &SealingKey, value: &T) -> Result<String, SealPayloadError> {
    let plain = Zeroizing::new(serde_json::to_vec(value)?);
    Ok(key.seal_b64(&plain)?)
}

impl Sealer {
    /// Seals `record` (with the outbox row's `id` and `seq` and this kiosk's
    /// device id) — with `embedding`, as [`Evidence`]. Returns the outbox
    /// payload bytes (the base64 sealed box).
    pub fn seal_item(
        &self,
        mut record: CertificationRecord,
        id: Uuid,
        seq: i64,
        embedding: Option<&[f32]>,
    ) -> Result<Vec<u8>, SealPayloadError> {
        record.id = id;
        record.device_seq = u64::try_from(seq).unwrap_or(0);
        record.device_id = self.device_id.clone();
        let sealed = match embedding {
            None => seal_json(&self.key, &record)?,
            Some(embedding) => {
                let evidence = Evidence {
                    record,
                    model_id: lifecert_vision::EMBEDDING_MODEL_ID.to_string(),
                    embedding: embedding.to_vec(),
                };
                let sealed = seal_json(&self.key, &evidence);
                let Evidence {
                    mut record,
                    mut embedding,
                    ..
                } = evidence;
                zeroize::Zeroize::zeroize(&mut embedding);
                zeroize::Zeroize::zeroize(&mut record.person_id);
                sealed?
            }
        };
        Ok(sealed.into_bytes())
    }

    /// Seals an enrolled template for `POST /v1/templates`.
    pub fn seal_template(&self, template: &EnrolTemplate) -> Result<String, SealPayloadError> {
        seal_json(&self.key, template)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lifecert_protocol::seal::OpeningKey;
    use lifecert_protocol::{BenefitType, CertResult, Method};

    #[test]
    fn sealed_items_open_to_the_outbox_ids() {
        let opening = OpeningKey::generate();
        let sealer = Sealer {
            device_id: "kiosk-9".into(),
            key: opening.public(),
        };
        let record = CertificationRecord {
            id: Uuid::nil(),
            device_seq: 0,
            device_id: String::new(),
            person_id: "110105195203150013".into(),
            benefit: BenefitType::Pension,
            certified_at: time::macros::datetime!(2026-11-22 10:30 UTC),
            result: CertResult::Accepted,
            method: Method::OfflineEvidence,
            liveness: None,
            score: None,
            operator_masked: None,
        };
        let id = Uuid::now_v7();
        let bytes = sealer
            .seal_item(record, id, 7, Some(&[0.125; 128]))
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("110105"));
        let evidence: Evidence = serde_json::from_slice(&opening.open_b64(&text).unwrap()).unwrap();
        assert_eq!(evidence.record.id, id);
        assert_eq!(evidence.record.device_seq, 7);
        assert_eq!(evidence.record.device_id, "kiosk-9");
        assert_eq!(evidence.embedding, vec![0.125; 128]);
        assert_eq!(evidence.model_id, lifecert_vision::EMBEDDING_MODEL_ID);
        assert_eq!(item_kind("evidence"), Some(ItemKind::Evidence));
        assert_eq!(item_kind("x"), None);
    }
}
