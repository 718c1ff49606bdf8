//! The kiosk flow: a pure state machine, `Flow::handle(Event) -> Vec<Effect>`.
//!
//! After atuin's `fsm`: the flow never performs IO. Everything it needs from the
//! world arrives as an [`Event`], and everything it wants done leaves as an
//! [`Effect`]. Time is an input too: timers are effects carrying a [`TimerId`],
//! and a firing whose id is no longer current is ignored. Worker completions
//! carry the [`RequestId`] of the effect they answer; a completion the current
//! state is not waiting for is ignored as stale.
//!
//! The screens (DESIGN.md §2): attract → consent → who (本人 / 为他人办理) →
//! identity → eligibility check → guidance → capture → processing → result →
//! attract; plus history query, out of service and staff mode. Any screen left
//! without input for `inactivity` wipes the session and returns to attract.
//!
//! Invariants (checked by the proptest in `tests.rs`):
//! - no event sequence panics;
//! - after a wipe the flow holds no identity data;
//! - the camera is on only during capture and the staff self-test;
//! - the flow can always return to attract (or out-of-service).

mod effects;
mod screen;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::Duration;

use lifecert_protocol::{BenefitType, CertResult, Method, PersonStatus};
use time::OffsetDateTime;

pub use effects::{
    CaptureFailure, CaptureOutcome, Effect, EnrolOutcome, Event, HistoryEntry, Intent, Part,
    Prompt, Purpose, QualityHint, Receipt, RequestId, ResultRecord, Role, ServiceFailure, TimerId,
};
pub use screen::{EntryState, FailReason, FlashShow, Ineligible, PrintState, Screen};

use crate::action::Action;
use crate::cycle::{RuleTable, success_sentence};
use crate::id::{IdNumber, PartialCheck, check_partial, mask_partial};

/// Longest staff PIN accepted on the keypad.
pub const MAX_PIN_LEN: usize = 8;
/// Length of an ID number typed on the keypad.
pub const ID_LEN: usize = 18;

/// Settings of the flow, from the validated kiosk config.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Idle time after which the session is wiped (default 60 s).
    pub inactivity: Duration,
    /// Capture attempts per session before appeal / staff help (default 3).
    pub attempts: u8,
    /// Wrong staff PINs before the lockout.
    pub staff_pin_max_failures: u8,
    /// How long the staff PIN stays locked.
    pub staff_lockout: Duration,
    /// A receipt printer is configured.
    pub printer: bool,
    /// Certification cycle rules by benefit and region.
    pub rules: RuleTable,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            inactivity: Duration::from_secs(60),
            attempts: 3,
            staff_pin_max_failures: 5,
            staff_lockout: Duration::from_secs(300),
            printer: false,
            rules: RuleTable::builtin(),
        }
    }
}

/// The person data of one session. Dropped (and the driver told to wipe its
/// buffers) when the session ends.
#[derive(Debug, Clone, PartialEq)]
struct Session {
    purpose: Purpose,
    proxy: bool,
    operator: Option<IdNumber>,
    person: Option<IdNumber>,
    /// From the central system: benefit, insuring region, masked name.
    due: Option<Due>,
    attempts_used: u8,
    /// The result recorded in this session, for the receipt.
    result: Option<ResultRecord>,
    receipt: Option<String>,
    /// A card read during this session before the identity screen (used,
    /// once, when that screen opens; dropped when the card is removed).
    card: Option<IdNumber>,
    print: Option<PrintState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Due {
    benefit: BenefitType,
    region: String,
    masked_name: String,
}

impl Session {
    fn new(purpose: Purpose) -> Session {
        Session {
            purpose,
            proxy: false,
            operator: None,
            person: None,
            due: None,
            attempts_used: 0,
            result: None,
            receipt: None,
            card: None,
            print: None,
        }
    }

    fn operator_masked(&self) -> Option<String> {
        self.operator.as_ref().map(IdNumber::masked)
    }
}

/// Internal state; [`Flow::screen`] projects it for the UI.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Attract,
    Consent,
    Alternatives,
    Who,
    Identity {
        role: Role,
        entry: String,
        /// A cross-field problem, e.g. operator and pensioner are the same.
        error: Option<&'static str>,
    },
    Checking {
        request: RequestId,
    },
    Ineligible(Ineligible),
    ServiceUnavailable,
    Guidance {
        offline: bool,
    },
    Capture {
        request: RequestId,
        offline: bool,
        action: Option<(Action, u8, u8)>,
        hint: Option<QualityHint>,
        flash: Option<FlashShow>,
    },
    Processing {
        request: RequestId,
        offline: bool,
    },
    /// Success, offline acceptance or appeal, waiting for / showing the receipt.
    Recorded {
        request: RequestId,
        result: CertResult,
    },
    Failed {
        reason: FailReason,
        attempts_left: u8,
    },
    StoreFailed,
    HistoryLoading {
        request: RequestId,
    },
    History {
        entries: Vec<HistoryEntry>,
    },
    OutOfService,
    StaffPin {
        entry: String,
        checking: Option<RequestId>,
    },
    StaffHome,
    StaffSelfTest,
    StaffEnrolId {
        entry: String,
    },
    StaffEnrolCapture {
        request: RequestId,
        good: u8,
        needed: u8,
        hint: Option<QualityHint>,
    },
    StaffEnrolDone {
        outcome: EnrolOutcome,
    },
}

impl State {
    fn is_idle(&self) -> bool {
        matches!(self, State::Attract | State::OutOfService)
    }

    fn wants_camera(&self) -> bool {
        matches!(
            self,
            State::Capture { .. } | State::StaffSelfTest | State::StaffEnrolCapture { .. }
        )
    }

    fn is_staff(&self) -> bool {
        matches!(
            self,
            State::StaffPin { .. }
                | State::StaffHome
                | State::StaffSelfTest
                | State::StaffEnrolId { .. }
                | State::StaffEnrolCapture { .. }
                | State::StaffEnrolDone { .. }
        )
    }
}

/// Staff PIN failures and lockout. Survives session wipes on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct StaffGuard {
    failures: u8,
    lockout: Option<TimerId>,
}

/// The kiosk flow state machine.
#[derive(Debug, Clone)]
pub struct Flow {
    cfg: FlowConfig,
    state: State,
    session: Option<Session>,
    faults: BTreeSet<Part>,
    staff: StaffGuard,
    /// The person being enrolled in staff mode (identity data: wiped with the session).
    enrol: Option<IdNumber>,
    camera_on: bool,
    inactivity: Option<TimerId>,
    next_id: u64,
}

impl Flow {
    /// A flow at the attract screen.
    pub fn new(cfg: FlowConfig) -> Flow {
        Flow {
            cfg,
            state: State::Attract,
            session: None,
            faults: BTreeSet::new(),
            staff: StaffGuard::default(),
            enrol: None,
            camera_on: false,
            inactivity: None,
            next_id: 0,
        }
    }

    /// The effects to run at start-up.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![Effect::Speak(Prompt::Welcome)]
    }

    /// Whether the flow holds any identity data (ID numbers, typed digits, PIN).
    pub fn holds_identity(&self) -> bool {
        let typed = match &self.state {
            State::Identity { entry, .. }
            | State::StaffPin { entry, .. }
            | State::StaffEnrolId { entry } => !entry.is_empty(),
            _ => false,
        };
        typed || self.session.is_some() || self.enrol.is_some()
    }

    /// Whether the flow has asked for the camera to be on.
    pub fn camera_on(&self) -> bool {
        self.camera_on
    }

    /// The parts currently reported faulty.
    pub fn faults(&self) -> Vec<Part> {
        self.faults.iter().copied().collect()
    }

    /// The read-only projection the UI draws.
    pub fn screen(&self) -> Screen {
        let session = self.session.as_ref();
        let purpose = session.map_or(Purpose::Certify, |s| s.purpose);
        let masked_id = || {
            session
                .and_then(|s| s.person.as_ref())
                .map(IdNumber::masked)
                .unwrap_or_default()
        };
        let can_print = self.cfg.printer && !self.faults.contains(&Part::Printer);
        match &self.state {
            State::Attract => Screen::Attract,
            State::Consent => Screen::Consent,
            State::Alternatives => Screen::Alternatives,
            State::Who => Screen::Who { purpose },
            State::Identity { role, entry, error } => Screen::Identity {
                role: *role,
                purpose,
                echo: mask_partial(entry),
                state: match (error, check_partial(entry)) {
                    (Some(message), _) => EntryState::Invalid {
                        message_zh: (*message).to_string(),
                    },
                    (None, PartialCheck::Incomplete { typed }) => EntryState::Incomplete { typed },
                    (None, PartialCheck::Complete(_)) => EntryState::Valid,
                    (None, PartialCheck::Invalid(e)) => EntryState::Invalid {
                        message_zh: e.user_message_zh().to_string(),
                    },
                },
            },
            State::Checking { .. } => Screen::Checking,
            State::Ineligible(reason) => Screen::Ineligible(reason.clone()),
            State::ServiceUnavailable => Screen::ServiceUnavailable {
                offline_allowed: purpose == Purpose::Certify,
            },
            State::Guidance { offline } => Screen::Guidance {
                attempt: session.map_or(0, |s| s.attempts_used) + 1,
                offline: *offline,
            },
            State::Capture {
                action,
                hint,
                flash,
                ..
            } => Screen::Capture {
                attempt: session.map_or(0, |s| s.attempts_used) + 1,
                action: *action,
                hint: *hint,
                flash: *flash,
            },
            State::Processing { .. } => Screen::Processing,
            State::Recorded { result, .. } => {
                let receipt = session.and_then(|s| s.receipt.clone());
                let can_print = can_print && receipt.is_some();
                match result {
                    CertResult::Passed => Screen::Success {
                        masked_id: masked_id(),
                        masked_name: session
                            .and_then(|s| s.due.as_ref().map(|d| d.masked_name.clone())),
                        benefit: session.and_then(|s| s.due.as_ref().map(|d| d.benefit)),
                        next_due_zh: session
                            .and_then(|s| s.result.as_ref())
                            .and_then(|r| r.next.as_ref())
                            .map(success_sentence),
                        receipt,
                        can_print,
                        print: session.and_then(|s| s.print),
                    },
                    CertResult::Accepted => Screen::Accepted {
                        masked_id: masked_id(),
                        receipt,
                        can_print,
                        print: session.and_then(|s| s.print),
                    },
                    CertResult::Appeal => Screen::AppealSubmitted { receipt },
                }
            }
            State::Failed {
                reason,
                attempts_left,
            } => Screen::Failed {
                reason: *reason,
                attempts_left: *attempts_left,
                appeal: *attempts_left == 0 && *reason != FailReason::DeviceFault,
            },
            State::StoreFailed => Screen::StoreFailed,
            State::HistoryLoading { .. } => Screen::HistoryLoading,
            State::History { entries } => Screen::History {
                masked_id: masked_id(),
                entries: entries.clone(),
            },
            State::OutOfService => Screen::OutOfService {
                faults: self.faults(),
            },
            State::StaffPin { entry, checking } => Screen::StaffPin {
                entered: entry.chars().count(),
                failures: self.staff.failures,
                locked: self.staff.lockout.is_some(),
                checking: checking.is_some(),
            },
            State::StaffHome => Screen::StaffHome {
                faults: self.faults(),
            },
            State::StaffSelfTest => Screen::StaffSelfTest,
            State::StaffEnrolId { entry } => Screen::StaffEnrolId {
                echo: mask_partial(entry),
                state: match check_partial(entry) {
                    PartialCheck::Incomplete { typed } => EntryState::Incomplete { typed },
                    PartialCheck::Complete(_) => EntryState::Valid,
                    PartialCheck::Invalid(e) => EntryState::Invalid {
                        message_zh: e.user_message_zh().to_string(),
                    },
                },
            },
            State::StaffEnrolCapture {
                good, needed, hint, ..
            } => Screen::StaffEnrolCapture {
                masked_id: self.enrol_masked(),
                good: *good,
                needed: *needed,
                hint: *hint,
            },
            State::StaffEnrolDone { outcome } => Screen::StaffEnrolDone {
                masked_id: self.enrol_masked(),
                outcome: *outcome,
            },
        }
    }

    fn enrol_masked(&self) -> String {
        self.enrol
            .as_ref()
            .map(IdNumber::masked)
            .unwrap_or_default()
    }

    /// Feeds one event; returns the effects to run, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut fx = Vec::new();
        match event {
            Event::Intent(intent) => {
                self.touch(&mut fx);
                self.on_intent(intent, &mut fx);
            }
            Event::CardRead(id) => {
                self.touch(&mut fx);
                self.on_card(id, &mut fx);
            }
            Event::CardProblem(message) => {
                if let State::Identity { error, .. } = &mut self.state {
                    *error = Some(message);
                    fx.push(Effect::Speak(Prompt::CardReadFailed));
                    self.touch(&mut fx);
                }
            }
            Event::CardRemoved => {
                if let Some(session) = self.session.as_mut() {
                    session.card = None;
                }
            }
            Event::PrintDone(outcome) => {
                if let State::Recorded { .. } = self.state
                    && let Some(session) = self.session.as_mut()
                    && session.print == Some(PrintState::Printing)
                {
                    session.print = Some(match outcome {
                        Ok(()) => PrintState::Printed,
                        Err(message) => {
                            fx.push(Effect::Speak(Prompt::PrintFailed));
                            PrintState::Failed(message)
                        }
                    });
                }
            }
            Event::Eligibility { request, outcome } => {
                self.on_eligibility(request, outcome, &mut fx)
            }
            Event::ActionStarted {
                request,
                index,
                total,
                action,
            } => {
                if let State::Capture {
                    request: current,
                    action: shown,
                    hint,
                    flash,
                    ..
                } = &mut self.state
                    && *current == request
                {
                    *shown = Some((action, index, total));
                    *hint = None;
                    *flash = None;
                    fx.push(Effect::Speak(Prompt::Do(action)));
                    self.touch(&mut fx);
                }
            }
            Event::Flash { request, show } => {
                if let State::Capture {
                    request: current,
                    flash,
                    ..
                } = &mut self.state
                    && *current == request
                    && *flash != show
                {
                    *flash = show;
                    self.touch(&mut fx);
                }
            }
            Event::Hint { request, hint } => {
                if let State::Capture {
                    request: current,
                    hint: shown,
                    ..
                } = &mut self.state
                    && *current == request
                    && *shown != hint
                {
                    *shown = hint;
                    if let Some(h) = hint {
                        fx.push(Effect::Speak(Prompt::Hint(h)));
                    }
                    self.touch(&mut fx);
                }
            }
            Event::LivenessDone { request } => {
                if let State::Capture {
                    request: current,
                    offline,
                    ..
                } = self.state
                    && current == request
                {
                    self.go(State::Processing { request, offline }, &mut fx);
                    fx.push(Effect::Speak(Prompt::Processing));
                }
            }
            Event::CaptureDone {
                request,
                outcome,
                at,
            } => self.on_capture_done(request, outcome, at, &mut fx),
            Event::Recorded { request, receipt } => {
                if let State::Recorded {
                    request: current, ..
                } = self.state
                    && current == request
                    && let Some(session) = self.session.as_mut()
                {
                    session.receipt = Some(receipt);
                }
            }
            Event::RecordFailed { request } => {
                if matches!(self.state, State::Recorded { request: current, .. } if current == request)
                {
                    self.faults.insert(Part::Store);
                    fx.push(Effect::Audit {
                        event: "record",
                        outcome: "store_failed".into(),
                        operator_masked: None,
                    });
                    self.go(State::StoreFailed, &mut fx);
                    fx.push(Effect::Speak(Prompt::DeviceFault));
                }
            }
            Event::History { request, outcome } => {
                if matches!(self.state, State::HistoryLoading { request: current } if current == request)
                {
                    match outcome {
                        Ok(entries) => {
                            self.go(State::History { entries }, &mut fx);
                            fx.push(Effect::Speak(Prompt::History));
                        }
                        Err(_) => {
                            self.go(State::ServiceUnavailable, &mut fx);
                            fx.push(Effect::Speak(Prompt::OutOfService));
                        }
                    }
                }
            }
            Event::PinChecked { request, ok } => self.on_pin_checked(request, ok, &mut fx),
            Event::EnrolProgress {
                request,
                good,
                needed,
                hint,
            } => {
                if let State::StaffEnrolCapture {
                    request: current,
                    good: shown_good,
                    needed: shown_needed,
                    hint: shown_hint,
                } = &mut self.state
                    && *current == request
                {
                    let new_hint = hint.is_some() && *shown_hint != hint;
                    *shown_good = good;
                    *shown_needed = needed;
                    *shown_hint = hint;
                    if let (true, Some(h)) = (new_hint, hint) {
                        fx.push(Effect::Speak(Prompt::Hint(h)));
                    }
                    self.touch(&mut fx);
                }
            }
            Event::EnrolDone { request, outcome } => {
                if matches!(self.state, State::StaffEnrolCapture { request: current, .. } if current == request)
                {
                    let label = match outcome {
                        EnrolOutcome::Saved { sent: true, .. } => "sent",
                        EnrolOutcome::Saved { sent: false, .. } => "queued",
                        EnrolOutcome::NotEnoughFrames => "not_enough_frames",
                        EnrolOutcome::DeviceFault => "device_fault",
                        EnrolOutcome::StoreFailed => "store_failed",
                    };
                    self.audit("enrol", label, &mut fx);
                    let prompt = if matches!(outcome, EnrolOutcome::Saved { .. }) {
                        Prompt::EnrolDone
                    } else {
                        Prompt::EnrolFailed
                    };
                    self.go(State::StaffEnrolDone { outcome }, &mut fx);
                    fx.push(Effect::Speak(prompt));
                }
            }
            Event::Fault(part) => self.on_fault(part, &mut fx),
            Event::Recovered(part) => {
                self.faults.remove(&part);
                if self.state == State::OutOfService && !self.has_essential_fault() {
                    self.go(State::Attract, &mut fx);
                    fx.push(Effect::Speak(Prompt::Welcome));
                }
            }
            Event::Timer(id) => self.on_timer(id, &mut fx),
        }
        fx
    }

    // ----- transitions -------------------------------------------------------

    fn on_intent(&mut self, intent: Intent, fx: &mut Vec<Effect>) {
        // Keypad editing is shared by the identity and PIN screens.
        if let Some(entry) = self.entry_mut() {
            let max = entry.1;
            let entry = entry.0;
            match intent {
                Intent::Key(c) => {
                    let c = c.to_ascii_uppercase();
                    let allowed = c.is_ascii_digit() || (c == 'X' && max == ID_LEN);
                    if allowed && entry.chars().count() < max {
                        entry.push(c);
                    }
                    self.clear_entry_error();
                    return;
                }
                Intent::Backspace => {
                    entry.pop();
                    self.clear_entry_error();
                    return;
                }
                Intent::Clear => {
                    entry.clear();
                    self.clear_entry_error();
                    return;
                }
                _ => {}
            }
        }

        let state = std::mem::replace(&mut self.state, State::Attract);
        self.state = state.clone();
        match (state, intent) {
            // Any screen: home ends the session.
            (s, Intent::Home) if !s.is_idle() => {
                if matches!(s, State::Recorded { .. }) {
                    fx.push(Effect::Speak(Prompt::Goodbye));
                }
                self.end_session(fx);
            }
            (State::Attract, Intent::StartCertification) => {
                self.session = Some(Session::new(Purpose::Certify));
                self.go(State::Consent, fx);
                fx.push(Effect::Speak(Prompt::Consent));
            }
            (State::Attract, Intent::QueryHistory) => {
                self.session = Some(Session::new(Purpose::History));
                self.go(State::Who, fx);
                fx.push(Effect::Speak(Prompt::ChooseWho));
            }
            (State::Attract | State::OutOfService, Intent::Staff) => {
                self.go(
                    State::StaffPin {
                        entry: String::new(),
                        checking: None,
                    },
                    fx,
                );
                let prompt = if self.staff.lockout.is_some() {
                    Prompt::StaffLocked
                } else {
                    Prompt::StaffPin
                };
                fx.push(Effect::Speak(prompt));
            }
            (State::Consent, Intent::Accept) => {
                self.audit("consent", "accepted", fx);
                self.go(State::Who, fx);
                fx.push(Effect::Speak(Prompt::ChooseWho));
            }
            (State::Consent, Intent::Decline) => {
                self.audit("consent", "declined", fx);
                self.go(State::Alternatives, fx);
                fx.push(Effect::Speak(Prompt::Alternatives));
            }
            (State::Consent | State::Alternatives, Intent::Back) => self.end_session(fx),
            (State::Who, Intent::Myself) => {
                if let Some(s) = self.session.as_mut() {
                    s.proxy = false;
                    s.operator = None;
                }
                self.enter_identity(Role::Pensioner, fx);
            }
            (State::Who, Intent::ForSomeoneElse) => {
                if let Some(s) = self.session.as_mut() {
                    s.proxy = true;
                }
                self.enter_identity(Role::Operator, fx);
            }
            (State::Who, Intent::Back) => {
                if self.purpose() == Purpose::Certify {
                    self.go(State::Consent, fx);
                    fx.push(Effect::Speak(Prompt::Consent));
                } else {
                    self.end_session(fx);
                }
            }
            (State::Identity { role, entry, .. }, Intent::Submit) => {
                if let PartialCheck::Complete(id) = check_partial(&entry) {
                    self.identity_entered(role, id, fx);
                }
            }
            (State::Identity { role, .. }, Intent::Back) => {
                let proxy = self.session.as_ref().is_some_and(|s| s.proxy);
                if role == Role::Pensioner && proxy {
                    if let Some(s) = self.session.as_mut() {
                        s.operator = None;
                    }
                    self.enter_identity(Role::Operator, fx);
                } else {
                    self.go(State::Who, fx);
                    fx.push(Effect::Speak(Prompt::ChooseWho));
                }
            }
            (State::ServiceUnavailable, Intent::RetryService) => self.request_status(fx),
            (State::ServiceUnavailable, Intent::ContinueOffline)
                if self.purpose() == Purpose::Certify =>
            {
                self.audit("eligibility", "offline_evidence", fx);
                self.go(State::Guidance { offline: true }, fx);
                fx.push(Effect::Speak(Prompt::Guidance));
            }
            (State::Guidance { offline }, Intent::Ready) => self.start_capture(offline, fx),
            (State::Guidance { .. } | State::Capture { .. }, Intent::Back) => self.end_session(fx),
            (
                State::Failed {
                    attempts_left,
                    reason,
                },
                Intent::Retry,
            ) if attempts_left > 0 && reason != FailReason::DeviceFault => {
                self.go(State::Guidance { offline: false }, fx);
                fx.push(Effect::Speak(Prompt::Guidance));
            }
            (
                State::Failed {
                    attempts_left: 0,
                    reason,
                },
                Intent::Appeal,
            ) if reason != FailReason::DeviceFault => {
                self.record(CertResult::Appeal, Method::Kiosk, None, None, None, fx);
                fx.push(Effect::Speak(Prompt::AppealSubmitted));
            }
            (State::Recorded { .. }, Intent::Print) => {
                if let Some(receipt) = self.receipt()
                    && self.cfg.printer
                    && !self.faults.contains(&Part::Printer)
                    && let Some(session) = self.session.as_mut()
                    && session.print != Some(PrintState::Printing)
                {
                    session.print = Some(PrintState::Printing);
                    fx.push(Effect::PrintReceipt(receipt));
                    fx.push(Effect::Speak(Prompt::Printing));
                }
            }
            (State::StaffPin { entry, checking }, Intent::Submit) => {
                let len = entry.chars().count();
                if checking.is_none()
                    && self.staff.lockout.is_none()
                    && (4..=MAX_PIN_LEN).contains(&len)
                {
                    let request = self.next_request();
                    self.state = State::StaffPin {
                        entry: String::new(),
                        checking: Some(request),
                    };
                    fx.push(Effect::VerifyPin {
                        request,
                        pin: entry,
                    });
                }
            }
            (State::StaffPin { .. } | State::StaffHome, Intent::Back | Intent::ExitStaff) => {
                self.end_session(fx);
            }
            (State::StaffHome, Intent::SyncNow) => {
                self.audit("sync_now", "requested", fx);
                fx.push(Effect::SyncNow);
            }
            (State::StaffHome, Intent::SelfTest) => {
                self.audit("self_test", "started", fx);
                self.go(State::StaffSelfTest, fx);
            }
            (State::StaffHome, Intent::Enrol) => {
                self.go(
                    State::StaffEnrolId {
                        entry: String::new(),
                    },
                    fx,
                );
                fx.push(Effect::Speak(Prompt::EnrolId));
            }
            (State::StaffEnrolId { entry }, Intent::Submit) => {
                if let PartialCheck::Complete(id) = check_partial(&entry) {
                    self.enrol = Some(id);
                    self.start_enrolment(fx);
                }
            }
            (State::StaffEnrolDone { outcome }, Intent::Retry)
                if !matches!(outcome, EnrolOutcome::Saved { .. }) =>
            {
                self.start_enrolment(fx);
            }
            (
                State::StaffSelfTest
                | State::StaffEnrolId { .. }
                | State::StaffEnrolCapture { .. }
                | State::StaffEnrolDone { .. },
                Intent::Back,
            ) => {
                self.enrol = None;
                fx.push(Effect::WipeSession);
                self.go(State::StaffHome, fx);
            }
            (
                State::StaffSelfTest
                | State::StaffEnrolId { .. }
                | State::StaffEnrolCapture { .. }
                | State::StaffEnrolDone { .. },
                Intent::ExitStaff,
            ) => self.end_session(fx),
            // Anything else does nothing on this screen.
            _ => {}
        }
    }

    fn on_card(&mut self, id: IdNumber, fx: &mut Vec<Effect>) {
        if let State::Identity { role, .. } = self.state {
            self.identity_entered(role, id, fx);
        } else if let Some(session) = self.session.as_mut()
            && session.person.is_none()
        {
            // Laid on the reader early (consent, who): used when the
            // identity screen opens. Outside a session a card is ignored, so a
            // card left behind never starts someone else's session.
            session.card = Some(id);
        }
    }

    fn identity_entered(&mut self, role: Role, id: IdNumber, fx: &mut Vec<Effect>) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match role {
            Role::Operator => {
                session.operator = Some(id);
                self.enter_identity(Role::Pensioner, fx);
            }
            Role::Pensioner => {
                if session.operator.as_ref() == Some(&id) {
                    self.state = State::Identity {
                        role,
                        entry: String::new(),
                        error: Some("代办人与被认证人不能是同一人，请输入被认证人的身份证号码"),
                    };
                    return;
                }
                session.person = Some(id);
                self.request_status(fx);
            }
        }
    }

    fn request_status(&mut self, fx: &mut Vec<Effect>) {
        let Some(person) = self.session.as_ref().and_then(|s| s.person.clone()) else {
            return;
        };
        let request = self.next_request();
        if self.purpose() == Purpose::Certify {
            self.go(State::Checking { request }, fx);
            fx.push(Effect::CheckEligibility { request, person });
        } else {
            self.go(State::HistoryLoading { request }, fx);
            fx.push(Effect::FetchHistory { request, person });
        }
        fx.push(Effect::Speak(Prompt::Checking));
    }

    fn on_eligibility(
        &mut self,
        request: RequestId,
        outcome: Result<PersonStatus, ServiceFailure>,
        fx: &mut Vec<Effect>,
    ) {
        if !matches!(self.state, State::Checking { request: current } if current == request) {
            return;
        }
        let (ineligible, prompt) = match outcome {
            Ok(PersonStatus::Due {
                benefit,
                region,
                masked_name,
                ..
            }) => {
                if let Some(s) = self.session.as_mut() {
                    s.due = Some(Due {
                        benefit,
                        region,
                        masked_name,
                    });
                }
                self.audit("eligibility", "due", fx);
                self.go(State::Guidance { offline: false }, fx);
                fx.push(Effect::Speak(Prompt::Guidance));
                return;
            }
            Err(failure) => {
                let outcome = match failure {
                    ServiceFailure::Unreachable => "unreachable".to_string(),
                    ServiceFailure::Server { code } => format!("server_error:{code}"),
                };
                self.audit("eligibility", &outcome, fx);
                self.go(State::ServiceUnavailable, fx);
                fx.push(Effect::Speak(Prompt::ServiceUnavailable));
                return;
            }
            Ok(PersonStatus::NotInScope) => (Ineligible::NotInScope, Prompt::NotInScope),
            Ok(PersonStatus::IdentityChanged) => {
                (Ineligible::IdentityChanged, Prompt::IdentityChanged)
            }
            Ok(PersonStatus::Suspended { since }) => {
                (Ineligible::Suspended { since }, Prompt::Suspended)
            }
            Ok(PersonStatus::Terminated) => (Ineligible::Terminated, Prompt::Terminated),
            Ok(PersonStatus::AlreadyCertified { on, next_deadline }) => (
                Ineligible::AlreadyCertified { on, next_deadline },
                Prompt::AlreadyCertified,
            ),
            Ok(PersonStatus::NoTemplate) => (Ineligible::NoTemplate, Prompt::NoTemplate),
        };
        let label = match &ineligible {
            Ineligible::NotInScope => "not_in_scope",
            Ineligible::IdentityChanged => "identity_changed",
            Ineligible::Suspended { .. } => "suspended",
            Ineligible::Terminated => "terminated",
            Ineligible::AlreadyCertified { .. } => "already_certified",
            Ineligible::NoTemplate => "no_template",
        };
        self.audit("eligibility", label, fx);
        self.go(State::Ineligible(ineligible), fx);
        fx.push(Effect::Speak(prompt));
    }

    fn start_capture(&mut self, offline: bool, fx: &mut Vec<Effect>) {
        let Some((person, attempt)) = self
            .session
            .as_ref()
            .and_then(|s| s.person.clone().map(|p| (p, s.attempts_used + 1)))
        else {
            return;
        };
        let request = self.next_request();
        self.go(
            State::Capture {
                request,
                offline,
                action: None,
                hint: None,
                flash: None,
            },
            fx,
        );
        fx.push(Effect::StartCapture {
            request,
            person,
            attempt,
            offline,
        });
    }

    fn on_capture_done(
        &mut self,
        request: RequestId,
        outcome: CaptureOutcome,
        at: OffsetDateTime,
        fx: &mut Vec<Effect>,
    ) {
        let waiting = match self.state {
            State::Capture {
                request: current, ..
            }
            | State::Processing {
                request: current, ..
            } => current == request,
            _ => false,
        };
        if !waiting {
            return;
        }
        let failure = match outcome {
            CaptureOutcome::Matched { score } => {
                let next = self.session.as_ref().and_then(|s| {
                    let due = s.due.as_ref()?;
                    let person = s.person.as_ref()?;
                    let rule = self.cfg.rules.lookup(due.benefit, &due.region).ok()?;
                    Some(rule.next_after_success(at.date(), person.birth_date()))
                });
                self.audit("capture", "passed", fx);
                self.record(
                    CertResult::Passed,
                    Method::Kiosk,
                    Some(at),
                    next,
                    Some(score),
                    fx,
                );
                fx.push(Effect::Speak(Prompt::Success));
                return;
            }
            CaptureOutcome::EvidenceCaptured => {
                self.audit("capture", "evidence_captured", fx);
                self.record(
                    CertResult::Accepted,
                    Method::OfflineEvidence,
                    Some(at),
                    None,
                    None,
                    fx,
                );
                fx.push(Effect::Speak(Prompt::Accepted));
                return;
            }
            CaptureOutcome::Failed(failure) => failure,
        };
        let (reason, prompt, label) = match failure {
            CaptureFailure::Mismatch => {
                (FailReason::FaceMismatch, Prompt::FaceMismatch, "mismatch")
            }
            CaptureFailure::LivenessIncomplete { action } => (
                FailReason::LivenessIncomplete { action },
                Prompt::LivenessIncomplete,
                "liveness_incomplete",
            ),
            CaptureFailure::Timeout => (FailReason::Timeout, Prompt::Timeout, "timeout"),
            CaptureFailure::PersonChanged => (
                FailReason::PersonChanged,
                Prompt::PersonChanged,
                "person_changed",
            ),
            CaptureFailure::DeviceFault => {
                (FailReason::DeviceFault, Prompt::DeviceFault, "device_fault")
            }
        };
        self.audit("capture", label, fx);
        let attempts = self.cfg.attempts;
        let attempts_left = match self.session.as_mut() {
            Some(s) if reason != FailReason::DeviceFault => {
                s.attempts_used = s.attempts_used.saturating_add(1);
                attempts.saturating_sub(s.attempts_used)
            }
            _ => 0,
        };
        self.go(
            State::Failed {
                reason,
                attempts_left,
            },
            fx,
        );
        fx.push(Effect::Speak(prompt));
    }

    /// Records a result: the record effect, then the result screen.
    fn record(
        &mut self,
        result: CertResult,
        method: Method,
        at: Option<OffsetDateTime>,
        next: Option<crate::cycle::NextDue>,
        score: Option<f32>,
        fx: &mut Vec<Effect>,
    ) {
        let request = self.next_request();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Some(person) = session.person.clone() else {
            return;
        };
        let record = ResultRecord {
            person,
            operator: session.operator.clone(),
            benefit: session.due.as_ref().map(|d| d.benefit),
            result,
            method,
            at: at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            next,
            score,
        };
        session.result = Some(record.clone());
        session.receipt = None;
        fx.push(Effect::RecordResult { request, record });
        self.go(State::Recorded { request, result }, fx);
    }

    fn receipt(&self) -> Option<Receipt> {
        let s = self.session.as_ref()?;
        let record = s.result.as_ref()?;
        let result_zh = match record.result {
            CertResult::Passed => "认证成功",
            CertResult::Accepted => "已受理（待社保中心核验）",
            CertResult::Appeal => "已提交人工审核",
        };
        Some(Receipt {
            masked_id: record.person.masked(),
            masked_name: s.due.as_ref().map(|d| d.masked_name.clone()),
            result_zh: result_zh.to_string(),
            at: record.at,
            next_due_zh: record.next.as_ref().map(success_sentence),
            record_id: s.receipt.clone()?,
        })
    }

    fn on_pin_checked(&mut self, request: RequestId, ok: bool, fx: &mut Vec<Effect>) {
        if !matches!(self.state, State::StaffPin { checking: Some(current), .. } if current == request)
        {
            return;
        }
        if ok {
            self.staff.failures = 0;
            self.audit("staff_login", "ok", fx);
            self.go(State::StaffHome, fx);
            fx.push(Effect::Speak(Prompt::StaffMenu));
            return;
        }
        self.staff.failures = self.staff.failures.saturating_add(1);
        self.state = State::StaffPin {
            entry: String::new(),
            checking: None,
        };
        if self.staff.failures >= self.cfg.staff_pin_max_failures {
            let id = self.next_timer();
            self.staff.lockout = Some(id);
            fx.push(Effect::StartTimer {
                id,
                after: self.cfg.staff_lockout,
            });
            self.audit("staff_login", "locked_out", fx);
            fx.push(Effect::Speak(Prompt::StaffLocked));
        } else {
            self.audit("staff_login", "wrong_pin", fx);
            fx.push(Effect::Speak(Prompt::StaffPin));
        }
    }

    fn on_fault(&mut self, part: Part, fx: &mut Vec<Effect>) {
        self.faults.insert(part);
        if !part.is_essential() {
            return;
        }
        self.audit("fault", &format!("{part:?}").to_lowercase(), fx);
        match self.state {
            State::Attract => {
                self.go(State::OutOfService, fx);
                fx.push(Effect::Speak(Prompt::OutOfService));
            }
            // A certification in progress cannot finish without the part.
            State::Consent
            | State::Who
            | State::Identity { .. }
            | State::Checking { .. }
            | State::Guidance { .. } => self.end_session(fx),
            State::Capture { .. } | State::Processing { .. } => {
                self.go(
                    State::Failed {
                        reason: FailReason::DeviceFault,
                        attempts_left: 0,
                    },
                    fx,
                );
                fx.push(Effect::Speak(Prompt::DeviceFault));
            }
            // Results, history and staff screens stay; the session's end goes
            // out of service.
            _ => {}
        }
    }

    fn on_timer(&mut self, id: TimerId, fx: &mut Vec<Effect>) {
        if self.staff.lockout == Some(id) {
            self.staff = StaffGuard::default();
            return;
        }
        if self.inactivity == Some(id) {
            self.inactivity = None;
            self.audit("session", "inactivity_wipe", fx);
            self.end_session(fx);
        }
        // Any other id is a stale firing: ignored.
    }

    // ----- helpers ----------------------------------------------------------

    fn start_enrolment(&mut self, fx: &mut Vec<Effect>) {
        let Some(person) = self.enrol.clone() else {
            return;
        };
        let request = self.next_request();
        self.go(
            State::StaffEnrolCapture {
                request,
                good: 0,
                needed: 0,
                hint: None,
            },
            fx,
        );
        fx.push(Effect::StartEnrolment { request, person });
        fx.push(Effect::Speak(Prompt::EnrolCapture));
    }

    fn purpose(&self) -> Purpose {
        self.session
            .as_ref()
            .map_or(Purpose::Certify, |s| s.purpose)
    }

    fn has_essential_fault(&self) -> bool {
        self.faults.iter().any(|p| p.is_essential())
    }

    fn entry_mut(&mut self) -> Option<(&mut String, usize)> {
        match &mut self.state {
            State::Identity { entry, .. } | State::StaffEnrolId { entry } => Some((entry, ID_LEN)),
            State::StaffPin {
                entry,
                checking: None,
            } if self.staff.lockout.is_none() => Some((entry, MAX_PIN_LEN)),
            _ => None,
        }
    }

    fn clear_entry_error(&mut self) {
        if let State::Identity { error, .. } = &mut self.state {
            *error = None;
        }
    }

    fn enter_identity(&mut self, role: Role, fx: &mut Vec<Effect>) {
        self.go(
            State::Identity {
                role,
                entry: String::new(),
                error: None,
            },
            fx,
        );
        if let Some(card) = self.session.as_mut().and_then(|s| s.card.take()) {
            self.identity_entered(role, card, fx);
            return;
        }
        fx.push(Effect::Speak(match role {
            Role::Operator => Prompt::EnterOperatorId,
            Role::Pensioner => Prompt::EnterPensionerId,
        }));
    }

    fn audit(&self, event: &'static str, outcome: &str, fx: &mut Vec<Effect>) {
        fx.push(Effect::Audit {
            event,
            outcome: outcome.to_string(),
            operator_masked: self.session.as_ref().and_then(Session::operator_masked),
        });
    }

    fn next_request(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    fn next_timer(&mut self) -> TimerId {
        self.next_id += 1;
        TimerId(self.next_id)
    }

    /// Restarts the inactivity timer while a session or staff screen is open.
    fn touch(&mut self, fx: &mut Vec<Effect>) {
        if self.state.is_idle() {
            return;
        }
        if let Some(old) = self.inactivity.take() {
            fx.push(Effect::CancelTimer(old));
        }
        let id = self.next_timer();
        self.inactivity = Some(id);
        fx.push(Effect::StartTimer {
            id,
            after: self.cfg.inactivity,
        });
    }

    /// Moves to `next`, keeping the camera and the inactivity timer in step.
    fn go(&mut self, next: State, fx: &mut Vec<Effect>) {
        let leaving_capture =
            matches!(self.state, State::Capture { .. }) && !matches!(next, State::Capture { .. });
        let leaving_enrol = matches!(self.state, State::StaffEnrolCapture { .. })
            && !matches!(
                next,
                State::StaffEnrolCapture { .. } | State::StaffEnrolDone { .. }
            );
        if (leaving_capture
            && !matches!(
                next,
                State::Processing { .. } | State::Failed { .. } | State::Recorded { .. }
            ))
            || leaving_enrol
        {
            fx.push(Effect::CancelCapture);
        }
        if self.camera_on && !next.wants_camera() {
            self.camera_on = false;
            fx.push(Effect::CameraOff);
        }
        if !self.camera_on && next.wants_camera() {
            self.camera_on = true;
            fx.push(Effect::CameraOn);
        }
        let idle = next.is_idle();
        self.state = next;
        if idle {
            if let Some(old) = self.inactivity.take() {
                fx.push(Effect::CancelTimer(old));
            }
        } else if self.inactivity.is_none() {
            self.touch(fx);
        }
    }

    /// Ends the session: wipes identity data and returns to attract (or out of
    /// service when an essential part is down).
    fn end_session(&mut self, fx: &mut Vec<Effect>) {
        let was_staff = self.state.is_staff();
        let had_enrol = self.enrol.take().is_some();
        if self.session.take().is_some() || had_enrol || !was_staff {
            fx.push(Effect::WipeSession);
        }
        let next = if self.has_essential_fault() {
            State::OutOfService
        } else {
            State::Attract
        };
        let out = next == State::OutOfService;
        self.go(next, fx);
        if out {
            fx.push(Effect::Speak(Prompt::OutOfService));
        }
    }
}
