//! Storage behind one async trait ([`Storage`]), with two backends:
//! [`sqlite::SqliteStorage`] (one file, WAL, one writer thread with group
//! commit) and [`postgres::PgStorage`] (tokio-postgres + deadpool).
//!
//! Privacy (DOMAIN.md §5): the full ID number is stored in ONE column,
//! `persons.id_number`. Everything else refers to a person by an opaque key
//! made with the server secret ([`crate::keys::SubjectKeyer`]):
//! `persons.person_key` (used by `person_benefits` and `certifications`) and,
//! with another purpose tag, `templates.subject_key`, so face templates are
//! never next to, nor joinable in SQL with, a name or ID number. Audit rows
//! hold no full ID numbers (masked at most) and no embeddings.
//!
//! Time columns are backend-specific; every value crossing this trait is a
//! `time` type.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use lifecert_protocol::api::Heartbeat;
use lifecert_protocol::{BenefitType, CertResult, LivenessSummary, Method};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A storage failure (the server's fault: answered 500/503, never a client error).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Backend(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the storage writer has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Backend(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        // "db error" alone says nothing; add the server's message and code.
        match e.as_db_error() {
            Some(db) => {
                StorageError::Backend(format!("{e}: {} ({})", db.message(), db.code().code()))
            }
            None => StorageError::Backend(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StorageError::Backend(e.to_string())
    }
}

/// The state of one benefit of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenefitStatus {
    Active,
    Suspended,
    Terminated,
    IdentityChanged,
}

/// One benefit of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitRow {
    pub benefit: BenefitType,
    pub status: BenefitStatus,
    /// Since when the status holds (for `active`: the approval date, which
    /// starts the first cycle).
    pub status_since: Date,
    pub last_certified: Option<Date>,
}

/// A beneficiary (identity data; no biometrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The full 18-character ID number (primary key). Never log it.
    pub id_number: String,
    pub name: String,
    /// GB/T 2260 code of the insuring region (6 digits).
    pub region: String,
    pub benefits: Vec<BenefitRow>,
}

/// A stored face template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub model_id: String,
    pub version: u32,
    pub embedding: Vec<f32>,
    pub updated_at: OffsetDateTime,
}

/// A certification to insert (idempotent by `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCertification {
    pub id: Uuid,
    pub device_seq: u64,
    pub device_id: String,
    /// The person's opaque key ([`crate::keys::SubjectKeyer::person_key`]).
    pub person_key: String,
    pub benefit: BenefitType,
    pub certified_at: OffsetDateTime,
    pub result: CertResult,
    pub method: Method,
    pub liveness: Option<LivenessSummary>,
    pub score: Option<f32>,
    pub operator_masked: Option<String>,
    pub received_at: OffsetDateTime,
}

/// A stored certification.
#[derive(Debug, Clone, PartialEq)]
pub struct Certification {
    pub id: Uuid,
    pub device_seq: u64,
    pub device_id: String,
    /// The person's opaque key ([`crate::keys::SubjectKeyer::person_key`]).
    pub person_key: String,
    pub benefit: BenefitType,
    /// UTC.
    pub certified_at: OffsetDateTime,
    /// The date at the kiosk (its local offset) when it happened.
    pub certified_on: Date,
    pub result: CertResult,
    pub method: Method,
    pub liveness: Option<LivenessSummary>,
    pub score: Option<f32>,
    pub operator_masked: Option<String>,
    pub received_at: OffsetDateTime,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now with this result.
    Stored(CertResult),
    /// Stored before; the result recorded the first time.
    Duplicate(CertResult),
}

/// A device to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub id: String,
    pub public_key: String,
    pub name: String,
    pub site: String,
    pub version: String,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    /// Ed25519 public key, standard base64.
    pub public_key: String,
    pub name: String,
    pub site: String,
    pub registered_at: OffsetDateTime,
    pub last_heartbeat: Option<OffsetDateTime>,
    pub version: String,
    pub queue_depth: u64,
    pub dead: u64,
    /// Age of the oldest waiting result at the last heartbeat (seconds).
    pub oldest_pending_secs: Option<u64>,
    /// The last heartbeat's health map as JSON text (`{}` before any).
    pub health: String,
    pub revoked: bool,
}

/// The outcome of [`Storage::register_device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    Registered,
    /// Token unknown, used or expired (nothing consumed).
    InvalidToken,
    /// The device id exists (the token is not consumed).
    DeviceExists,
}

/// One audit entry (no full IDs, no embeddings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// e.g. `status.due`, `status.not_in_scope`, `cert.stored`, `cert.appeal`, `auth.rejected`.
    pub event: String,
    /// e.g. `ok`, `rejected`, an error code.
    pub outcome: String,
    pub device: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry at the current time.
    pub fn now(event: &str, outcome: &str, device: Option<&str>, detail: Option<String>) -> Self {
        AuditEntry {
            at: OffsetDateTime::now_utc(),
            event: event.to_owned(),
            outcome: outcome.to_owned(),
            device: device.map(str::to_owned),
            detail,
        }
    }
}

/// Audit events counted per UTC day and outcome (for the dashboard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    pub day: Date,
    pub event: String,
    pub outcome: String,
    pub count: u64,
}

/// One roster row to import ([`Storage::import_benefit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterBenefit {
    pub benefit: BenefitType,
    pub status: BenefitStatus,
    /// `None` keeps a stored value; a new row then starts on `today`.
    pub status_since: Option<Date>,
    /// The later of this and the stored value is kept (an import never
    /// erases a certification a kiosk reported).
    pub last_certified: Option<Date>,
}

/// Everything the server stores. Backends: [`sqlite::SqliteStorage`], [`postgres::PgStorage`].
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The backend name (`sqlite` or `postgres`).
    fn backend(&self) -> &'static str;

    // ---- devices and tokens ----
    /// Stores a one-time registration token by its SHA-256 (lowercase hex).
    async fn create_token(
        &self,
        token_sha256: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StorageError>;
    /// Consumes the token and registers the device, atomically.
    async fn register_device(
        &self,
        token_sha256: &str,
        device: &NewDevice,
        now: OffsetDateTime,
    ) -> Result<RegisterOutcome, StorageError>;
    async fn device(&self, id: &str) -> Result<Option<Device>, StorageError>;
    async fn devices(&self) -> Result<Vec<Device>, StorageError>;
    /// Sets the revoked flag; false when no such device.
    async fn set_device_revoked(&self, id: &str, revoked: bool) -> Result<bool, StorageError>;
    /// Records a heartbeat on the device row.
    async fn heartbeat(
        &self,
        device: &str,
        heartbeat: &Heartbeat,
        now: OffsetDateTime,
    ) -> Result<(), StorageError>;
    /// Records a nonce; false when this device used it before (a replay).
    async fn record_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;
    /// Deletes nonces seen before `before`; the number deleted.
    async fn purge_nonces(&self, before: OffsetDateTime) -> Result<u64, StorageError>;

    // ---- operators ----
    async fn create_operator(
        &self,
        id: &str,
        name: &str,
        secret_sha256: &str,
        now: OffsetDateTime,
    ) -> Result<(), StorageError>;
    /// The operator's secret hash (lowercase hex SHA-256).
    async fn operator_secret_hash(&self, id: &str) -> Result<Option<String>, StorageError>;

    // ---- persons and templates ----
    async fn person(&self, id_number: &str) -> Result<Option<Person>, StorageError>;
    /// Inserts or replaces the person (under `person_key`, which must be
    /// `SubjectKeyer::person_key(&person.id_number)`) and all their benefit rows.
    async fn upsert_person(&self, person_key: &str, person: &Person) -> Result<(), StorageError>;
    /// Inserts or updates one (person, benefit) pair from the roster, setting
    /// the person's name and region; true when the pair is new.
    async fn import_benefit(
        &self,
        person_key: &str,
        id_number: &str,
        name: &str,
        region: &str,
        row: &RosterBenefit,
        today: Date,
    ) -> Result<bool, StorageError>;
    /// Every person with their benefits (for due/overdue counts).
    async fn all_persons(&self) -> Result<Vec<Person>, StorageError>;
    async fn person_count(&self) -> Result<u64, StorageError>;
    async fn template(&self, subject_key: &str) -> Result<Option<Template>, StorageError>;
    /// Inserts or replaces a template; the new version (1 for the first).
    async fn upsert_template(
        &self,
        subject_key: &str,
        model_id: &str,
        embedding: &[f32],
        now: OffsetDateTime,
    ) -> Result<u32, StorageError>;

    // ---- certifications ----
    /// Inserts idempotently, in order; a passed certification updates the
    /// person's `last_certified` for that benefit.
    async fn insert_certifications(
        &self,
        items: Vec<NewCertification>,
    ) -> Result<Vec<Inserted>, StorageError>;
    /// A person's certifications (by person key), newest first.
    async fn certifications_for(
        &self,
        person_key: &str,
        limit: u32,
    ) -> Result<Vec<Certification>, StorageError>;
    /// The latest certifications of all persons, newest received first.
    async fn recent_certifications(&self, limit: u32) -> Result<Vec<Certification>, StorageError>;
    async fn certification_count(&self) -> Result<u64, StorageError>;
    /// Certifications with `from <= certified_at < to`, counted by result.
    async fn certification_results(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(CertResult, u64)>, StorageError>;

    // ---- audit ----
    async fn audit(&self, entry: AuditEntry) -> Result<(), StorageError>;
    async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError>;
    /// Counts per UTC day, event and outcome from `since` on.
    async fn audit_counts(&self, since: Date) -> Result<Vec<AuditCount>, StorageError>;
    /// Audit entries with `from <= at < to`, counted by (event, outcome).
    async fn audit_counts_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(String, String, u64)>, StorageError>;
}

/// The snake_case wire name of a serde enum value (`pension`, `passed`, ...).
pub(crate) fn enum_str<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The serde enum value of a snake_case name.
pub(crate) fn enum_parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, StorageError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StorageError::Corrupt(format!("unknown value {text:?}")))
}

/// f32 little-endian bytes.
pub(crate) fn embedding_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|f| f.to_le_bytes()).collect()
}

pub(crate) fn embedding_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, StorageError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StorageError::Corrupt("embedding length".into()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(crate) fn liveness_json(l: &Option<LivenessSummary>) -> Option<String> {
    l.as_ref().and_then(|l| serde_json::to_string(l).ok())
}

pub(crate) fn liveness_parse(
    text: Option<String>,
) -> Result<Option<LivenessSummary>, StorageError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StorageError::Corrupt(e.to_string())))
        .transpose()
}

pub(crate) fn health_json(h: &Heartbeat) -> String {
    serde_json::to_string(&h.health).unwrap_or_else(|_| "{}".into())
}

/// The date a certification counts for: the kiosk's local date.
pub(crate) fn certified_on(at: OffsetDateTime) -> Date {
    at.date()
}
