//! Shared by the `admin_*` tests: an in-memory [`AdminData`] (the admin UI's
//! port; the real storage implements it for the server) and helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, Method};
use lifecert_server::admin::{
    AdminData, AdminDataError, BenefitView, Dashboard, DeviceView, HistoryView, ImportAction,
    PersonView, RegionDue, RosterRow, RosterStatus,
};
use time::{Date, OffsetDateTime};

pub const PASSWORD: &str = "correct horse 7";

/// An argon2id PHC hash of `password` with small parameters (fast tests).
pub fn hash_password(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

#[derive(Debug, Clone)]
pub struct StoredPerson {
    pub name: String,
    pub region: String,
    pub benefits: BTreeMap<BenefitType, RosterRow>,
    pub history: Vec<HistoryView>,
}

/// In-memory admin data.
#[derive(Default)]
pub struct MemoryAdmin {
    pub persons: Mutex<BTreeMap<String, StoredPerson>>,
    pub tokens: Mutex<Vec<(String, Duration)>>,
    pub audit_log: Mutex<Vec<(String, String, String)>>,
    pub dashboard: Mutex<Dashboard>,
    pub due: Mutex<Vec<RegionDue>>,
    pub devices: Mutex<Vec<DeviceView>>,
    /// Every call answers `Unavailable` while set.
    pub down: AtomicBool,
    /// `import_person` refuses rows with this name.
    pub refuse_name: Mutex<Option<String>>,
}

impl MemoryAdmin {
    fn check_up(&self) -> Result<(), AdminDataError> {
        if self.down.load(Ordering::SeqCst) {
            Err(AdminDataError::Unavailable("test: storage down".into()))
        } else {
            Ok(())
        }
    }

    /// Adds a certification to a stored person's history (what the real
    /// server does when a kiosk uploads one).
    pub fn add_history(&self, id: &str, entry: HistoryView) {
        let mut persons = self.persons.lock().unwrap();
        let p = persons.get_mut(id).expect("person exists");
        p.history.insert(0, entry);
    }
}

#[async_trait::async_trait]
impl AdminData for MemoryAdmin {
    async fn dashboard(&self, _day: Date) -> Result<Dashboard, AdminDataError> {
        self.check_up()?;
        Ok(self.dashboard.lock().unwrap().clone())
    }

    async fn due_by_region(&self, _today: Date) -> Result<Vec<RegionDue>, AdminDataError> {
        self.check_up()?;
        Ok(self.due.lock().unwrap().clone())
    }

    async fn find_person(
        &self,
        id: &IdNumber,
        _today: Date,
    ) -> Result<Option<PersonView>, AdminDataError> {
        self.check_up()?;
        let persons = self.persons.lock().unwrap();
        Ok(persons.get(id.expose()).map(|p| PersonView {
            id_masked: id.masked(),
            name: p.name.clone(),
            region: p.region.clone(),
            benefits: p
                .benefits
                .values()
                .map(|r| BenefitView {
                    benefit: r.benefit,
                    status: r.status,
                    status_since: r.status_since,
                    last_certified: r.last_certified,
                    next_deadline: None,
                })
                .collect(),
            history: p.history.clone(),
        }))
    }

    async fn devices(&self) -> Result<Vec<DeviceView>, AdminDataError> {
        self.check_up()?;
        Ok(self.devices.lock().unwrap().clone())
    }

    async fn import_person(&self, row: &RosterRow) -> Result<ImportAction, AdminDataError> {
        self.check_up()?;
        if self.refuse_name.lock().unwrap().as_deref() == Some(row.name.as_str()) {
            return Err(AdminDataError::Rejected(
                "conflicts with counter records".into(),
            ));
        }
        let mut persons = self.persons.lock().unwrap();
        let p = persons
            .entry(row.id_number.expose().to_owned())
            .or_insert_with(|| StoredPerson {
                name: row.name.clone(),
                region: row.region.clone(),
                benefits: BTreeMap::new(),
                history: Vec::new(),
            });
        p.name = row.name.clone();
        p.region = row.region.clone();
        Ok(match p.benefits.insert(row.benefit, row.clone()) {
            None => ImportAction::Inserted,
            Some(_) => ImportAction::Updated,
        })
    }

    async fn create_device_token(&self, ttl: Duration) -> Result<String, AdminDataError> {
        self.check_up()?;
        let mut tokens = self.tokens.lock().unwrap();
        let token = format!("tok-{}-{}", tokens.len() + 1, ttl.as_secs());
        tokens.push((token.clone(), ttl));
        Ok(token)
    }

    async fn audit(&self, event: &str, outcome: &str, detail: &str) -> Result<(), AdminDataError> {
        self.check_up()?;
        self.audit_log
            .lock()
            .unwrap()
            .push((event.into(), outcome.into(), detail.into()));
        Ok(())
    }
}

/// A valid ID number with the given first 17 digits.
pub fn id_with(first17: &str) -> String {
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", lifecert_core::id::check_digit(&bytes))
}

/// The same number with a wrong check character.
pub fn wrong_check(id: &str) -> String {
    let last = id.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    format!("{}{wrong}", &id[..17])
}

/// A CSV with two good rows (`good_a` pension, `good_b` dependant relief)
/// and, as line 3, one row whose ID has a wrong check digit.
pub fn sample_roster(good_a: &str, good_b: &str) -> String {
    format!(
        "id_number,name,region,benefit,status,status_since,last_certified\n\
         {good_a},张三,450403,pension,active,,2025-06-01\n\
         {},王五,450403,pension,active,,\n\
         {good_b},李四,450403,dependant_relief,active,,\n",
        wrong_check(good_a)
    )
}

/// A fixed device list: one fresh, one stale (relative to `now`).
pub fn sample_devices(now: OffsetDateTime) -> Vec<DeviceView> {
    vec![
        DeviceView {
            id: "kiosk-1".into(),
            name: "社区服务中心 1号机".into(),
            site: "长洲区".into(),
            registered_at: now - Duration::from_secs(86_400 * 30),
            last_heartbeat: Some(now - Duration::from_secs(120)),
            version: Some("0.1.0".into()),
            queue_depth: 3,
            dead: 0,
            oldest_pending_secs: Some(600),
            health: vec![
                ("camera".into(), "ok".into()),
                ("printer".into(), "ok".into()),
            ],
            revoked: false,
        },
        DeviceView {
            id: "kiosk-2".into(),
            name: "<b>村委会</b>".into(),
            site: "倒水镇".into(),
            registered_at: now - Duration::from_secs(86_400 * 10),
            last_heartbeat: Some(now - Duration::from_secs(3600)),
            version: Some("0.1.0".into()),
            queue_depth: 7,
            dead: 2,
            oldest_pending_secs: None,
            health: vec![("printer".into(), "fault: paper out".into())],
            revoked: false,
        },
    ]
}

/// A passed kiosk certification at `at`.
pub fn passed_at(at: OffsetDateTime) -> HistoryView {
    HistoryView {
        at,
        benefit: BenefitType::Pension,
        result: CertResult::Passed,
        method: Method::Kiosk,
        device: "kiosk-1".into(),
        score: Some(0.82),
        liveness: Some(lifecert_protocol::LivenessSummary {
            actions: vec!["blink".into()],
            seed: 42,
            duration_ms: 5200,
            outcome: Some("passed".into()),
            checks: vec![lifecert_protocol::CheckScore {
                name: "screen_light".into(),
                passed: true,
                score: 0.97,
            }],
            flash: Some(lifecert_protocol::FlashSummary {
                verdict: "passed".into(),
                tints: vec!["#ff0000".into()],
                slot_ms: 400,
                frames: 66,
                correlation: 0.97,
                response: 0.072,
                shape_ratio: Some(1.14),
                lag_ms: 100,
            }),
            camera: Some("bus=usb id=046d:0825 virtual=no".into()),
            ..Default::default()
        }),
    }
}

/// Roster status used by tests.
pub const ACTIVE: RosterStatus = RosterStatus::Active;

/// A shared, settable clock for `AdminOptions::clock`.
#[derive(Clone)]
pub struct TestClock(pub Arc<Mutex<OffsetDateTime>>);

impl TestClock {
    pub fn new(at: OffsetDateTime) -> TestClock {
        TestClock(Arc::new(Mutex::new(at)))
    }
    pub fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
    pub fn as_clock(&self) -> lifecert_server::admin::Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }
}
