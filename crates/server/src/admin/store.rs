//! [`AdminData`] for the server's real storage (SQLite or PostgreSQL, through
//! the [`Storage`] trait). Cycle deadlines come from `lifecert_core::cycle`,
//! as for the kiosks' status answers ([`crate::status`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lifecert_core::cycle::{CertHistory, CertStatus, CycleRule, RuleTable};
use lifecert_core::id::IdNumber;
use lifecert_protocol::CertResult;
use time::{Date, OffsetDateTime, UtcOffset};

use super::data::{
    AdminData, AdminDataError, BenefitView, Dashboard, DeviceView, HistoryView, ImportAction,
    PersonView, RegionDue, RosterRow, RosterStatus,
};
use crate::AppState;
use crate::keys::{SubjectKeyer, new_secret, sha256_hex};
use crate::storage::{
    AuditEntry, BenefitRow, BenefitStatus, Device, RosterBenefit, Storage, StorageError,
};

/// How many history entries the person page shows.
const HISTORY_LIMIT: u32 = 50;
/// "Due" on the due page: the deadline is at most this many days ahead.
const DUE_WITHIN_DAYS: i64 = 30;

/// The admin pages' data over the server storage.
#[derive(Clone)]
pub struct StorageAdmin {
    storage: Arc<dyn Storage>,
    subject: SubjectKeyer,
    rules: Arc<RuleTable>,
    utc_offset: UtcOffset,
}

impl std::fmt::Debug for StorageAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAdmin")
            .field("backend", &self.storage.backend())
            .finish_non_exhaustive()
    }
}

fn unavailable(e: StorageError) -> AdminDataError {
    AdminDataError::Unavailable(e.to_string())
}

impl StorageAdmin {
    /// Over the handler state's storage, keys and rules; local days in `utc_offset`.
    pub fn new(state: &AppState, utc_offset: UtcOffset) -> StorageAdmin {
        StorageAdmin {
            storage: Arc::clone(&state.storage),
            subject: state.subject.clone(),
            rules: Arc::clone(&state.rules),
            utc_offset,
        }
    }

    fn today(&self) -> Date {
        OffsetDateTime::now_utc().to_offset(self.utc_offset).date()
    }
}

/// The end of the benefit's current cycle on `today` (`None` without a rule).
fn deadline(rule: &CycleRule, h: &CertHistory, today: Date) -> (CertStatus, Option<Date>) {
    let status = rule.status(h, today);
    let d = match status {
        CertStatus::Due { deadline } | CertStatus::Overdue { deadline, .. } => Some(deadline),
        CertStatus::Certified { next, .. } => Some(next.deadline),
        CertStatus::NotOpenYet { opens_on } => match rule.status(h, opens_on) {
            CertStatus::Due { deadline } => Some(deadline),
            _ => None,
        },
    };
    (status, d)
}

fn history_of(b: &BenefitRow, birth_date: Date) -> CertHistory {
    CertHistory {
        approved_on: b.status_since,
        last_success: b.last_certified,
        birth_date,
    }
}

fn roster_status(s: BenefitStatus) -> RosterStatus {
    match s {
        BenefitStatus::Active => RosterStatus::Active,
        BenefitStatus::Suspended => RosterStatus::Suspended,
        BenefitStatus::Terminated => RosterStatus::Terminated,
        BenefitStatus::IdentityChanged => RosterStatus::IdentityChanged,
    }
}

fn benefit_status(s: RosterStatus) -> BenefitStatus {
    match s {
        RosterStatus::Active => BenefitStatus::Active,
        RosterStatus::Suspended => BenefitStatus::Suspended,
        RosterStatus::Terminated => BenefitStatus::Terminated,
        RosterStatus::IdentityChanged => BenefitStatus::IdentityChanged,
    }
}

/// The dashboard's failure reason of an audit (event, outcome), if it is one.
pub fn failure_reason(event: &str, outcome: &str) -> Option<String> {
    match event {
        "status.not_in_scope"
        | "status.suspended"
        | "status.terminated"
        | "status.identity_changed"
        | "status.no_template" => event.strip_prefix("status.").map(str::to_owned),
        "cert.appeal" => Some("appeal".to_owned()),
        "cert.rejected" => Some(format!("upload_{outcome}")),
        "auth.rejected" => Some(format!("auth_{outcome}")),
        _ => None,
    }
}

fn device_view(d: Device) -> DeviceView {
    let health: Vec<(String, String)> =
        match serde_json::from_str::<BTreeMap<String, String>>(&d.health) {
            Ok(map) => map.into_iter().collect(),
            Err(_) => vec![("health".to_owned(), "unreadable".to_owned())],
        };
    DeviceView {
        id: d.id,
        name: d.name,
        site: d.site,
        registered_at: d.registered_at,
        last_heartbeat: d.last_heartbeat,
        version: (!d.version.is_empty()).then_some(d.version),
        queue_depth: d.queue_depth,
        dead: d.dead,
        oldest_pending_secs: d.oldest_pending_secs,
        health,
        revoked: d.revoked,
    }
}

#[async_trait]
impl AdminData for StorageAdmin {
    async fn dashboard(&self, day: Date) -> Result<Dashboard, AdminDataError> {
        let from = day.midnight().assume_offset(self.utc_offset);
        let to = from + time::Duration::days(1);
        let mut d = Dashboard::default();
        for (result, n) in self
            .storage
            .certification_results(from, to)
            .await
            .map_err(unavailable)?
        {
            d.certified += n;
            match result {
                CertResult::Passed => d.passed += n,
                CertResult::Accepted => d.accepted += n,
                CertResult::Appeal => d.appeal += n,
            }
        }
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        for (event, outcome, n) in self
            .storage
            .audit_counts_between(from, to)
            .await
            .map_err(unavailable)?
        {
            if let Some(reason) = failure_reason(&event, &outcome) {
                *reasons.entry(reason).or_default() += n;
            }
        }
        let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        d.failures_by_reason = reasons;
        for dev in self.storage.devices().await.map_err(unavailable)? {
            d.queued_on_devices = d.queued_on_devices.saturating_add(dev.queue_depth);
            d.dead_on_devices = d.dead_on_devices.saturating_add(dev.dead);
        }
        Ok(d)
    }

    async fn due_by_region(&self, today: Date) -> Result<Vec<RegionDue>, AdminDataError> {
        let horizon = today.saturating_add(time::Duration::days(DUE_WITHIN_DAYS));
        let mut by_region: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for p in self.storage.all_persons().await.map_err(unavailable)? {
            // Stored numbers were validated on the way in; a bad one is skipped.
            let Ok(id) = IdNumber::parse(&p.id_number) else {
                continue;
            };
            for b in p
                .benefits
                .iter()
                .filter(|b| b.status == BenefitStatus::Active)
            {
                let Ok(rule) = self.rules.lookup(b.benefit, &p.region) else {
                    continue;
                };
                let entry = by_region.entry(p.region.clone()).or_default();
                match rule.status(&history_of(b, id.birth_date()), today) {
                    CertStatus::Due { deadline } if deadline <= horizon => entry.0 += 1,
                    CertStatus::Overdue { .. } => entry.1 += 1,
                    _ => {}
                }
            }
        }
        Ok(by_region
            .into_iter()
            .filter(|(_, (due, overdue))| *due + *overdue > 0)
            .map(|(region, (due, overdue))| RegionDue {
                region,
                due,
                overdue,
            })
            .collect())
    }

    async fn find_person(
        &self,
        id: &IdNumber,
        today: Date,
    ) -> Result<Option<PersonView>, AdminDataError> {
        let Some(p) = self
            .storage
            .person(id.expose())
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let benefits = p
            .benefits
            .iter()
            .map(|b| {
                let next_deadline = if b.status == BenefitStatus::Active {
                    self.rules
                        .lookup(b.benefit, &p.region)
                        .ok()
                        .and_then(|rule| deadline(&rule, &history_of(b, id.birth_date()), today).1)
                } else {
                    None
                };
                BenefitView {
                    benefit: b.benefit,
                    status: roster_status(b.status),
                    status_since: Some(b.status_since),
                    last_certified: b.last_certified,
                    next_deadline,
                }
            })
            .collect();
        let history = self
            .storage
            .certifications_for(&self.subject.person_key(id.expose()), HISTORY_LIMIT)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|c| HistoryView {
                at: c.certified_at,
                benefit: c.benefit,
                result: c.result,
                method: c.method,
                device: c.device_id,
                score: c.score,
                liveness: c.liveness,
            })
            .collect();
        Ok(Some(PersonView {
            id_masked: id.masked(),
            name: p.name,
            region: p.region,
            benefits,
            history,
        }))
    }

    async fn devices(&self) -> Result<Vec<DeviceView>, AdminDataError> {
        Ok(self
            .storage
            .devices()
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(device_view)
            .collect())
    }

    async fn import_person(&self, row: &RosterRow) -> Result<ImportAction, AdminDataError> {
        let id = row.id_number.expose();
        let inserted = self
            .storage
            .import_benefit(
                &self.subject.person_key(id),
                id,
                &row.name,
                &row.region,
                &RosterBenefit {
                    benefit: row.benefit,
                    status: benefit_status(row.status),
                    status_since: row.status_since,
                    last_certified: row.last_certified,
                },
                self.today(),
            )
            .await
            .map_err(unavailable)?;
        Ok(if inserted {
            ImportAction::Inserted
        } else {
            ImportAction::Updated
        })
    }

    async fn create_device_token(&self, ttl: Duration) -> Result<String, AdminDataError> {
        let token = new_secret().map_err(|e| AdminDataError::Unavailable(e.to_string()))?;
        let now = OffsetDateTime::now_utc();
        let ttl = time::Duration::try_from(ttl)
            .map_err(|_| AdminDataError::Rejected("有效期太长 (validity too long)".into()))?;
        self.storage
            .create_token(&sha256_hex(token.as_bytes()), now, now + ttl)
            .await
            .map_err(unavailable)?;
        Ok(token)
    }

    async fn audit(&self, event: &str, outcome: &str, detail: &str) -> Result<(), AdminDataError> {
        self.storage
            .audit(AuditEntry::now(
                event,
                outcome,
                None,
                (!detail.is_empty()).then(|| detail.to_owned()),
            ))
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons() {
        assert_eq!(
            failure_reason("status.not_in_scope", "ok").as_deref(),
            Some("not_in_scope")
        );
        assert_eq!(failure_reason("status.due", "ok"), None);
        assert_eq!(failure_reason("status.already_certified", "ok"), None);
        assert_eq!(failure_reason("cert.batch", "ok"), None);
        assert_eq!(
            failure_reason("cert.rejected", "mismatch").as_deref(),
            Some("upload_mismatch")
        );
        assert_eq!(
            failure_reason("auth.rejected", "bad_signature").as_deref(),
            Some("auth_bad_signature")
        );
    }
}
