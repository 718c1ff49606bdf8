//! Thin handlers: parse, check, call storage, answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lifecert_core::id::IdNumber;
use lifecert_core::matching::{EMBEDDING_DIM, Embedding, euclidean_distance};
use lifecert_protocol::api::{
    EnrolRequest, EnrolResponse, EnrolTemplate, Evidence, Heartbeat, HeartbeatResponse,
    HistoryItem, HistoryResponse, ItemKind, MAX_BATCH_ITEMS, PersonQuery, RegisterRequest,
    RegisterResponse, ServerKey, TemplateResponse, UploadBatch, UploadItem, UploadOutcome,
    UploadResponse, UploadResult, codes,
};
use lifecert_protocol::auth::{HEADER_OPERATOR, parse_public_key};
use lifecert_protocol::{CertResult, CertificationRecord, PROTOCOL_VERSION, PersonStatus};
use time::OffsetDateTime;

use super::error::ApiError;
use super::extract::{ApiJson, Signed};
use crate::AppState;
use crate::keys::sha256_hex;
use crate::storage::{AuditEntry, Inserted, NewCertification, NewDevice, RegisterOutcome};

/// How many history entries a kiosk gets.
const HISTORY_LIMIT: u32 = 50;

fn person_id(raw: &str) -> Result<IdNumber, ApiError> {
    IdNumber::parse(raw).map_err(|e| ApiError::invalid(format!("person_id: {e}")))
}

pub async fn server_key(State(state): State<AppState>) -> Json<ServerKey> {
    Json(ServerKey {
        sealing_key: state.opening_key.public().to_b64(),
        protocol: PROTOCOL_VERSION,
    })
}

fn valid_device_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ApiError> {
    if !valid_device_id(&req.device_id) {
        return Err(ApiError::invalid(
            "device_id: use 1 to 64 characters of letters, digits, '-', '_' or '.'",
        ));
    }
    parse_public_key(&req.public_key).map_err(|e| ApiError::invalid(format!("public_key: {e}")))?;
    if req.name.chars().count() > 200 || req.site.chars().count() > 200 || req.version.len() > 64 {
        return Err(ApiError::invalid("name, site or version is too long"));
    }
    let device = NewDevice {
        id: req.device_id.clone(),
        public_key: req.public_key.trim().to_owned(),
        name: req.name,
        site: req.site,
        version: req.version,
    };
    let outcome = state
        .storage
        .register_device(
            &sha256_hex(req.token.trim().as_bytes()),
            &device,
            OffsetDateTime::now_utc(),
        )
        .await?;
    let audit = |o: &str| AuditEntry::now("device.register", o, Some(&device.id), None);
    match outcome {
        RegisterOutcome::Registered => {
            state.storage.audit(audit("ok")).await?;
            Ok(Json(RegisterResponse {
                device_id: device.id.clone(),
                sealing_key: state.opening_key.public().to_b64(),
                protocol: PROTOCOL_VERSION,
            }))
        }
        RegisterOutcome::InvalidToken => {
            state.storage.audit(audit(codes::INVALID_TOKEN)).await?;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::INVALID_TOKEN,
                "the registration token is unknown, used or expired; ask for a new one",
            ))
        }
        RegisterOutcome::DeviceExists => Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::DEVICE_EXISTS,
            "a device with this id is already registered; choose another device.id or have \
             the old one removed",
        )),
    }
}

pub async fn person_status(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<PersonStatus>, ApiError> {
    let q: PersonQuery = signed.json()?;
    let id = person_id(&q.person_id)?;
    let person = state.storage.person(id.expose()).await?;
    let has_template = match &person {
        Some(_) => state
            .storage
            .template(&state.subject.key(id.expose()))
            .await?
            .is_some(),
        None => false,
    };
    let status = crate::status::compute(
        person.as_ref(),
        has_template,
        &state.rules,
        id.birth_date(),
        q.today,
    );
    state
        .storage
        .audit(AuditEntry::now(
            crate::status::event_name(&status),
            "ok",
            Some(&signed.device.id),
            Some(id.masked()),
        ))
        .await?;
    Ok(Json(status))
}

pub async fn person_history(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<HistoryResponse>, ApiError> {
    let q: PersonQuery = signed.json()?;
    let id = person_id(&q.person_id)?;
    let entries = state
        .storage
        .certifications_for(&state.subject.person_key(id.expose()), HISTORY_LIMIT)
        .await?
        .into_iter()
        .map(|c| HistoryItem {
            on: c.certified_on,
            result: c.result,
            method: c.method,
        })
        .collect();
    Ok(Json(HistoryResponse { entries }))
}

pub async fn person_template(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<TemplateResponse>, ApiError> {
    let q: PersonQuery = signed.json()?;
    let id = person_id(&q.person_id)?;
    let t = state
        .storage
        .template(&state.subject.key(id.expose()))
        .await?
        .ok_or_else(|| ApiError::not_found("no face template is enrolled for this person"))?;
    Ok(Json(TemplateResponse {
        model_id: t.model_id,
        version: t.version,
        embedding: t.embedding,
    }))
}

/// An item that failed before storage.
fn rejected(item: &UploadItem, code: &str) -> UploadResult {
    UploadResult {
        id: item.id,
        outcome: UploadOutcome::Rejected,
        result: None,
        code: Some(code.to_owned()),
    }
}

/// Opens and checks one item; `Err` = the per-item rejection code.
async fn prepare(
    state: &AppState,
    device_id: &str,
    item: &UploadItem,
    received_at: OffsetDateTime,
) -> Result<NewCertification, &'static str> {
    let plain = state
        .opening_key
        .open_b64(&item.sealed)
        .map_err(|_| codes::CANNOT_OPEN)?;
    let (record, result) = match item.kind {
        ItemKind::Certification => {
            let r: CertificationRecord =
                serde_json::from_slice(&plain).map_err(|_| codes::INVALID)?;
            let result = r.result;
            (r, result)
        }
        ItemKind::Evidence => {
            let ev: Evidence = serde_json::from_slice(&plain).map_err(|_| codes::INVALID)?;
            if validate_embedding(&ev.embedding).is_err() {
                return Err(codes::INVALID);
            }
            let result = match_evidence(state, &ev)
                .await
                .map_err(|_| codes::INTERNAL)?;
            (ev.record, result)
        }
    };
    if record.id != item.id || record.device_seq != item.device_seq || record.device_id != device_id
    {
        return Err(codes::MISMATCH);
    }
    let id = IdNumber::parse(&record.person_id).map_err(|_| codes::INVALID)?;
    Ok(NewCertification {
        id: record.id,
        device_seq: record.device_seq,
        device_id: record.device_id,
        person_key: state.subject.person_key(id.expose()),
        benefit: record.benefit,
        certified_at: record.certified_at,
        result,
        method: record.method,
        liveness: record.liveness,
        score: record.score.filter(|s| s.is_finite()),
        operator_masked: record.operator_masked,
        received_at,
    })
}

/// Server-side matching of offline evidence: passed when the distance to the
/// stored template is within the threshold, else appeal (also without a
/// template). The evidence embedding is never stored.
async fn match_evidence(state: &AppState, ev: &Evidence) -> Result<CertResult, ApiError> {
    let Ok(id) = IdNumber::parse(&ev.record.person_id) else {
        return Ok(CertResult::Appeal);
    };
    let Some(t) = state
        .storage
        .template(&state.subject.key(id.expose()))
        .await?
    else {
        return Ok(CertResult::Appeal);
    };
    let (Ok(live), Ok(tmpl)) = (
        Embedding::try_from(ev.embedding.as_slice()),
        Embedding::try_from(t.embedding.as_slice()),
    ) else {
        return Ok(CertResult::Appeal);
    };
    if t.model_id != ev.model_id {
        return Ok(CertResult::Appeal);
    }
    let d = euclidean_distance(&live, &tmpl);
    Ok(if d.is_finite() && d <= state.match_threshold {
        CertResult::Passed
    } else {
        CertResult::Appeal
    })
}

pub async fn certifications(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<UploadResponse>, ApiError> {
    let batch: UploadBatch = signed.json()?;
    if batch.items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid(format!(
            "items: at most {MAX_BATCH_ITEMS} per request, got {}",
            batch.items.len()
        )));
    }
    let now = OffsetDateTime::now_utc();
    let device_id = signed.device.id.as_str();
    let mut results: Vec<Option<UploadResult>> = Vec::with_capacity(batch.items.len());
    let mut to_store = Vec::new();
    let mut positions = Vec::new();
    for (i, item) in batch.items.iter().enumerate() {
        match prepare(&state, device_id, item, now).await {
            Ok(c) => {
                positions.push(i);
                to_store.push(c);
                results.push(None);
            }
            Err(code) if code == codes::INTERNAL => {
                return Err(ApiError::from(crate::storage::StorageError::Backend(
                    "template lookup failed".into(),
                )));
            }
            Err(code) => results.push(Some(rejected(item, code))),
        }
    }
    let inserted = state.storage.insert_certifications(to_store).await?;
    let (mut stored, mut duplicate, mut appeal) = (0u32, 0u32, 0u32);
    for (pos, ins) in positions.into_iter().zip(inserted) {
        let (outcome, result) = match ins {
            Inserted::Stored(r) => {
                stored += 1;
                if r == CertResult::Appeal {
                    appeal += 1;
                }
                (UploadOutcome::Stored, r)
            }
            Inserted::Duplicate(r) => {
                duplicate += 1;
                (UploadOutcome::Duplicate, r)
            }
        };
        if let (Some(slot), Some(item)) = (results.get_mut(pos), batch.items.get(pos)) {
            *slot = Some(UploadResult {
                id: item.id,
                outcome,
                result: Some(result),
                code: None,
            });
        }
    }
    let rejected_codes: Vec<String> = results
        .iter()
        .flatten()
        .filter(|r| r.outcome == UploadOutcome::Rejected)
        .map(|r| r.code.clone().unwrap_or_else(|| codes::INVALID.to_owned()))
        .collect();
    let rejected_n = rejected_codes.len();
    for _ in 0..appeal {
        state
            .storage
            .audit(AuditEntry::now("cert.appeal", "ok", Some(device_id), None))
            .await?;
    }
    // One row per rejected item, its code as the outcome (dashboard reasons).
    for code in &rejected_codes {
        state
            .storage
            .audit(AuditEntry::now(
                "cert.rejected",
                code,
                Some(device_id),
                None,
            ))
            .await?;
    }
    state
        .storage
        .audit(AuditEntry::now(
            "cert.batch",
            "ok",
            Some(device_id),
            Some(format!(
                "stored={stored} duplicate={duplicate} rejected={rejected_n}"
            )),
        ))
        .await?;
    Ok(Json(UploadResponse {
        results: results.into_iter().flatten().collect(),
    }))
}

/// Checks `<operator id>:<secret>` against the stored hash.
async fn check_operator(state: &AppState, signed: &Signed) -> Result<String, ApiError> {
    let denied = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            codes::OPERATOR_REQUIRED,
            "enrolment needs a valid staff operator credential (header x-lifecert-operator)",
        )
    };
    let value = signed
        .headers
        .get(HEADER_OPERATOR)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(denied)?;
    let (id, secret) = value.trim().split_once(':').ok_or_else(denied)?;
    let stored = state
        .storage
        .operator_secret_hash(id)
        .await?
        .ok_or_else(denied)?;
    let given = sha256_hex(secret.as_bytes());
    // Equal-length hex digests; compare without early exit.
    let same = stored.len() == given.len()
        && stored
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(id.to_owned())
    } else {
        Err(denied())
    }
}

pub async fn templates(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<EnrolResponse>, ApiError> {
    let req: EnrolRequest = signed.json()?;
    let operator = match check_operator(&state, &signed).await {
        Ok(o) => o,
        Err(e) => {
            state
                .storage
                .audit(AuditEntry::now(
                    "template.enrol",
                    codes::OPERATOR_REQUIRED,
                    Some(&signed.device.id),
                    None,
                ))
                .await?;
            return Err(e);
        }
    };
    let plain = state
        .opening_key
        .open_b64(&req.sealed)
        .map_err(|e| ApiError::invalid(format!("sealed: {e}")))?;
    let t: EnrolTemplate = serde_json::from_slice(&plain)
        .map_err(|e| ApiError::invalid(format!("sealed content is not an EnrolTemplate: {e}")))?;
    let id = person_id(&t.person_id)?;
    validate_embedding(&t.embedding)?;
    if t.model_id.is_empty() || t.model_id.len() > 64 {
        return Err(ApiError::invalid("model_id: 1 to 64 characters"));
    }
    let version = crate::tools::store_template(
        &state,
        &id,
        &t.model_id,
        &t.embedding,
        Some(&signed.device.id),
        &format!("operator {operator}"),
    )
    .await?;
    Ok(Json(EnrolResponse { version }))
}

/// The sane range of a face descriptor's L2 norm. dlib/face-api descriptors
/// are NOT normalised (templates are means of frames); real ones measure
/// roughly 0.3 to 1.5, so this only refuses zeros and garbage.
pub const EMBEDDING_NORM_RANGE: std::ops::RangeInclusive<f64> = 0.05..=10.0;

/// Exactly [`EMBEDDING_DIM`] finite values with an L2 norm in
/// [`EMBEDDING_NORM_RANGE`]. The message never contains the values.
pub fn validate_embedding(e: &[f32]) -> Result<(), ApiError> {
    if e.len() != EMBEDDING_DIM {
        return Err(ApiError::invalid(format!(
            "embedding: expected {EMBEDDING_DIM} values, got {}",
            e.len()
        )));
    }
    if !e.iter().all(|v| v.is_finite()) {
        return Err(ApiError::invalid("embedding: contains NaN or infinity"));
    }
    let norm = e.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
    if !EMBEDDING_NORM_RANGE.contains(&norm) {
        return Err(ApiError::invalid(format!(
            "embedding: L2 norm is {norm:.3}, outside {}..={} (not a face descriptor)",
            EMBEDDING_NORM_RANGE.start(),
            EMBEDDING_NORM_RANGE.end()
        )));
    }
    Ok(())
}

pub async fn heartbeat(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let hb: Heartbeat = signed.json()?;
    if hb.version.len() > 64 || hb.health.len() > 64 {
        return Err(ApiError::invalid("version or health map is too large"));
    }
    let now = OffsetDateTime::now_utc();
    state.storage.heartbeat(&signed.device.id, &hb, now).await?;
    Ok(Json(HeartbeatResponse {
        server_time: now,
        protocol: PROTOCOL_VERSION,
    }))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi_doc())
}
