//! What the card-reader codec fuzzers share: the proptest
//! (`tests/reader_fuzz.rs`) and the time-boxed bench
//! (`benches/reader_fuzz.rs`) generate streams their own way from these
//! sample cards, SW3 codes and commands, and both run them with `drive`.
//! Both include this file with `#[path = …] mod stream_gen;` (a file in a
//! subdirectory of `tests/` is no test target of its own).

use lifecert_core::reader::frame::{Baud, MAX_LEN, PREAMBLE};
use lifecert_core::reader::text::{decode_text, parse_read, sam_id};
use lifecert_core::reader::{CardText, CardType, Command, Deframer, Payload, Poller, Validity};
use time::macros::date;

/// SW3 codes a stream's response frames are built with (besides random ones).
pub const SW3S: [u8; 12] = [
    0x90, 0x9F, 0x80, 0x41, 0x81, 0x10, 0x60, 0x66, 0x31, 0x40, 0x24, 0x91,
];

/// Every request a stream's request frames are built from.
pub const COMMANDS: [Command; 9] = [
    Command::Reset,
    Command::SamStatus,
    Command::SamId,
    Command::FindCard,
    Command::SelectCard,
    Command::ReadTextPhoto,
    Command::SetBaud(Baud::B9600),
    Command::SetBaud(Baud::B19200),
    Command::SetRfBytes(0x50),
];

/// Sample cards of the four types (the demo resident card first), the base
/// of valid 30 01 reads and of damaged text blocks.
pub fn samples() -> Vec<CardText> {
    let resident = CardText::demo();
    let permit = CardText {
        card_type: CardType::HkMacauTaiwan,
        nation: None,
        number: "810000196001010012".into(),
        pass_number: Some("H12345678".into()),
        issue_count: Some("01".into()),
        valid_to: Validity::Until(date!(2030 - 01 - 01)),
        ..resident.clone()
    };
    let pr2017 = CardText {
        card_type: CardType::ForeignerPermanent,
        name: "史密斯".into(),
        english_name: Some("SMITH, JOHN".into()),
        nation: None,
        address: None,
        number: "CAN110000000015".into(),
        authority: Some("1100".into()),
        nationality: Some("CAN".into()),
        card_version: Some("17".into()),
        ..resident.clone()
    };
    let pr2023 = CardText {
        card_type: CardType::ForeignerPermanent2023,
        english_name: Some("VAN DER BERG-SMITHSON, JOHANNES ALEXANDER".into()),
        nation: None,
        address: None,
        authority: None,
        number: "932682198501010017".into(),
        issue_count: Some("00".into()),
        nationality: Some("NLD".into()),
        ..resident.clone()
    };
    vec![resident, permit, pr2017, pr2023]
}

/// Where a run's arbitrary choices come from.
pub trait Choices {
    /// The size of the next chunk handed to the Deframer (clamped to
    /// `1..=` what is left).
    fn chunk(&mut self) -> usize;
    /// What happens to the poller before a response, taken mod 8: 0 a poll
    /// timeout, 1 a reset, else nothing.
    fn perturb(&mut self) -> usize;
}

/// What one run saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Frames with a correct XOR.
    pub frames: u64,
    /// Complete 30 01 card reads among them.
    pub reads: u64,
    /// The Deframer's skipped bytes.
    pub garbage: u64,
    /// The Deframer's bad frames.
    pub bad: u64,
}

/// Feeds `input` to a Deframer in chunks and every frame it returns through
/// Payload decoding, parse_read / decode_text / sam_id and the Poller.
///
/// Panics on a broken invariant: a push grows the buffer by more than the
/// chunk, more than one incomplete frame stays buffered, a returned frame was
/// not in the input with a correct XOR, a counter goes down, or `clear`
/// leaves bytes behind.
pub fn drive(input: &[u8], choices: &mut impl Choices) -> Seen {
    let mut d = Deframer::new();
    let mut poller = Poller::new();
    let mut seen = Seen::default();
    let mut rest = input;
    while !rest.is_empty() {
        let n = choices.chunk().clamp(1, rest.len());
        let (chunk, more) = rest.split_at(n);
        rest = more;
        let before = d.buffered();
        d.push(chunk);
        assert!(d.buffered() <= before + chunk.len(), "push grew the buffer");
        while let Some(frame) = d.next_frame() {
            let Ok(payload) = frame else { continue };
            seen.frames += 1;
            let whole = rebuilt(&payload);
            assert!(
                input.windows(whole.len()).any(|w| w == whole),
                "a returned frame was not in the input with a correct XOR"
            );
            let _ = payload.request();
            let Ok(response) = payload.response() else {
                continue;
            };
            if parse_read(&response.data).is_ok() {
                seen.reads += 1;
            }
            let _ = decode_text(&response.data);
            let _ = sam_id(&response.data);
            match choices.perturb() % 8 {
                0 => {
                    let _ = poller.on_timeout();
                }
                1 => poller.reset(),
                _ => {}
            }
            let _ = poller.next_command();
            for event in poller.on_response(response) {
                let _ = format!("{event:?}");
            }
        }
        assert!(d.buffered() < 7 + MAX_LEN, "buffered {}", d.buffered());
        assert!(
            d.garbage_bytes() >= seen.garbage && d.bad_frames() >= seen.bad,
            "a Deframer counter went down"
        );
        seen.garbage = d.garbage_bytes();
        seen.bad = d.bad_frames();
    }
    d.clear();
    assert_eq!(d.buffered(), 0, "clear left bytes behind");
    seen
}

/// The whole frame a payload came from, rebuilt with the XOR rule.
fn rebuilt(p: &Payload) -> Vec<u8> {
    // The Deframer returns payloads of at most MAX_LEN bytes; a truncated
    // length could only make the caller's "frame was in the input" check fail.
    let len = (p.0.len() + 1) as u16;
    let [l1, l2] = len.to_be_bytes();
    let mut f = PREAMBLE.to_vec();
    f.extend([l1, l2]);
    f.extend(&p.0);
    f.push(p.0.iter().fold(l1 ^ l2, |a, b| a ^ b));
    f
}
