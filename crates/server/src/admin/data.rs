//! The admin pages' port to storage: [`AdminData`] and its plain value types.
//!
//! The admin module never touches the database itself. The server implements
//! [`AdminData`] for its SQLite/PostgreSQL storage; tests use an in-memory fake.
//! Every method is one small query or command; none of them renders text.
//!
//! Dates are the server's local calendar dates (the admin router converts
//! "now" with its configured UTC offset, default +08:00 China Standard Time).

use std::time::Duration;

use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, Method};
use time::{Date, OffsetDateTime};

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminDataError {
    /// The storage cannot answer now (connection lost, disk full, ...). The
    /// page shows "try again later" (HTTP 503); the text goes to the log only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The storage refused this one input, e.g. a roster row that conflicts
    /// with existing data. The text is shown to staff, so it must be plain
    /// language and must not contain a full ID number.
    #[error("{0}")]
    Rejected(String),
}

/// Certification figures for one day ([`AdminData::dashboard`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dashboard {
    /// Certification records stored for that day (all results).
    pub certified: u64,
    /// Of which [`CertResult::Passed`].
    pub passed: u64,
    /// Of which [`CertResult::Accepted`] (awaiting server-side verification).
    pub accepted: u64,
    /// Of which [`CertResult::Appeal`] (manual review).
    pub appeal: u64,
    /// Failures that day by reason code, most frequent first, e.g.
    /// `("face_mismatch", 3)` for evidence the server matched and rejected, or
    /// the upload rejection codes of `lifecert_protocol::api::codes`
    /// (`cannot_open`, `mismatch`, `invalid`).
    pub failures_by_reason: Vec<(String, u64)>,
    /// Sum of `queue_depth` over every device's latest heartbeat.
    pub queued_on_devices: u64,
    /// Sum of `dead` (dead-lettered results) over every device's latest heartbeat.
    pub dead_on_devices: u64,
}

/// Due and overdue counts of one insuring region ([`AdminData::due_by_region`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionDue {
    /// GB/T 2260 code of the insuring region (参保地), 6 digits.
    pub region: String,
    /// Active benefits whose current cycle ends within the next 30 days
    /// (deadline in `today ..= today + 30 days`) and that are not certified
    /// in that cycle.
    pub due: u64,
    /// Active benefits whose deadline is before `today` without certification.
    pub overdue: u64,
}

/// Status of one benefit in the roster (CSV `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RosterStatus {
    /// Paid; must certify each cycle.
    Active,
    /// Payment suspended (overdue); restore at the counter.
    Suspended,
    /// The benefit has ended.
    Terminated,
    /// Name or ID number changed since enrolment; fix at the counter.
    IdentityChanged,
}

impl RosterStatus {
    /// Every value, in a stable order.
    pub const ALL: [RosterStatus; 4] = [
        RosterStatus::Active,
        RosterStatus::Suspended,
        RosterStatus::Terminated,
        RosterStatus::IdentityChanged,
    ];

    /// The CSV spelling: `active`, `suspended`, `terminated`, `identity_changed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RosterStatus::Active => "active",
            RosterStatus::Suspended => "suspended",
            RosterStatus::Terminated => "terminated",
            RosterStatus::IdentityChanged => "identity_changed",
        }
    }

    /// Parses the CSV spelling (exact, lower case).
    #[must_use]
    pub fn from_code(code: &str) -> Option<RosterStatus> {
        RosterStatus::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// Plain Chinese label for staff.
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        match self {
            RosterStatus::Active => "正常发放",
            RosterStatus::Suspended => "暂停发放",
            RosterStatus::Terminated => "已终止",
            RosterStatus::IdentityChanged => "身份信息变更",
        }
    }
}

/// The CSV spelling of a benefit type (its serde name).
#[must_use]
pub fn benefit_code(benefit: BenefitType) -> &'static str {
    match benefit {
        BenefitType::Pension => "pension",
        BenefitType::Unemployment => "unemployment",
        BenefitType::WorkInjury => "work_injury",
        BenefitType::DependantRelief => "dependant_relief",
    }
}

/// One benefit of a person ([`PersonView::benefits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenefitView {
    pub benefit: BenefitType,
    pub status: RosterStatus,
    /// The date `status` took effect, if known.
    pub status_since: Option<Date>,
    /// The last successful certification (any channel).
    pub last_certified: Option<Date>,
    /// The end of the current cycle (`lifecert_core::cycle`), `None` when the
    /// benefit is not active or the cycle cannot be computed.
    pub next_deadline: Option<Date>,
}

/// One certification record of a person ([`PersonView::history`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryView {
    pub at: OffsetDateTime,
    pub benefit: BenefitType,
    pub result: CertResult,
    pub method: Method,
    /// The device id that produced the record (`counter` records: the device
    /// or workstation id the server stored).
    pub device: String,
    /// Match similarity in 0..=1 where matching ran (device or server).
    pub score: Option<f32>,
    /// The kiosk's liveness summary (plan, checks, screen light, camera).
    pub liveness: Option<lifecert_protocol::LivenessSummary>,
}

/// A person as shown to staff ([`AdminData::find_person`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonView {
    /// `IdNumber::masked()`, e.g. `1101**********002X`. The full number is
    /// never part of the view.
    pub id_masked: String,
    /// The full name (staff see it; the kiosk shows a masked one).
    pub name: String,
    /// Insuring region (参保地) code.
    pub region: String,
    pub benefits: Vec<BenefitView>,
    /// Newest first; at most 50 entries.
    pub history: Vec<HistoryView>,
}

/// A registered kiosk ([`AdminData::devices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub site: String,
    pub registered_at: OffsetDateTime,
    /// Time of the latest heartbeat; `None` if it never sent one.
    pub last_heartbeat: Option<OffsetDateTime>,
    /// Software version from the latest heartbeat (or registration).
    pub version: Option<String>,
    /// From the latest heartbeat; 0 without one.
    pub queue_depth: u64,
    /// Dead-lettered results from the latest heartbeat; 0 without one.
    pub dead: u64,
    /// Age of the oldest waiting result (seconds) from the latest heartbeat.
    pub oldest_pending_secs: Option<u64>,
    /// Part → state (`camera` → `ok`, `printer` → `fault: paper out`), sorted by part.
    pub health: Vec<(String, String)>,
    /// The device was revoked and may no longer call the API.
    pub revoked: bool,
}

/// One validated roster row (see [`crate::admin::roster`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// Validated (GB 11643) and normalised; `Debug` shows it masked.
    pub id_number: IdNumber,
    /// Trimmed, non-empty, at most 50 characters.
    pub name: String,
    /// Insuring region (参保地), exactly 6 ASCII digits.
    pub region: String,
    pub benefit: BenefitType,
    pub status: RosterStatus,
    /// When `status` took effect. Always present for `suspended`.
    pub status_since: Option<Date>,
    /// The last successful certification, not after the import day.
    pub last_certified: Option<Date>,
}

/// What [`AdminData::import_person`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// A new (person, benefit) pair was stored.
    Inserted,
    /// An existing (person, benefit) pair was overwritten with the row's values.
    Updated,
}

/// The admin pages' queries and commands. Implemented by the server's storage.
///
/// All methods are independent single operations; the pages call them
/// without holding any lock. Errors are [`AdminDataError`]s: `Unavailable`
/// becomes a 503 page, `Rejected` is shown to staff as is.
#[async_trait::async_trait]
pub trait AdminData: Send + Sync + 'static {
    /// Figures for the local calendar day `day` (records whose
    /// `certified_at`, converted to local time, falls on `day`) plus the
    /// current device queue totals.
    async fn dashboard(&self, day: Date) -> Result<Dashboard, AdminDataError>;

    /// Due and overdue counts per insuring region as of `today` (see
    /// [`RegionDue`]), sorted by region code. Regions with nothing due or
    /// overdue may be left out.
    async fn due_by_region(&self, today: Date) -> Result<Vec<RegionDue>, AdminDataError>;

    /// The person with this ID number, or `None` when unknown. Deadlines are
    /// computed as of `today`.
    async fn find_person(
        &self,
        id: &IdNumber,
        today: Date,
    ) -> Result<Option<PersonView>, AdminDataError>;

    /// Every registered device, sorted by id.
    async fn devices(&self) -> Result<Vec<DeviceView>, AdminDataError>;

    /// Inserts or overwrites one (person, benefit) pair of the roster. The
    /// person's name and region are set from the row (a later row for the
    /// same person wins). `Rejected` refuses this row only; the import goes
    /// on with the next row. After `Unavailable` the import stops.
    async fn import_person(&self, row: &RosterRow) -> Result<ImportAction, AdminDataError>;

    /// Creates a one-time device registration token valid for `ttl` and
    /// returns it; only its hash need be stored, as the page shows the token
    /// once. Tokens are consumed by `POST /v1/devices/register`.
    async fn create_device_token(&self, ttl: Duration) -> Result<String, AdminDataError>;

    /// Appends to the audit log. `event` is a stable code (`admin_login`,
    /// `admin_logout`, `roster_import`, `person_lookup`, `token_created`),
    /// `outcome` is `ok`/`denied`/`error`, `detail` is short text that never
    /// contains a full ID number (the router passes masked ones only).
    async fn audit(&self, event: &str, outcome: &str, detail: &str) -> Result<(), AdminDataError>;
}
