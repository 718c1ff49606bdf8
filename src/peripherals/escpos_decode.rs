//! Decodes an ESC/POS byte stream back into receipts: what the printer
//! simulator prints and what the tests check.
//!
//! It knows the commands a receipt uses (DOMAIN.md §3) plus a few common
//! harmless ones; anything else is an error naming its offset, so a stray
//! byte in the stream cannot go unnoticed. Text is GB18030. `DLE EOT n`
//! status requests are reported separately: they are not part of a receipt.
//!
//! Strictness on purpose: `ESC @` is taken to leave Chinese mode (some
//! printers keep it, others do not), so a receipt is only "Chinese mode ok"
//! when `FS &` follows the last `ESC @` before any non-ASCII text.

use serde::{Deserialize, Serialize};

/// Horizontal alignment (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// A printed text line with the modes in force at its first character.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLine {
    pub text: String,
    pub align: Align,
    /// Character width multiplier (1–8).
    pub width: u8,
    /// Character height multiplier (1–8).
    pub height: u8,
    pub bold: bool,
    /// Chinese mode (`FS &`) was on when the line was printed.
    pub chinese_mode: bool,
}

/// A printed QR code (`GS ( k`, function 180–181).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCode {
    /// 1, 2, or 3 for micro QR.
    pub model: u8,
    /// Error correction level: 'L', 'M', 'Q' or 'H'.
    pub ec: char,
    /// Module size in dots.
    pub module_size: u8,
    pub data: String,
    pub align: Align,
}

/// A printed raster image (`GS v 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RasterImage {
    /// Width in dots.
    pub width: u16,
    /// Height in dots.
    pub height: u16,
    /// Black dots.
    pub ink: u32,
    pub align: Align,
}

/// The cut that ended a receipt (`GS V`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    pub partial: bool,
    /// Function B (`GS V 65/66 n`): feed to the cutter plus `n` units first.
    pub feed: Option<u8>,
}

/// One element of a receipt, in print order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Line {
    Text(TextLine),
    Qr(QrCode),
    Raster(RasterImage),
    /// Blank lines fed.
    Feed {
        lines: u8,
    },
}

/// Everything printed up to one cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedReceipt {
    /// `ESC @` was sent.
    pub init: bool,
    /// Every line with Chinese (non-ASCII) text was printed in Chinese mode.
    pub chinese_mode_ok: bool,
    pub lines: Vec<Line>,
    pub cut: Cut,
}

impl DecodedReceipt {
    /// The text lines.
    pub fn texts(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The QR codes.
    pub fn qr_codes(&self) -> Vec<&QrCode> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Qr(q) => Some(q),
                _ => None,
            })
            .collect()
    }

    /// The raster images.
    pub fn rasters(&self) -> Vec<&RasterImage> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Raster(r) => Some(r),
                _ => None,
            })
            .collect()
    }
}

/// What the stream carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `DLE EOT n`: a real-time status request (n = 1, 2, 3 or 4).
    Status(u8),
    /// A receipt, complete with its cut.
    Receipt(DecodedReceipt),
}

/// Decodes a whole stream: one receipt per cut. Status requests are
/// skipped. Content after the last cut, or an unknown or malformed command,
/// is an error naming the offset.
pub fn decode(bytes: &[u8]) -> Result<Vec<DecodedReceipt>, String> {
    let mut decoder = Decoder::default();
    let receipts = decoder
        .push(bytes)?
        .into_iter()
        .filter_map(|e| match e {
            Event::Receipt(r) => Some(r),
            Event::Status(_) => None,
        })
        .collect();
    if !decoder.is_idle() {
        return Err(format!(
            "the stream ends at offset {} inside a receipt (no cut after the last content)",
            bytes.len()
        ));
    }
    Ok(receipts)
}

/// Current print modes.
#[derive(Debug, Clone, Copy, Default)]
struct Modes {
    align: Align,
    width: u8,
    height: u8,
    bold: bool,
    chinese: bool,
}

impl Modes {
    fn initial() -> Modes {
        Modes {
            width: 1,
            height: 1,
            ..Modes::default()
        }
    }
}

/// QR settings stored by `GS ( k` until printed.
#[derive(Debug, Clone)]
struct QrState {
    model: u8,
    ec: char,
    module_size: u8,
    data: Option<String>,
}

impl Default for QrState {
    fn default() -> Self {
        // The printer defaults (Epson): model 2, 3 dots, level L.
        QrState {
            model: 2,
            ec: 'L',
            module_size: 3,
            data: None,
        }
    }
}

/// A streaming decoder: feed it bytes as they arrive.
#[derive(Debug)]
pub struct Decoder {
    /// Bytes not yet decoded (an incomplete command at the end).
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: usize,
    modes: Modes,
    qr: QrState,
    /// Text of the line being built, and the modes at its first character.
    text: Vec<u8>,
    text_modes: Modes,
    init: bool,
    chinese_ok: bool,
    lines: Vec<Line>,
    /// Anything since the last cut.
    content: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            buf: Vec::new(),
            offset: 0,
            modes: Modes::initial(),
            qr: QrState::default(),
            text: Vec::new(),
            text_modes: Modes::initial(),
            init: false,
            chinese_ok: true,
            lines: Vec::new(),
            content: false,
        }
    }
}

/// Outcome of decoding the command at the start of a buffer.
enum Step {
    /// More bytes are needed.
    Incomplete,
    /// `n` bytes were consumed, maybe producing an event.
    Done(usize, Option<Event>),
}

impl Decoder {
    /// Feeds `bytes`; returns the status requests and completed receipts
    /// they finish. After an error the decoder should be [`reset`](Self::reset).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Event>, String> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        let result = loop {
            match self.step(&buf[at..], self.offset + at) {
                Ok(Step::Incomplete) => break Ok(()),
                Ok(Step::Done(n, event)) => {
                    at += n;
                    events.extend(event);
                }
                Err(e) => break Err(e),
            }
        };
        buf.drain(..at);
        self.buf = buf;
        self.offset += at;
        result.map(|()| events)
    }

    /// Nothing pending: no partial receipt, no incomplete command.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && !self.content
    }

    /// Bytes received so far (the offset the next byte will have).
    pub fn offset(&self) -> usize {
        self.offset + self.buf.len()
    }

    /// Drops everything pending (after an error or a lost connection).
    pub fn reset(&mut self) {
        let offset = self.offset();
        *self = Decoder::default();
        self.offset = offset;
    }

    fn step(&mut self, buf: &[u8], offset: usize) -> Result<Step, String> {
        let Some(&b) = buf.first() else {
            return Ok(Step::Incomplete);
        };
        let unknown = |len: usize| {
            let shown: Vec<String> = buf.iter().take(len).map(|b| format!("{b:02X}")).collect();
            Err(format!(
                "unknown command {} at offset {offset}",
                shown.join(" ")
            ))
        };
        let need = |n: usize| buf.len() < n;
        match b {
            0x0A => {
                self.content = true;
                self.print_line(1);
                Ok(Step::Done(1, None))
            }
            0x0D => Ok(Step::Done(1, None)),
            0x10 => {
                if need(3) {
                    return Ok(Step::Incomplete);
                }
                match (buf[1], buf[2]) {
                    (0x04, n @ 1..=4) => Ok(Step::Done(3, Some(Event::Status(n)))),
                    _ => unknown(3),
                }
            }
            0x1B => {
                if need(2) {
                    return Ok(Step::Incomplete);
                }
                self.content = true;
                match buf[1] {
                    b'@' => {
                        self.init = true;
                        self.modes = Modes::initial();
                        self.text.clear();
                        Ok(Step::Done(2, None))
                    }
                    b'2' => Ok(Step::Done(2, None)),
                    cmd @ (b'a' | b'E' | b'G' | b'-' | b'!' | b'd' | b'3' | b'M' | b't' | b'R'
                    | b'{') => {
                        if need(3) {
                            return Ok(Step::Incomplete);
                        }
                        let n = buf[2];
                        match cmd {
                            b'a' => {
                                self.modes.align = match n {
                                    0 | b'0' => Align::Left,
                                    1 | b'1' => Align::Center,
                                    2 | b'2' => Align::Right,
                                    _ => return unknown(3),
                                };
                            }
                            b'E' => self.modes.bold = n & 1 == 1,
                            b'!' => {
                                self.modes.bold = n & 0x08 != 0;
                                self.modes.height = if n & 0x10 != 0 { 2 } else { 1 };
                                self.modes.width = if n & 0x20 != 0 { 2 } else { 1 };
                            }
                            b'd' => self.print_line(n),
                            _ => {} // double strike, underline, spacing, font, code page
                        }
                        Ok(Step::Done(3, None))
                    }
                    _ => unknown(2),
                }
            }
            0x1C => {
                if need(2) {
                    return Ok(Step::Incomplete);
                }
                self.content = true;
                match buf[1] {
                    b'&' => {
                        self.modes.chinese = true;
                        Ok(Step::Done(2, None))
                    }
                    b'.' => {
                        self.modes.chinese = false;
                        Ok(Step::Done(2, None))
                    }
                    b'!' | b'-' => {
                        if need(3) {
                            return Ok(Step::Incomplete);
                        }
                        Ok(Step::Done(3, None))
                    }
                    _ => unknown(2),
                }
            }
            0x1D => {
                if need(2) {
                    return Ok(Step::Incomplete);
                }
                self.content = true;
                match buf[1] {
                    b'!' => {
                        if need(3) {
                            return Ok(Step::Incomplete);
                        }
                        let n = buf[2];
                        let (w, h) = ((n >> 4) + 1, (n & 0x0F) + 1);
                        if w > 8 || h > 8 {
                            return Err(format!(
                                "GS ! {n:02X} at offset {offset}: size out of range"
                            ));
                        }
                        self.modes.width = w;
                        self.modes.height = h;
                        Ok(Step::Done(3, None))
                    }
                    b'V' => self.cut(buf, offset),
                    b'(' => self.two_d(buf, offset),
                    b'v' => self.raster(buf, offset),
                    _ => unknown(2),
                }
            }
            0x09 | 0x20..=0x7E => {
                self.add_text(&buf[..1]);
                Ok(Step::Done(1, None))
            }
            0x81..=0xFE => {
                if need(2) {
                    return Ok(Step::Incomplete);
                }
                let len = if (0x30..=0x39).contains(&buf[1]) {
                    4
                } else {
                    2
                };
                if need(len) {
                    return Ok(Step::Incomplete);
                }
                let ok = if len == 2 {
                    matches!(buf[1], 0x40..=0x7E | 0x80..=0xFE)
                } else {
                    matches!(buf[2], 0x81..=0xFE) && matches!(buf[3], 0x30..=0x39)
                };
                if !ok {
                    return Err(format!(
                        "malformed GB18030 character at offset {offset} (lead byte {b:02X})"
                    ));
                }
                self.add_text(&buf[..len]);
                Ok(Step::Done(len, None))
            }
            _ => unknown(1),
        }
    }

    fn add_text(&mut self, bytes: &[u8]) {
        if self.text.is_empty() {
            self.text_modes = self.modes;
        }
        self.content = true;
        self.text.extend_from_slice(bytes);
    }

    /// Prints the pending text (if any) and feeds `feed` lines in all.
    fn print_line(&mut self, feed: u8) {
        let printed = self.flush_text();
        let blank = if printed {
            feed.saturating_sub(1)
        } else {
            feed
        };
        if blank > 0 {
            self.lines.push(Line::Feed { lines: blank });
        }
    }

    /// Ends the pending text line, if any. Returns whether there was one.
    fn flush_text(&mut self) -> bool {
        if self.text.is_empty() {
            return false;
        }
        let bytes = std::mem::take(&mut self.text);
        let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
        let m = self.text_modes;
        if !bytes.is_ascii() && !m.chinese {
            self.chinese_ok = false;
        }
        self.lines.push(Line::Text(TextLine {
            text: text.into_owned(),
            align: m.align,
            width: m.width,
            height: m.height,
            bold: m.bold,
            chinese_mode: m.chinese,
        }));
        true
    }

    /// `GS V m [n]`: ends the receipt.
    fn cut(&mut self, buf: &[u8], offset: usize) -> Result<Step, String> {
        let Some(&m) = buf.get(2) else {
            return Ok(Step::Incomplete);
        };
        let (len, cut) = match m {
            0 | b'0' => (
                3,
                Cut {
                    partial: false,
                    feed: None,
                },
            ),
            1 | b'1' => (
                3,
                Cut {
                    partial: true,
                    feed: None,
                },
            ),
            65 | 66 => {
                let Some(&n) = buf.get(3) else {
                    return Ok(Step::Incomplete);
                };
                (
                    4,
                    Cut {
                        partial: m == 66,
                        feed: Some(n),
                    },
                )
            }
            _ => return Err(format!("GS V {m:02X} at offset {offset}: unknown cut mode")),
        };
        self.flush_text();
        let receipt = DecodedReceipt {
            init: self.init,
            chinese_mode_ok: self.chinese_ok,
            lines: std::mem::take(&mut self.lines),
            cut,
        };
        self.init = false;
        self.chinese_ok = true;
        self.content = false;
        Ok(Step::Done(len, Some(Event::Receipt(receipt))))
    }

    /// `GS ( k pL pH cn fn …`: QR code functions.
    fn two_d(&mut self, buf: &[u8], offset: usize) -> Result<Step, String> {
        if buf.len() < 5 {
            return Ok(Step::Incomplete);
        }
        if buf[2] != b'k' {
            return Err(format!(
                "GS ( {:02X} at offset {offset}: unknown command",
                buf[2]
            ));
        }
        let p = usize::from(buf[3]) + 256 * usize::from(buf[4]);
        if p < 2 {
            return Err(format!(
                "GS ( k at offset {offset}: parameter length {p} too short"
            ));
        }
        let len = 5 + p;
        if buf.len() < len {
            return Ok(Step::Incomplete);
        }
        let (cn, fun, args) = (buf[5], buf[6], &buf[7..len]);
        if cn != 0x31 {
            return Err(format!(
                "GS ( k at offset {offset}: 2D symbol type {cn:02X} is not QR (31)"
            ));
        }
        let bad = |what: &str| Err(format!("GS ( k at offset {offset}: QR {what}"));
        match (fun, args) {
            (0x41, [n1, 0]) => {
                self.qr.model = match n1 {
                    49 => 1,
                    50 => 2,
                    51 => 3,
                    _ => return bad(&format!("model {n1} unknown")),
                };
            }
            (0x43, [n]) => {
                if !(1..=16).contains(n) {
                    return bad(&format!("module size {n} out of range 1–16"));
                }
                self.qr.module_size = *n;
            }
            (0x45, [n]) => {
                self.qr.ec = match n {
                    48 => 'L',
                    49 => 'M',
                    50 => 'Q',
                    51 => 'H',
                    _ => return bad(&format!("error correction {n} unknown")),
                };
            }
            (0x50, [0x30, data @ ..]) => {
                self.qr.data = Some(String::from_utf8_lossy(data).into_owned());
            }
            (0x51, [0x30]) => {
                let Some(data) = self.qr.data.clone() else {
                    return bad("print without stored data");
                };
                self.flush_text();
                self.lines.push(Line::Qr(QrCode {
                    model: self.qr.model,
                    ec: self.qr.ec,
                    module_size: self.qr.module_size,
                    data,
                    align: self.modes.align,
                }));
            }
            (0x52, [0x30]) => {} // size request: no output here
            _ => {
                return bad(&format!(
                    "function {fun:02X} with {} parameter bytes",
                    args.len()
                ));
            }
        }
        Ok(Step::Done(len, None))
    }

    /// `GS v 0 m xL xH yL yH d…`: a raster image.
    fn raster(&mut self, buf: &[u8], offset: usize) -> Result<Step, String> {
        if buf.len() < 8 {
            return Ok(Step::Incomplete);
        }
        if buf[2] != b'0' || !matches!(buf[3], 0..=3 | 48..=51) {
            return Err(format!(
                "GS v {:02X} {:02X} at offset {offset}: unknown raster command",
                buf[2], buf[3]
            ));
        }
        let x = usize::from(u16::from_le_bytes([buf[4], buf[5]]));
        let y = usize::from(u16::from_le_bytes([buf[6], buf[7]]));
        if x == 0 || y == 0 {
            return Err(format!(
                "GS v 0 at offset {offset}: empty image ({x} × {y})"
            ));
        }
        let len = 8 + x * y;
        if buf.len() < len {
            return Ok(Step::Incomplete);
        }
        let ink = buf[8..len].iter().map(|b| b.count_ones()).sum();
        self.flush_text();
        self.lines.push(Line::Raster(RasterImage {
            width: u16::try_from(x * 8).unwrap_or(u16::MAX),
            height: u16::try_from(y).unwrap_or(u16::MAX),
            ink,
            align: self.modes.align,
        }));
        Ok(Step::Done(len, None))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn gb(s: &str) -> Vec<u8> {
        encoding_rs::GB18030.encode(s).0.into_owned()
    }

    fn stream(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn text_lines_carry_their_modes() {
        let bytes = stream(&[
            &[0x1B, 0x40, 0x1C, 0x26],
            &[0x1B, 0x61, 0x01, 0x1D, 0x21, 0x11],
            &gb("凭条"),
            &[0x0A, 0x1D, 0x21, 0x00, 0x1B, 0x61, 0x02, 0x1B, 0x45, 0x01],
            b"right bold",
            &[0x1B, 0x64, 0x03, 0x1D, 0x56, 0x00],
        ]);
        let r = decode(&bytes).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].init && r[0].chinese_mode_ok);
        assert_eq!(
            r[0].cut,
            Cut {
                partial: false,
                feed: None
            }
        );
        assert_eq!(
            r[0].lines,
            vec![
                Line::Text(TextLine {
                    text: "凭条".into(),
                    align: Align::Center,
                    width: 2,
                    height: 2,
                    bold: false,
                    chinese_mode: true,
                }),
                Line::Text(TextLine {
                    text: "right bold".into(),
                    align: Align::Right,
                    width: 1,
                    height: 1,
                    bold: true,
                    chinese_mode: true,
                }),
                Line::Feed { lines: 2 },
            ]
        );
    }

    #[test]
    fn chinese_text_without_fs_ampersand_is_flagged() {
        let bytes = stream(&[&[0x1B, 0x40], &gb("认证"), &[0x0A, 0x1D, 0x56, 0x42, 0x00]]);
        let r = decode(&bytes).unwrap();
        assert!(!r[0].chinese_mode_ok);
        // FS & before ESC @ does not count either.
        let bytes = stream(&[
            &[0x1C, 0x26, 0x1B, 0x40],
            &gb("认证"),
            &[0x0A, 0x1D, 0x56, 0x42, 0x00],
        ]);
        assert!(!decode(&bytes).unwrap()[0].chinese_mode_ok);
        // ASCII needs no Chinese mode; FS . leaves it.
        let bytes = stream(&[
            &[0x1B, 0x40, 0x1C, 0x26, 0x1C, 0x2E],
            b"ok\n",
            &[0x1D, 0x56, 0x01],
        ]);
        let r = decode(&bytes).unwrap();
        assert!(r[0].chinese_mode_ok);
        assert!(matches!(&r[0].lines[0], Line::Text(t) if !t.chinese_mode));
    }

    #[test]
    fn four_byte_gb18030_decodes() {
        let bytes = stream(&[
            &[0x1B, 0x40, 0x1C, 0x26],
            &gb("𠮷a"),
            &[0x0A, 0x1D, 0x56, 0x41, 0x05],
        ]);
        let r = decode(&bytes).unwrap();
        assert_eq!(r[0].texts(), vec!["𠮷a"]);
        assert_eq!(
            r[0].cut,
            Cut {
                partial: false,
                feed: Some(5)
            }
        );
    }

    #[test]
    fn qr_code_is_decoded() {
        let bytes = stream(&[
            &[0x1B, 0x40],
            &[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00],
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06],
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31],
            &[0x1D, 0x28, 0x6B, 0x0A, 0x00, 0x31, 0x50, 0x30],
            b"LC-0001",
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30],
            &[0x1D, 0x56, 0x42, 0x00],
        ]);
        let r = decode(&bytes).unwrap();
        assert_eq!(
            r[0].qr_codes(),
            vec![&QrCode {
                model: 2,
                ec: 'M',
                module_size: 6,
                data: "LC-0001".into(),
                align: Align::Left,
            }]
        );
    }

    #[test]
    fn raster_image_is_measured() {
        let mut bytes = vec![0x1B, 0x40, 0x1D, 0x76, 0x30, 0x00, 0x02, 0x00, 0x03, 0x00];
        bytes.extend_from_slice(&[0xFF, 0x00, 0x01, 0x80, 0x00, 0x00]);
        bytes.extend_from_slice(&[0x1D, 0x56, 0x42, 0x00]);
        let r = decode(&bytes).unwrap();
        assert_eq!(
            r[0].rasters(),
            vec![&RasterImage {
                width: 16,
                height: 3,
                ink: 10,
                align: Align::Left
            }]
        );
    }

    #[test]
    fn one_receipt_per_cut_and_status_requests_apart() {
        let one = stream(&[&[0x1B, 0x40], b"one\n", &[0x1D, 0x56, 0x42, 0x00]]);
        let two = stream(&[&[0x1B, 0x40], b"two\n", &[0x1D, 0x56, 0x42, 0x00]]);
        let mut decoder = Decoder::default();
        let mut events = decoder.push(&[0x10, 0x04, 0x01, 0x10, 0x04]).unwrap();
        assert!(decoder.push(&[]).unwrap().is_empty());
        events.extend(decoder.push(&[0x04]).unwrap());
        assert_eq!(events, vec![Event::Status(1), Event::Status(4)]);
        // Byte by byte: nothing until the cut.
        let mut events = Vec::new();
        for b in one.iter().chain(&two) {
            events.extend(decoder.push(&[*b]).unwrap());
        }
        let texts: Vec<Vec<String>> = events
            .iter()
            .map(|e| match e {
                Event::Receipt(r) => r.texts().iter().map(|s| s.to_string()).collect(),
                Event::Status(_) => vec![],
            })
            .collect();
        assert_eq!(
            texts,
            vec![vec!["one".to_string()], vec!["two".to_string()]]
        );
        assert!(decoder.is_idle());
        assert_eq!(decode(&[&one[..], &two[..]].concat()).unwrap().len(), 2);
    }

    #[test]
    fn unknown_commands_name_their_offset() {
        let err = decode(&[0x1B, 0x40, b'a', 0x1B, 0x5A, 0x00]).unwrap_err();
        assert!(err.contains("1B 5A") && err.contains("offset 3"), "{err}");
        let err = decode(&[0x1B, 0x40, 0x07]).unwrap_err();
        assert!(err.contains("offset 2"), "{err}");
        let err = decode(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x30, 0x43, 0x06]).unwrap_err();
        assert!(err.contains("not QR") && err.contains("offset 0"), "{err}");
        let err = decode(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]).unwrap_err();
        assert!(err.contains("without stored data"), "{err}");
    }

    #[test]
    fn a_stream_without_a_cut_is_incomplete() {
        let err = decode(&[0x1B, 0x40, b'x']).unwrap_err();
        assert!(err.contains("no cut"), "{err}");
        let err = decode(&[0x1D, 0x28, 0x6B, 0x0A, 0x00, 0x31]).unwrap_err();
        assert!(err.contains("no cut"), "{err}");
        assert!(decode(&[0x10, 0x04, 0x02]).unwrap().is_empty());
    }

    #[test]
    fn receipts_round_trip_through_json() {
        let bytes = stream(&[
            &[0x1B, 0x40, 0x1C, 0x26],
            &gb("凭条"),
            &[0x0A, 0x1D, 0x56, 0x42, 0x00],
        ]);
        let r = decode(&bytes).unwrap().remove(0);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""kind":"text""#), "{json}");
        assert!(
            json.contains(r#""cut":{"partial":true,"feed":0}"#),
            "{json}"
        );
        let back: DecodedReceipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
