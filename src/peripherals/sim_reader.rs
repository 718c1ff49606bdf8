//! `lifecert simulate id-reader`: a SAM card reader on a pty.
//!
//! It speaks the reader's side of DOMAIN.md §1 byte for byte (frames built
//! by `lifecert_core::reader`), so the kiosk's adapter runs unchanged
//! against it. Cards are synthetic: the text comes from a JSON file (or a
//! built-in demo card) and the "photo" is 1024 filler bytes, never a real
//! photo. Fingerprint reads (30 10) are refused like any unknown command.
//!
//! Commands on standard input, one per line: `place [FILE]`, `remove`,
//! `moved`, `badsum`, `garbage`, `slow MS`, `silent`, `answer`, `quit`.
//! End of input quits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use lifecert_core::reader::text::{PHOTO_LEN, build_read};
use lifecert_core::reader::{
    CardText, Command, Deframer, FrameError, Payload, TextError, response_frame,
};

use super::sim_common::{Session, Simulated};

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    pub link: PathBuf,
    pub card: Option<PathBuf>,
    pub slow: Duration,
}

/// SW3 codes the simulator answers with (DOMAIN.md §1.5).
const SW_OK: u8 = 0x90;
const SW_FIND_OK: u8 = 0x9F;
const SW_BAD_CHECKSUM: u8 = 0x10;
const SW_BAD_LENGTH: u8 = 0x11;
const SW_BAD_COMMAND: u8 = 0x21;
const SW_READ_FAILED: u8 = 0x41;
const SW_NO_CARD: u8 = 0x80;
const SW_SELECT_FAILED: u8 = 0x81;

/// The SAM id the simulator reports: `0501-20190101-0123456789`.
const SAM_ID: (u16, u16, u32, u32) = (5, 1, 20_190_101, 123_456_789);

/// Runs the simulator until `quit` or end of standard input.
pub fn run(opts: Options) -> anyhow::Result<()> {
    let card = match &opts.card {
        Some(path) => Some(load_card(path)?),
        None => None,
    };
    let mut session = Session::open(&opts.link, parse_control, Control::Quit)?;
    tracing::info!(link = %opts.link.display(), card = card.is_some(), "ID card reader simulator ready");

    let mut sim = Sim {
        start_card: card.clone(),
        card,
        photo: filler_photo(),
        slow: opts.slow,
        moved: false,
        badsum: false,
        garbage: false,
        silent: false,
        deframer: Deframer::new(),
    };
    session.serve(&mut sim)?;
    tracing::info!("ID card reader simulator stopped");
    Ok(())
}

/// A stdin command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Control {
    Place(Option<PathBuf>),
    Remove,
    Moved,
    BadSum,
    Garbage,
    Slow(Duration),
    Silent,
    Answer,
    Quit,
}

fn parse_control(line: &str) -> Result<Control, String> {
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let no_args = |c: Control| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(format!("`{word}` takes no argument"))
        }
    };
    match word {
        "place" => match rest.as_slice() {
            [] => Ok(Control::Place(None)),
            [file] => Ok(Control::Place(Some(PathBuf::from(file)))),
            _ => Err("usage: place [FILE]".into()),
        },
        "slow" => match rest.as_slice() {
            [ms] => ms
                .parse::<u64>()
                .map(|ms| Control::Slow(Duration::from_millis(ms)))
                .map_err(|_| {
                    format!("usage: slow MS (a whole number of milliseconds, not {ms:?})")
                }),
            _ => Err("usage: slow MS".into()),
        },
        "remove" => no_args(Control::Remove),
        "moved" => no_args(Control::Moved),
        "badsum" => no_args(Control::BadSum),
        "garbage" => no_args(Control::Garbage),
        "silent" => no_args(Control::Silent),
        "answer" => no_args(Control::Answer),
        "quit" => no_args(Control::Quit),
        _ => Err(format!(
            "unknown command {word:?}; use place [FILE], remove, moved, badsum, garbage, \
             slow MS, silent, answer or quit"
        )),
    }
}

/// Reads and checks a card file. The error names the file and the field.
fn load_card(path: &Path) -> anyhow::Result<CardText> {
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the card file {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&json);
    let card: CardText = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        if field == "." {
            anyhow::anyhow!("card file {}: {}", path.display(), e.inner())
        } else {
            anyhow::anyhow!(
                "card file {}: field `{field}`: {}",
                path.display(),
                e.inner()
            )
        }
    })?;
    build_read(&card, &filler_photo()).map_err(|e| match e {
        TextError::BadField { field, reason } => {
            anyhow::anyhow!("card file {}: field `{field}`: {reason}", path.display())
        }
        other => anyhow::anyhow!("card file {}: {other}", path.display()),
    })?;
    Ok(card)
}

/// 1024 deterministic filler bytes in place of the WLT photo (never a
/// real photo).
fn filler_photo() -> Vec<u8> {
    (0..PHOTO_LEN)
        .map(|i| u8::try_from((i * 37 + 11) % 251).unwrap_or_default())
        .collect()
}

/// 37 bytes of line noise: 33 bytes free of preamble bytes, then a fake,
/// unfinished preamble `AA AA AA 96`.
fn garbage_bytes() -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let mut out = Vec::with_capacity(37);
    while out.len() < 33 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = state.to_be_bytes().first().copied().unwrap_or_default();
        if !matches!(b, 0xAA | 0x96 | 0x69) {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0xAA, 0xAA, 0xAA, 0x96]);
    out
}

struct Sim {
    /// The --card card (what `place` without a file puts back).
    start_card: Option<CardText>,
    /// The card on the reader.
    card: Option<CardText>,
    photo: Vec<u8>,
    slow: Duration,
    /// The next 30 01 fails with 41.
    moved: bool,
    /// The next answer has a bad checksum.
    badsum: bool,
    /// Line noise before the next answer.
    garbage: bool,
    /// Requests are read and dropped.
    silent: bool,
    /// Request bytes received so far.
    deframer: Deframer,
}

impl Simulated for Sim {
    type Control = Control;

    fn on_control(&mut self, control: Control) -> anyhow::Result<()> {
        self.apply(control);
        Ok(())
    }

    fn on_bytes(&mut self, port: &mut serialport::TTYPort, bytes: &[u8]) -> anyhow::Result<()> {
        self.deframer.push(bytes);
        while let Some(frame) = self.deframer.next_frame() {
            let answer = self.respond(frame);
            self.send(port, answer);
        }
        Ok(())
    }

    fn on_no_peer(&mut self) {
        self.deframer.clear();
    }
}

impl Sim {
    /// The answer to one received frame (or to a frame the parser dropped).
    fn respond(&mut self, frame: Result<Payload, FrameError>) -> Vec<u8> {
        match frame {
            Ok(payload) => match payload.request() {
                Ok(cmd) => self.answer(cmd),
                // Includes 30 10 (fingerprints): never implemented.
                Err(FrameError::UnknownCommand { cmd, para }) => {
                    tracing::debug!("unknown command {cmd:02X} {para:02X}");
                    response_frame(0, 0, SW_BAD_COMMAND, &[])
                }
                Err(e) => {
                    tracing::debug!("bad request: {e}");
                    response_frame(0, 0, SW_BAD_LENGTH, &[])
                }
            },
            Err(FrameError::BadChecksum { .. }) => {
                tracing::debug!("request with a bad checksum");
                response_frame(0, 0, SW_BAD_CHECKSUM, &[])
            }
            Err(e) => {
                tracing::debug!("bad request frame: {e}");
                response_frame(0, 0, SW_BAD_LENGTH, &[])
            }
        }
    }

    fn apply(&mut self, control: Control) {
        tracing::debug!(?control, "simulator command");
        match control {
            Control::Place(None) => {
                // The built-in demo card (synthetic; the demo roster's person).
                self.card = Some(self.start_card.clone().unwrap_or_else(CardText::demo));
            }
            Control::Place(Some(path)) => match load_card(&path) {
                Ok(card) => self.card = Some(card),
                Err(e) => tracing::error!("{e:#}; the reader is unchanged"),
            },
            Control::Remove => self.card = None,
            Control::Moved => self.moved = true,
            Control::BadSum => self.badsum = true,
            Control::Garbage => self.garbage = true,
            Control::Slow(d) => self.slow = d,
            Control::Silent => self.silent = true,
            Control::Answer => self.silent = false,
            Control::Quit => {}
        }
    }

    /// The answer frame to a well-formed request.
    fn answer(&mut self, cmd: Command) -> Vec<u8> {
        tracing::debug!(?cmd, card = self.card.is_some(), "request");
        match cmd {
            Command::Reset | Command::SamStatus | Command::SetBaud(_) | Command::SetRfBytes(_) => {
                response_frame(0, 0, SW_OK, &[])
            }
            Command::SamId => {
                let (a, b, c, d) = SAM_ID;
                let mut data = Vec::with_capacity(16);
                data.extend_from_slice(&a.to_le_bytes());
                data.extend_from_slice(&b.to_le_bytes());
                data.extend_from_slice(&c.to_le_bytes());
                data.extend_from_slice(&d.to_le_bytes());
                // 16 data bytes; the id uses the first 12.
                data.resize(16, 0);
                response_frame(0, 0, SW_OK, &data)
            }
            Command::FindCard => match self.card {
                Some(_) => response_frame(0, 0, SW_FIND_OK, &[0; 4]),
                None => response_frame(0, 0, SW_NO_CARD, &[]),
            },
            Command::SelectCard => match self.card {
                Some(_) => response_frame(0, 0, SW_OK, &[0; 8]),
                None => response_frame(0, 0, SW_SELECT_FAILED, &[]),
            },
            Command::ReadTextPhoto => {
                let read = self.card.as_ref().map(|card| build_read(card, &self.photo));
                match read {
                    _ if self.moved => {
                        self.moved = false;
                        response_frame(0, 0, SW_READ_FAILED, &[])
                    }
                    Some(Ok(data)) => response_frame(0, 0, SW_OK, &data),
                    Some(Err(e)) => {
                        tracing::warn!("cannot encode the card: {e}");
                        response_frame(0, 0, SW_READ_FAILED, &[])
                    }
                    // The card went away between select and read.
                    None => response_frame(0, 0, SW_READ_FAILED, &[]),
                }
            }
        }
    }

    /// Sends an answer, applying `slow`, `garbage`, `badsum` and `silent`.
    fn send(&mut self, port: &mut serialport::TTYPort, mut frame: Vec<u8>) {
        if self.silent {
            tracing::debug!("silent: request dropped");
            return;
        }
        if !self.slow.is_zero() {
            std::thread::sleep(self.slow);
        }
        let mut bytes = Vec::with_capacity(frame.len() + 37);
        if std::mem::take(&mut self.garbage) {
            bytes.extend_from_slice(&garbage_bytes());
        }
        if std::mem::take(&mut self.badsum)
            && let Some(chk) = frame.last_mut()
        {
            *chk ^= 0xFF;
        }
        bytes.append(&mut frame);
        if let Err(e) = port.write_all(&bytes).and_then(|()| port.flush()) {
            tracing::debug!("answer not delivered: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use lifecert_core::id::IdNumber;
    use lifecert_core::reader::{Deframer, request_frame, text::parse_read};

    use super::*;

    #[test]
    fn demo_card_is_a_valid_synthetic_resident_card() {
        let card = CardText::demo();
        let id = IdNumber::parse(&card.number).unwrap();
        assert_eq!(id.birth_date(), card.birth);
        let data = build_read(&card, &filler_photo()).unwrap();
        let (back, photo) = parse_read(&data).unwrap();
        assert!(back == card, "round trip");
        assert_eq!(photo.len(), PHOTO_LEN);
        // 7 header + 3 status + 4 lengths + 256 + 1024 + 1 checksum.
        assert_eq!(response_frame(0, 0, SW_OK, &data).len(), 1295);
    }

    #[test]
    fn garbage_is_skipped_and_the_next_frame_still_parses() {
        let noise = garbage_bytes();
        assert_eq!(noise.len(), 37);
        let mut d = Deframer::new();
        d.push(&noise);
        d.push(&response_frame(0, 0, SW_NO_CARD, &[]));
        let payload = d.next_frame().unwrap().unwrap();
        assert_eq!(payload.response().unwrap().sw3.code(), SW_NO_CARD);
        assert!(d.garbage_bytes() >= 33, "{}", d.garbage_bytes());
    }

    #[test]
    fn controls_parse_and_bad_ones_say_what_is_allowed() {
        assert_eq!(parse_control("place").unwrap(), Control::Place(None));
        assert_eq!(
            parse_control("place /tmp/c.json").unwrap(),
            Control::Place(Some(PathBuf::from("/tmp/c.json")))
        );
        assert_eq!(
            parse_control("slow 300").unwrap(),
            Control::Slow(Duration::from_millis(300))
        );
        assert!(
            parse_control("slow fast")
                .unwrap_err()
                .contains("milliseconds")
        );
        assert!(
            parse_control("remove x")
                .unwrap_err()
                .contains("no argument")
        );
        assert!(
            parse_control("fingerprint")
                .unwrap_err()
                .contains("place [FILE]")
        );
    }

    fn sim_with_card() -> Sim {
        Sim {
            start_card: None,
            card: Some(CardText::demo()),
            photo: filler_photo(),
            slow: Duration::ZERO,
            moved: false,
            badsum: false,
            garbage: false,
            silent: false,
            deframer: Deframer::new(),
        }
    }

    /// Feeds request bytes through the parser and the simulator.
    fn answers(sim: &mut Sim, request: &[u8]) -> Vec<u8> {
        let mut d = Deframer::new();
        d.push(request);
        let frame = d.next_frame().unwrap();
        assert!(d.next_frame().is_none());
        sim.respond(frame)
    }

    #[test]
    fn fingerprint_unknown_and_corrupt_requests_get_reader_errors() {
        let mut sim = sim_with_card();
        let fingerprints = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x10, 0x23];
        assert_eq!(
            answers(&mut sim, &fingerprints),
            response_frame(0, 0, SW_BAD_COMMAND, &[])
        );
        let unknown = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x77, 0x01, 0x75];
        assert_eq!(
            answers(&mut sim, &unknown),
            response_frame(0, 0, SW_BAD_COMMAND, &[])
        );
        let mut find = request_frame(Command::FindCard);
        assert_eq!(
            answers(&mut sim, &find),
            response_frame(0, 0, SW_FIND_OK, &[0; 4])
        );
        if let Some(chk) = find.last_mut() {
            *chk ^= 0x01;
        }
        assert_eq!(
            answers(&mut sim, &find),
            response_frame(0, 0, SW_BAD_CHECKSUM, &[])
        );
    }

    #[test]
    fn sam_id_answer_decodes_to_the_documented_id() {
        let mut sim = sim_with_card();
        let answer = answers(&mut sim, &request_frame(Command::SamId));
        assert_eq!(answer.len(), 27);
        let mut d = Deframer::new();
        d.push(&answer);
        let response = d.next_frame().unwrap().unwrap().response().unwrap();
        assert_eq!(
            lifecert_core::reader::text::sam_id(&response.data).as_deref(),
            Some("0501-20190101-0123456789")
        );
    }

    #[test]
    fn moved_fails_one_read_only() {
        let mut sim = sim_with_card();
        let read = request_frame(Command::ReadTextPhoto);
        sim.apply(Control::Moved);
        assert_eq!(
            answers(&mut sim, &read),
            response_frame(0, 0, SW_READ_FAILED, &[])
        );
        assert_eq!(answers(&mut sim, &read).len(), 1295);
        sim.apply(Control::Remove);
        let find = request_frame(Command::FindCard);
        assert_eq!(
            answers(&mut sim, &find),
            response_frame(0, 0, SW_NO_CARD, &[])
        );
        let select = request_frame(Command::SelectCard);
        assert_eq!(
            answers(&mut sim, &select),
            response_frame(0, 0, SW_SELECT_FAILED, &[])
        );
        sim.apply(Control::Place(None));
        assert_eq!(
            answers(&mut sim, &find),
            response_frame(0, 0, SW_FIND_OK, &[0; 4])
        );
    }
}
