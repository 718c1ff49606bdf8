//! The reading sequence (DOMAIN.md §1.5, after hev-idcard-reader) as a pure
//! state machine. The adapter owns the port and the clock:
//!
//! ```text
//! loop {
//!     match poller.next_command() {
//!         Some(cmd) => { send(request_frame(cmd));
//!                        match wait(Poller::response_timeout(cmd)) {
//!                            Some(r) => events(poller.on_response(r)),
//!                            None    => events(poller.on_timeout()) } }
//!         None => sleep(poller.idle_delay()),
//!     }
//! }
//! ```
//!
//! Sequence: at start (and while faulted) `SamStatus`; otherwise `FindCard`
//! after every idle delay. `9F` → `SelectCard` → `90` → `ReadTextPhoto` →
//! [`ReaderEvent::CardRead`] (the photo is dropped here and never leaves the
//! poller). While the same card stays (`9F` again) it is not read again; an
//! `80` after a read → [`ReaderEvent::CardRemoved`]. A card whose read failed
//! in a way that repeats (unknown type, undecodable text) is not re-read
//! until it has been taken away.
//!
//! Health: `SW3 10` (the reader got a damaged frame) → the same command is
//! sent once more. Three timeouts in a row, three reader errors in a row
//! (10 after the resend, 11, 21, 23, 24, 37, 47, unknown codes), or a SAM
//! fault (60, 66) → [`ReaderEvent::Fault`], once per kind. The next normal
//! answer → [`ReaderEvent::Online`].

use std::time::Duration;

use super::frame::{Command, Response};
use super::status::Sw3;
use super::text::{CardText, parse_read};

/// Pause between two card searches.
const IDLE_DELAY: Duration = Duration::from_secs(1);
/// Answer timeout for short commands.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);
/// Answer timeout for the 1295-byte read (card access plus 1.35 s of
/// transfer at 9600 bit/s).
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Consecutive timeouts or reader errors before a fault is reported.
const FAULT_AFTER: u32 = 3;

/// Screen text when the read data cannot be decoded.
const MSG_UNREADABLE: &str = "未能读取身份证，请把身份证平放在阅读器感应区，不要移动";

/// What the adapter reports upward.
// CardRead is the event that matters; boxing it would change the fixed API.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was read (text only; the photo is dropped by the poller).
    CardRead(CardText),
    /// The card that was read has been taken away (an 80 after a success).
    CardRemoved,
    /// A read failed in a way the user can fix (41 card moved, 81 select failed,
    /// 31/32/33 auth, 40 unknown type, undecodable text): message for the screen.
    ReadFailed {
        /// The reader's status, `None` when the reader said OK but the text
        /// could not be decoded.
        sw3: Option<Sw3>,
        /// Plain words for the user.
        message: &'static str,
    },
    /// The reader answered: it is alive (first answer after start or after a fault).
    Online,
    /// The reader misbehaves (SAM self-test failed 60/66, repeated timeouts): staff text.
    Fault(String),
}

/// Why the reader is considered faulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    NoResponse,
    Sam,
    Errors,
}

/// Where the card is in the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardState {
    /// No card known on the reader.
    Absent,
    /// A card has been read and is still there.
    Read,
    /// A card failed in a repeatable way and is still there.
    Rejected,
}

/// The reading sequence. Holds no card data: a read card's text is handed
/// out in [`ReaderEvent::CardRead`] and its photo dropped (zeroed).
#[derive(Debug)]
pub struct Poller {
    /// The command to send at the next `next_command` call.
    queued: Option<Command>,
    /// The command sent and not yet answered.
    pending: Option<Command>,
    /// Whether `pending` is already a resend after SW3 10.
    resent: bool,
    card: CardState,
    online: bool,
    fault: Option<FaultKind>,
    timeouts: u32,
    errors: u32,
}

impl Default for Poller {
    fn default() -> Self {
        Poller::new()
    }
}

impl Poller {
    /// A poller at the start of the sequence (first command: `SamStatus`).
    pub fn new() -> Poller {
        Poller {
            queued: Some(Command::SamStatus),
            pending: None,
            resent: false,
            card: CardState::Absent,
            online: false,
            fault: None,
            timeouts: 0,
            errors: 0,
        }
    }

    /// The next command to send now, or `None` to wait [`idle_delay`](Self::idle_delay)
    /// (the call after that returns the next search).
    pub fn next_command(&mut self) -> Option<Command> {
        match self.queued.take() {
            Some(cmd) => {
                if self.pending != Some(cmd) {
                    self.resent = false;
                }
                self.pending = Some(cmd);
                Some(cmd)
            }
            None => {
                self.pending = None;
                self.resent = false;
                self.queued = Some(if self.online && self.fault.is_none() {
                    Command::FindCard
                } else {
                    Command::SamStatus
                });
                None
            }
        }
    }

    /// Pause between searches.
    pub fn idle_delay(&self) -> Duration {
        IDLE_DELAY
    }

    /// How long to wait for the answer to `cmd`.
    pub fn response_timeout(cmd: Command) -> Duration {
        match cmd {
            Command::ReadTextPhoto => READ_TIMEOUT,
            _ => SHORT_TIMEOUT,
        }
    }

    /// Feed the answer to the command last returned by `next_command`.
    pub fn on_response(&mut self, response: Response) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        let sent = self.pending.take();
        self.timeouts = 0;
        let sw3 = response.sw3;

        // Reader-level statuses first: they do not depend on the command.
        match sw3 {
            Sw3::BadChecksum if !self.resent => {
                // The reader got a damaged frame: send the same command again, once.
                if let Some(cmd) = sent {
                    self.queued = Some(cmd);
                    self.pending = Some(cmd);
                    self.resent = true;
                }
                return events;
            }
            Sw3::SamSelfTestFailed | Sw3::SamUnauthorized => {
                self.raise(
                    FaultKind::Sam,
                    format!(
                        "身份证阅读器安全模块故障（SW3 {:02X}：{}），请重启阅读器或联系厂家",
                        sw3.code(),
                        sw3.meaning()
                    ),
                    &mut events,
                );
                self.idle();
                return events;
            }
            Sw3::BadChecksum
            | Sw3::BadLength
            | Sw3::BadCommand
            | Sw3::Unauthorized
            | Sw3::UnknownError
            | Sw3::FingerprintError
            | Sw3::RandomFailed
            | Sw3::Other(_) => {
                self.errors = self.errors.saturating_add(1);
                if self.errors >= FAULT_AFTER {
                    self.raise(
                        FaultKind::Errors,
                        format!(
                            "身份证阅读器连续{FAULT_AFTER}次返回错误（SW3 {:02X}：{}），请检查阅读器和连接线",
                            sw3.code(),
                            sw3.meaning()
                        ),
                        &mut events,
                    );
                }
                self.idle();
                return events;
            }
            _ => {}
        }

        // A normal answer: the reader works.
        self.errors = 0;
        if !self.online || self.fault.is_some() {
            self.online = true;
            self.fault = None;
            events.push(ReaderEvent::Online);
        }

        match (sent, sw3) {
            (Some(Command::SamStatus), Sw3::Success) => {
                self.queued = Some(Command::FindCard);
            }
            // The same card still there after a read (or a rejected one): wait.
            (Some(Command::FindCard), Sw3::FindOk) if self.card == CardState::Absent => {
                self.queued = Some(Command::SelectCard);
            }
            (Some(Command::FindCard), Sw3::NoCard) => {
                if self.card == CardState::Read {
                    events.push(ReaderEvent::CardRemoved);
                }
                self.card = CardState::Absent;
            }
            (Some(Command::SelectCard), Sw3::Success) => {
                self.queued = Some(Command::ReadTextPhoto);
            }
            (Some(Command::ReadTextPhoto), Sw3::Success) => match parse_read(&response.data) {
                Ok((text, photo)) => {
                    drop(photo);
                    self.card = CardState::Read;
                    events.push(ReaderEvent::CardRead(text));
                }
                Err(_) => {
                    self.card = CardState::Rejected;
                    events.push(ReaderEvent::ReadFailed {
                        sw3: None,
                        message: MSG_UNREADABLE,
                    });
                }
            },
            (Some(Command::SelectCard | Command::ReadTextPhoto), Sw3::UnknownCardType) => {
                self.card = CardState::Rejected;
                events.push(ReaderEvent::ReadFailed {
                    sw3: Some(sw3),
                    message: sw3.user_message(),
                });
            }
            (
                Some(Command::SelectCard | Command::ReadTextPhoto),
                Sw3::ReadFailed
                | Sw3::SelectFailed
                | Sw3::CardAuthSamFailed
                | Sw3::SamAuthCardFailed
                | Sw3::VerifyFailed
                | Sw3::InfoLength,
            ) => {
                events.push(ReaderEvent::ReadFailed {
                    sw3: Some(sw3),
                    message: sw3.user_message(),
                });
            }
            // Anything else (a card gone between find and read, an answer
            // nobody asked for, a status that does not fit): search again.
            _ => {}
        }
        events
    }

    /// The answer to the pending command did not come in time.
    pub fn on_timeout(&mut self) -> Vec<ReaderEvent> {
        let mut events = Vec::new();
        self.timeouts = self.timeouts.saturating_add(1);
        if self.timeouts >= FAULT_AFTER {
            self.raise(
                FaultKind::NoResponse,
                format!(
                    "身份证阅读器无响应（连续{FAULT_AFTER}次超时），请检查阅读器的连接线和电源"
                ),
                &mut events,
            );
        }
        self.idle();
        events
    }

    /// Port lost / reopened: back to the start.
    pub fn reset(&mut self) {
        *self = Poller::new();
    }

    /// Nothing more to send in this round: wait, then search (or probe).
    fn idle(&mut self) {
        self.queued = None;
        self.pending = None;
        self.resent = false;
    }

    /// Report a fault once per kind.
    fn raise(&mut self, kind: FaultKind, text: String, events: &mut Vec<ReaderEvent>) {
        if self.fault != Some(kind) {
            self.fault = Some(kind);
            events.push(ReaderEvent::Fault(text));
        }
        self.online = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::reader::text::{PHOTO_LEN, build_read};

    fn resp(sw3: u8, data: Vec<u8>) -> Response {
        Response {
            sw1: 0,
            sw2: 0,
            sw3: Sw3::from_code(sw3),
            data,
        }
    }

    fn read_data() -> Vec<u8> {
        build_read(&CardText::demo(), &[0x5A; PHOTO_LEN]).unwrap()
    }

    /// A poller past the start: SamStatus answered, idle.
    fn online() -> Poller {
        let mut p = Poller::new();
        assert_eq!(p.next_command(), Some(Command::SamStatus));
        assert_eq!(p.on_response(resp(0x90, vec![])), vec![ReaderEvent::Online]);
        p
    }

    /// Expect `cmd` next (after at most one idle pause).
    fn expect(p: &mut Poller, cmd: Command) {
        let got = p.next_command().or_else(|| p.next_command());
        assert_eq!(got, Some(cmd));
    }

    /// Find → 9F → select → 90 → read → 90: the card is read.
    fn read_card(p: &mut Poller) {
        expect(p, Command::FindCard);
        assert!(p.on_response(resp(0x9F, vec![0; 4])).is_empty());
        assert_eq!(p.next_command(), Some(Command::SelectCard));
        assert!(p.on_response(resp(0x90, vec![0; 8])).is_empty());
        assert_eq!(p.next_command(), Some(Command::ReadTextPhoto));
        assert_eq!(
            p.on_response(resp(0x90, read_data())),
            vec![ReaderEvent::CardRead(CardText::demo())]
        );
    }

    #[test]
    fn starts_with_status_then_finds() {
        let mut p = online();
        // SamStatus 90 → find right away.
        assert_eq!(p.next_command(), Some(Command::FindCard));
    }

    #[test]
    fn no_card_waits_then_finds_again() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        assert!(p.on_response(resp(0x80, vec![])).is_empty());
        assert_eq!(p.next_command(), None, "idle after no card");
        assert_eq!(p.idle_delay(), Duration::from_secs(1));
        assert_eq!(p.next_command(), Some(Command::FindCard));
    }

    #[test]
    fn full_read_then_same_card_then_removed() {
        let mut p = online();
        read_card(&mut p);
        // The photo never leaves the poller: the only event is the text.
        assert_eq!(p.next_command(), None);
        assert_eq!(p.next_command(), Some(Command::FindCard));
        // Same card still there: no second read.
        assert!(p.on_response(resp(0x9F, vec![0; 4])).is_empty());
        assert_eq!(p.next_command(), None);
        assert_eq!(p.next_command(), Some(Command::FindCard));
        assert!(p.on_response(resp(0x9F, vec![0; 4])).is_empty());
        assert_eq!(p.next_command(), None);
        // Taken away.
        assert_eq!(p.next_command(), Some(Command::FindCard));
        assert_eq!(
            p.on_response(resp(0x80, vec![])),
            vec![ReaderEvent::CardRemoved]
        );
        // A second 80 says nothing more; the next card is read again.
        expect(&mut p, Command::FindCard);
        assert!(p.on_response(resp(0x80, vec![])).is_empty());
        read_card(&mut p);
    }

    #[test]
    fn card_moved_during_read_is_reported_and_retried() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        p.on_response(resp(0x9F, vec![0; 4]));
        assert_eq!(p.next_command(), Some(Command::SelectCard));
        p.on_response(resp(0x90, vec![0; 8]));
        assert_eq!(p.next_command(), Some(Command::ReadTextPhoto));
        let mut moved = resp(0x41, vec![]);
        moved.sw1 = 0x6A; // SW1/SW2 may be non-zero with 41
        moved.sw2 = 0x82;
        assert_eq!(
            p.on_response(moved),
            vec![ReaderEvent::ReadFailed {
                sw3: Some(Sw3::ReadFailed),
                message: Sw3::ReadFailed.user_message(),
            }]
        );
        // The next find retries and reads.
        read_card(&mut p);
    }

    #[test]
    fn select_failure_and_auth_failures_are_user_fixable() {
        for code in [0x81, 0x31, 0x32, 0x33] {
            let mut p = online();
            expect(&mut p, Command::FindCard);
            p.on_response(resp(0x9F, vec![0; 4]));
            assert_eq!(p.next_command(), Some(Command::SelectCard));
            let sw3 = Sw3::from_code(code);
            assert_eq!(
                p.on_response(resp(code, vec![])),
                vec![ReaderEvent::ReadFailed {
                    sw3: Some(sw3),
                    message: sw3.user_message()
                }]
            );
            read_card(&mut p);
        }
    }

    #[test]
    fn undecodable_text_is_reported_once_until_removed() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        p.on_response(resp(0x9F, vec![0; 4]));
        p.next_command();
        p.on_response(resp(0x90, vec![0; 8]));
        assert_eq!(p.next_command(), Some(Command::ReadTextPhoto));
        let mut data = read_data();
        data[4 + 248] = b'X'; // unknown card type flag
        let events = p.on_response(resp(0x90, data));
        assert_eq!(
            events,
            vec![ReaderEvent::ReadFailed {
                sw3: None,
                message: MSG_UNREADABLE
            }]
        );
        // Still there: not read again, no repeated message.
        expect(&mut p, Command::FindCard);
        assert!(p.on_response(resp(0x9F, vec![0; 4])).is_empty());
        assert_eq!(p.next_command(), None);
        // Removed (no CardRemoved: it was never read), then a good card.
        expect(&mut p, Command::FindCard);
        assert!(p.on_response(resp(0x80, vec![])).is_empty());
        read_card(&mut p);
    }

    #[test]
    fn unknown_card_type_status_is_not_retried_while_present() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        p.on_response(resp(0x9F, vec![0; 4]));
        p.next_command();
        p.on_response(resp(0x90, vec![0; 8]));
        p.next_command();
        assert_eq!(
            p.on_response(resp(0x40, vec![])),
            vec![ReaderEvent::ReadFailed {
                sw3: Some(Sw3::UnknownCardType),
                message: Sw3::UnknownCardType.user_message()
            }]
        );
        expect(&mut p, Command::FindCard);
        assert!(p.on_response(resp(0x9F, vec![0; 4])).is_empty());
        assert_eq!(p.next_command(), None);
    }

    #[test]
    fn bad_checksum_status_resends_once() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        p.on_response(resp(0x9F, vec![0; 4]));
        assert_eq!(p.next_command(), Some(Command::SelectCard));
        assert!(p.on_response(resp(0x10, vec![])).is_empty());
        assert_eq!(p.next_command(), Some(Command::SelectCard), "resent");
        // A second 10 in a row: not resent again.
        assert!(p.on_response(resp(0x10, vec![])).is_empty());
        assert_eq!(p.next_command(), None);
        assert_eq!(p.next_command(), Some(Command::FindCard));
        // The resend budget is per command: a fresh command may be resent.
        assert!(p.on_response(resp(0x10, vec![])).is_empty());
        assert_eq!(p.next_command(), Some(Command::FindCard));
        assert!(p.on_response(resp(0x80, vec![])).is_empty());
    }

    #[test]
    fn three_timeouts_fault_then_any_answer_is_online() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        assert!(p.on_timeout().is_empty());
        expect(&mut p, Command::FindCard);
        assert!(p.on_timeout().is_empty());
        expect(&mut p, Command::FindCard);
        let events = p.on_timeout();
        assert_eq!(events.len(), 1);
        match &events[0] {
            ReaderEvent::Fault(text) => assert!(text.contains("无响应"), "{text}"),
            other => panic!("{other:?}"),
        }
        // Faulted: the reader is probed with SamStatus, no repeated Fault.
        expect(&mut p, Command::SamStatus);
        assert!(p.on_timeout().is_empty());
        expect(&mut p, Command::SamStatus);
        assert_eq!(p.on_response(resp(0x80, vec![])), vec![ReaderEvent::Online]);
        expect(&mut p, Command::FindCard);
        // A timeout count restarts after an answer.
        assert!(p.on_timeout().is_empty());
        expect(&mut p, Command::FindCard);
        assert!(p.on_timeout().is_empty());
    }

    #[test]
    fn timeout_during_read_restarts_the_sequence() {
        let mut p = online();
        expect(&mut p, Command::FindCard);
        p.on_response(resp(0x9F, vec![0; 4]));
        p.next_command();
        p.on_response(resp(0x90, vec![0; 8]));
        assert_eq!(p.next_command(), Some(Command::ReadTextPhoto));
        assert!(p.on_timeout().is_empty());
        read_card(&mut p);
    }

    #[test]
    fn sam_fault_is_reported_once_and_cleared_by_a_good_status() {
        let mut p = Poller::new();
        assert_eq!(p.next_command(), Some(Command::SamStatus));
        let events = p.on_response(resp(0x60, vec![]));
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], ReaderEvent::Fault(t) if t.contains("60")));
        expect(&mut p, Command::SamStatus);
        assert!(p.on_response(resp(0x60, vec![])).is_empty());
        expect(&mut p, Command::SamStatus);
        let events = p.on_response(resp(0x66, vec![]));
        assert!(events.is_empty(), "same kind of fault: {events:?}");
        expect(&mut p, Command::SamStatus);
        assert_eq!(p.on_response(resp(0x90, vec![])), vec![ReaderEvent::Online]);
        assert_eq!(p.next_command(), Some(Command::FindCard));
    }

    #[test]
    fn repeated_reader_errors_fault() {
        let mut p = online();
        for code in [0x21, 0x24] {
            expect(&mut p, Command::FindCard);
            assert!(p.on_response(resp(code, vec![])).is_empty());
        }
        expect(&mut p, Command::FindCard);
        let events = p.on_response(resp(0x47, vec![]));
        assert!(matches!(&events[..], [ReaderEvent::Fault(t)] if t.contains("47")));
        expect(&mut p, Command::SamStatus);
        assert!(p.on_response(resp(0x11, vec![])).is_empty());
        expect(&mut p, Command::SamStatus);
        assert_eq!(p.on_response(resp(0x90, vec![])), vec![ReaderEvent::Online]);
    }

    #[test]
    fn reset_goes_back_to_the_start() {
        let mut p = online();
        read_card(&mut p);
        p.reset();
        assert_eq!(p.next_command(), Some(Command::SamStatus));
        assert_eq!(p.on_response(resp(0x90, vec![])), vec![ReaderEvent::Online]);
        // The card still on the reader after a reconnect is read again.
        read_card(&mut p);
    }

    #[test]
    fn response_timeouts() {
        assert!(Poller::response_timeout(Command::ReadTextPhoto) >= Duration::from_secs(2));
        assert_eq!(
            Poller::response_timeout(Command::FindCard),
            Duration::from_secs(1)
        );
        assert_eq!(
            Poller::response_timeout(Command::SamStatus),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn unsolicited_answer_does_not_start_a_read() {
        let mut p = online();
        assert_eq!(p.next_command(), Some(Command::FindCard));
        p.on_response(resp(0x80, vec![]));
        // A stray 90 with read data while nothing is pending.
        assert!(p.on_response(resp(0x90, read_data())).is_empty());
        assert_eq!(p.next_command(), None);
    }
}
