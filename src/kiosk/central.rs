//! The central social-insurance system, as the kiosk sees it.
//!
//! [`CentralSystem`] is the transport port: the eligibility check, the
//! history query and result submission. Until the server issue lands, a kiosk
//! with no `server.url` uses [`DemoCentral`], an in-process stand-in with a
//! few persons, one per outcome; the screen then says 演示模式.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use lifecert_core::flow::{HistoryEntry, ServiceFailure};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, CertificationRecord, Method, PersonStatus};
use time::macros::date;
use time::{Date, Month};

use super::templates::TemplateStore;

/// The central system's API, called from the `network` worker thread.
pub trait CentralSystem: Send + Sync {
    /// Whether a certification is due for the person, or why not.
    fn status(&self, person: &IdNumber, today: Date) -> Result<PersonStatus, ServiceFailure>;
    /// The person's certification history, newest first.
    fn history(&self, person: &IdNumber) -> Result<Vec<HistoryEntry>, ServiceFailure>;
    /// Submit a recorded result (idempotent by `record.id`).
    fn submit(&self, record: &CertificationRecord) -> Result<(), ServiceFailure>;
    /// Whether the server can be reached (health panel).
    fn reachable(&self) -> bool;
    /// A one-line description for the health panel.
    fn describe(&self) -> String;
    /// The in-process demo stand-in (shows 演示模式).
    fn is_demo(&self) -> bool {
        false
    }
}

/// One demo person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoKind {
    /// Certification due; needs a face template enrolled on this kiosk (staff
    /// menu → 人脸采集), else the answer is "no template".
    Due,
    NotInScope,
    IdentityChanged,
    Suspended,
    Terminated,
    AlreadyCertified,
    NoTemplate,
    /// The (simulated) network fails for this person.
    Unreachable,
}

/// The demo persons: (ID number, masked name, kind). Documented in the README.
pub const DEMO_PERSONS: &[(&str, &str, DemoKind)] = &[
    ("110105195203150013", "王*明", DemoKind::Due),
    ("110105194807220022", "李*芳", DemoKind::Due),
    ("110105195001010039", "赵*", DemoKind::NotInScope),
    ("110105194611050041", "钱*英", DemoKind::IdentityChanged),
    ("110105194912310054", "孙*国", DemoKind::Suspended),
    ("450403195306080064", "周*兰", DemoKind::Terminated),
    ("110105195709180076", "吴*华", DemoKind::AlreadyCertified),
    ("110105196011200084", "郑*", DemoKind::NoTemplate),
    ("110105195505050093", "冯*平", DemoKind::Unreachable),
];

/// A valid ID number that is nobody in the demo (e.g. a proxy operator).
pub const DEMO_OPERATOR: &str = "110105196808080112";

/// The in-process demo central system.
pub struct DemoCentral {
    templates: Arc<dyn TemplateStore>,
    /// Results submitted in this run: person → (date, result, method).
    received: Mutex<BTreeMap<String, Vec<HistoryEntry>>>,
}

impl DemoCentral {
    pub fn new(templates: Arc<dyn TemplateStore>) -> DemoCentral {
        DemoCentral {
            templates,
            received: Mutex::new(BTreeMap::new()),
        }
    }

    fn find(person: &IdNumber) -> Option<(&'static str, DemoKind)> {
        DEMO_PERSONS
            .iter()
            .find(|(id, _, _)| *id == person.expose())
            .map(|(_, name, kind)| (*name, *kind))
    }

    fn received(&self) -> MutexGuard<'_, BTreeMap<String, Vec<HistoryEntry>>> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn end_of_month(year: i32, month: Month) -> Date {
    let days = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, days).unwrap_or(date!(2027 - 12 - 31))
}

impl CentralSystem for DemoCentral {
    fn status(&self, person: &IdNumber, today: Date) -> Result<PersonStatus, ServiceFailure> {
        let Some((name, kind)) = DemoCentral::find(person) else {
            return Ok(PersonStatus::NotInScope);
        };
        if let Some(last) = self
            .received()
            .get(person.expose())
            .and_then(|entries| entries.first())
            .filter(|e| e.result == CertResult::Passed)
        {
            return Ok(PersonStatus::AlreadyCertified {
                on: last.on,
                next_deadline: end_of_month(last.on.year() + 1, last.on.month()),
            });
        }
        Ok(match kind {
            DemoKind::Due => {
                if !self.templates.has(person) {
                    return Ok(PersonStatus::NoTemplate);
                }
                PersonStatus::Due {
                    benefit: BenefitType::Pension,
                    deadline: end_of_month(today.year(), today.month()),
                    region: person.expose()[..6].to_string(),
                    masked_name: name.to_string(),
                }
            }
            DemoKind::NotInScope => PersonStatus::NotInScope,
            DemoKind::IdentityChanged => PersonStatus::IdentityChanged,
            DemoKind::Suspended => PersonStatus::Suspended {
                since: date!(2026 - 09 - 01),
            },
            DemoKind::Terminated => PersonStatus::Terminated,
            DemoKind::AlreadyCertified => PersonStatus::AlreadyCertified {
                on: date!(2026 - 10 - 12),
                next_deadline: date!(2027 - 10 - 31),
            },
            DemoKind::NoTemplate => PersonStatus::NoTemplate,
            DemoKind::Unreachable => return Err(ServiceFailure::Unreachable),
        })
    }

    fn history(&self, person: &IdNumber) -> Result<Vec<HistoryEntry>, ServiceFailure> {
        let kind = DemoCentral::find(person).map(|(_, k)| k);
        if kind == Some(DemoKind::Unreachable) {
            return Err(ServiceFailure::Unreachable);
        }
        let mut entries = self
            .received()
            .get(person.expose())
            .cloned()
            .unwrap_or_default();
        if let Some(DemoKind::Due | DemoKind::AlreadyCertified | DemoKind::Suspended) = kind {
            {
                if kind == Some(DemoKind::AlreadyCertified) {
                    entries.push(HistoryEntry {
                        on: date!(2026 - 10 - 12),
                        result: CertResult::Passed,
                        method: Method::Kiosk,
                    });
                }
                entries.push(HistoryEntry {
                    on: date!(2025 - 10 - 20),
                    result: CertResult::Passed,
                    method: Method::Kiosk,
                });
                entries.push(HistoryEntry {
                    on: date!(2024 - 10 - 15),
                    result: CertResult::Passed,
                    method: Method::Counter,
                });
            }
        }
        Ok(entries)
    }

    fn submit(&self, record: &CertificationRecord) -> Result<(), ServiceFailure> {
        let mut received = self.received();
        let entries = received.entry(record.person_id.clone()).or_default();
        let entry = HistoryEntry {
            on: record.certified_at.date(),
            result: record.result,
            method: record.method,
        };
        if !entries.contains(&entry) {
            entries.insert(0, entry);
        }
        Ok(())
    }

    fn reachable(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        "演示模式（未配置服务器，使用本机演示数据）".into()
    }

    fn is_demo(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kiosk::templates::MemoryTemplates;

    #[test]
    fn demo_ids_are_valid_and_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for (id, _, _) in DEMO_PERSONS {
            IdNumber::parse(id).unwrap();
            assert!(seen.insert(*id));
        }
        IdNumber::parse(DEMO_OPERATOR).unwrap();
    }

    #[test]
    fn demo_answers_one_person_per_outcome() {
        let templates = Arc::new(MemoryTemplates::default());
        let central = DemoCentral::new(templates.clone());
        let today = date!(2026 - 11 - 22);
        let status = |id: &str| central.status(&IdNumber::parse(id).unwrap(), today);
        assert_eq!(
            status("110105195203150013"),
            Ok(PersonStatus::NoTemplate),
            "due, but not enrolled yet"
        );
        templates.put_embedding_for_test(&IdNumber::parse("110105195203150013").unwrap());
        assert!(matches!(
            status("110105195203150013"),
            Ok(PersonStatus::Due { .. })
        ));
        assert_eq!(status("110105195001010039"), Ok(PersonStatus::NotInScope));
        assert_eq!(status(DEMO_OPERATOR), Ok(PersonStatus::NotInScope));
        assert_eq!(
            status("110105195505050093"),
            Err(ServiceFailure::Unreachable)
        );
        assert!(matches!(
            status("110105195709180076"),
            Ok(PersonStatus::AlreadyCertified { .. })
        ));
    }

    #[test]
    fn a_submitted_pass_makes_the_person_already_certified() {
        let templates = Arc::new(MemoryTemplates::default());
        let person = IdNumber::parse("110105195203150013").unwrap();
        templates.put_embedding_for_test(&person);
        let central = DemoCentral::new(templates);
        let record = CertificationRecord {
            id: uuid::Uuid::now_v7(),
            device_seq: 1,
            device_id: "t".into(),
            person_id: person.expose().to_string(),
            benefit: BenefitType::Pension,
            certified_at: time::macros::datetime!(2026-11-22 10:00 +8),
            result: CertResult::Passed,
            method: Method::Kiosk,
            liveness: None,
            score: Some(0.9),
            operator_masked: None,
        };
        central.submit(&record).unwrap();
        central.submit(&record).unwrap();
        assert_eq!(
            central.status(&person, date!(2026 - 11 - 22)),
            Ok(PersonStatus::AlreadyCertified {
                on: date!(2026 - 11 - 22),
                next_deadline: date!(2027 - 11 - 30)
            })
        );
        let history = central.history(&person).unwrap();
        assert_eq!(history.len(), 3, "one new entry, resend ignored");
        assert_eq!(history[0].on, date!(2026 - 11 - 22));
    }
}
