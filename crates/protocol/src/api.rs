//! Request and response bodies of the `/v1` API (JSON).
//!
//! Routes (all under `/v1`; "signed" = device-signed, see [`crate::auth`]):
//!
//! | route | auth | body → answer |
//! |---|---|---|
//! | `GET /v1/server-key` | none | → [`ServerKey`] |
//! | `POST /v1/devices/register` | one-time token in body | [`RegisterRequest`] → [`RegisterResponse`] |
//! | `POST /v1/persons/status` | signed | [`PersonQuery`] → [`crate::PersonStatus`] |
//! | `POST /v1/persons/history` | signed | [`PersonQuery`] → [`HistoryResponse`] |
//! | `POST /v1/persons/template` | signed | [`PersonQuery`] → [`TemplateResponse`] |
//! | `POST /v1/certifications` | signed | [`UploadBatch`] → [`UploadResponse`] |
//! | `POST /v1/templates` | signed + operator | [`EnrolRequest`] → [`EnrolResponse`] |
//! | `POST /v1/heartbeat` | signed | [`Heartbeat`] → [`HeartbeatResponse`] |
//! | `GET /v1/openapi.json` | none | the OpenAPI document |
//!
//! Person ID numbers travel only in bodies (never in URLs, which end up in
//! access logs). Every answer carries the [`PROTOCOL_HEADER`] header.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{CertResult, Method};

/// Header on every server answer: the server's [`crate::PROTOCOL_VERSION`].
pub const PROTOCOL_HEADER: &str = "x-lifecert-protocol";

/// The largest request body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most items in one [`UploadBatch`].
pub const MAX_BATCH_ITEMS: usize = 200;

/// `GET /v1/server-key`: the key kiosks seal payloads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerKey {
    /// The server's X25519 public key, standard base64 (32 bytes).
    pub sealing_key: String,
    pub protocol: u32,
}

/// `POST /v1/devices/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The one-time token from the admin page.
    pub token: String,
    /// The kiosk's chosen device id (`device.id` in kiosk.toml).
    pub device_id: String,
    /// The kiosk's Ed25519 public key, standard base64 (32 bytes).
    pub public_key: String,
    pub name: String,
    pub site: String,
    /// The kiosk's software version.
    pub version: String,
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub device_id: String,
    /// The server's X25519 sealing key, standard base64 (32 bytes).
    pub sealing_key: String,
    pub protocol: u32,
}

/// A query about one person (status, history, template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonQuery {
    /// The full 18-character ID number.
    pub person_id: String,
    /// The kiosk's local date (eligibility is judged by it).
    pub today: Date,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub on: Date,
    pub result: CertResult,
    pub method: Method,
}

/// `POST /v1/persons/history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub entries: Vec<HistoryItem>,
}

/// `POST /v1/persons/template`: the enrolled face template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateResponse {
    /// The embedding model id, e.g. `faceapi_recognition_u8`.
    pub model_id: String,
    /// The template version (increases on re-enrolment).
    pub version: u32,
    /// The template: a 128-d dlib/face-api descriptor, NOT L2-normalised
    /// (the component-wise mean of good enrolment frames). Compare by
    /// Euclidean distance; the server's `matching.threshold` (default 0.5)
    /// is the match line.
    pub embedding: Vec<f32>,
}

/// What a sealed item holds once opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A [`crate::CertificationRecord`] (JSON) decided on the kiosk.
    Certification,
    /// An [`Evidence`] (JSON) for server-side matching.
    Evidence,
}

/// One queued result as uploaded: the id and seq in clear, the content
/// sealed to the server's key (see [`crate::seal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadItem {
    /// UUIDv7, the idempotency key; equals the inner record's id.
    pub id: Uuid,
    pub device_seq: u64,
    pub kind: ItemKind,
    /// Standard base64 of the sealed box.
    pub sealed: String,
}

/// `POST /v1/certifications`: items in seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBatch {
    pub items: Vec<UploadItem>,
}

/// What happened to one uploaded item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadOutcome {
    /// Stored now.
    Stored,
    /// Stored before (a resend); nothing stored twice.
    Duplicate,
    /// Will never be accepted (unreadable, wrong device, invalid ID...).
    Rejected,
}

/// The answer for one item of a batch, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResult {
    pub id: Uuid,
    pub outcome: UploadOutcome,
    /// The recorded result (for evidence: the server's matching outcome).
    pub result: Option<CertResult>,
    /// Why an item was rejected (a stable code).
    pub code: Option<String>,
}

/// `POST /v1/certifications` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub results: Vec<UploadResult>,
}

/// Evidence for server-side matching (offline sessions). Only ever sent
/// sealed; the kiosk never stores it unsealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The record (method `offline_evidence`, result `accepted`).
    pub record: crate::CertificationRecord,
    /// The embedding model id.
    pub model_id: String,
    /// The live face's 128-d dlib/face-api descriptor, NOT L2-normalised
    /// (the mean of the session's good frames): exactly 128 finite values
    /// with an L2 norm in 0.05..=10, else the item is rejected `invalid`.
    /// The server passes it when its Euclidean distance to the template is
    /// at most `matching.threshold`, else records an appeal.
    pub embedding: Vec<f32>,
}

/// `POST /v1/templates` (needs the [`crate::auth::HEADER_OPERATOR`] header
/// as well as the device signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// Standard base64 of a sealed [`EnrolTemplate`] (JSON).
    pub sealed: String,
}

/// The content of an [`EnrolRequest`] once opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolTemplate {
    pub person_id: String,
    pub model_id: String,
    /// The 128-d dlib/face-api descriptor, NOT L2-normalised (the mean of
    /// the good enrolment frames): exactly 128 finite values with an L2 norm
    /// in 0.05..=10, else 422 `invalid`.
    pub embedding: Vec<f32>,
    /// How many good frames were averaged.
    pub frames: u32,
}

/// `POST /v1/templates` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub version: u32,
}

/// `POST /v1/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Results waiting in the outbox.
    pub queue_depth: u64,
    /// Results dead-lettered (staff must look).
    pub dead: u64,
    /// Age of the oldest waiting result, seconds.
    pub oldest_pending_secs: Option<u64>,
    pub version: String,
    /// Part name → state (`ok`, `fault: ...`), e.g. `camera`, `printer`.
    pub health: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/heartbeat` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    #[serde(with = "time::serde::rfc3339")]
    pub server_time: OffsetDateTime,
    pub protocol: u32,
}

/// The stable `code` values of [`crate::ErrorBody`] and their HTTP statuses.
pub mod codes {
    /// 400: the body is not the JSON this route takes (malformed, wrong types).
    pub const BAD_REQUEST: &str = "bad_request";
    /// 413: the body is larger than [`super::MAX_BODY_BYTES`].
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// 422: a field is invalid, e.g. an ID number that fails GB 11643.
    pub const INVALID: &str = "invalid";
    /// 401: a signature header is missing or malformed.
    pub const UNSIGNED: &str = "unsigned";
    /// 401: the device is not registered (or was revoked).
    pub const UNKNOWN_DEVICE: &str = "unknown_device";
    /// 401: the signature does not verify.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// 401: the timestamp is more than five minutes off the server's clock.
    pub const STALE_TIMESTAMP: &str = "stale_timestamp";
    /// 401: the nonce was used before.
    pub const REPLAYED_NONCE: &str = "replayed_nonce";
    /// 403: registration token unknown, used or expired.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// 409: a device with this id is already registered.
    pub const DEVICE_EXISTS: &str = "device_exists";
    /// 403: enrolment without a valid staff operator credential.
    pub const OPERATOR_REQUIRED: &str = "operator_required";
    /// 404: no such person / template / route.
    pub const NOT_FOUND: &str = "not_found";
    /// 429: too many requests from this device; retry later.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// 426: the kiosk speaks another protocol version; staff must update it.
    pub const PROTOCOL_MISMATCH: &str = "protocol_mismatch";
    /// 500/503: the server's fault; retry later.
    pub const INTERNAL: &str = "internal";
    /// Per-item rejection in an [`super::UploadResult`]: the sealed box does not open.
    pub const CANNOT_OPEN: &str = "cannot_open";
    /// Per-item rejection: the item's inner record disagrees with its id, seq or device.
    pub const MISMATCH: &str = "mismatch";
}
