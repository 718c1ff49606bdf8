//! SAM frames (DOMAIN.md §1.2–§1.4): building requests and responses, and a
//! streaming, resynchronising parser.
//!
//! ```text
//! request:  AA AA AA 96 69 Len1 Len2 CMD PARA DATA… CHK
//! response: AA AA AA 96 69 Len1 Len2 SW1 SW2 SW3 DATA… CHK
//! ```
//!
//! `Len` (big-endian) counts every byte after itself, CHK included. CHK is the
//! XOR of `Len1 Len2` and the body (everything except the preamble and CHK).

use std::fmt;

use super::status::Sw3;

/// Frame start: `AA AA AA` synchronises, `96 69` marks the frame.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Cap on the Len field: every known response (30 10 included) fits.
pub const MAX_LEN: usize = 0x0A00;

/// Smallest valid Len: CMD PARA CHK (a response needs one more byte, checked
/// by [`Payload::response`]).
const MIN_LEN: usize = 3;
/// Preamble plus the two Len bytes.
const HEADER_LEN: usize = PREAMBLE.len() + 2;
/// Above this many buffered bytes, [`Deframer::push`] drops leading garbage
/// right away instead of waiting for [`Deframer::next_frame`].
const TRIM_AT: usize = 2 * (MAX_LEN + 8);

/// UART speeds the reader can be switched to (`60 xx`, Para 00..04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baud {
    /// Para 00, the default.
    B115200,
    /// Para 01.
    B57600,
    /// Para 02.
    B38400,
    /// Para 03.
    B19200,
    /// Para 04.
    B9600,
}

impl Baud {
    /// The variant for a rate in bit/s, `None` for unsupported rates.
    pub fn from_rate(rate: u32) -> Option<Baud> {
        match rate {
            115_200 => Some(Baud::B115200),
            57_600 => Some(Baud::B57600),
            38_400 => Some(Baud::B38400),
            19_200 => Some(Baud::B19200),
            9_600 => Some(Baud::B9600),
            _ => None,
        }
    }

    /// The rate in bit/s.
    pub fn rate(self) -> u32 {
        match self {
            Baud::B115200 => 115_200,
            Baud::B57600 => 57_600,
            Baud::B38400 => 38_400,
            Baud::B19200 => 19_200,
            Baud::B9600 => 9_600,
        }
    }

    /// The Para byte of `60 xx`.
    fn para(self) -> u8 {
        match self {
            Baud::B115200 => 0,
            Baud::B57600 => 1,
            Baud::B38400 => 2,
            Baud::B19200 => 3,
            Baud::B9600 => 4,
        }
    }

    fn from_para(para: u8) -> Option<Baud> {
        match para {
            0 => Some(Baud::B115200),
            1 => Some(Baud::B57600),
            2 => Some(Baud::B38400),
            3 => Some(Baud::B19200),
            4 => Some(Baud::B9600),
            _ => None,
        }
    }
}

/// The commands the kiosk sends (DOMAIN §1.3). Reading fingerprints (30 10)
/// is deliberately impossible (data minimisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `10 FF` reset the SAM.
    Reset,
    /// `11 FF` SAM status check.
    SamStatus,
    /// `12 FF` read the SAM id.
    SamId,
    /// `20 01` find a card.
    FindCard,
    /// `20 02` select the card.
    SelectCard,
    /// `30 01` read text and photo.
    ReadTextPhoto,
    /// `60 0x` set the UART speed.
    SetBaud(Baud),
    /// `61 FF` + 1 data byte: max RF bytes between SAM and card.
    SetRfBytes(u8),
}

impl Command {
    /// The CMD and Para bytes.
    pub fn cmd_para(self) -> (u8, u8) {
        match self {
            Command::Reset => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::SamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadTextPhoto => (0x30, 0x01),
            Command::SetBaud(baud) => (0x60, baud.para()),
            Command::SetRfBytes(_) => (0x61, 0xFF),
        }
    }

    /// The Data bytes (empty for every command but `SetRfBytes`).
    pub fn data(self) -> Vec<u8> {
        match self {
            Command::SetRfBytes(n) => vec![n],
            _ => Vec::new(),
        }
    }

    /// Inverse of [`request_frame`]'s body; `None` for unknown or forbidden
    /// (30 10) commands and for a data length the command does not take.
    pub fn from_parts(cmd: u8, para: u8, data: &[u8]) -> Option<Command> {
        let command = match (cmd, para, data) {
            (0x10, 0xFF, []) => Command::Reset,
            (0x11, 0xFF, []) => Command::SamStatus,
            (0x12, 0xFF, []) => Command::SamId,
            (0x20, 0x01, []) => Command::FindCard,
            (0x20, 0x02, []) => Command::SelectCard,
            (0x30, 0x01, []) => Command::ReadTextPhoto,
            (0x60, para, []) => Command::SetBaud(Baud::from_para(para)?),
            (0x61, 0xFF, [n]) => Command::SetRfBytes(*n),
            _ => return None,
        };
        Some(command)
    }
}

/// XOR of all bytes.
fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Preamble, Len, body, CHK. A body longer than `u16::MAX - 1` cannot be
/// expressed; its Len saturates (the frame is then invalid, never a panic).
fn frame(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len().saturating_add(1)).unwrap_or(u16::MAX);
    let [len1, len2] = len.to_be_bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.push(len1);
    out.push(len2);
    out.extend_from_slice(body);
    out.push(len1 ^ len2 ^ xor(body));
    out
}

/// `AA AA AA 96 69 Len1 Len2 CMD PARA DATA… CHK`.
pub fn request_frame(cmd: Command) -> Vec<u8> {
    let (c, p) = cmd.cmd_para();
    let mut body = vec![c, p];
    body.extend_from_slice(&cmd.data());
    frame(&body)
}

/// A response `AA AA AA 96 69 Len1 Len2 SW1 SW2 SW3 DATA… CHK` (simulator, tests).
/// The parser accepts `data` of up to `MAX_LEN - 4` bytes.
pub fn response_frame(sw1: u8, sw2: u8, sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(3 + data.len());
    body.extend_from_slice(&[sw1, sw2, sw3]);
    body.extend_from_slice(data);
    frame(&body)
}

/// One checked frame body: the bytes between Len and CHK (CMD PARA DATA for
/// requests, SW1 SW2 SW3 DATA for responses). `Debug` prints only the length:
/// a body may hold a card's text.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

impl Payload {
    /// Read the body as a response (SW1 SW2 SW3 DATA; at least 3 bytes).
    pub fn response(&self) -> Result<Response, FrameError> {
        match self.0.as_slice() {
            [sw1, sw2, sw3, data @ ..] => Ok(Response {
                sw1: *sw1,
                sw2: *sw2,
                sw3: Sw3::from_code(*sw3),
                data: data.to_vec(),
            }),
            _ => Err(FrameError::TooShort {
                len: self.0.len() + 1,
            }),
        }
    }

    /// Read the body as a request (CMD PARA DATA) of a known command.
    pub fn request(&self) -> Result<Command, FrameError> {
        match self.0.as_slice() {
            [cmd, para, data @ ..] => {
                Command::from_parts(*cmd, *para, data).ok_or(FrameError::UnknownCommand {
                    cmd: *cmd,
                    para: *para,
                })
            }
            _ => Err(FrameError::TooShort {
                len: self.0.len() + 1,
            }),
        }
    }
}

/// A reader's answer. `Debug` shows the status bytes and only the length of
/// `data` (it may hold a card's text).
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Card APDU SW1, passed through.
    pub sw1: u8,
    /// Card APDU SW2, passed through.
    pub sw2: u8,
    /// The SAM's own status: the one to test.
    pub sw3: Sw3,
    /// Everything after SW3, CHK excluded.
    pub data: Vec<u8>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("sw1", &format_args!("{:02X}", self.sw1))
            .field("sw2", &format_args!("{:02X}", self.sw2))
            .field("sw3", &self.sw3)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// Why a frame was dropped or could not be interpreted. `len` values are the
/// Len field (body + CHK).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The XOR does not match: the frame was damaged on the line.
    #[error("reader frame checksum mismatch (expected {expected:02X}, got {got:02X})")]
    BadChecksum {
        /// XOR computed over Len and body.
        expected: u8,
        /// CHK byte received.
        got: u8,
    },
    /// Len above [`MAX_LEN`]: not a real frame, the parser resyncs.
    #[error("reader frame length {len} exceeds the maximum {max}", max = MAX_LEN)]
    TooLong {
        /// The Len field.
        len: usize,
    },
    /// Len too small for the frame's fixed fields.
    #[error("reader frame length {len} is too short")]
    TooShort {
        /// The Len field.
        len: usize,
    },
    /// A request with a command this kiosk does not know or never sends.
    #[error("unknown reader command {cmd:02X} {para:02X}")]
    UnknownCommand {
        /// CMD byte.
        cmd: u8,
        /// Para byte.
        para: u8,
    },
}

/// Streaming parser: push bytes as they arrive; pull frames.
///
/// Resynchronises on the preamble (`AA AA AA 96 69`; extra leading `AA`s are
/// skipped as garbage), caps Len at [`MAX_LEN`] and verifies the XOR. A
/// dropped frame (bad checksum, bad length) is reported once, then parsing
/// resumes one byte after that frame's preamble start, so a real frame hidden
/// inside a damaged one is still found.
///
/// Memory: after [`next_frame`](Self::next_frame) has returned `None` at most
/// `MAX_LEN + 6` bytes stay buffered (one incomplete frame). `push` drops
/// leading garbage itself once more than `2 × (MAX_LEN + 8)` bytes wait.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
    garbage: u64,
    bad: u64,
}

impl fmt::Debug for Deframer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deframer")
            .field("buffered", &self.buf.len())
            .field("garbage_bytes", &self.garbage)
            .field("bad_frames", &self.bad)
            .finish()
    }
}

/// Position of the first complete preamble in `buf`.
fn find_preamble(buf: &[u8]) -> Option<usize> {
    buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE)
}

/// Length of the longest suffix of `buf` that is a proper prefix of the
/// preamble (bytes that may still become a preamble).
fn partial_preamble_suffix(buf: &[u8]) -> usize {
    (1..PREAMBLE.len())
        .rev()
        .find(|&n| PREAMBLE.get(..n).is_some_and(|head| buf.ends_with(head)))
        .unwrap_or(0)
}

impl Deframer {
    /// An empty parser.
    pub fn new() -> Deframer {
        Deframer::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > TRIM_AT {
            self.skip_garbage();
        }
    }

    /// Drop everything before the first preamble (or all but a possible
    /// partial preamble at the end). Returns whether a preamble now starts
    /// the buffer.
    fn skip_garbage(&mut self) -> bool {
        let (drop, found) = match find_preamble(&self.buf) {
            Some(at) => (at, true),
            None => (self.buf.len() - partial_preamble_suffix(&self.buf), false),
        };
        if drop > 0 {
            self.buf.drain(..drop);
            self.garbage = self.garbage.saturating_add(drop as u64);
        }
        found
    }

    /// Drop the first byte of a rejected frame's preamble and count it.
    fn reject(&mut self, error: FrameError) -> Option<Result<Payload, FrameError>> {
        self.buf.drain(..1);
        self.bad = self.bad.saturating_add(1);
        Some(Err(error))
    }

    /// Next complete frame, or an error for a frame that was dropped (bad
    /// checksum / bad length: the parser then resyncs one byte after that
    /// preamble); `None` = need more bytes.
    pub fn next_frame(&mut self) -> Option<Result<Payload, FrameError>> {
        if !self.skip_garbage() {
            return None;
        }
        let (len1, len2) = match self.buf.get(PREAMBLE.len()..HEADER_LEN) {
            Some(&[a, b]) => (a, b),
            _ => return None,
        };
        let len = usize::from(u16::from_be_bytes([len1, len2]));
        if len > MAX_LEN {
            return self.reject(FrameError::TooLong { len });
        }
        if len < MIN_LEN {
            return self.reject(FrameError::TooShort { len });
        }
        let total = HEADER_LEN + len;
        let (body, got) = match self.buf.get(HEADER_LEN..total) {
            Some([body @ .., chk]) => (body, *chk),
            _ => return None,
        };
        let expected = len1 ^ len2 ^ xor(body);
        if expected != got {
            return self.reject(FrameError::BadChecksum { expected, got });
        }
        let payload = Payload(body.to_vec());
        self.buf.drain(..total);
        Some(Ok(payload))
    }

    /// Bytes skipped while looking for a preamble (garbage counter).
    pub fn garbage_bytes(&self) -> u64 {
        self.garbage
    }

    /// Frames dropped for a bad checksum or length.
    pub fn bad_frames(&self) -> u64 {
        self.bad
    }

    /// Bytes buffered (waiting for the rest of a frame).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forget buffered bytes (after a timeout / reconnect). Counters stay.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Parse a hex string like "AA AA 96".
    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn all_frames(d: &mut Deframer) -> Vec<Result<Payload, FrameError>> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn request_frames_match_domain_table() {
        let cases = [
            (Command::Reset, "AA AA AA 96 69 00 03 10 FF EC"),
            (Command::SamStatus, "AA AA AA 96 69 00 03 11 FF ED"),
            (Command::SamId, "AA AA AA 96 69 00 03 12 FF EE"),
            (Command::FindCard, "AA AA AA 96 69 00 03 20 01 22"),
            (Command::SelectCard, "AA AA AA 96 69 00 03 20 02 21"),
            (Command::ReadTextPhoto, "AA AA AA 96 69 00 03 30 01 32"),
            (
                Command::SetBaud(Baud::B115200),
                "AA AA AA 96 69 00 03 60 00 63",
            ),
            (
                Command::SetBaud(Baud::B57600),
                "AA AA AA 96 69 00 03 60 01 62",
            ),
            (
                Command::SetBaud(Baud::B38400),
                "AA AA AA 96 69 00 03 60 02 61",
            ),
            (
                Command::SetBaud(Baud::B19200),
                "AA AA AA 96 69 00 03 60 03 60",
            ),
            (
                Command::SetBaud(Baud::B9600),
                "AA AA AA 96 69 00 03 60 04 67",
            ),
            (
                Command::SetRfBytes(0x50),
                "AA AA AA 96 69 00 04 61 FF 50 CA",
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(request_frame(cmd), hex(want), "{cmd:?}");
            // And back through the parser.
            let mut d = Deframer::new();
            d.push(&hex(want));
            let payload = d.next_frame().unwrap().unwrap();
            assert_eq!(payload.request().unwrap(), cmd);
            assert!(d.next_frame().is_none());
        }
    }

    #[test]
    fn fingerprint_and_unknown_commands_are_refused() {
        let p = Payload(hex("30 10"));
        assert_eq!(
            p.request(),
            Err(FrameError::UnknownCommand {
                cmd: 0x30,
                para: 0x10
            })
        );
        assert_eq!(Command::from_parts(0x30, 0x03, &[]), None);
        assert_eq!(Command::from_parts(0x60, 0x05, &[]), None);
        assert_eq!(Command::from_parts(0x20, 0x01, &[0]), None);
        assert_eq!(Command::from_parts(0x61, 0xFF, &[]), None);
        assert_eq!(
            Payload(vec![0x20]).request(),
            Err(FrameError::TooShort { len: 2 })
        );
    }

    #[test]
    fn baud_rates_round_trip() {
        for rate in [115_200, 57_600, 38_400, 19_200, 9_600] {
            assert_eq!(Baud::from_rate(rate).unwrap().rate(), rate);
        }
        assert_eq!(Baud::from_rate(4_800), None);
        assert_eq!(Baud::from_rate(0), None);
    }

    #[test]
    fn response_frames_match_domain_table() {
        let find_ok = hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97");
        assert_eq!(response_frame(0, 0, 0x9F, &[0, 0, 0, 0]), find_ok);
        let no_card = hex("AA AA AA 96 69 00 04 00 00 80 84");
        assert_eq!(response_frame(0, 0, 0x80, &[]), no_card);

        let select = response_frame(0, 0, 0x90, &[0; 8]);
        assert_eq!(select.len(), 7 + 12);
        assert_eq!(
            &select[..10],
            hex("AA AA AA 96 69 00 0C 00 00 90").as_slice()
        );
        assert_eq!(select[select.len() - 1], 0x0C ^ 0x90);

        let mut d = Deframer::new();
        d.push(&find_ok);
        d.push(&no_card);
        d.push(&select);
        let got: Vec<Response> = all_frames(&mut d)
            .into_iter()
            .map(|f| f.unwrap().response().unwrap())
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].sw3, Sw3::FindOk);
        assert_eq!(got[0].data, vec![0; 4]);
        assert_eq!(got[1].sw3, Sw3::NoCard);
        assert!(got[1].data.is_empty());
        assert_eq!(got[2].sw3, Sw3::Success);
        assert_eq!(got[2].data, vec![0; 8]);
        assert_eq!(d.garbage_bytes(), 0);
        assert_eq!(d.bad_frames(), 0);
    }

    #[test]
    fn read_text_photo_header_and_layout() {
        let mut data = vec![0x01, 0x00, 0x04, 0x00];
        data.extend((0..256).map(|i| (i % 251) as u8));
        data.extend((0..1024).map(|i| (i % 239) as u8 ^ 0x5A));
        let f = response_frame(0, 0, 0x90, &data);
        assert_eq!(f.len(), 1295);
        assert_eq!(
            &f[..14],
            hex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00").as_slice()
        );
        assert_eq!(&f[14..270], &data[4..260]);
        assert_eq!(&f[270..1294], &data[260..]);
        let mut d = Deframer::new();
        d.push(&f);
        let r = d.next_frame().unwrap().unwrap().response().unwrap();
        assert_eq!(r.sw3, Sw3::Success);
        assert_eq!(r.data, data);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn garbage_before_and_between_frames_is_skipped_and_counted() {
        let a = response_frame(0, 0, 0x80, &[]);
        let b = response_frame(0, 0, 0x9F, &[1, 2, 3, 4]);
        let mut stream = hex("00 FF AA 96 69 AA AA");
        stream.extend(&a);
        stream.extend(hex("12 34 AA AA AA 96"));
        stream.extend(&b);
        stream.extend(hex("01 02"));
        let mut d = Deframer::new();
        d.push(&stream);
        let frames = all_frames(&mut d);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].as_ref().unwrap().0, vec![0, 0, 0x80]);
        assert_eq!(frames[1].as_ref().unwrap().0, vec![0, 0, 0x9F, 1, 2, 3, 4]);
        // 7 before, 6 between, 2 after.
        assert_eq!(d.garbage_bytes(), 15);
        assert_eq!(d.bad_frames(), 0);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn extra_leading_aa_bytes_are_allowed() {
        let mut stream = vec![0xAA; 4];
        stream.extend(response_frame(0, 0, 0x90, &[7]));
        let mut d = Deframer::new();
        d.push(&stream);
        assert_eq!(d.next_frame().unwrap().unwrap().0, vec![0, 0, 0x90, 7]);
        assert_eq!(d.garbage_bytes(), 4);
    }

    #[test]
    fn byte_by_byte_delivery() {
        let mut data = vec![1, 0, 4, 0];
        data.extend(vec![0x20; 256]);
        data.extend(vec![0xAA; 1024]);
        let frames = [
            response_frame(0, 0, 0x9F, &[0; 4]),
            response_frame(0, 0, 0x90, &data),
            request_frame(Command::FindCard),
        ];
        let stream: Vec<u8> = frames.concat();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame() {
                got.push(f.unwrap());
            }
            assert!(d.buffered() <= MAX_LEN + HEADER_LEN);
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].response().unwrap().data, data);
        assert_eq!(got[2].request().unwrap(), Command::FindCard);
        assert_eq!(d.garbage_bytes(), 0);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_checksum_frame_then_good_frame() {
        let mut bad = response_frame(0, 0, 0x90, &[1, 2, 3]);
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        let good = response_frame(0, 0, 0x80, &[]);
        let mut d = Deframer::new();
        d.push(&bad);
        d.push(&good);
        let frames = all_frames(&mut d);
        assert_eq!(frames.len(), 2);
        let expected = 0x07 ^ 0x90 ^ 1 ^ 2 ^ 3;
        assert_eq!(
            frames[0],
            Err(FrameError::BadChecksum {
                expected,
                got: expected ^ 1
            })
        );
        assert_eq!(
            frames[1].as_ref().unwrap().response().unwrap().sw3,
            Sw3::NoCard
        );
        assert_eq!(d.bad_frames(), 1);
        // The rest of the damaged frame (its length minus the one rejected byte).
        assert_eq!(d.garbage_bytes(), (bad.len() - 1) as u64);
    }

    #[test]
    fn huge_length_then_good_frame() {
        let mut stream = hex("AA AA AA 96 69 FF FF 00 00 90");
        stream.extend(vec![0x33; 100]);
        let good = response_frame(0, 0, 0x9F, &[9, 9, 9, 9]);
        stream.extend(&good);
        let mut d = Deframer::new();
        d.push(&stream);
        let frames = all_frames(&mut d);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], Err(FrameError::TooLong { len: 0xFFFF }));
        assert_eq!(frames[1].as_ref().unwrap().0, vec![0, 0, 0x9F, 9, 9, 9, 9]);
        assert_eq!(d.bad_frames(), 1);
        assert_eq!(d.buffered(), 0);
        // Just above the cap is refused, the cap itself is waited for.
        let mut d = Deframer::new();
        d.push(&hex("AA AA AA 96 69 0A 01"));
        assert_eq!(
            d.next_frame(),
            Some(Err(FrameError::TooLong { len: 0x0A01 }))
        );
        let mut d = Deframer::new();
        d.push(&hex("AA AA AA 96 69 0A 00 00"));
        assert_eq!(d.next_frame(), None);
        assert_eq!(d.buffered(), 8);
    }

    #[test]
    fn too_short_length_is_dropped() {
        let mut stream = hex("AA AA AA 96 69 00 02 00 02");
        stream.extend(response_frame(0, 0, 0x80, &[]));
        let mut d = Deframer::new();
        d.push(&stream);
        let frames = all_frames(&mut d);
        assert_eq!(frames[0], Err(FrameError::TooShort { len: 2 }));
        assert_eq!(frames[1].as_ref().unwrap().0, vec![0, 0, 0x80]);
        assert_eq!(frames.len(), 2);
        // A 2-byte body is a request at best.
        assert_eq!(
            Payload(vec![0x00, 0x00]).response(),
            Err(FrameError::TooShort { len: 3 })
        );
    }

    #[test]
    fn preamble_inside_data_is_just_data() {
        let mut data = PREAMBLE.to_vec();
        data.extend([0x00, 0x04, 0x00, 0x00, 0x80, 0x84]); // a whole "no card" frame
        data.extend(PREAMBLE);
        let f = response_frame(0, 0, 0x90, &data);
        let mut d = Deframer::new();
        d.push(&f);
        d.push(&response_frame(0, 0, 0x80, &[]));
        let frames = all_frames(&mut d);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].as_ref().unwrap().response().unwrap().data, data);
        assert_eq!(frames[1].as_ref().unwrap().0, vec![0, 0, 0x80]);
        assert_eq!(d.garbage_bytes(), 0);
        assert_eq!(d.bad_frames(), 0);
    }

    #[test]
    fn frame_hidden_in_a_damaged_frame_is_recovered() {
        // A frame cut short by a lost byte: its Len swallows the next frame,
        // the checksum fails, and the hidden frame is found on resync.
        let mut stream = hex("AA AA AA 96 69 00 0C 00 00 90 01 02"); // 7 of 8 data bytes lost
        let good = response_frame(0, 0, 0x80, &[]);
        stream.extend(&good);
        stream.extend(vec![0; 4]);
        let mut d = Deframer::new();
        d.push(&stream);
        let frames = all_frames(&mut d);
        assert!(matches!(frames[0], Err(FrameError::BadChecksum { .. })));
        assert_eq!(frames[1].as_ref().unwrap().0, vec![0, 0, 0x80]);
    }

    #[test]
    fn push_drops_garbage_when_not_pulled() {
        let mut d = Deframer::new();
        for _ in 0..100 {
            d.push(&[0x11; 1000]);
            assert!(d.buffered() <= TRIM_AT + 1000);
        }
        d.push(&[0xAA, 0xAA]);
        assert!(d.next_frame().is_none());
        assert_eq!(d.buffered(), 2); // a possible preamble start is kept
        assert_eq!(d.garbage_bytes(), 100_000);
        d.push(&[0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84]);
        assert_eq!(d.next_frame().unwrap().unwrap().0, vec![0, 0, 0x80]);
        d.push(&[1, 2, 3]);
        d.clear();
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn debug_output_hides_data() {
        let p = Payload(vec![0x41; 40]);
        assert_eq!(format!("{p:?}"), "Payload(40 bytes)");
        let r = Response {
            sw1: 0,
            sw2: 0,
            sw3: Sw3::Success,
            data: b"ZHANGSAN".to_vec(),
        };
        let s = format!("{r:?}");
        assert!(s.contains("<8 bytes>"), "{s}");
        assert!(!s.contains("90, 65"), "{s}");
        assert!(!s.contains("65"), "{s}");
    }
}
