//! The 256-byte text block of every card type (DOMAIN.md §1.6–§1.7), the
//! opaque photo, the 30 01 payload and the SAM id.
//!
//! All text is UCS-2 little-endian, each field right-padded with spaces. The
//! card type is the UCS-2 character at bytes 248–249: space → resident card,
//! `J` → Hong Kong/Macau/Taiwan residence permit, `I` → foreigner's permanent
//! residence card (2017), `Y` → foreigner's permanent residence card (2023).
//!
//! | Offset | bytes | Resident | `J` | `I` | `Y` |
//! |---|---|---|---|---|---|
//! | 0   | 30 | name | name | English name (120) | Chinese name |
//! | 30  | 2  | gender | gender | … | gender |
//! | 32  | 4  | nation | reserved | … | 换证次数 issue count |
//! | 36  | 16 | birth | birth | … | birth |
//! | 52  | 70 | address | address | … | English name chars 1–35 |
//! | 120 | 2  | — | — | gender | — |
//! | 122 | 36 | number (18) | number (18) | PR number (30 bytes, 15 chars) | number (18) |
//! | 152 | 6  | — | — | nationality | — |
//! | 158 | 30 | authority | authority | Chinese name | reserved |
//! | 188 | 16 | valid from | valid from | valid from | valid from |
//! | 204 | 16 | valid to | valid to | valid to | valid to |
//! | 220 | 16+ | reserved | pass number (18) | birth (16) | English name chars 36–46 (22) |
//! | 236 | 4  | | | card version | |
//! | 238 | 4  | | issue count | | |
//! | 240 | 8  | | | authority code | |
//! | 242 | 6  | | reserved | | nationality |
//! | 248 | 2  | type ` ` | type `J` | type `I` | type `Y` |
//!
//! Decoding trims trailing spaces and NULs of every field. Encoding pads
//! every field and every reserved area with spaces.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Length of the text block.
pub const TEXT_LEN: usize = 256;
/// Length of the WLT photo block.
pub const PHOTO_LEN: usize = 1024;

/// Offset of the card-type flag.
const FLAG_AT: usize = 248;
/// The text of a long-term validity end.
const LONG_TERM: &str = "长期";
/// UCS-2 LE space.
const SPACE: [u8; 2] = [0x20, 0x00];

/// Which document the card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardType {
    /// 居民身份证 (flag space).
    Resident,
    /// 港澳台居民居住证 (flag `J`).
    HkMacauTaiwan,
    /// 外国人永久居留身份证, 2017 layout (flag `I`).
    ForeignerPermanent,
    /// 外国人永久居留身份证, 2023 layout (flag `Y`).
    ForeignerPermanent2023,
}

impl CardType {
    /// The type flag at bytes 248–249.
    pub fn flag(self) -> char {
        match self {
            CardType::Resident => ' ',
            CardType::HkMacauTaiwan => 'J',
            CardType::ForeignerPermanent => 'I',
            CardType::ForeignerPermanent2023 => 'Y',
        }
    }

    /// The document's Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            CardType::Resident => "居民身份证",
            CardType::HkMacauTaiwan => "港澳台居民居住证",
            CardType::ForeignerPermanent | CardType::ForeignerPermanent2023 => {
                "外国人永久居留身份证"
            }
        }
    }

    /// The type for a flag (NUL is taken as the resident card's space).
    fn from_flag(flag: u16) -> Option<CardType> {
        match flag {
            0x0020 | 0x0000 => Some(CardType::Resident),
            0x004A => Some(CardType::HkMacauTaiwan),
            0x0049 => Some(CardType::ForeignerPermanent),
            0x0059 => Some(CardType::ForeignerPermanent2023),
            _ => None,
        }
    }
}

/// Gender code (GB/T 2261.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// `'1'`.
    Male,
    /// `'2'`.
    Female,
    /// `'0'` not known.
    Unknown,
    /// `'9'` not specified.
    Unspecified,
}

impl Gender {
    fn code(self) -> char {
        match self {
            Gender::Male => '1',
            Gender::Female => '2',
            Gender::Unknown => '0',
            Gender::Unspecified => '9',
        }
    }

    fn from_code(code: &str) -> Option<Gender> {
        match code {
            "1" => Some(Gender::Male),
            "2" => Some(Gender::Female),
            "0" => Some(Gender::Unknown),
            "9" => Some(Gender::Unspecified),
            _ => None,
        }
    }
}

/// End of validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid up to and including this day.
    Until(Date),
    /// 长期: no end (cards issued at 46 or older).
    LongTerm,
}

/// The decoded text block.
///
/// `Debug` is redacted: no name, number (masked) or address. Serde (the
/// simulator's `--card` file) writes dates as `"YYYYMMDD"` and `valid_to` as
/// `"长期"` or `"YYYYMMDD"`; unknown keys are refused, missing optional keys
/// are `None`.
///
/// Fields the card type does not have are `None` when decoded; fields it has
/// are `Some` (possibly empty).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardText {
    /// Which document.
    pub card_type: CardType,
    /// Chinese name (`I`: the Chinese name at @158, may be empty).
    pub name: String,
    /// `I`: the 120-byte name; `Y`: 35 + 11 characters joined; else `None`.
    #[serde(default)]
    pub english_name: Option<String>,
    /// Gender.
    pub gender: Gender,
    /// Resident only: the nation code `"01"`..`"98"`.
    #[serde(default)]
    pub nation: Option<String>,
    /// Date of birth.
    #[serde(with = "yyyymmdd")]
    pub birth: Date,
    /// Resident and `J`.
    #[serde(default)]
    pub address: Option<String>,
    /// The card's number as printed (18 characters; `I`: the 15-character PR number).
    pub number: String,
    /// Issuing authority: resident and `J`; `I`: the 4-character authority code.
    #[serde(default)]
    pub authority: Option<String>,
    /// First day of validity.
    #[serde(with = "yyyymmdd")]
    pub valid_from: Date,
    /// End of validity.
    #[serde(with = "validity")]
    pub valid_to: Validity,
    /// `J`: 通行证号码.
    #[serde(default)]
    pub pass_number: Option<String>,
    /// `J` 签发次数 / `Y` 换证次数.
    #[serde(default)]
    pub issue_count: Option<String>,
    /// `I`, `Y`: ISO 3166 alpha-3 nationality.
    #[serde(default)]
    pub nationality: Option<String>,
    /// `I`: card version.
    #[serde(default)]
    pub card_version: Option<String>,
}

impl fmt::Debug for CardText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardText")
            .field("card_type", &self.card_type)
            .field("number", &crate::id::mask(&self.number))
            .field("gender", &self.gender)
            .field("birth_year", &self.birth.year())
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

impl CardText {
    /// The synthetic demo card (测试老人, 110105195203150013, resident,
    /// valid 长期): the simulator's built-in card (the demo roster's person)
    /// and the sample card of tests. Not a real person.
    pub fn demo() -> CardText {
        CardText {
            card_type: CardType::Resident,
            name: "测试老人".into(),
            english_name: None,
            gender: Gender::Male,
            nation: Some("01".into()),
            birth: time::macros::date!(1952 - 03 - 15),
            address: Some("北京市朝阳区测试路1号".into()),
            number: "110105195203150013".into(),
            authority: Some("北京市公安局朝阳分局".into()),
            valid_from: time::macros::date!(2012 - 03 - 15),
            valid_to: Validity::LongTerm,
            pass_number: None,
            issue_count: None,
            nationality: None,
            card_version: None,
        }
    }

    /// The nation's name for the resident card's code.
    pub fn nation_name(&self) -> Option<&'static str> {
        self.nation.as_deref().and_then(super::nation::nation_name)
    }
}

/// Why a text block or read payload could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text block is not 256 bytes.
    #[error("card text block has {got} bytes, expected {TEXT_LEN}")]
    WrongLength {
        /// Bytes present.
        got: usize,
    },
    /// The type flag at 248–249 is none of space, `J`, `I`, `Y`.
    #[error("unknown card type flag U+{flag:04X}")]
    UnknownCardType {
        /// The UCS-2 unit found.
        flag: u16,
    },
    /// A field cannot be decoded or encoded.
    #[error("card field {field}: {reason}")]
    BadField {
        /// Field name.
        field: &'static str,
        /// What is wrong (never the field's content).
        reason: String,
    },
}

fn bad(field: &'static str, reason: impl Into<String>) -> TextError {
    TextError::BadField {
        field,
        reason: reason.into(),
    }
}

/// A field's place in the block: byte offset and byte length.
#[derive(Clone, Copy)]
struct Slot {
    field: &'static str,
    at: usize,
    bytes: usize,
}

const fn slot(field: &'static str, at: usize, bytes: usize) -> Slot {
    Slot { field, at, bytes }
}

/// Fields shared by the layouts (same offset and size everywhere they occur).
const VALID_FROM: Slot = slot("valid_from", 188, 16);
const VALID_TO: Slot = slot("valid_to", 204, 16);

mod resident {
    use super::{Slot, slot};
    pub const NAME: Slot = slot("name", 0, 30);
    pub const GENDER: Slot = slot("gender", 30, 2);
    pub const NATION: Slot = slot("nation", 32, 4);
    pub const BIRTH: Slot = slot("birth", 36, 16);
    pub const ADDRESS: Slot = slot("address", 52, 70);
    pub const NUMBER: Slot = slot("number", 122, 36);
    pub const AUTHORITY: Slot = slot("authority", 158, 30);
}

mod permit {
    use super::{Slot, slot};
    pub const PASS_NUMBER: Slot = slot("pass_number", 220, 18);
    pub const ISSUE_COUNT: Slot = slot("issue_count", 238, 4);
}

mod pr2017 {
    use super::{Slot, slot};
    pub const ENGLISH_NAME: Slot = slot("english_name", 0, 120);
    pub const GENDER: Slot = slot("gender", 120, 2);
    pub const NUMBER: Slot = slot("number", 122, 30);
    pub const NATIONALITY: Slot = slot("nationality", 152, 6);
    pub const NAME: Slot = slot("name", 158, 30);
    pub const BIRTH: Slot = slot("birth", 220, 16);
    pub const CARD_VERSION: Slot = slot("card_version", 236, 4);
    pub const AUTHORITY: Slot = slot("authority", 240, 8);
}

mod pr2023 {
    use super::{Slot, slot};
    pub const ISSUE_COUNT: Slot = slot("issue_count", 32, 4);
    pub const ENGLISH_NAME_1: Slot = slot("english_name", 52, 70);
    pub const ENGLISH_NAME_2: Slot = slot("english_name", 220, 22);
    pub const NATIONALITY: Slot = slot("nationality", 242, 6);
}

/// The UCS-2 units of a slot, untrimmed.
fn units(block: &[u8], s: Slot) -> Result<Vec<u16>, TextError> {
    let bytes = block
        .get(s.at..s.at + s.bytes)
        .ok_or_else(|| bad(s.field, "outside the block"))?;
    Ok(bytes
        .chunks_exact(2)
        .map(|p| {
            u16::from_le_bytes([
                p.first().copied().unwrap_or(0),
                p.get(1).copied().unwrap_or(0),
            ])
        })
        .collect())
}

/// UTF-16 units → string; unpaired surrogates are an error.
fn units_to_string(units: &[u16], field: &'static str) -> Result<String, TextError> {
    char::decode_utf16(units.iter().copied())
        .collect::<Result<String, _>>()
        .map_err(|_| bad(field, "not valid UCS-2 text"))
}

fn trim(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

/// A slot's text with trailing spaces and NULs removed.
fn get(block: &[u8], s: Slot) -> Result<String, TextError> {
    let u = units(block, s)?;
    Ok(trim(&units_to_string(&u, s.field)?).to_owned())
}

fn get_date(block: &[u8], s: Slot) -> Result<Date, TextError> {
    parse_date(&get(block, s)?).ok_or_else(|| bad(s.field, "not a YYYYMMDD date"))
}

fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u8 = s.get(4..6)?.parse().ok()?;
    let day: u8 = s.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

fn format_date(d: Date) -> Option<String> {
    (0..=9999)
        .contains(&d.year())
        .then(|| format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()))
}

fn get_validity(block: &[u8]) -> Result<Validity, TextError> {
    let s = get(block, VALID_TO)?;
    parse_validity(&s).ok_or_else(|| bad(VALID_TO.field, "neither 长期 nor a YYYYMMDD date"))
}

fn parse_validity(s: &str) -> Option<Validity> {
    if s == LONG_TERM {
        Some(Validity::LongTerm)
    } else {
        parse_date(s).map(Validity::Until)
    }
}

fn format_validity(v: Validity) -> Option<String> {
    match v {
        Validity::LongTerm => Some(LONG_TERM.to_owned()),
        Validity::Until(d) => format_date(d),
    }
}

fn get_gender(block: &[u8], s: Slot) -> Result<Gender, TextError> {
    Gender::from_code(&get(block, s)?).ok_or_else(|| bad(s.field, "not one of 0, 1, 2, 9"))
}

/// Decode 256 bytes (UCS-2 LE, space padded; trim trailing spaces and NULs).
pub fn decode_text(block: &[u8]) -> Result<CardText, TextError> {
    if block.len() != TEXT_LEN {
        return Err(TextError::WrongLength { got: block.len() });
    }
    let flag = units(block, slot("card_type", FLAG_AT, 2))?
        .first()
        .copied()
        .unwrap_or(0);
    let card_type = CardType::from_flag(flag).ok_or(TextError::UnknownCardType { flag })?;
    let valid_from = get_date(block, VALID_FROM)?;
    let valid_to = get_validity(block)?;
    let text = match card_type {
        CardType::Resident | CardType::HkMacauTaiwan => {
            let permit = card_type == CardType::HkMacauTaiwan;
            CardText {
                card_type,
                name: get(block, resident::NAME)?,
                english_name: None,
                gender: get_gender(block, resident::GENDER)?,
                nation: if permit {
                    None
                } else {
                    Some(get(block, resident::NATION)?)
                },
                birth: get_date(block, resident::BIRTH)?,
                address: Some(get(block, resident::ADDRESS)?),
                number: get(block, resident::NUMBER)?,
                authority: Some(get(block, resident::AUTHORITY)?),
                valid_from,
                valid_to,
                pass_number: if permit {
                    Some(get(block, permit::PASS_NUMBER)?)
                } else {
                    None
                },
                issue_count: if permit {
                    Some(get(block, permit::ISSUE_COUNT)?)
                } else {
                    None
                },
                nationality: None,
                card_version: None,
            }
        }
        CardType::ForeignerPermanent => CardText {
            card_type,
            name: get(block, pr2017::NAME)?,
            english_name: Some(get(block, pr2017::ENGLISH_NAME)?),
            gender: get_gender(block, pr2017::GENDER)?,
            nation: None,
            birth: get_date(block, pr2017::BIRTH)?,
            address: None,
            number: get(block, pr2017::NUMBER)?,
            authority: Some(get(block, pr2017::AUTHORITY)?),
            valid_from,
            valid_to,
            pass_number: None,
            issue_count: None,
            nationality: Some(get(block, pr2017::NATIONALITY)?),
            card_version: Some(get(block, pr2017::CARD_VERSION)?),
        },
        CardType::ForeignerPermanent2023 => {
            // The English name runs on from chars 1–35 into chars 36–46.
            let mut english = units(block, pr2023::ENGLISH_NAME_1)?;
            english.extend(units(block, pr2023::ENGLISH_NAME_2)?);
            let english = units_to_string(&english, pr2023::ENGLISH_NAME_1.field)?;
            CardText {
                card_type,
                name: get(block, resident::NAME)?,
                english_name: Some(trim(&english).to_owned()),
                gender: get_gender(block, resident::GENDER)?,
                nation: None,
                birth: get_date(block, resident::BIRTH)?,
                address: None,
                number: get(block, resident::NUMBER)?,
                authority: None,
                valid_from,
                valid_to,
                pass_number: None,
                issue_count: Some(get(block, pr2023::ISSUE_COUNT)?),
                nationality: Some(get(block, pr2023::NATIONALITY)?),
                card_version: None,
            }
        }
    };
    Ok(text)
}

/// Write `value` into a slot, space padded.
fn put(block: &mut [u8; TEXT_LEN], s: Slot, value: &str) -> Result<(), TextError> {
    let units: Vec<u16> = value.encode_utf16().collect();
    if units.len() * 2 > s.bytes {
        return Err(bad(
            s.field,
            format!("longer than {} characters", s.bytes / 2),
        ));
    }
    let dest = block
        .get_mut(s.at..s.at + s.bytes)
        .ok_or_else(|| bad(s.field, "outside the block"))?;
    for (i, pair) in dest.chunks_exact_mut(2).enumerate() {
        let unit = units.get(i).copied().unwrap_or(0x0020);
        pair.copy_from_slice(&unit.to_le_bytes());
    }
    Ok(())
}

fn put_opt(block: &mut [u8; TEXT_LEN], s: Slot, value: Option<&String>) -> Result<(), TextError> {
    put(block, s, value.map_or("", String::as_str))
}

fn put_date(block: &mut [u8; TEXT_LEN], s: Slot, d: Date) -> Result<(), TextError> {
    let text = format_date(d).ok_or_else(|| bad(s.field, "year outside 0000–9999"))?;
    put(block, s, &text)
}

/// Refuse a value the card type has no place for.
fn absent(
    field: &'static str,
    value: Option<&String>,
    card_type: CardType,
) -> Result<(), TextError> {
    match value {
        Some(v) if !v.is_empty() => Err(bad(
            field,
            format!("a {} has no such field", card_type.name_zh()),
        )),
        _ => Ok(()),
    }
}

/// Encode (simulator, round trips). Fields longer than their slot, fields the
/// card type does not have (non-empty) and years outside 0–9999 are errors;
/// `None` for a field the card type has is written as spaces.
pub fn encode_text(text: &CardText) -> Result<[u8; TEXT_LEN], TextError> {
    let mut block = [0u8; TEXT_LEN];
    for pair in block.chunks_exact_mut(2) {
        pair.copy_from_slice(&SPACE);
    }
    let t = text;
    let ct = t.card_type;
    put(
        &mut block,
        slot("card_type", FLAG_AT, 2),
        &ct.flag().to_string(),
    )?;
    put_date(&mut block, VALID_FROM, t.valid_from)?;
    let valid_to =
        format_validity(t.valid_to).ok_or_else(|| bad(VALID_TO.field, "year outside 0000–9999"))?;
    put(&mut block, VALID_TO, &valid_to)?;
    let gender = t.gender.code().to_string();
    match ct {
        CardType::Resident | CardType::HkMacauTaiwan => {
            let permit = ct == CardType::HkMacauTaiwan;
            absent("english_name", t.english_name.as_ref(), ct)?;
            absent("nationality", t.nationality.as_ref(), ct)?;
            absent("card_version", t.card_version.as_ref(), ct)?;
            put(&mut block, resident::NAME, &t.name)?;
            put(&mut block, resident::GENDER, &gender)?;
            put_date(&mut block, resident::BIRTH, t.birth)?;
            put_opt(&mut block, resident::ADDRESS, t.address.as_ref())?;
            put(&mut block, resident::NUMBER, &t.number)?;
            put_opt(&mut block, resident::AUTHORITY, t.authority.as_ref())?;
            if permit {
                absent("nation", t.nation.as_ref(), ct)?;
                put_opt(&mut block, permit::PASS_NUMBER, t.pass_number.as_ref())?;
                put_opt(&mut block, permit::ISSUE_COUNT, t.issue_count.as_ref())?;
            } else {
                absent("pass_number", t.pass_number.as_ref(), ct)?;
                absent("issue_count", t.issue_count.as_ref(), ct)?;
                put_opt(&mut block, resident::NATION, t.nation.as_ref())?;
            }
        }
        CardType::ForeignerPermanent => {
            absent("nation", t.nation.as_ref(), ct)?;
            absent("address", t.address.as_ref(), ct)?;
            absent("pass_number", t.pass_number.as_ref(), ct)?;
            absent("issue_count", t.issue_count.as_ref(), ct)?;
            put_opt(&mut block, pr2017::ENGLISH_NAME, t.english_name.as_ref())?;
            put(&mut block, pr2017::GENDER, &gender)?;
            put(&mut block, pr2017::NUMBER, &t.number)?;
            put_opt(&mut block, pr2017::NATIONALITY, t.nationality.as_ref())?;
            put(&mut block, pr2017::NAME, &t.name)?;
            put_date(&mut block, pr2017::BIRTH, t.birth)?;
            put_opt(&mut block, pr2017::CARD_VERSION, t.card_version.as_ref())?;
            put_opt(&mut block, pr2017::AUTHORITY, t.authority.as_ref())?;
        }
        CardType::ForeignerPermanent2023 => {
            absent("nation", t.nation.as_ref(), ct)?;
            absent("address", t.address.as_ref(), ct)?;
            absent("authority", t.authority.as_ref(), ct)?;
            absent("pass_number", t.pass_number.as_ref(), ct)?;
            absent("card_version", t.card_version.as_ref(), ct)?;
            put(&mut block, resident::NAME, &t.name)?;
            put(&mut block, resident::GENDER, &gender)?;
            put_opt(&mut block, pr2023::ISSUE_COUNT, t.issue_count.as_ref())?;
            put_date(&mut block, resident::BIRTH, t.birth)?;
            put(&mut block, resident::NUMBER, &t.number)?;
            put_opt(&mut block, pr2023::NATIONALITY, t.nationality.as_ref())?;
            // Split the English name after 35 UTF-16 units; a surrogate pair
            // is never split.
            let english = t.english_name.as_deref().unwrap_or("");
            let first_chars = pr2023::ENGLISH_NAME_1.bytes / 2;
            let mut used = 0;
            let mut split = english.len();
            for (i, c) in english.char_indices() {
                if used + c.len_utf16() > first_chars {
                    split = i;
                    break;
                }
                used += c.len_utf16();
            }
            let (first, rest) = english.split_at_checked(split).unwrap_or((english, ""));
            if !rest.is_empty() && used < first_chars {
                return Err(bad(
                    pr2023::ENGLISH_NAME_1.field,
                    "a character cannot be split between the two name slots",
                ));
            }
            put(&mut block, pr2023::ENGLISH_NAME_1, first)?;
            put(&mut block, pr2023::ENGLISH_NAME_2, rest).map_err(|_| {
                bad(
                    pr2023::ENGLISH_NAME_1.field,
                    format!(
                        "longer than {} characters",
                        (pr2023::ENGLISH_NAME_1.bytes + pr2023::ENGLISH_NAME_2.bytes) / 2
                    ),
                )
            })?;
        }
    }
    Ok(block)
}

/// The WLT photo: opaque, never decoded. `Debug` prints only
/// `Photo(<n> bytes)`. No `Serialize`. Zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo(Vec<u8>);

impl Photo {
    /// Wrap the photo bytes.
    pub fn new(bytes: Vec<u8>) -> Photo {
        Photo(bytes)
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No bytes at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Photo({} bytes)", self.0.len())
    }
}

impl Drop for Photo {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        // Keep the stores from being optimised away as dead.
        std::hint::black_box(&self.0);
    }
}

/// The data of a successful 30 01 response:
/// `[text len BE u16][photo len BE u16][text][photo]`.
///
/// The text must be 256 bytes; the photo is taken at its declared length
/// (1024 on every known reader). Bytes after the photo are ignored.
pub fn parse_read(data: &[u8]) -> Result<(CardText, Photo), TextError> {
    let (text_len, photo_len, rest) = match data {
        [t1, t2, p1, p2, rest @ ..] => (
            usize::from(u16::from_be_bytes([*t1, *t2])),
            usize::from(u16::from_be_bytes([*p1, *p2])),
            rest,
        ),
        _ => return Err(bad("lengths", "the read answer is shorter than 4 bytes")),
    };
    if text_len != TEXT_LEN {
        return Err(TextError::WrongLength { got: text_len });
    }
    let text = rest
        .get(..TEXT_LEN)
        .ok_or(TextError::WrongLength { got: rest.len() })?;
    let photo = rest.get(TEXT_LEN..TEXT_LEN + photo_len).ok_or_else(|| {
        bad(
            "photo",
            format!(
                "{photo_len} bytes declared, {} present",
                rest.len().saturating_sub(TEXT_LEN)
            ),
        )
    })?;
    Ok((decode_text(text)?, Photo::new(photo.to_vec())))
}

/// Inverse of [`parse_read`] (simulator).
pub fn build_read(text: &CardText, photo: &[u8]) -> Result<Vec<u8>, TextError> {
    let photo_len =
        u16::try_from(photo.len()).map_err(|_| bad("photo", "longer than 65535 bytes"))?;
    let block = encode_text(text)?;
    let mut out = Vec::with_capacity(4 + TEXT_LEN + photo.len());
    out.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
    out.extend_from_slice(&photo_len.to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(photo);
    Ok(out)
}

/// SAM id (12 FF): 16 data bytes → `"%02d%02d-%08d-%010d"` from u16, u16,
/// u32, u32 little-endian. `None` unless exactly 16 bytes.
pub fn sam_id(data: &[u8]) -> Option<String> {
    let bytes: [u8; 16] = data.try_into().ok()?;
    let [a0, a1, b0, b1, c0, c1, c2, c3, d0, d1, d2, d3, ..] = bytes;
    let a = u16::from_le_bytes([a0, a1]);
    let bb = u16::from_le_bytes([b0, b1]);
    let c = u32::from_le_bytes([c0, c1, c2, c3]);
    let d = u32::from_le_bytes([d0, d1, d2, d3]);
    Some(format!("{a:02}{bb:02}-{c:08}-{d:010}"))
}

/// `"YYYYMMDD"` serde for [`Date`].
mod yyyymmdd {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        let text = super::format_date(*d)
            .ok_or_else(|| serde::ser::Error::custom("year outside 0000–9999"))?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text)
            .ok_or_else(|| D::Error::custom(format!("expected a date as YYYYMMDD, got {text:?}")))
    }
}

/// `"长期"` or `"YYYYMMDD"` serde for [`Validity`].
mod validity {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Validity;

    pub fn serialize<S: Serializer>(v: &Validity, s: S) -> Result<S::Ok, S::Error> {
        let text = super::format_validity(*v)
            .ok_or_else(|| serde::ser::Error::custom("year outside 0000–9999"))?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Validity, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_validity(&text).ok_or_else(|| {
            D::Error::custom(format!(
                "expected \"长期\" or a date as YYYYMMDD, got {text:?}"
            ))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde::de::value::{Error as DeError, MapDeserializer, StrDeserializer};
    use time::macros::date;

    use super::*;

    /// A block of spaces, filled by hand from DOMAIN §1.6/§1.7 offsets
    /// (independent of the implementation's slot tables).
    struct Block([u8; TEXT_LEN]);

    impl Block {
        fn new() -> Block {
            let mut b = [0u8; TEXT_LEN];
            for i in (0..TEXT_LEN).step_by(2) {
                b[i] = 0x20;
            }
            Block(b)
        }

        /// Write `s` as UCS-2 LE at `at`, checking it fits `bytes`.
        fn put(&mut self, at: usize, bytes: usize, s: &str) -> &mut Block {
            let units: Vec<u16> = s.encode_utf16().collect();
            assert!(units.len() * 2 <= bytes, "{s} does not fit {bytes}");
            for (i, u) in units.iter().enumerate() {
                self.0[at + 2 * i..at + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
            self
        }
    }

    fn resident_block() -> Block {
        let mut b = Block::new();
        b.put(0, 30, "张三")
            .put(30, 2, "1")
            .put(32, 4, "01")
            .put(36, 16, "19520315")
            .put(52, 70, "北京市朝阳区建国路1号院2号楼3单元401室")
            .put(122, 36, "110105195203150013")
            .put(158, 30, "北京市公安局朝阳分局")
            .put(188, 16, "20100601")
            .put(204, 16, "长期");
        b
    }

    /// What `resident_block` decodes to.
    fn resident_text() -> CardText {
        CardText {
            name: "张三".into(),
            address: Some("北京市朝阳区建国路1号院2号楼3单元401室".into()),
            valid_from: date!(2010 - 06 - 01),
            ..CardText::demo()
        }
    }

    #[test]
    fn resident_card_golden() {
        let b = resident_block();
        // The flag at 248 is the space of the padding.
        assert_eq!(&b.0[248..250], &[0x20, 0x00]);
        let t = decode_text(&b.0).unwrap();
        assert_eq!(t, resident_text());
        assert_eq!(t.card_type, CardType::Resident);
        assert_eq!(t.name, "张三");
        assert_eq!(t.gender, Gender::Male);
        assert_eq!(t.nation.as_deref(), Some("01"));
        assert_eq!(t.nation_name(), Some("汉"));
        assert_eq!(t.birth, date!(1952 - 03 - 15));
        assert_eq!(t.number, "110105195203150013");
        assert_eq!(t.valid_from, date!(2010 - 06 - 01));
        assert_eq!(t.valid_to, Validity::LongTerm);
        assert_eq!(encode_text(&t).unwrap(), b.0);
    }

    #[test]
    fn resident_card_with_end_date_and_minority_name() {
        let mut b = resident_block();
        b.put(0, 30, "阿依古丽·买买提")
            .put(30, 2, "2")
            .put(32, 4, "46")
            .put(204, 16, "20300601");
        let t = decode_text(&b.0).unwrap();
        assert_eq!(t.name, "阿依古丽·买买提");
        assert_eq!(t.gender, Gender::Female);
        assert_eq!(t.nation_name(), Some("德昂"));
        assert_eq!(t.valid_to, Validity::Until(date!(2030 - 06 - 01)));
        assert_eq!(encode_text(&t).unwrap(), b.0);
    }

    #[test]
    fn nul_padding_is_trimmed_too() {
        let mut b = resident_block();
        // Name padded with NULs instead of spaces; flag NUL.
        for i in 4..30 {
            b.0[i] = 0;
        }
        b.0[248] = 0;
        let t = decode_text(&b.0).unwrap();
        assert_eq!(t, resident_text());
    }

    #[test]
    fn hk_macau_taiwan_permit_golden() {
        let mut b = Block::new();
        b.put(0, 30, "陈大文")
            .put(30, 2, "1")
            .put(36, 16, "19600101")
            .put(52, 70, "北京市东城区东长安街1号")
            .put(122, 36, "810000196001010012")
            .put(158, 30, "北京市公安局东城分局")
            .put(188, 16, "20200101")
            .put(204, 16, "20250101")
            .put(220, 18, "H12345678")
            .put(238, 4, "02")
            .put(248, 2, "J");
        let t = decode_text(&b.0).unwrap();
        assert_eq!(
            t,
            CardText {
                card_type: CardType::HkMacauTaiwan,
                name: "陈大文".into(),
                english_name: None,
                gender: Gender::Male,
                nation: None,
                birth: date!(1960 - 01 - 01),
                address: Some("北京市东城区东长安街1号".into()),
                number: "810000196001010012".into(),
                authority: Some("北京市公安局东城分局".into()),
                valid_from: date!(2020 - 01 - 01),
                valid_to: Validity::Until(date!(2025 - 01 - 01)),
                pass_number: Some("H12345678".into()),
                issue_count: Some("02".into()),
                nationality: None,
                card_version: None,
            }
        );
        assert_eq!(t.nation_name(), None);
        assert_eq!(encode_text(&t).unwrap(), b.0);
    }

    #[test]
    fn foreigner_2017_golden() {
        let mut b = Block::new();
        b.put(0, 120, "SMITH, JOHN WILLIAM")
            .put(120, 2, "1")
            .put(122, 30, "CAN110000000015")
            .put(152, 6, "CAN")
            .put(158, 30, "史密斯")
            .put(188, 16, "20170601")
            .put(204, 16, "20270601")
            .put(220, 16, "19550505")
            .put(236, 4, "17")
            .put(240, 8, "1100")
            .put(248, 2, "I");
        let t = decode_text(&b.0).unwrap();
        assert_eq!(
            t,
            CardText {
                card_type: CardType::ForeignerPermanent,
                name: "史密斯".into(),
                english_name: Some("SMITH, JOHN WILLIAM".into()),
                gender: Gender::Male,
                nation: None,
                birth: date!(1955 - 05 - 05),
                address: None,
                number: "CAN110000000015".into(),
                authority: Some("1100".into()),
                valid_from: date!(2017 - 06 - 01),
                valid_to: Validity::Until(date!(2027 - 06 - 01)),
                pass_number: None,
                issue_count: None,
                nationality: Some("CAN".into()),
                card_version: Some("17".into()),
            }
        );
        assert_eq!(encode_text(&t).unwrap(), b.0);
    }

    #[test]
    fn foreigner_2023_golden_with_split_english_name() {
        let english = "VAN DER BERG-SMITHSON, JOHANNES ALEXANDER";
        assert!(english.len() > 35 && english.len() <= 46);
        let mut b = Block::new();
        b.put(0, 30, "王约翰")
            .put(30, 2, "1")
            .put(32, 4, "00")
            .put(36, 16, "19850101")
            .put(52, 70, &english[..35])
            .put(122, 36, "932682198501010017")
            .put(188, 16, "20230601")
            .put(204, 16, "20330601")
            .put(220, 22, &english[35..])
            .put(242, 6, "NLD")
            .put(248, 2, "Y");
        let t = decode_text(&b.0).unwrap();
        assert_eq!(
            t,
            CardText {
                card_type: CardType::ForeignerPermanent2023,
                name: "王约翰".into(),
                english_name: Some(english.into()),
                gender: Gender::Male,
                nation: None,
                birth: date!(1985 - 01 - 01),
                address: None,
                number: "932682198501010017".into(),
                authority: None,
                valid_from: date!(2023 - 06 - 01),
                valid_to: Validity::Until(date!(2033 - 06 - 01)),
                pass_number: None,
                issue_count: Some("00".into()),
                nationality: Some("NLD".into()),
                card_version: None,
            }
        );
        assert_eq!(encode_text(&t).unwrap(), b.0);

        // A short English name stays in the first slot.
        let mut short = t.clone();
        short.english_name = Some("LI MEI".into());
        let block = encode_text(&short).unwrap();
        assert_eq!(&block[220..242], &Block::new().0[220..242]);
        assert_eq!(decode_text(&block).unwrap(), short);
        // A space exactly at the split survives.
        let mut spaced = t.clone();
        let name = format!("{}{}", "A".repeat(34), " B");
        spaced.english_name = Some(name.clone());
        assert_eq!(
            decode_text(&encode_text(&spaced).unwrap())
                .unwrap()
                .english_name,
            Some(name)
        );
        // 47 characters do not fit.
        let mut long = t;
        long.english_name = Some("X".repeat(47));
        assert!(matches!(
            encode_text(&long),
            Err(TextError::BadField {
                field: "english_name",
                ..
            })
        ));
    }

    #[test]
    fn unknown_card_type_and_wrong_length() {
        let mut b = resident_block();
        b.put(248, 2, "X");
        assert_eq!(
            decode_text(&b.0),
            Err(TextError::UnknownCardType { flag: 0x58 })
        );
        assert_eq!(
            decode_text(&[0x20; 255]),
            Err(TextError::WrongLength { got: 255 })
        );
        assert_eq!(decode_text(&[]), Err(TextError::WrongLength { got: 0 }));
    }

    fn field_error(block: &Block) -> &'static str {
        match decode_text(&block.0) {
            Err(TextError::BadField { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let mut b = resident_block();
        b.put(30, 2, "3");
        assert_eq!(field_error(&b), "gender");
        let mut b = resident_block();
        b.put(36, 16, "19520230");
        assert_eq!(field_error(&b), "birth");
        let mut b = resident_block();
        b.put(188, 16, "2010060 ");
        assert_eq!(field_error(&b), "valid_from");
        let mut b = resident_block();
        b.put(204, 16, "长久");
        assert_eq!(field_error(&b), "valid_to");
        let mut b = resident_block();
        b.0[0..2].copy_from_slice(&0xD800u16.to_le_bytes()); // lone surrogate
        assert_eq!(field_error(&b), "name");
        // Error text never carries the content.
        let mut b = resident_block();
        b.put(36, 16, "张三张三");
        let msg = decode_text(&b.0).unwrap_err().to_string();
        assert!(!msg.contains("张三"), "{msg}");
    }

    #[test]
    fn encode_refuses_what_does_not_fit() {
        let mut t = resident_text();
        t.name = "一二三四五六七八九十一二三四五六".into(); // 16 chars
        assert!(matches!(
            encode_text(&t),
            Err(TextError::BadField { field: "name", .. })
        ));
        let mut t = resident_text();
        t.english_name = Some("ZHANG SAN".into());
        assert!(matches!(
            encode_text(&t),
            Err(TextError::BadField {
                field: "english_name",
                ..
            })
        ));
        let mut t = resident_text();
        t.pass_number = Some(String::new()); // empty is tolerated
        assert_eq!(encode_text(&t).unwrap(), resident_block().0);
        let mut t = resident_text();
        t.birth = Date::from_calendar_date(-1, Month::January, 1).unwrap();
        assert!(matches!(
            encode_text(&t),
            Err(TextError::BadField { field: "birth", .. })
        ));
        // None for a field the type has is written blank.
        let mut t = resident_text();
        t.address = None;
        let back = decode_text(&encode_text(&t).unwrap()).unwrap();
        assert_eq!(back.address.as_deref(), Some(""));
    }

    #[test]
    fn debug_is_redacted() {
        let t = resident_text();
        let s = format!("{t:?}");
        assert!(!s.contains("张三"), "{s}");
        assert!(!s.contains("110105195203150013"), "{s}");
        assert!(!s.contains("朝阳"), "{s}");
        assert!(!s.contains("0315"), "{s}");
        assert!(s.contains("1101**********0013"), "{s}");
        assert!(s.contains("Resident"), "{s}");
        let p = Photo::new(vec![0x57; PHOTO_LEN]);
        assert_eq!(format!("{p:?}"), "Photo(1024 bytes)");
        assert_eq!(p.len(), PHOTO_LEN);
        assert!(!p.is_empty());
        assert!(Photo::new(Vec::new()).is_empty());
    }

    #[test]
    fn card_type_flags_and_names() {
        assert_eq!(CardType::Resident.flag(), ' ');
        assert_eq!(CardType::HkMacauTaiwan.flag(), 'J');
        assert_eq!(CardType::ForeignerPermanent.flag(), 'I');
        assert_eq!(CardType::ForeignerPermanent2023.flag(), 'Y');
        assert_eq!(CardType::Resident.name_zh(), "居民身份证");
        assert_eq!(CardType::HkMacauTaiwan.name_zh(), "港澳台居民居住证");
    }

    #[test]
    fn read_payload_round_trip_and_errors() {
        let photo: Vec<u8> = (0..PHOTO_LEN).map(|i| (i * 7 % 256) as u8).collect();
        let data = build_read(&resident_text(), &photo).unwrap();
        assert_eq!(data.len(), 4 + TEXT_LEN + PHOTO_LEN);
        assert_eq!(&data[..4], &[0x01, 0x00, 0x04, 0x00]);
        assert_eq!(&data[4..260], &resident_block().0);
        let (t, p) = parse_read(&data).unwrap();
        assert_eq!(t, resident_text());
        assert_eq!(p, Photo::new(photo.clone()));

        assert!(matches!(
            parse_read(&data[..3]),
            Err(TextError::BadField {
                field: "lengths",
                ..
            })
        ));
        assert!(matches!(
            parse_read(&data[..data.len() - 1]),
            Err(TextError::BadField { field: "photo", .. })
        ));
        assert_eq!(
            parse_read(&data[..100]),
            Err(TextError::WrongLength { got: 96 })
        );
        let mut wrong = data.clone();
        wrong[1] = 0x01;
        assert_eq!(parse_read(&wrong), Err(TextError::WrongLength { got: 257 }));
        // A reader without a photo still gives the text.
        let (t, p) = parse_read(&build_read(&resident_text(), &[]).unwrap()).unwrap();
        assert_eq!(t, resident_text());
        assert!(p.is_empty());
        assert!(build_read(&resident_text(), &vec![0; 70_000]).is_err());
    }

    #[test]
    fn sam_id_format() {
        let mut data = vec![0x05, 0x00, 0x01, 0x00];
        data.extend(123_456u32.to_le_bytes());
        data.extend(1_234_567_890u32.to_le_bytes());
        data.extend([0xFF; 4]);
        assert_eq!(sam_id(&data).as_deref(), Some("0501-00123456-1234567890"));
        assert_eq!(sam_id(&data[..15]), None);
        assert_eq!(sam_id(&[0; 17]), None);
        assert_eq!(
            sam_id(&[0; 16]).as_deref(),
            Some("0000-00000000-0000000000")
        );
    }

    #[test]
    fn serde_date_and_validity_strings() {
        let d = |s: &str| yyyymmdd::deserialize(StrDeserializer::<DeError>::new(s));
        assert_eq!(d("19520315").unwrap(), date!(1952 - 03 - 15));
        assert!(d("1952-03-15").is_err());
        assert!(d("19521315").is_err());
        let v = |s: &str| validity::deserialize(StrDeserializer::<DeError>::new(s));
        assert_eq!(v("长期").unwrap(), Validity::LongTerm);
        assert_eq!(
            v("20300101").unwrap(),
            Validity::Until(date!(2030 - 01 - 01))
        );
        assert!(v("长久").is_err());
        assert_eq!(
            format_date(date!(0987 - 01 - 02)).as_deref(),
            Some("09870102")
        );
        assert_eq!(format_validity(Validity::LongTerm).as_deref(), Some("长期"));
    }

    fn deserialize_card(fields: Vec<(&'static str, &'static str)>) -> Result<CardText, DeError> {
        let map: MapDeserializer<'_, _, DeError> = MapDeserializer::new(fields.into_iter());
        CardText::deserialize(map)
    }

    #[test]
    fn serde_card_from_string_map() {
        let t = deserialize_card(vec![
            ("card_type", "resident"),
            ("name", "张三"),
            ("gender", "male"),
            ("birth", "19520315"),
            ("number", "110105195203150013"),
            ("valid_from", "20100601"),
            ("valid_to", "长期"),
        ])
        .unwrap();
        assert_eq!(t.card_type, CardType::Resident);
        assert_eq!(t.valid_to, Validity::LongTerm);
        assert_eq!(t.nation, None);
        let y = deserialize_card(vec![
            ("card_type", "foreigner_permanent2023"),
            ("name", ""),
            ("gender", "unspecified"),
            ("birth", "19850101"),
            ("number", "932682198501010017"),
            ("valid_from", "20230601"),
            ("valid_to", "20330601"),
        ])
        .unwrap();
        assert_eq!(y.card_type, CardType::ForeignerPermanent2023);
        assert_eq!(y.gender, Gender::Unspecified);
        assert!(
            deserialize_card(vec![("card_type", "resident"), ("nickname", "x")]).is_err(),
            "unknown keys are refused"
        );
    }
}
