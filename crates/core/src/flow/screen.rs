//! The read-only projection of the flow that the UI draws.
//!
//! A [`Screen`] never carries a full ID number: identities appear masked.

use lifecert_protocol::BenefitType;
use time::Date;

use super::effects::{EnrolOutcome, HistoryEntry, Part, Purpose, QualityHint, Role};
use crate::action::Action;

/// The state of a keypad entry, for live validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// Still typing; `typed` characters so far.
    Incomplete { typed: usize },
    /// A valid number has been typed.
    Valid,
    /// The entry is wrong; the message says what, in plain Chinese.
    Invalid { message_zh: String },
}

/// Where printing the receipt of this session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintState {
    /// Sent to the printer.
    Printing,
    /// Printed.
    Printed,
    /// Not printed; plain words for the screen (the result is kept).
    Failed(&'static str),
}

/// Why a person cannot certify now (from the central system's status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    NotInScope,
    IdentityChanged,
    Suspended { since: Date },
    Terminated,
    AlreadyCertified { on: Date, next_deadline: Date },
    NoTemplate,
}

impl Ineligible {
    /// The reason in plain words.
    pub fn reason_zh(&self) -> String {
        match self {
            Ineligible::NotInScope => "您不属于本次认证范围".into(),
            Ineligible::IdentityChanged => "您的姓名或身份证号码与参保信息不一致".into(),
            Ineligible::Suspended { since } => format!(
                "您的待遇已于{}年{}月{}日暂停发放",
                since.year(),
                u8::from(since.month()),
                since.day()
            ),
            Ineligible::Terminated => "您的待遇已终止".into(),
            Ineligible::AlreadyCertified { on, .. } => format!(
                "您已于{}年{}月{}日完成认证",
                on.year(),
                u8::from(on.month()),
                on.day()
            ),
            Ineligible::NoTemplate => "您还没有采集人脸信息（未建模）".into(),
        }
    }

    /// What to do next, in plain words.
    pub fn next_step_zh(&self) -> String {
        match self {
            Ineligible::NotInScope => "请核对身份证号码；如有疑问请咨询社保窗口".into(),
            Ineligible::IdentityChanged => "请携带身份证到社保窗口核实信息".into(),
            Ineligible::Suspended { .. } => "请携带身份证到社保窗口办理认证和恢复发放".into(),
            Ineligible::Terminated => "无需认证。如有疑问请咨询社保窗口".into(),
            Ineligible::AlreadyCertified { next_deadline, .. } => format!(
                "无需重复认证。下次认证时间：{}年{}月{}日前",
                next_deadline.year(),
                u8::from(next_deadline.month()),
                next_deadline.day()
            ),
            Ineligible::NoTemplate => "请携带身份证到社保窗口采集人脸信息".into(),
        }
    }
}

/// Why a capture attempt failed, as shown on the result screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    FaceMismatch,
    LivenessIncomplete { action: Option<Action> },
    Timeout,
    PersonChanged,
    DeviceFault,
}

impl FailReason {
    /// The reason in plain words.
    pub fn reason_zh(self) -> &'static str {
        match self {
            FailReason::FaceMismatch => "人脸比对未通过",
            FailReason::LivenessIncomplete { .. } => "未按要求完成指定动作",
            FailReason::Timeout => "认证超时",
            FailReason::PersonChanged => "认证过程中更换了人",
            FailReason::DeviceFault => "设备故障",
        }
    }
}

/// One screen of the kiosk, as the UI draws it.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// 开始认证 / 认证记录查询 / 工作人员.
    Attract,
    /// The separate consent notice with 同意 / 不同意.
    Consent,
    /// Consent declined: the other channels.
    Alternatives,
    /// 本人 / 为他人办理.
    Who { purpose: Purpose },
    /// Keypad entry (or card read) of an ID number.
    Identity {
        role: Role,
        purpose: Purpose,
        /// Masked echo of what was typed.
        echo: String,
        state: EntryState,
    },
    /// Waiting for the central system.
    Checking,
    /// The person cannot certify now.
    Ineligible(Ineligible),
    /// The central system cannot be reached.
    ServiceUnavailable {
        /// Offline evidence may be captured (only for certification).
        offline_allowed: bool,
    },
    /// Light, hat, sunglasses, mask, 60 cm.
    Guidance { attempt: u8, offline: bool },
    /// Live capture.
    Capture {
        attempt: u8,
        /// The current action, 0-based index, and the total.
        action: Option<(Action, u8, u8)>,
        hint: Option<QualityHint>,
        /// The screen-light challenge: paint these tints full-screen now.
        flash: Option<FlashShow>,
    },
    /// Matching runs.
    Processing,
    /// Certified.
    Success {
        masked_id: String,
        masked_name: Option<String>,
        benefit: Option<BenefitType>,
        /// e.g. 下次认证时间：2027年3月31日前.
        next_due_zh: Option<String>,
        receipt: Option<String>,
        can_print: bool,
        print: Option<PrintState>,
    },
    /// Offline evidence queued (已受理).
    Accepted {
        masked_id: String,
        receipt: Option<String>,
        can_print: bool,
        print: Option<PrintState>,
    },
    /// A capture attempt failed.
    Failed {
        reason: FailReason,
        attempts_left: u8,
        /// After the last attempt: appeal or staff help.
        appeal: bool,
    },
    /// Manual review requested.
    AppealSubmitted { receipt: Option<String> },
    /// The result could not be stored: nothing was lost, staff must act.
    StoreFailed,
    /// Waiting for history.
    HistoryLoading,
    /// A person's certification history.
    History {
        masked_id: String,
        entries: Vec<HistoryEntry>,
    },
    /// A required part failed.
    OutOfService { faults: Vec<Part> },
    /// Staff PIN entry.
    StaffPin {
        entered: usize,
        failures: u8,
        locked: bool,
        checking: bool,
    },
    /// Staff menu (health, sync, self-test, enrolment).
    StaffHome { faults: Vec<Part> },
    /// Camera self-test with live measures.
    StaffSelfTest,
    /// Staff enrolment: the ID number of the person to enrol.
    StaffEnrolId { echo: String, state: EntryState },
    /// Staff enrolment: collecting good frames (camera on).
    StaffEnrolCapture {
        masked_id: String,
        good: u8,
        needed: u8,
        hint: Option<QualityHint>,
    },
    /// Staff enrolment finished.
    StaffEnrolDone {
        masked_id: String,
        outcome: EnrolOutcome,
    },
}

/// Most tints one screen-light sequence shows.
pub const MAX_FLASH_TINTS: usize = 8;

/// The screen-light challenge's tints for the UI: from the moment the screen
/// shows it, tint `i` fills the screen during slot `i` (see
/// [`crate::liveness::flash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashShow {
    tints: [[u8; 3]; MAX_FLASH_TINTS],
    len: u8,
    slot_ms: u16,
}

impl FlashShow {
    /// The first [`MAX_FLASH_TINTS`] of `tints`, `slot` each.
    pub fn new(tints: &[crate::liveness::Tint], slot: std::time::Duration) -> FlashShow {
        let mut out = [[0u8; 3]; MAX_FLASH_TINTS];
        let mut len = 0u8;
        for (o, t) in out.iter_mut().zip(tints) {
            *o = t.rgb8();
            len += 1;
        }
        FlashShow {
            tints: out,
            len,
            slot_ms: u16::try_from(slot.as_millis()).unwrap_or(u16::MAX),
        }
    }

    /// The tint to show `elapsed` after the sequence appeared, if any.
    pub fn tint_at(&self, elapsed: std::time::Duration) -> Option<[u8; 3]> {
        if self.slot_ms == 0 {
            return None;
        }
        let i = usize::try_from(elapsed.as_millis() / u128::from(self.slot_ms)).ok()?;
        self.tints.get(..usize::from(self.len))?.get(i).copied()
    }

    /// How long the whole sequence shows.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.slot_ms) * u64::from(self.len))
    }
}
