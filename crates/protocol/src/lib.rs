//! Wire types shared by the lifecert kiosk and the central server.
//!
//! Every type here is part of the frozen wire format: the golden JSON tests at
//! the bottom of this file fail when a field is renamed, retyped or reordered.
//! Change the format only by adding a new protocol version.
//!
//! Privacy: these types carry full ID numbers only where the server needs them
//! ([`CertificationRecord::person_id`]). The kiosk seals such payloads before
//! they are queued (see the sync module), and never logs them.

pub mod api;
#[cfg(feature = "crypto")]
pub mod auth;
#[cfg(feature = "crypto")]
pub mod seal;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// The protocol version a kiosk speaks. A server that answers with another
/// major version makes the kiosk stop syncing and alert staff.
pub const PROTOCOL_VERSION: u32 = 1;

/// Benefit types, each with its own certification cycle (DOMAIN.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenefitType {
    /// 基本养老金: 12-month rolling cycle.
    Pension,
    /// 失业保险金: 12-month rolling cycle.
    Unemployment,
    /// 长期工伤待遇: 12-month rolling cycle.
    WorkInjury,
    /// 供养救济费 / 工伤供养抚恤金 (dependants' and survivors' benefits): 6 months.
    DependantRelief,
}

impl BenefitType {
    /// Every benefit type, in a stable order.
    pub const ALL: [BenefitType; 4] = [
        BenefitType::Pension,
        BenefitType::Unemployment,
        BenefitType::WorkInjury,
        BenefitType::DependantRelief,
    ];

    /// Plain Chinese name shown to the pensioner.
    pub fn name_zh(self) -> &'static str {
        match self {
            BenefitType::Pension => "养老保险待遇",
            BenefitType::Unemployment => "失业保险待遇",
            BenefitType::WorkInjury => "工伤保险待遇",
            BenefitType::DependantRelief => "供养亲属待遇",
        }
    }
}

/// The central system's answer to "may this person certify now?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PersonStatus {
    /// Certification is due; the kiosk may proceed.
    Due {
        benefit: BenefitType,
        /// The end of the current cycle.
        deadline: Date,
        /// GB/T 2260 code of the insuring region (参保地), which selects the
        /// cycle rule. Not the address code inside the ID number.
        region: String,
        /// The name as the server masks it, e.g. `张*三`.
        masked_name: String,
    },
    /// Not a beneficiary in this system (您不属于本次认证范围).
    NotInScope,
    /// Name or ID number changed since enrolment; must be fixed at the counter.
    IdentityChanged,
    /// Payment is suspended (overdue); certification and restoration at the counter.
    Suspended { since: Date },
    /// The benefit has ended; nothing to certify.
    Terminated,
    /// Already certified in this cycle.
    AlreadyCertified { on: Date, next_deadline: Date },
    /// No face template has been enrolled (未建模); enrol at the counter.
    NoTemplate,
}

/// How a certification was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// On-device liveness and matching at a kiosk.
    Kiosk,
    /// Liveness on the kiosk; the sealed evidence is matched by the server.
    OfflineEvidence,
    /// At an agency counter, by staff.
    Counter,
}

/// The result of one certification attempt as recorded centrally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertResult {
    /// Liveness passed and the face matched the template.
    Passed,
    /// Accepted for server-side verification (已受理).
    Accepted,
    /// Sent to manual review after repeated mismatches (申诉/人工审核).
    Appeal,
}

/// A summary of the liveness session for the record, without any biometric
/// data (no images, no embeddings). The fields after `duration_ms` were added
/// with the physical checks; records without them still parse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LivenessSummary {
    /// Action names in the order asked (`blink`, `turn_left`, ...).
    pub actions: Vec<String>,
    /// The recorded seed of the random challenge plan (and of the screen-light
    /// tints).
    pub seed: u64,
    /// Total duration of the liveness check in milliseconds.
    pub duration_ms: u64,
    /// `passed`, or the engine's reason (`screen_light`, `action_timeout`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Per action: when it was prompted and done, from the check's start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ActionStep>,
    /// The physical checks that ran, with their figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckScore>,
    /// The screen-light challenge, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash: Option<FlashSummary>,
    /// The capture device (`bus=usb id=046d:0825 serial=sha256:… virtual=no`,
    /// or `replay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// Whether auto exposure and white balance were locked during the
    /// screen-light challenge (`None`: not attempted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_locked: Option<bool>,
    /// Mean passive anti-spoofing score, when a PAD model is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_mean: Option<f32>,
}

/// One action of a liveness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStep {
    pub action: String,
    pub prompted_ms: u64,
    pub done_ms: Option<u64>,
}

/// One physical check and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckScore {
    /// `continuity`, `transitions`, `planar_motion`, `screen_light`…
    pub name: String,
    pub passed: bool,
    /// The check's figure (cuts seen, abrupt transitions, correlation…).
    pub score: f32,
}

/// The screen-light challenge's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlashSummary {
    /// `passed`, `no_response`, `flat`, `too_few_frames`.
    pub verdict: String,
    /// The tints shown, as `#rrggbb`.
    pub tints: Vec<String>,
    pub slot_ms: u32,
    pub frames: u32,
    pub correlation: f32,
    pub response: f32,
    /// Centre/cheek response; `None` when not finite.
    pub shape_ratio: Option<f32>,
    pub lag_ms: u32,
}

/// One certification record uploaded by a kiosk. Idempotent by `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificationRecord {
    /// UUIDv7, the idempotency key.
    pub id: Uuid,
    /// The kiosk's own gap-free sequence number.
    pub device_seq: u64,
    pub device_id: String,
    /// The full ID number. Only ever sent sealed; never logged.
    pub person_id: String,
    pub benefit: BenefitType,
    #[serde(with = "time::serde::rfc3339")]
    pub certified_at: OffsetDateTime,
    pub result: CertResult,
    pub method: Method,
    pub liveness: Option<LivenessSummary>,
    /// Match similarity in 0..=1 where matching ran on the device.
    pub score: Option<f32>,
    /// The operator's masked ID number in proxy mode (为他人办理).
    pub operator_masked: Option<String>,
}

/// An error body: every non-2xx answer of the server carries one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `bad_signature`.
    pub code: String,
    /// A human-readable message for logs and staff.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn golden<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        value: &T,
        json: &str,
    ) {
        let text = serde_json::to_string(value).unwrap();
        assert_eq!(text, json, "wire format changed");
        let back: T = serde_json::from_str(json).unwrap();
        assert_eq!(&back, value);
    }

    #[test]
    fn person_status_due_golden() {
        golden(
            &PersonStatus::Due {
                benefit: BenefitType::Pension,
                deadline: date!(2027 - 03 - 31),
                region: "450403".into(),
                masked_name: "张*三".into(),
            },
            r#"{"status":"due","benefit":"pension","deadline":"2027-03-31","region":"450403","masked_name":"张*三"}"#,
        );
    }

    #[test]
    fn person_status_reasons_golden() {
        golden(&PersonStatus::NotInScope, r#"{"status":"not_in_scope"}"#);
        golden(&PersonStatus::NoTemplate, r#"{"status":"no_template"}"#);
        golden(
            &PersonStatus::AlreadyCertified {
                on: date!(2026 - 03 - 05),
                next_deadline: date!(2027 - 03 - 31),
            },
            r#"{"status":"already_certified","on":"2026-03-05","next_deadline":"2027-03-31"}"#,
        );
        golden(
            &PersonStatus::Suspended {
                since: date!(2026 - 04 - 01),
            },
            r#"{"status":"suspended","since":"2026-04-01"}"#,
        );
    }

    #[test]
    fn certification_record_golden() {
        let record = CertificationRecord {
            id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001),
            device_seq: 7,
            device_id: "kiosk-1".into(),
            person_id: "11010519491231002X".into(),
            benefit: BenefitType::DependantRelief,
            certified_at: datetime!(2026-11-22 10:30:00 UTC),
            result: CertResult::Passed,
            method: Method::Kiosk,
            liveness: Some(LivenessSummary {
                actions: vec!["blink".into(), "turn_left".into()],
                seed: 42,
                duration_ms: 6100,
                outcome: None,
                steps: Vec::new(),
                checks: Vec::new(),
                flash: None,
                camera: None,
                exposure_locked: None,
                pad_mean: None,
            }),
            score: Some(0.5),
            operator_masked: None,
        };
        golden(
            &record,
            concat!(
                r#"{"id":"01920000-0000-7000-8000-000000000001","device_seq":7,"#,
                r#""device_id":"kiosk-1","person_id":"11010519491231002X","#,
                r#""benefit":"dependant_relief","certified_at":"2026-11-22T10:30:00Z","#,
                r#""result":"passed","method":"kiosk","liveness":{"actions":["blink","turn_left"],"#,
                r#""seed":42,"duration_ms":6100},"score":0.5,"operator_masked":null}"#
            ),
        );
    }

    #[test]
    fn error_body_golden() {
        golden(
            &ErrorBody {
                code: "bad_signature".into(),
                message: "signature does not verify".into(),
            },
            r#"{"code":"bad_signature","message":"signature does not verify"}"#,
        );
    }

    #[test]
    fn unknown_status_is_rejected() {
        assert!(serde_json::from_str::<PersonStatus>(r#"{"status":"maybe"}"#).is_err());
    }
}
