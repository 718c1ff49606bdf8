//! The certification receipt as an ESC/POS byte stream (DOMAIN.md §3).
//!
//! Built with the `escpos` crate over an in-memory driver: GB18030 text in
//! Chinese mode (`FS &`, sent with `custom()`: the crate has no FS commands),
//! QR model 2 with error correction M, and a function-B partial cut
//! (`GS V 42 00`, also via `custom()`: the crate's "partial cut" sends
//! `GS V 41 01`, which function B defines as a *full* cut).
//!
//! Receipt printer fonts carry GBK glyphs only. A line with a character
//! outside GBK (a four-byte GB18030 sequence such as 𠮷, or a two-byte code
//! GB18030 added after GBK such as 䶮 = `FE 9F`) is printed as a raster image
//! (`GS v 0`) drawn with the kiosk's CJK font; without a font such
//! characters become "□" and only their count is logged.
//!
//! Text from the card, the record or the configuration never carries control
//! characters into the stream: they are dropped before encoding, so no field
//! can inject a printer command.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{
    Encoder, JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};
use lifecert_core::flow::Receipt;

/// ESC @: initialise.
pub const INIT: [u8; 2] = [0x1B, 0x40];
/// FS &: enter Chinese (Hanzi) mode; two-byte codes print as one character.
pub const CHINESE_MODE_ON: [u8; 2] = [0x1C, 0x26];
/// FS .: leave Chinese mode.
pub const CHINESE_MODE_OFF: [u8; 2] = [0x1C, 0x2E];
/// GS V 66 0: feed to the cutting position, then cut partially (one tab left
/// so the receipt hangs at the slot until taken). Printers without a partial
/// cutter make a full cut.
pub const CUT: [u8; 4] = [0x1D, 0x56, 0x42, 0x00];
/// Lines fed after the QR code before the cut.
pub const FEED_BEFORE_CUT: u8 = 3;
/// The receipt's title.
pub const TITLE: &str = "社会保险待遇资格认证凭条";
/// QR module size in dots (1–16).
pub const QR_MODULE_SIZE: u8 = 6;
/// Longest QR content printed; a longer URL falls back to the record id.
pub const MAX_QR_BYTES: usize = 512;
/// Dots per text column (font A: 12 × 24; a Chinese character is two columns).
pub const DOTS_PER_COLUMN: usize = 12;
/// Glyph size of raster lines in dots (the printer font's Chinese cell).
pub const RASTER_EM: f32 = 24.0;
/// Height of one raster line in dots (glyphs plus line spacing).
pub const RASTER_LINE_HEIGHT: u16 = 30;
/// Share of a dot a glyph must cover to print it black (below one half so
/// one-dot strokes that straddle two dots stay unbroken).
const COVERAGE_THRESHOLD: f32 = 0.35;
/// Replacement for a character the printer cannot print and no font draws.
pub const REPLACEMENT: char = '□';

/// Where the receipt was printed and how wide the paper is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLayout {
    /// Site name printed on the receipt (认证地点).
    pub site: String,
    /// The kiosk's device id (设备编号).
    pub device_id: String,
    /// Verification URL for the QR code; `{id}` is replaced by the record id.
    /// `None`: the QR code carries the record id itself.
    pub qr_url: Option<String>,
    /// Characters per line in font A: 32 for 58 mm paper, 48 for 80 mm.
    pub columns: usize,
}

impl Default for ReceiptLayout {
    fn default() -> Self {
        ReceiptLayout {
            site: String::new(),
            device_id: String::new(),
            qr_url: None,
            columns: 32,
        }
    }
}

/// A CJK font for drawing lines the printer font cannot print.
pub struct RasterFont {
    font: FontVec,
    path: PathBuf,
    index: u32,
}

impl std::fmt::Debug for RasterFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RasterFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish()
    }
}

impl RasterFont {
    /// Loads face `face_index` of the font file at `path` (a `.ttc` holds
    /// several faces; `ui::fonts::find` tells which one is Chinese).
    pub fn load(path: &Path, face_index: u32) -> Result<RasterFont, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the font {}: {e}", path.display()))?;
        let font = FontVec::try_from_vec_and_index(bytes, face_index).map_err(|e| {
            format!(
                "{} face {face_index} is not a usable font ({e})",
                path.display()
            )
        })?;
        Ok(RasterFont {
            font,
            path: path.to_path_buf(),
            index: face_index,
        })
    }

    /// The font file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn has_glyph(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// The pixel scale at which one em is [`RASTER_EM`] dots.
    fn scale(&self) -> PxScale {
        let upem = self.font.units_per_em().unwrap_or(1000.0);
        PxScale::from(RASTER_EM * self.font.height_unscaled() / upem)
    }

    /// Splits `text` into pieces no wider than `max_dots`.
    fn split(&self, text: &str, max_dots: usize) -> Vec<String> {
        let scaled = self.font.as_scaled(self.scale());
        let mut pieces = Vec::new();
        let mut current = String::new();
        let mut width = 0.0_f32;
        for c in text.chars() {
            let advance = scaled.h_advance(self.font.glyph_id(c));
            if !current.is_empty() && width + advance > max_dots as f32 {
                pieces.push(std::mem::take(&mut current));
                width = 0.0;
            }
            current.push(c);
            width += advance;
        }
        if !current.is_empty() || pieces.is_empty() {
            pieces.push(current);
        }
        pieces
    }

    /// Draws `text` (one line, at most `max_dots` wide) as a 1-bit image:
    /// width in dots (a multiple of 8), height, and rows of packed bits
    /// (most significant bit = leftmost dot, 1 = black).
    fn render(&self, text: &str, max_dots: usize) -> (usize, usize, Vec<u8>) {
        let scale = self.scale();
        let scaled = self.font.as_scaled(scale);
        let mut x = 0.0_f32;
        let mut glyphs = Vec::new();
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            glyphs.push(id.with_scale_and_position(scale, point(x, 0.0)));
            x += scaled.h_advance(id);
        }
        let width = (x.ceil().max(1.0) as usize)
            .min(max_dots.max(8))
            .div_ceil(8)
            * 8;
        let height = usize::from(RASTER_LINE_HEIGHT);
        // The ideographic em box sits at 3..27; its baseline is 0.88 em down.
        let baseline = 3.0 + 0.88 * RASTER_EM;
        let stride = width / 8;
        let mut bits = vec![0u8; stride * height];
        for mut glyph in glyphs {
            glyph.position.y = baseline;
            let Some(outlined) = self.font.outline_glyph(glyph) else {
                continue; // a space
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                if coverage < COVERAGE_THRESHOLD {
                    return;
                }
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px < 0 || py < 0 || px >= width as i64 || py >= height as i64 {
                    return;
                }
                let (px, py) = (px as usize, py as usize);
                bits[py * stride + px / 8] |= 0x80 >> (px % 8);
            });
        }
        (width, height, bits)
    }
}

/// Whether the printer's own (GBK) font prints `c`. GB18030 encodes every
/// character, but four-byte sequences, the user-defined areas and the
/// two-byte codes added after GBK have no glyph in printer fonts.
pub fn printer_font_has(c: char) -> bool {
    let mut buf = [0u8; 4];
    let (bytes, _, _) = encoding_rs::GB18030.encode(c.encode_utf8(&mut buf));
    match *bytes {
        [_] => true,
        [lead, trail] => !gbk_gap(lead, trail),
        _ => false,
    }
}

/// Two-byte GB18030 codes outside GBK's standard repertoire.
fn gbk_gap(lead: u8, trail: u8) -> bool {
    match lead {
        // User-defined areas AAA1–AFFE and F8A1–FEFE.
        0xAA..=0xAF | 0xF8..=0xFD if trail >= 0xA1 => true,
        // FE50–FEA0 (GB18030 additions, e.g. 䶮 FE9F) and FEA1–FEFE (user-defined).
        0xFE => trail >= 0x50,
        // User-defined area A140–A7A0.
        0xA1..=0xA7 if (0x40..=0xA0).contains(&trail) => true,
        // Vertical forms added by GB18030.
        0xA6 => matches!(trail, 0xD9..=0xDF | 0xEC..=0xED | 0xF3),
        // ḿ ǹ and the ideographic description characters.
        0xA8 => matches!(trail, 0xBC | 0xBF),
        0xA9 => (0x89..=0x95).contains(&trail),
        _ => false,
    }
}

/// Display width in font-A columns (a Chinese character is two).
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// The receipt's bytes: init, Chinese mode, title, masked ID and name,
/// result (bold), date and time, next due date, site, device, record id,
/// QR code, feed, cut. `raster` draws characters outside the printer font.
pub fn receipt_bytes(
    receipt: &Receipt,
    layout: &ReceiptLayout,
    raster: Option<&RasterFont>,
) -> Vec<u8> {
    let columns = layout.columns.clamp(16, 96);
    let mut doc = Doc::new(columns, raster);

    doc.step("init", |p| p.init());
    doc.step("chinese mode", |p| p.custom(&CHINESE_MODE_ON));

    doc.step("centre", |p| p.justify(JustifyMode::CENTER));
    // Double width and height when the title fits on one line (80 mm paper),
    // else double height only (58 mm: 12 characters × 2 × 2 columns > 32).
    let double_width = display_width(TITLE) * 2 <= columns;
    doc.step("title size", |p| {
        p.size(if double_width { 2 } else { 1 }, 2)
    });
    doc.line(TITLE, Style::Title);
    doc.step("reset size", |p| p.reset_size());
    doc.step("left", |p| p.justify(JustifyMode::LEFT));
    doc.divider();

    doc.field("身份证号：", &receipt.masked_id);
    if let Some(name) = &receipt.masked_name {
        doc.field("姓\u{3000}\u{3000}名：", name);
    }
    doc.step("bold on", |p| p.bold(true));
    doc.field_styled("认证结果：", &receipt.result_zh, Style::Bold);
    doc.step("bold off", |p| p.bold(false));
    doc.field("认证时间：", &zh_date_time(receipt.at));
    if let Some(next) = &receipt.next_due_zh {
        // Already a sentence: "下次认证时间：2027年3月31日前".
        doc.field("", next);
    }
    if !layout.site.trim().is_empty() {
        doc.field("认证地点：", &layout.site);
    }
    if !layout.device_id.trim().is_empty() {
        doc.field("设备编号：", &layout.device_id);
    }
    doc.field("凭条编号：", &receipt.record_id);
    doc.divider();

    let qr = qr_content(&receipt.record_id, layout.qr_url.as_deref());
    if !qr.is_empty() {
        doc.step("centre", |p| p.justify(JustifyMode::CENTER));
        doc.step("qr code", |p| {
            p.qrcode_option(
                &qr,
                QRCodeOption::new(
                    QRCodeModel::Model2,
                    QR_MODULE_SIZE,
                    QRCodeCorrectionLevel::M,
                ),
            )
        });
        doc.step("left", |p| p.justify(JustifyMode::LEFT));
    }
    doc.step("feed", |p| p.feeds(FEED_BEFORE_CUT));
    doc.step("cut", |p| p.custom(&CUT));
    doc.finish()
}

/// "2026年11月23日 14:05" (date as on the screens: no zero padding).
pub fn zh_date_time(at: time::OffsetDateTime) -> String {
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The QR content: the URL with `{id}` replaced, or the record id when no
/// URL is set or the URL cannot be used (no `{id}`, not ASCII, too long).
pub fn qr_content(record_id: &str, url: Option<&str>) -> String {
    let id: String = record_id.chars().filter(|c| !c.is_control()).collect();
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return id;
    };
    if !url.contains("{id}") {
        tracing::warn!("printer QR URL has no {{id}} placeholder; printing the record id instead");
        return id;
    }
    let content = url.replace("{id}", &id);
    if !content.is_ascii()
        || content.chars().any(|c| c.is_ascii_control())
        || content.len() > MAX_QR_BYTES
    {
        tracing::warn!(
            "printer QR URL is not plain ASCII or longer than {MAX_QR_BYTES} bytes; printing the record id instead"
        );
        return id;
    }
    content
}

/// Line styles (for raster lines, which the printer's text modes do not affect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Title,
}

/// Collects the bytes the `escpos` printer writes.
#[derive(Default)]
struct MemoryDriver(RefCell<Vec<u8>>);

impl Driver for MemoryDriver {
    fn name(&self) -> String {
        "memory".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

type EscPrinter = Printer<MemoryDriver>;

/// One receipt being built. A step that fails is left out and logged (none
/// can fail with the inputs built here: GB18030 encodes every character,
/// sizes are constants and QR content is capped).
struct Doc<'a> {
    printer: EscPrinter,
    columns: usize,
    raster: Option<&'a RasterFont>,
    replaced: usize,
    rastered: usize,
}

impl<'a> Doc<'a> {
    fn new(columns: usize, raster: Option<&'a RasterFont>) -> Doc<'a> {
        let protocol = Protocol::new(Encoder::new(encoding_rs::GB18030));
        Doc {
            printer: Printer::new(MemoryDriver::default(), protocol, None),
            columns,
            raster,
            replaced: 0,
            rastered: 0,
        }
    }

    fn step(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut EscPrinter) -> escpos::errors::Result<&mut EscPrinter>,
    ) {
        if let Err(e) = f(&mut self.printer) {
            tracing::error!(step = what, "receipt step left out: {e}");
        }
    }

    fn divider(&mut self) {
        let line = "-".repeat(self.columns);
        self.step("divider", |p| p.writeln(&line));
    }

    fn field(&mut self, label: &str, value: &str) {
        self.field_styled(label, value, Style::Plain);
    }

    /// `label` then `value`, wrapped at the paper width; continuation lines
    /// are indented under the value.
    fn field_styled(&mut self, label: &str, value: &str, style: Style) {
        let label = clean(label);
        let value = clean(value);
        let indent = display_width(&label);
        let mut lines = Vec::new();
        let mut current = label.clone();
        let mut width = indent;
        for c in value.chars() {
            let w = display_width(c.encode_utf8(&mut [0u8; 4]));
            if width + w > self.columns && width > indent {
                lines.push(std::mem::take(&mut current));
                current = " ".repeat(indent.min(self.columns / 2));
                width = display_width(&current);
            }
            current.push(c);
            width += w;
        }
        lines.push(current);
        for line in lines {
            self.line(&line, style);
        }
    }

    /// Prints one line: as text when the printer font has every character,
    /// else as a raster image (or with "□" for want of a font).
    fn line(&mut self, text: &str, style: Style) {
        let text = clean(text);
        if text.chars().all(printer_font_has) {
            self.step("text", |p| p.writeln(&text));
            return;
        }
        match self.raster {
            Some(font) => self.raster_line(font, &text, style),
            None => {
                let mut replaced = 0;
                let text: String = text
                    .chars()
                    .map(|c| {
                        if printer_font_has(c) {
                            c
                        } else {
                            replaced += 1;
                            REPLACEMENT
                        }
                    })
                    .collect();
                self.replaced += replaced;
                self.step("text", |p| p.writeln(&text));
            }
        }
    }

    fn raster_line(&mut self, font: &RasterFont, text: &str, style: Style) {
        let max_dots = self.columns * DOTS_PER_COLUMN;
        let mut missing = 0;
        let text: String = text
            .chars()
            .map(|c| {
                if font.has_glyph(c) {
                    c
                } else {
                    missing += 1;
                    REPLACEMENT
                }
            })
            .collect();
        self.replaced += missing;
        for piece in font.split(&text, max_dots) {
            let (width, height, mut bits) = font.render(&piece, max_dots);
            if style != Style::Plain {
                embolden(&mut bits, width / 8);
            }
            let mut cmd = Vec::with_capacity(8 + bits.len());
            cmd.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00]);
            cmd.extend_from_slice(&le16(width / 8));
            cmd.extend_from_slice(&le16(height));
            cmd.append(&mut bits);
            self.rastered += 1;
            self.step("raster line", |p| p.custom(&cmd));
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.replaced > 0 {
            tracing::warn!(
                replaced = self.replaced,
                "receipt: characters the printer font lacks were printed as {REPLACEMENT} \
                 (no CJK font for raster printing)"
            );
        }
        if self.rastered > 0 {
            tracing::debug!(
                lines = self.rastered,
                "receipt: lines printed as raster images"
            );
        }
        self.step("print", |p| p.print());
        self.printer.driver().0.into_inner()
    }
}

/// Little-endian pair (values are bounded by the paper width and line height).
fn le16(v: usize) -> [u8; 2] {
    let v = u16::try_from(v).unwrap_or(u16::MAX);
    v.to_le_bytes()
}

/// Thickens strokes by one dot to the right (bold for raster lines).
fn embolden(bits: &mut [u8], stride: usize) {
    if stride == 0 {
        return;
    }
    for row in bits.chunks_mut(stride) {
        let mut carry = 0u8;
        for byte in row.iter_mut() {
            let original = *byte;
            *byte |= (original >> 1) | carry;
            carry = (original & 1) << 7;
        }
    }
}

/// Drops control characters (they would be printer commands).
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::peripherals::escpos_decode::{self, Align, Line};
    use time::macros::datetime;

    fn receipt() -> Receipt {
        Receipt {
            masked_id: "1101**********0013".into(),
            masked_name: Some("张*三".into()),
            result_zh: "认证成功".into(),
            at: datetime!(2026-11-23 14:05:09 +8),
            next_due_zh: Some("下次认证时间：2027年11月30日前".into()),
            record_id: "LC-0001".into(),
        }
    }

    fn layout() -> ReceiptLayout {
        ReceiptLayout {
            site: "朝阳区社保所".into(),
            device_id: "KIOSK-07".into(),
            qr_url: Some("https://si.example.cn/v?id={id}".into()),
            columns: 32,
        }
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn cjk_font() -> Option<RasterFont> {
        match crate::ui::fonts::find(None) {
            Ok(found) => Some(RasterFont::load(&found.path, found.index).unwrap()),
            Err(e) => {
                eprintln!("SKIP: no CJK font installed (apt-get install fonts-noto-cjk): {e}");
                None
            }
        }
    }

    #[test]
    fn starts_with_init_then_chinese_mode() {
        let bytes = receipt_bytes(&receipt(), &layout(), None);
        assert_eq!(&bytes[..4], &[0x1B, 0x40, 0x1C, 0x26]);
    }

    #[test]
    fn title_is_centred_double_height_then_reset_on_58mm() {
        let bytes = receipt_bytes(&receipt(), &layout(), None);
        let mut title = vec![0x1B, 0x61, 0x01, 0x1D, 0x21, 0x01];
        title.extend_from_slice(&encoding_rs::GB18030.encode(TITLE).0);
        title.extend_from_slice(&[0x1B, 0x64, 0x01, 0x1D, 0x21, 0x00, 0x1B, 0x61, 0x00]);
        assert_eq!(&bytes[4..4 + title.len()], title.as_slice());
    }

    #[test]
    fn title_is_double_width_and_height_on_80mm() {
        let wide = ReceiptLayout {
            columns: 48,
            ..layout()
        };
        let bytes = receipt_bytes(&receipt(), &wide, None);
        assert_eq!(&bytes[4..10], &[0x1B, 0x61, 0x01, 0x1D, 0x21, 0x11]);
    }

    #[test]
    fn result_line_is_bold_and_gb18030() {
        let bytes = receipt_bytes(&receipt(), &layout(), None);
        // ESC E 1, "认证结果：认证成功", ESC d 1, ESC E 0.
        let mut expected = vec![0x1B, 0x45, 0x01];
        expected.extend_from_slice(&[0xC8, 0xCF, 0xD6, 0xA4, 0xBD, 0xE1, 0xB9, 0xFB, 0xA3, 0xBA]);
        expected.extend_from_slice(&[0xC8, 0xCF, 0xD6, 0xA4, 0xB3, 0xC9, 0xB9, 0xA6]);
        expected.extend_from_slice(&[0x1B, 0x64, 0x01, 0x1B, 0x45, 0x00]);
        assert!(
            find(&bytes, &expected).is_some(),
            "bold result line missing"
        );
    }

    #[test]
    fn renzheng_chenggong_encodes_to_its_gb18030_bytes() {
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode("认证成功");
        assert!(!unmappable);
        assert_eq!(&*bytes, &[0xC8, 0xCF, 0xD6, 0xA4, 0xB3, 0xC9, 0xB9, 0xA6]);
    }

    #[test]
    fn qr_code_is_model_2_ec_m_size_6_with_the_record_id() {
        let no_url = ReceiptLayout {
            qr_url: None,
            ..layout()
        };
        let bytes = receipt_bytes(&receipt(), &no_url, None);
        let expected: &[u8] = &[
            0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // model 2
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, // module size 6
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // EC level M
            0x1D, 0x28, 0x6B, 0x0A, 0x00, 0x31, 0x50, 0x30, // store: pL = 7 + 3
            b'L', b'C', b'-', b'0', b'0', b'0', b'1', //
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // print
        ];
        let at = find(&bytes, expected).expect("QR sequence");
        // Centred before, left after.
        assert_eq!(&bytes[at - 3..at], &[0x1B, 0x61, 0x01]);
        assert_eq!(
            &bytes[at + expected.len()..at + expected.len() + 3],
            &[0x1B, 0x61, 0x00]
        );
    }

    #[test]
    fn qr_url_gets_the_record_id() {
        assert_eq!(
            qr_content("LC-0001", Some("https://si.example.cn/v?id={id}")),
            "https://si.example.cn/v?id=LC-0001"
        );
        assert_eq!(qr_content("LC-0001", None), "LC-0001");
        assert_eq!(qr_content("LC-0001", Some("  ")), "LC-0001");
        assert_eq!(
            qr_content("LC-0001", Some("https://no-placeholder/")),
            "LC-0001"
        );
        assert_eq!(qr_content("LC-0001", Some("https://例子/{id}")), "LC-0001");
        let long = format!("https://x/{}{{id}}", "a".repeat(MAX_QR_BYTES));
        assert_eq!(qr_content("LC-0001", Some(&long)), "LC-0001");
    }

    #[test]
    fn ends_with_feed_and_partial_cut() {
        let bytes = receipt_bytes(&receipt(), &layout(), None);
        assert!(bytes.ends_with(&[0x1B, 0x64, FEED_BEFORE_CUT, 0x1D, 0x56, 0x42, 0x00]));
    }

    #[test]
    fn date_is_written_in_chinese() {
        assert_eq!(
            zh_date_time(datetime!(2026-11-23 14:05:59 +8)),
            "2026年11月23日 14:05"
        );
        assert_eq!(
            zh_date_time(datetime!(2027-03-05 09:00 +8)),
            "2027年3月5日 09:00"
        );
    }

    #[test]
    fn the_whole_receipt_decodes_back_field_by_field() {
        let bytes = receipt_bytes(&receipt(), &layout(), None);
        let decoded = escpos_decode::decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 1);
        let r = &decoded[0];
        assert!(r.init);
        assert!(r.chinese_mode_ok);
        assert_eq!((r.cut.partial, r.cut.feed), (true, Some(0)));
        let texts: Vec<(&str, Align, u8, u8, bool)> = r
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Text(t) => Some((t.text.as_str(), t.align, t.width, t.height, t.bold)),
                _ => None,
            })
            .collect();
        let divider = "-".repeat(32);
        assert_eq!(
            texts,
            vec![
                (TITLE, Align::Center, 1, 2, false),
                (divider.as_str(), Align::Left, 1, 1, false),
                ("身份证号：1101**********0013", Align::Left, 1, 1, false),
                ("姓\u{3000}\u{3000}名：张*三", Align::Left, 1, 1, false),
                ("认证结果：认证成功", Align::Left, 1, 1, true),
                ("认证时间：2026年11月23日 14:05", Align::Left, 1, 1, false),
                ("下次认证时间：2027年11月30日前", Align::Left, 1, 1, false),
                ("认证地点：朝阳区社保所", Align::Left, 1, 1, false),
                ("设备编号：KIOSK-07", Align::Left, 1, 1, false),
                ("凭条编号：LC-0001", Align::Left, 1, 1, false),
                (divider.as_str(), Align::Left, 1, 1, false),
            ]
        );
        let qrs = r.qr_codes();
        assert_eq!(qrs.len(), 1);
        assert_eq!(qrs[0].model, 2);
        assert_eq!(qrs[0].ec, 'M');
        assert_eq!(qrs[0].module_size, QR_MODULE_SIZE);
        assert_eq!(qrs[0].data, "https://si.example.cn/v?id=LC-0001");
        assert_eq!(qrs[0].align, Align::Center);
        assert!(r.rasters().is_empty());
        // Nothing after the QR but the feed.
        assert!(matches!(r.lines.last(), Some(Line::Feed { lines: 3 })));
    }

    #[test]
    fn optional_lines_are_left_out() {
        let mut bare = receipt();
        bare.masked_name = None;
        bare.next_due_zh = None;
        let layout = ReceiptLayout {
            site: String::new(),
            device_id: String::new(),
            qr_url: None,
            columns: 32,
        };
        let decoded = escpos_decode::decode(&receipt_bytes(&bare, &layout, None)).unwrap();
        let texts = decoded[0].texts();
        assert!(!texts.iter().any(|t| t.starts_with("姓")), "{texts:?}");
        assert!(!texts.iter().any(|t| t.starts_with("下次")), "{texts:?}");
        assert!(
            !texts.iter().any(|t| t.starts_with("认证地点")),
            "{texts:?}"
        );
        assert!(texts.contains(&"凭条编号：LC-0001"), "{texts:?}");
        assert_eq!(decoded[0].qr_codes()[0].data, "LC-0001");
    }

    #[test]
    fn long_values_wrap_under_the_value_column() {
        let mut long = receipt();
        long.record_id = "0192f3a4-5b6c-7d8e-9f00-112233445566".into();
        let decoded = escpos_decode::decode(&receipt_bytes(&long, &layout(), None)).unwrap();
        let texts = decoded[0].texts();
        let at = texts
            .iter()
            .position(|t| t.starts_with("凭条编号："))
            .unwrap();
        assert_eq!(texts[at], "凭条编号：0192f3a4-5b6c-7d8e-9f0");
        assert_eq!(texts[at + 1], "          0-112233445566");
        assert!(texts.iter().all(|t| display_width(t) <= 32), "{texts:?}");
    }

    #[test]
    fn control_characters_never_reach_the_stream() {
        let mut evil = receipt();
        evil.masked_name = Some("张\u{1b}@\u{1d}V\u{0}*三".into());
        let bytes = receipt_bytes(&evil, &layout(), None);
        let decoded = escpos_decode::decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 1, "one cut only");
        assert!(
            decoded[0]
                .texts()
                .contains(&"姓\u{3000}\u{3000}名：张@V*三")
        );
    }

    #[test]
    fn characters_outside_gbk_are_recognised() {
        for c in [
            '认', '证', 'A', '1', '：', '\u{3000}', '龑', '镕', '堃', '喆', '赟', '□',
        ] {
            assert!(printer_font_has(c), "{c} is in GBK");
        }
        for c in ['𠮷', '䶮', '\u{E000}', '\u{20000}'] {
            assert!(!printer_font_has(c), "{c} is outside GBK");
        }
        // 𠮷 is a four-byte sequence; 䶮 is two bytes but outside GBK.
        assert_eq!(encoding_rs::GB18030.encode("𠮷").0.len(), 4);
        assert_eq!(&*encoding_rs::GB18030.encode("䶮").0, &[0xFE, 0x9F]);
    }

    #[test]
    fn rare_name_without_a_font_prints_a_box() {
        let mut rare = receipt();
        rare.masked_name = Some("𠮷*䶮".into());
        let bytes = receipt_bytes(&rare, &layout(), None);
        assert!(
            find(&bytes, &[0x1D, 0x76, 0x30]).is_none(),
            "no raster without a font"
        );
        let decoded = escpos_decode::decode(&bytes).unwrap();
        assert!(
            decoded[0].texts().contains(&"姓\u{3000}\u{3000}名：□*□"),
            "{:?}",
            decoded[0].texts()
        );
    }

    #[test]
    fn rare_name_with_a_font_prints_a_raster_line() {
        let Some(font) = cjk_font() else { return };
        let mut rare = receipt();
        rare.masked_name = Some("𠮷*䶮".into());
        let bytes = receipt_bytes(&rare, &layout(), Some(&font));
        let decoded = escpos_decode::decode(&bytes).unwrap();
        let r = &decoded[0];
        // The name line is an image; no text line carries it, no box either.
        assert!(
            !r.texts().iter().any(|t| t.starts_with("姓")),
            "{:?}",
            r.texts()
        );
        assert!(!r.texts().iter().any(|t| t.contains(REPLACEMENT)));
        let rasters = r.rasters();
        assert_eq!(rasters.len(), 1);
        let img = rasters[0];
        assert_eq!(img.height, RASTER_LINE_HEIGHT);
        assert_eq!(img.width % 8, 0);
        assert!(img.width <= 32 * 12, "{img:?}");
        // 姓　　名：𠮷*䶮 is 8 CJK cells + '*': roughly 8 × 24 dots.
        assert!(img.width >= 7 * 24, "{img:?}");
        // Ink covers a plausible share of the image: glyphs were drawn.
        let dots = u32::from(img.width) * u32::from(img.height);
        assert!(img.ink > dots / 20 && img.ink < dots / 2, "{img:?}");
        // It sits where the name goes: after the ID line, before the result.
        let pos = |pred: &dyn Fn(&Line) -> bool| r.lines.iter().position(pred).unwrap();
        let id = pos(&|l| matches!(l, Line::Text(t) if t.text.starts_with("身份证号")));
        let raster = pos(&|l| matches!(l, Line::Raster(_)));
        let result = pos(&|l| matches!(l, Line::Text(t) if t.text.starts_with("认证结果")));
        assert!(id < raster && raster < result);
    }

    #[test]
    fn ordinary_receipt_has_no_raster_even_with_a_font() {
        let Some(font) = cjk_font() else { return };
        let bytes = receipt_bytes(&receipt(), &layout(), Some(&font));
        assert_eq!(bytes, receipt_bytes(&receipt(), &layout(), None));
    }

    #[test]
    fn raster_bold_thickens_strokes() {
        let mut bits = vec![0b1000_0001, 0b0000_0000];
        embolden(&mut bits, 2);
        assert_eq!(bits, vec![0b1100_0001, 0b1000_0000]);
    }
}
