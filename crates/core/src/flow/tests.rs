use super::*;
use lifecert_protocol::{BenefitType, CertResult, Method, PersonStatus};
use proptest::prelude::*;
use rstest::rstest;
use time::macros::{date, datetime};

const PENSIONER: &str = "11010519491231002X";
const OPERATOR: &str = "440524188001010014";

fn id(s: &str) -> IdNumber {
    IdNumber::parse(s).unwrap()
}

fn due(region: &str) -> PersonStatus {
    PersonStatus::Due {
        benefit: BenefitType::Pension,
        deadline: date!(2026 - 03 - 31),
        region: region.into(),
        masked_name: "张*三".into(),
    }
}

/// Drives a flow and remembers the ids its effects hand out.
struct Kiosk {
    flow: Flow,
    effects: Vec<Effect>,
    request: Option<RequestId>,
    timers: Vec<TimerId>,
}

impl Kiosk {
    fn new() -> Kiosk {
        Kiosk::with(FlowConfig {
            printer: true,
            ..FlowConfig::default()
        })
    }

    fn with(cfg: FlowConfig) -> Kiosk {
        let mut flow = Flow::new(cfg);
        let effects = flow.start();
        Kiosk {
            flow,
            effects,
            request: None,
            timers: Vec::new(),
        }
    }

    fn send(&mut self, event: Event) -> Vec<Effect> {
        let fx = self.flow.handle(event);
        for e in &fx {
            match e {
                Effect::CheckEligibility { request, .. }
                | Effect::StartCapture { request, .. }
                | Effect::RecordResult { request, .. }
                | Effect::FetchHistory { request, .. }
                | Effect::VerifyPin { request, .. }
                | Effect::StartEnrolment { request, .. } => self.request = Some(*request),
                Effect::StartTimer { id, .. } => self.timers.push(*id),
                _ => {}
            }
        }
        self.effects.extend(fx.iter().cloned());
        fx
    }

    fn intent(&mut self, intent: Intent) -> Vec<Effect> {
        self.send(Event::Intent(intent))
    }

    fn req(&self) -> RequestId {
        self.request.expect("a request is pending")
    }

    fn type_in(&mut self, text: &str) {
        for c in text.chars() {
            self.intent(Intent::Key(c));
        }
    }

    fn submit_id(&mut self, text: &str) -> Vec<Effect> {
        self.type_in(text);
        self.intent(Intent::Submit)
    }

    /// Attract → consent → who → identity → eligibility answered `status`.
    fn reach_status(&mut self, proxy: bool, status: Result<PersonStatus, ServiceFailure>) {
        self.intent(Intent::StartCertification);
        self.intent(Intent::Accept);
        if proxy {
            self.intent(Intent::ForSomeoneElse);
            self.submit_id(OPERATOR);
        } else {
            self.intent(Intent::Myself);
        }
        let fx = self.submit_id(PENSIONER);
        assert!(
            fx.iter().any(|e| matches!(e, Effect::CheckEligibility { person, .. } if person.expose() == PENSIONER)),
            "{fx:?}"
        );
        let request = self.req();
        self.send(Event::Eligibility {
            request,
            outcome: status,
        });
    }

    /// ... → guidance → capture started.
    fn start_capture(&mut self) {
        let fx = self.intent(Intent::Ready);
        assert!(fx.contains(&Effect::CameraOn), "{fx:?}");
        assert!(matches!(self.flow.screen(), Screen::Capture { .. }));
    }

    fn capture_done(&mut self, outcome: CaptureOutcome) -> Vec<Effect> {
        let request = self.req();
        self.send(Event::LivenessDone { request });
        self.send(Event::CaptureDone {
            request,
            outcome,
            at: datetime!(2026-03-10 09:30 +8),
        })
    }

    fn recorded(&mut self) -> ResultRecord {
        self.effects
            .iter()
            .rev()
            .find_map(|e| match e {
                Effect::RecordResult { record, .. } => Some(record.clone()),
                _ => None,
            })
            .expect("a result was recorded")
    }

    fn spoke(&self, prompt: Prompt) -> bool {
        self.effects.contains(&Effect::Speak(prompt))
    }

    fn fire_latest_inactivity(&mut self) {
        let timers = self.timers.clone();
        for t in timers.into_iter().rev() {
            self.send(Event::Timer(t));
        }
    }
}

// ----- the certification path -------------------------------------------------

#[test]
fn success_for_oneself_shows_next_due_and_prints() {
    let mut k = Kiosk::new();
    assert_eq!(k.flow.screen(), Screen::Attract);
    k.reach_status(false, Ok(due("110105")));
    assert_eq!(
        k.flow.screen(),
        Screen::Guidance {
            attempt: 1,
            offline: false
        }
    );
    k.start_capture();
    let request = k.req();
    k.send(Event::ActionStarted {
        request,
        index: 0,
        total: 2,
        action: Action::Blink,
    });
    assert!(k.spoke(Prompt::Do(Action::Blink)));
    assert_eq!(
        k.flow.screen(),
        Screen::Capture {
            attempt: 1,
            action: Some((Action::Blink, 0, 2)),
            hint: None,
            flash: None,
        }
    );
    let fx = k.send(Event::LivenessDone { request });
    assert!(
        fx.contains(&Effect::CameraOff),
        "camera goes off once liveness is done"
    );
    assert_eq!(k.flow.screen(), Screen::Processing);
    k.send(Event::CaptureDone {
        request,
        outcome: CaptureOutcome::Matched { score: 0.8 },
        at: datetime!(2026-03-10 09:30 +8),
    });
    let record = k.recorded();
    assert_eq!(record.result, CertResult::Passed);
    assert_eq!(record.method, Method::Kiosk);
    assert_eq!(record.operator, None);
    let next = record.next.expect("next due computed");
    assert_eq!(next.deadline, date!(2027 - 03 - 31));
    let receipt_request = k.req();
    k.send(Event::Recorded {
        request: receipt_request,
        receipt: "R-0001".into(),
    });
    assert_eq!(
        k.flow.screen(),
        Screen::Success {
            masked_id: "1101**********002X".into(),
            masked_name: Some("张*三".into()),
            benefit: Some(BenefitType::Pension),
            next_due_zh: Some("下次认证时间：2027年3月31日前".into()),
            receipt: Some("R-0001".into()),
            can_print: true,
            print: None,
        }
    );
    assert!(k.spoke(Prompt::Success));
    let fx = k.intent(Intent::Print);
    let Some(receipt) = fx.iter().find_map(|e| match e {
        Effect::PrintReceipt(r) => Some(r),
        _ => None,
    }) else {
        panic!("no print effect: {fx:?}")
    };
    assert_eq!(receipt.masked_id, "1101**********002X");
    assert_eq!(receipt.record_id, "R-0001");
    assert_eq!(
        receipt.next_due_zh.as_deref(),
        Some("下次认证时间：2027年3月31日前")
    );
    let fx = k.intent(Intent::Home);
    assert!(fx.contains(&Effect::WipeSession));
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
}

#[test]
fn guangxi_pension_uses_the_birthday_window() {
    // Born in December (11010519491231002X): windows run December..November.
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("450403")));
    k.start_capture();
    k.capture_done(CaptureOutcome::Matched { score: 0.9 });
    let next = k.recorded().next.expect("next due");
    assert_eq!(next.opens_on, date!(2026 - 12 - 01));
    assert_eq!(next.deadline, date!(2027 - 11 - 30));
}

#[test]
fn proxy_records_the_operator() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::ForSomeoneElse);
    assert!(matches!(
        k.flow.screen(),
        Screen::Identity {
            role: Role::Operator,
            ..
        }
    ));
    k.submit_id(OPERATOR);
    assert!(matches!(
        k.flow.screen(),
        Screen::Identity {
            role: Role::Pensioner,
            ..
        }
    ));
    // The operator cannot certify themselves as the pensioner.
    k.submit_id(OPERATOR);
    let Screen::Identity {
        state: EntryState::Invalid { message_zh },
        ..
    } = k.flow.screen()
    else {
        panic!("expected an error")
    };
    assert!(message_zh.contains("同一人"));
    let fx = k.submit_id(PENSIONER);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::CheckEligibility { .. }))
    );
    let request = k.req();
    k.send(Event::Eligibility {
        request,
        outcome: Ok(due("110105")),
    });
    k.start_capture();
    k.capture_done(CaptureOutcome::Matched { score: 0.7 });
    let record = k.recorded();
    assert_eq!(record.operator, Some(id(OPERATOR)));
    assert!(k.effects.iter().any(|e| matches!(e,
        Effect::Audit { event: "capture", operator_masked: Some(m), .. } if m == "4405**********0014")));
}

#[test]
fn card_read_fills_the_identity() {
    let mut k = Kiosk::new();
    // On the attract screen (no session) a card is ignored: a card left on
    // the reader never starts or fills someone else's session.
    k.send(Event::CardRead(id(PENSIONER)));
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    let fx = k.intent(Intent::Myself);
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::CheckEligibility { .. }))
    );
    assert!(matches!(k.flow.screen(), Screen::Identity { .. }));
    let fx = k.send(Event::CardRead(id(PENSIONER)));
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::CheckEligibility { person, .. } if *person == id(PENSIONER))
        )
    );
    assert_eq!(k.flow.screen(), Screen::Checking);
}

#[test]
fn card_laid_early_is_used_when_the_identity_screen_opens() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    let fx = k.send(Event::CardRead(id(PENSIONER)));
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::CheckEligibility { .. }))
    );
    k.intent(Intent::Accept);
    let fx = k.intent(Intent::Myself);
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::CheckEligibility { person, .. } if *person == id(PENSIONER))
        )
    );
    assert_eq!(k.flow.screen(), Screen::Checking);

    // Taken away again before the identity screen: not used.
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.send(Event::CardRead(id(PENSIONER)));
    k.send(Event::CardRemoved);
    k.intent(Intent::Accept);
    let fx = k.intent(Intent::Myself);
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::CheckEligibility { .. }))
    );
    assert!(matches!(k.flow.screen(), Screen::Identity { .. }));
    assert!(k.spoke(Prompt::EnterPensionerId));
}

#[test]
fn card_problem_is_shown_on_the_identity_screen_and_voiced() {
    let mut k = Kiosk::new();
    // Not on the identity screen: nothing happens.
    assert!(k.send(Event::CardProblem("读卡失败")).is_empty());
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::Myself);
    let fx = k.send(Event::CardProblem("读卡时身份证移动了"));
    assert!(fx.contains(&Effect::Speak(Prompt::CardReadFailed)));
    match k.flow.screen() {
        Screen::Identity {
            state: EntryState::Invalid { message_zh },
            ..
        } => assert_eq!(message_zh, "读卡时身份证移动了"),
        other => panic!("expected the identity screen with the problem, got {other:?}"),
    }
    // The card read next time fills it in.
    k.send(Event::CardRead(id(PENSIONER)));
    assert_eq!(k.flow.screen(), Screen::Checking);
}

#[test]
fn a_failed_print_keeps_the_result_and_says_why() {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    k.capture_done(CaptureOutcome::Matched { score: 0.9 });
    let request = k.req();
    k.send(Event::Recorded {
        request,
        receipt: "R-9".into(),
    });
    // A completion nobody asked for changes nothing.
    k.send(Event::PrintDone(Ok(())));
    assert!(matches!(
        k.flow.screen(),
        Screen::Success { print: None, .. }
    ));
    let fx = k.intent(Intent::Print);
    assert!(fx.iter().any(|e| matches!(e, Effect::PrintReceipt(_))));
    assert!(matches!(
        k.flow.screen(),
        Screen::Success {
            print: Some(PrintState::Printing),
            ..
        }
    ));
    // A second press while printing does not print twice.
    assert!(
        !k.intent(Intent::Print)
            .iter()
            .any(|e| matches!(e, Effect::PrintReceipt(_)))
    );
    let fx = k.send(Event::PrintDone(Err("打印机缺纸")));
    assert!(fx.contains(&Effect::Speak(Prompt::PrintFailed)));
    match k.flow.screen() {
        Screen::Success {
            print: Some(PrintState::Failed(why)),
            receipt: Some(receipt),
            ..
        } => {
            assert_eq!(why, "打印机缺纸");
            assert_eq!(receipt, "R-9");
        }
        other => panic!("expected success with the print failure, got {other:?}"),
    }
    // The result was recorded once, before printing; nothing re-records it.
    assert_eq!(
        k.effects
            .iter()
            .filter(|e| matches!(e, Effect::RecordResult { .. }))
            .count(),
        1
    );
    // Paper refilled: print again works.
    let fx = k.intent(Intent::Print);
    assert!(fx.iter().any(|e| matches!(e, Effect::PrintReceipt(_))));
    k.send(Event::PrintDone(Ok(())));
    assert!(matches!(
        k.flow.screen(),
        Screen::Success {
            print: Some(PrintState::Printed),
            ..
        }
    ));
}

#[test]
fn mismatch_three_times_then_appeal() {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    for left in [2u8, 1] {
        k.start_capture();
        k.capture_done(CaptureOutcome::Failed(CaptureFailure::Mismatch));
        assert_eq!(
            k.flow.screen(),
            Screen::Failed {
                reason: FailReason::FaceMismatch,
                attempts_left: left,
                appeal: false
            }
        );
        // No appeal while attempts remain.
        assert!(
            k.intent(Intent::Appeal)
                .iter()
                .all(|e| !matches!(e, Effect::RecordResult { .. }))
        );
        k.intent(Intent::Retry);
        assert_eq!(
            k.flow.screen(),
            Screen::Guidance {
                attempt: 4 - left,
                offline: false
            }
        );
    }
    k.start_capture();
    k.capture_done(CaptureOutcome::Failed(CaptureFailure::Mismatch));
    assert_eq!(
        k.flow.screen(),
        Screen::Failed {
            reason: FailReason::FaceMismatch,
            attempts_left: 0,
            appeal: true
        }
    );
    // No fourth attempt.
    k.intent(Intent::Retry);
    assert!(matches!(k.flow.screen(), Screen::Failed { .. }));
    k.intent(Intent::Appeal);
    let record = k.recorded();
    assert_eq!(record.result, CertResult::Appeal);
    let request = k.req();
    k.send(Event::Recorded {
        request,
        receipt: "A-7".into(),
    });
    assert_eq!(
        k.flow.screen(),
        Screen::AppealSubmitted {
            receipt: Some("A-7".into())
        }
    );
    assert!(k.spoke(Prompt::AppealSubmitted));
}

#[rstest]
#[case::not_in_scope(PersonStatus::NotInScope, Ineligible::NotInScope, Prompt::NotInScope)]
#[case::identity_changed(
    PersonStatus::IdentityChanged,
    Ineligible::IdentityChanged,
    Prompt::IdentityChanged
)]
#[case::suspended(
    PersonStatus::Suspended { since: date!(2026 - 04 - 01) },
    Ineligible::Suspended { since: date!(2026 - 04 - 01) },
    Prompt::Suspended
)]
#[case::terminated(PersonStatus::Terminated, Ineligible::Terminated, Prompt::Terminated)]
#[case::already_certified(
    PersonStatus::AlreadyCertified { on: date!(2026 - 03 - 05), next_deadline: date!(2027 - 03 - 31) },
    Ineligible::AlreadyCertified { on: date!(2026 - 03 - 05), next_deadline: date!(2027 - 03 - 31) },
    Prompt::AlreadyCertified
)]
#[case::no_template(PersonStatus::NoTemplate, Ineligible::NoTemplate, Prompt::NoTemplate)]
fn ineligible_reasons(
    #[case] status: PersonStatus,
    #[case] expected: Ineligible,
    #[case] prompt: Prompt,
) {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(status));
    assert_eq!(k.flow.screen(), Screen::Ineligible(expected.clone()));
    assert!(k.spoke(prompt));
    assert!(!k.flow.camera_on());
    // Every reason says what it is and what to do, in plain words.
    assert!(!expected.reason_zh().is_empty());
    assert!(!expected.next_step_zh().is_empty());
    k.intent(Intent::Home);
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
}

#[test]
fn already_certified_says_when() {
    let r = Ineligible::AlreadyCertified {
        on: date!(2026 - 03 - 05),
        next_deadline: date!(2027 - 03 - 31),
    };
    assert_eq!(r.reason_zh(), "您已于2026年3月5日完成认证");
    assert!(r.next_step_zh().contains("2027年3月31日前"));
}

#[rstest]
#[case::liveness(
    CaptureFailure::LivenessIncomplete { action: Some(Action::TurnLeft) },
    FailReason::LivenessIncomplete { action: Some(Action::TurnLeft) },
    Prompt::LivenessIncomplete,
    2
)]
#[case::timeout(CaptureFailure::Timeout, FailReason::Timeout, Prompt::Timeout, 2)]
#[case::person_changed(
    CaptureFailure::PersonChanged,
    FailReason::PersonChanged,
    Prompt::PersonChanged,
    2
)]
#[case::mismatch(
    CaptureFailure::Mismatch,
    FailReason::FaceMismatch,
    Prompt::FaceMismatch,
    2
)]
#[case::device(
    CaptureFailure::DeviceFault,
    FailReason::DeviceFault,
    Prompt::DeviceFault,
    0
)]
fn capture_failures(
    #[case] failure: CaptureFailure,
    #[case] reason: FailReason,
    #[case] prompt: Prompt,
    #[case] attempts_left: u8,
) {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    k.capture_done(CaptureOutcome::Failed(failure));
    assert_eq!(
        k.flow.screen(),
        Screen::Failed {
            reason,
            attempts_left,
            appeal: false
        }
    );
    assert!(k.spoke(prompt));
    assert!(!k.flow.camera_on());
    assert!(!reason.reason_zh().is_empty());
}

#[test]
fn service_unavailable_accepts_offline_evidence() {
    let mut k = Kiosk::new();
    k.reach_status(false, Err(ServiceFailure::Unreachable));
    assert_eq!(
        k.flow.screen(),
        Screen::ServiceUnavailable {
            offline_allowed: true
        }
    );
    // Retrying asks again.
    let fx = k.intent(Intent::RetryService);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::CheckEligibility { .. }))
    );
    let request = k.req();
    k.send(Event::Eligibility {
        request,
        outcome: Err(ServiceFailure::Server {
            code: "internal".into(),
        }),
    });
    k.intent(Intent::ContinueOffline);
    assert_eq!(
        k.flow.screen(),
        Screen::Guidance {
            attempt: 1,
            offline: true
        }
    );
    let fx = k.intent(Intent::Ready);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::StartCapture { offline: true, .. }))
    );
    k.capture_done(CaptureOutcome::EvidenceCaptured);
    let record = k.recorded();
    assert_eq!(record.result, CertResult::Accepted);
    assert_eq!(record.method, Method::OfflineEvidence);
    let request = k.req();
    k.send(Event::Recorded {
        request,
        receipt: "E-1".into(),
    });
    assert_eq!(
        k.flow.screen(),
        Screen::Accepted {
            masked_id: "1101**********002X".into(),
            receipt: Some("E-1".into()),
            can_print: true,
            print: None,
        }
    );
    assert!(k.spoke(Prompt::Accepted));
}

#[test]
fn consent_declined_shows_alternatives_and_never_opens_the_camera() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    assert_eq!(k.flow.screen(), Screen::Consent);
    k.intent(Intent::Decline);
    assert_eq!(k.flow.screen(), Screen::Alternatives);
    assert!(k.spoke(Prompt::Alternatives));
    assert!(!k.effects.contains(&Effect::CameraOn));
    assert!(k.effects.iter().any(
        |e| matches!(e, Effect::Audit { event: "consent", outcome, .. } if outcome == "declined")
    ));
    k.intent(Intent::Home);
    assert_eq!(k.flow.screen(), Screen::Attract);
}

#[test]
fn inactivity_wipes_the_session() {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    assert!(k.flow.holds_identity());
    let current = *k.timers.last().unwrap();
    let stale = k.timers[0];
    assert_ne!(current, stale);
    // A stale firing changes nothing.
    assert!(k.send(Event::Timer(stale)).is_empty());
    assert!(matches!(k.flow.screen(), Screen::Capture { .. }));
    let fx = k.send(Event::Timer(current));
    assert!(fx.contains(&Effect::WipeSession));
    assert!(fx.contains(&Effect::CameraOff));
    assert!(fx.contains(&Effect::CancelCapture));
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
    assert!(!k.flow.camera_on());
    // A late completion of the abandoned capture is ignored.
    let request = k.req();
    assert!(
        k.send(Event::CaptureDone {
            request,
            outcome: CaptureOutcome::Matched { score: 1.0 },
            at: datetime!(2026-03-10 09:30 +8),
        })
        .is_empty()
    );
    assert_eq!(k.flow.screen(), Screen::Attract);
}

#[test]
fn typing_restarts_the_inactivity_timer_and_wipes_typed_digits() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::Myself);
    k.type_in("110105");
    let Screen::Identity { echo, state, .. } = k.flow.screen() else {
        panic!()
    };
    assert_eq!(echo, "1101*5");
    assert_eq!(state, EntryState::Incomplete { typed: 6 });
    let first = k.timers[0];
    assert!(
        k.send(Event::Timer(first)).is_empty(),
        "restarted by typing"
    );
    k.fire_latest_inactivity();
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
}

#[test]
fn keypad_validates_live() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::Myself);
    // Letters other than X are ignored; X is accepted as the check digit.
    k.type_in("11010519491231002");
    k.intent(Intent::Key('A'));
    k.intent(Intent::Key('x'));
    let Screen::Identity { echo, state, .. } = k.flow.screen() else {
        panic!()
    };
    assert_eq!(echo, "1101**********002X");
    assert_eq!(state, EntryState::Valid);
    // A wrong check digit is reported and cannot be submitted.
    k.intent(Intent::Backspace);
    k.intent(Intent::Key('1'));
    let Screen::Identity { state, .. } = k.flow.screen() else {
        panic!()
    };
    assert!(matches!(state, EntryState::Invalid { .. }), "{state:?}");
    assert!(
        k.intent(Intent::Submit)
            .iter()
            .all(|e| !matches!(e, Effect::CheckEligibility { .. }))
    );
    // Nothing past 18 characters.
    k.intent(Intent::Key('9'));
    let Screen::Identity { echo, .. } = k.flow.screen() else {
        panic!()
    };
    assert_eq!(echo.chars().count(), 18);
    k.intent(Intent::Clear);
    let Screen::Identity { state, .. } = k.flow.screen() else {
        panic!()
    };
    assert_eq!(state, EntryState::Incomplete { typed: 0 });
}

#[test]
fn back_steps_through_the_screens() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::ForSomeoneElse);
    k.submit_id(OPERATOR);
    k.intent(Intent::Back);
    assert!(matches!(
        k.flow.screen(),
        Screen::Identity {
            role: Role::Operator,
            ..
        }
    ));
    k.intent(Intent::Back);
    assert_eq!(
        k.flow.screen(),
        Screen::Who {
            purpose: Purpose::Certify
        }
    );
    k.intent(Intent::Back);
    assert_eq!(k.flow.screen(), Screen::Consent);
    k.intent(Intent::Back);
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
}

#[test]
fn history_for_oneself() {
    let mut k = Kiosk::new();
    k.intent(Intent::QueryHistory);
    assert_eq!(
        k.flow.screen(),
        Screen::Who {
            purpose: Purpose::History
        }
    );
    k.intent(Intent::Myself);
    let fx = k.submit_id(PENSIONER);
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchHistory { .. })));
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::CheckEligibility { .. }))
    );
    assert_eq!(k.flow.screen(), Screen::HistoryLoading);
    let entries = vec![HistoryEntry {
        on: date!(2025 - 03 - 10),
        result: CertResult::Passed,
        method: Method::Kiosk,
    }];
    let request = k.req();
    k.send(Event::History {
        request,
        outcome: Ok(entries.clone()),
    });
    assert_eq!(
        k.flow.screen(),
        Screen::History {
            masked_id: "1101**********002X".into(),
            entries
        }
    );
    assert!(!k.effects.contains(&Effect::CameraOn));
}

#[test]
fn history_by_proxy_when_offline() {
    let mut k = Kiosk::new();
    k.intent(Intent::QueryHistory);
    k.intent(Intent::ForSomeoneElse);
    k.submit_id(OPERATOR);
    k.submit_id(PENSIONER);
    let request = k.req();
    k.send(Event::History {
        request,
        outcome: Err(ServiceFailure::Unreachable),
    });
    // No offline evidence for a history query.
    assert_eq!(
        k.flow.screen(),
        Screen::ServiceUnavailable {
            offline_allowed: false
        }
    );
    assert!(
        k.intent(Intent::ContinueOffline)
            .iter()
            .all(|e| !matches!(e, Effect::StartCapture { .. }))
    );
}

#[test]
fn staff_pin_lockout_after_failures() {
    let mut k = Kiosk::with(FlowConfig {
        staff_pin_max_failures: 3,
        ..FlowConfig::default()
    });
    k.intent(Intent::Staff);
    for failures in 1..=3u8 {
        k.type_in("1234");
        let fx = k.intent(Intent::Submit);
        let Some(Effect::VerifyPin { pin, .. }) =
            fx.iter().find(|e| matches!(e, Effect::VerifyPin { .. }))
        else {
            panic!("no verify: {fx:?}")
        };
        assert_eq!(pin, "1234");
        assert!(
            !k.flow.holds_identity(),
            "the PIN is not kept while it is checked"
        );
        let request = k.req();
        k.send(Event::PinChecked { request, ok: false });
        let Screen::StaffPin {
            failures: f,
            locked,
            ..
        } = k.flow.screen()
        else {
            panic!()
        };
        assert_eq!(f, failures);
        assert_eq!(locked, failures == 3);
    }
    assert!(k.spoke(Prompt::StaffLocked));
    // While locked, nothing can be typed or submitted, even after leaving.
    k.intent(Intent::Home);
    k.intent(Intent::Staff);
    k.type_in("246810");
    assert!(
        k.intent(Intent::Submit)
            .iter()
            .all(|e| !matches!(e, Effect::VerifyPin { .. }))
    );
    // The lockout timer ends the lockout; then the right PIN works.
    let lockout = k
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::StartTimer { id, after } if *after == Duration::from_secs(300) => Some(*id),
            _ => None,
        })
        .unwrap();
    k.send(Event::Timer(lockout));
    k.type_in("246810");
    k.intent(Intent::Submit);
    let request = k.req();
    k.send(Event::PinChecked { request, ok: true });
    assert_eq!(k.flow.screen(), Screen::StaffHome { faults: vec![] });
    assert!(k.intent(Intent::SyncNow).contains(&Effect::SyncNow));
    assert!(k.intent(Intent::SelfTest).contains(&Effect::CameraOn));
    assert_eq!(k.flow.screen(), Screen::StaffSelfTest);
    assert!(k.intent(Intent::Back).contains(&Effect::CameraOff));
    k.intent(Intent::ExitStaff);
    assert_eq!(k.flow.screen(), Screen::Attract);
}

#[test]
fn camera_fault_takes_the_kiosk_out_of_service_until_it_recovers() {
    let mut k = Kiosk::new();
    k.send(Event::Fault(Part::Camera));
    assert_eq!(
        k.flow.screen(),
        Screen::OutOfService {
            faults: vec![Part::Camera]
        }
    );
    assert!(k.spoke(Prompt::OutOfService));
    // Pensioners cannot start; staff can still come in.
    k.intent(Intent::StartCertification);
    assert!(matches!(k.flow.screen(), Screen::OutOfService { .. }));
    k.send(Event::Recovered(Part::Camera));
    assert_eq!(k.flow.screen(), Screen::Attract);
}

#[test]
fn camera_unplugged_during_capture_fails_then_goes_out_of_service() {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    let fx = k.send(Event::Fault(Part::Camera));
    assert!(fx.contains(&Effect::CameraOff));
    assert_eq!(
        k.flow.screen(),
        Screen::Failed {
            reason: FailReason::DeviceFault,
            attempts_left: 0,
            appeal: false
        }
    );
    k.intent(Intent::Home);
    assert!(matches!(k.flow.screen(), Screen::OutOfService { .. }));
    k.send(Event::Recovered(Part::Camera));
    assert_eq!(k.flow.screen(), Screen::Attract);
}

#[test]
fn optional_parts_do_not_stop_service() {
    let mut k = Kiosk::new();
    k.send(Event::Fault(Part::CardReader));
    k.send(Event::Fault(Part::Server));
    assert_eq!(k.flow.screen(), Screen::Attract);
    k.send(Event::Fault(Part::Printer));
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    k.capture_done(CaptureOutcome::Matched { score: 0.9 });
    let request = k.req();
    k.send(Event::Recorded {
        request,
        receipt: "R".into(),
    });
    assert!(matches!(
        k.flow.screen(),
        Screen::Success {
            can_print: false,
            ..
        }
    ));
    assert!(
        !k.intent(Intent::Print)
            .iter()
            .any(|e| matches!(e, Effect::PrintReceipt(_)))
    );
}

#[test]
fn store_failure_is_shown_and_takes_the_kiosk_out_of_service() {
    let mut k = Kiosk::new();
    k.reach_status(false, Ok(due("110105")));
    k.start_capture();
    k.capture_done(CaptureOutcome::Matched { score: 0.9 });
    let request = k.req();
    k.send(Event::RecordFailed { request });
    assert_eq!(k.flow.screen(), Screen::StoreFailed);
    k.intent(Intent::Home);
    assert!(
        matches!(k.flow.screen(), Screen::OutOfService { faults } if faults == vec![Part::Store])
    );
}

#[test]
fn stale_completions_are_ignored() {
    let mut k = Kiosk::new();
    k.intent(Intent::StartCertification);
    k.intent(Intent::Accept);
    k.intent(Intent::Myself);
    k.submit_id(PENSIONER);
    let old = k.req();
    k.intent(Intent::Home);
    k.intent(Intent::StartCertification);
    assert!(
        k.send(Event::Eligibility {
            request: old,
            outcome: Ok(due("110105"))
        })
        .is_empty()
    );
    assert_eq!(k.flow.screen(), Screen::Consent);
}

#[test]
fn prompts_have_text_and_distinct_clips() {
    let prompts = Prompt::all();
    let clips: BTreeSet<String> = prompts.iter().map(|p| p.clip()).collect();
    assert_eq!(clips.len(), prompts.len());
    assert!(clips.contains("staff_locked"));
    assert!(clips.contains("do_turn_left"));
    assert!(clips.contains("hint_toodark"));
    assert!(clips.contains("enrol_capture"));
    assert!(prompts.iter().all(|p| !p.text_zh().is_empty()));
    // Every action and every hint is voiced.
    for action in Action::ALL {
        assert!(prompts.contains(&Prompt::Do(action)));
    }
    for hint in QualityHint::ALL {
        assert!(prompts.contains(&Prompt::Hint(hint)));
    }
}

#[test]
fn staff_enrolment_collects_frames_then_returns_to_the_menu() {
    let mut k = Kiosk::new();
    k.intent(Intent::Staff);
    k.type_in("246810");
    k.intent(Intent::Submit);
    let request = k.req();
    let fx = k.send(Event::PinChecked { request, ok: true });
    assert!(fx.contains(&Effect::Speak(Prompt::StaffMenu)));
    let fx = k.intent(Intent::Enrol);
    assert!(fx.contains(&Effect::Speak(Prompt::EnrolId)));
    assert!(!k.flow.camera_on(), "no camera while the ID is typed");
    k.type_in(PENSIONER);
    assert!(matches!(
        k.flow.screen(),
        Screen::StaffEnrolId {
            state: EntryState::Valid,
            ..
        }
    ));
    let fx = k.intent(Intent::Submit);
    assert!(fx.contains(&Effect::CameraOn));
    let Some(Effect::StartEnrolment { person, .. }) = fx
        .iter()
        .find(|e| matches!(e, Effect::StartEnrolment { .. }))
    else {
        panic!("no enrolment started: {fx:?}")
    };
    assert_eq!(person, &id(PENSIONER));
    let request = k.req();
    k.send(Event::EnrolProgress {
        request,
        good: 2,
        needed: 5,
        hint: Some(QualityHint::TooDark),
    });
    let Screen::StaffEnrolCapture {
        masked_id,
        good,
        needed,
        hint,
    } = k.flow.screen()
    else {
        panic!("{:?}", k.flow.screen())
    };
    assert_eq!((good, needed, hint), (2, 5, Some(QualityHint::TooDark)));
    assert!(!masked_id.contains(PENSIONER) && masked_id.contains('*'));
    // A stale completion is ignored.
    k.send(Event::EnrolDone {
        request: RequestId(1),
        outcome: EnrolOutcome::NotEnoughFrames,
    });
    assert!(matches!(k.flow.screen(), Screen::StaffEnrolCapture { .. }));
    let fx = k.send(Event::EnrolDone {
        request,
        outcome: EnrolOutcome::NotEnoughFrames,
    });
    assert!(fx.contains(&Effect::CameraOff));
    assert!(fx.contains(&Effect::Speak(Prompt::EnrolFailed)));
    // Retry starts a fresh capture for the same person.
    let fx = k.intent(Intent::Retry);
    assert!(fx.contains(&Effect::CameraOn));
    let request = k.req();
    let fx = k.send(Event::EnrolDone {
        request,
        outcome: EnrolOutcome::Saved {
            frames: 5,
            sent: false,
        },
    });
    assert!(fx.contains(&Effect::Speak(Prompt::EnrolDone)));
    assert!(matches!(
        k.flow.screen(),
        Screen::StaffEnrolDone {
            outcome: EnrolOutcome::Saved { .. },
            ..
        }
    ));
    assert!(k.flow.holds_identity());
    let fx = k.intent(Intent::Back);
    assert!(fx.contains(&Effect::WipeSession));
    assert!(matches!(k.flow.screen(), Screen::StaffHome { .. }));
    assert!(!k.flow.holds_identity(), "the enrolled ID is wiped");
}

#[test]
fn leaving_enrolment_capture_cancels_it_and_turns_the_camera_off() {
    let mut k = Kiosk::new();
    k.intent(Intent::Staff);
    k.type_in("246810");
    k.intent(Intent::Submit);
    let request = k.req();
    k.send(Event::PinChecked { request, ok: true });
    k.intent(Intent::Enrol);
    k.type_in(PENSIONER);
    k.intent(Intent::Submit);
    let fx = k.intent(Intent::ExitStaff);
    assert!(fx.contains(&Effect::CancelCapture));
    assert!(fx.contains(&Effect::CameraOff));
    assert_eq!(k.flow.screen(), Screen::Attract);
    assert!(!k.flow.holds_identity());
}

// ----- random event sequences ---------------------------------------------------

/// One random step. Completions refer to the latest request so that they can
/// land, or to an arbitrary (usually stale) id.
#[derive(Debug, Clone)]
enum Step {
    Intent(u8),
    Key(char),
    Card(bool),
    /// 0 problem, 1 removed, 2 printed, 3 print failed.
    Peripheral(u8),
    Eligibility(u8, bool),
    Capture(u8, bool),
    Liveness(bool),
    Action(bool),
    Recorded(bool),
    RecordFailed(bool),
    History(bool, bool),
    Pin(bool, bool),
    Fault(u8),
    Recovered(u8),
    Timer(u8),
    Enrol(u8, bool),
}

const INTENTS: [Intent; 23] = [
    Intent::Enrol,
    Intent::StartCertification,
    Intent::QueryHistory,
    Intent::Staff,
    Intent::Accept,
    Intent::Decline,
    Intent::Myself,
    Intent::ForSomeoneElse,
    Intent::Backspace,
    Intent::Clear,
    Intent::Submit,
    Intent::Ready,
    Intent::Retry,
    Intent::RetryService,
    Intent::ContinueOffline,
    Intent::Appeal,
    Intent::Print,
    Intent::Back,
    Intent::Home,
    Intent::SyncNow,
    Intent::SelfTest,
    Intent::ExitStaff,
    Intent::Submit,
];

const PARTS: [Part; 7] = Part::ALL;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..INTENTS.len() as u8).prop_map(Step::Intent),
        3 => proptest::sample::select(vec!['0', '1', '2', '4', '5', '9', 'X']).prop_map(Step::Key),
        1 => any::<bool>().prop_map(Step::Card),
        1 => (0..4u8).prop_map(Step::Peripheral),
        2 => (0..8u8, any::<bool>()).prop_map(|(k, l)| Step::Eligibility(k, l)),
        2 => (0..7u8, any::<bool>()).prop_map(|(k, l)| Step::Capture(k, l)),
        1 => any::<bool>().prop_map(Step::Liveness),
        1 => any::<bool>().prop_map(Step::Action),
        1 => any::<bool>().prop_map(Step::Recorded),
        1 => any::<bool>().prop_map(Step::RecordFailed),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(ok, l)| Step::History(ok, l)),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(ok, l)| Step::Pin(ok, l)),
        1 => (0..6u8).prop_map(Step::Fault),
        1 => (0..6u8).prop_map(Step::Recovered),
        1 => (0..8u8).prop_map(Step::Timer),
        1 => (0..4u8, any::<bool>()).prop_map(|(k, l)| Step::Enrol(k, l)),
    ]
}

fn to_event(k: &Kiosk, step: Step) -> Event {
    let pick = |latest: bool| {
        if latest {
            k.request.unwrap_or(RequestId(0))
        } else {
            RequestId(1)
        }
    };
    match step {
        Step::Intent(i) => Event::Intent(INTENTS[usize::from(i) % INTENTS.len()].clone()),
        Step::Key(c) => Event::Intent(Intent::Key(c)),
        Step::Card(op) => Event::CardRead(id(if op { OPERATOR } else { PENSIONER })),
        Step::Peripheral(0) => Event::CardProblem("读卡失败"),
        Step::Peripheral(1) => Event::CardRemoved,
        Step::Peripheral(2) => Event::PrintDone(Ok(())),
        Step::Peripheral(_) => Event::PrintDone(Err("打印机缺纸")),
        Step::Eligibility(kind, latest) => Event::Eligibility {
            request: pick(latest),
            outcome: match kind {
                0 => Ok(due("110105")),
                1 => Ok(due("450403")),
                2 => Ok(PersonStatus::NotInScope),
                3 => Ok(PersonStatus::NoTemplate),
                4 => Ok(PersonStatus::Suspended {
                    since: date!(2026 - 01 - 01),
                }),
                5 => Err(ServiceFailure::Unreachable),
                6 => Ok(PersonStatus::AlreadyCertified {
                    on: date!(2026 - 01 - 01),
                    next_deadline: date!(2027 - 01 - 31),
                }),
                _ => Err(ServiceFailure::Server { code: "x".into() }),
            },
        },
        Step::Capture(kind, latest) => Event::CaptureDone {
            request: pick(latest),
            outcome: match kind {
                0 | 1 => CaptureOutcome::Matched { score: 0.9 },
                2 => CaptureOutcome::EvidenceCaptured,
                3 => CaptureOutcome::Failed(CaptureFailure::Mismatch),
                4 => CaptureOutcome::Failed(CaptureFailure::Timeout),
                5 => CaptureOutcome::Failed(CaptureFailure::DeviceFault),
                _ => CaptureOutcome::Failed(CaptureFailure::LivenessIncomplete { action: None }),
            },
            at: datetime!(2026-03-10 09:30 +8),
        },
        Step::Liveness(latest) => Event::LivenessDone {
            request: pick(latest),
        },
        Step::Action(latest) => Event::ActionStarted {
            request: pick(latest),
            index: 0,
            total: 2,
            action: Action::OpenMouth,
        },
        Step::Recorded(latest) => Event::Recorded {
            request: pick(latest),
            receipt: "R".into(),
        },
        Step::RecordFailed(latest) => Event::RecordFailed {
            request: pick(latest),
        },
        Step::History(ok, latest) => Event::History {
            request: pick(latest),
            outcome: if ok {
                Ok(vec![])
            } else {
                Err(ServiceFailure::Unreachable)
            },
        },
        Step::Pin(ok, latest) => Event::PinChecked {
            request: pick(latest),
            ok,
        },
        Step::Enrol(kind, latest) => match kind {
            0 => Event::EnrolProgress {
                request: pick(latest),
                good: 1,
                needed: 5,
                hint: Some(QualityHint::Blurry),
            },
            1 => Event::EnrolDone {
                request: pick(latest),
                outcome: EnrolOutcome::Saved {
                    frames: 5,
                    sent: false,
                },
            },
            2 => Event::EnrolDone {
                request: pick(latest),
                outcome: EnrolOutcome::NotEnoughFrames,
            },
            _ => Event::EnrolDone {
                request: pick(latest),
                outcome: EnrolOutcome::DeviceFault,
            },
        },
        Step::Fault(p) => Event::Fault(PARTS[usize::from(p) % PARTS.len()]),
        Step::Recovered(p) => Event::Recovered(PARTS[usize::from(p) % PARTS.len()]),
        Step::Timer(back) => {
            let n = k.timers.len();
            Event::Timer(
                k.timers
                    .get(n.saturating_sub(usize::from(back) + 1))
                    .copied()
                    .unwrap_or(TimerId(0)),
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_sequences_keep_the_invariants(steps in proptest::collection::vec(step(), 0..80)) {
        let mut k = Kiosk::new();
        for s in steps {
            let event = to_event(&k, s);
            let fx = k.send(event);
            let screen = k.flow.screen();
            // The camera is on only during capture and the staff self-test.
            if k.flow.camera_on() {
                prop_assert!(matches!(screen, Screen::Capture { .. } | Screen::StaffSelfTest | Screen::StaffEnrolCapture { .. }), "{screen:?}");
            }
            // Camera effects always agree with the flow's own view.
            let last_cam = fx.iter().rev().find(|e| matches!(e, Effect::CameraOn | Effect::CameraOff));
            if let Some(e) = last_cam {
                prop_assert_eq!(e == &Effect::CameraOn, k.flow.camera_on());
            }
            // A wipe that lands on an idle screen leaves no identity data.
            if fx.contains(&Effect::WipeSession) && matches!(screen, Screen::Attract | Screen::OutOfService { .. }) {
                prop_assert!(!k.flow.holds_identity());
            }
            // Screens never carry a full ID number.
            let text = format!("{screen:?}");
            prop_assert!(!text.contains(PENSIONER) && !text.contains(OPERATOR), "{text}");
        }
        // Whatever happened, the kiosk can always get back to attract: first
        // by Home, and in any case by the inactivity timer.
        let mut back = k.flow.clone();
        back.handle(Event::Intent(Intent::Home));
        let screen = back.screen();
        prop_assert!(matches!(screen, Screen::Attract | Screen::OutOfService { .. }), "{:?}", screen);
        prop_assert!(!back.holds_identity());
        k.fire_latest_inactivity();
        prop_assert!(matches!(k.flow.screen(), Screen::Attract | Screen::OutOfService { .. }), "{:?}", k.flow.screen());
        prop_assert!(!k.flow.holds_identity());
        prop_assert!(!k.flow.camera_on());
    }
}
