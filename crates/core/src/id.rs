//! Citizen identity numbers (GB 11643-1999 公民身份号码) and the 18-digit
//! numbers that share its layout.
//!
//! Layout of the 18 characters (1-based positions):
//!
//! | Positions | Meaning |
//! |---|---|
//! | 1–6   | address code; 1–2 = province (GB/T 2260). Only the province is checked: county codes change and must not be rejected |
//! | 7–14  | birth date `YYYYMMDD`, a real calendar date with a year in [`MIN_BIRTH_YEAR`]`..=`[`MAX_BIRTH_YEAR`] (no clock here, so no "future" check) |
//! | 15–17 | sequence; position 17 odd = male, even = female |
//! | 18    | ISO 7064 MOD 11-2 check character, `0`–`9` or `X` |
//!
//! The same rule covers Hong Kong/Macau/Taiwan residence permits (prefixes
//! 81, 82, 83) and the 2023 foreigner permanent-residence card (leading `9`,
//! then the two-digit province code of the accepting authority, which must be a
//! mainland province). [`IdNumber::kind`] infers the kind from the number only;
//! the card reader's type flag is the authoritative source.
//!
//! Legacy 15-digit numbers (GB 11643-1989) are upgraded to 18 digits by
//! [`IdNumber::upgrade_15`] (insert `19` after position 6, append the check
//! digit).
//!
//! # Privacy decisions
//!
//! - `Debug` and `Display` of [`IdNumber`] print only the masked form
//!   ([`mask`]); [`IdNumber::expose`] is the only way to the full number.
//! - [`IdError`] messages never contain the input: at most the offending
//!   character, the province digits or the date digits.
//! - **The correct check digit is never revealed** on a mismatch, neither in
//!   [`IdError`] nor in [`IdError::user_message_zh`]. Revealing it would turn
//!   any made-up number into a locally valid one, and the kiosk has no need for
//!   it: the user should re-read the card. Computing the digit during the
//!   15→18 upgrade is fine: that is a deterministic conversion of a legacy
//!   number, not a correction.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

/// Earliest accepted birth year (the standard's own example is from 1880).
pub const MIN_BIRTH_YEAR: i32 = 1800;
/// Latest accepted birth year: a sanity bound only, as the core has no clock.
pub const MAX_BIRTH_YEAR: i32 = 2100;

/// Number of characters in a current (18-character) number.
const LEN: usize = 18;
/// Number of digits in a legacy (GB 11643-1989) number.
const LEGACY_LEN: usize = 15;

/// ISO 7064 MOD 11-2 weights for positions 1–17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `S mod 11 = 0..=10`.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// GB/T 2260 province-level codes, plus 83 (Taiwan residents' residence permits).
const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// Mainland province codes end below this value (71 = Taiwan, 8x = HK/Macau/Taiwan permits).
const FIRST_NON_MAINLAND: u8 = 71;

/// A validated, normalised 18-character ID number (upper-case `X`).
///
/// `Debug` and `Display` show only the masked form, e.g. `1101**********002X`.
/// Serde uses the full string; deserialising validates it via [`IdNumber::parse`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    number: String,
    birth_date: Date,
}

/// What kind of document an 18-character number belongs to, judged from the number alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// Resident identity card of a Chinese citizen.
    Resident,
    /// Hong Kong/Macau/Taiwan residents' residence permit (prefix 81, 82 or 83).
    HkMacauTaiwanPermit,
    /// 2023 foreigner's permanent residence ID card (leading `9`).
    ForeignPermanentResident,
}

/// Gender encoded by the parity of position 17.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// Odd sequence digit.
    Male,
    /// Even sequence digit.
    Female,
}

/// Why a number is invalid. Messages never contain the full number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 18 characters (nor 15 digits for a legacy number); `got` counts characters.
    #[error("wrong length: expected 18 characters (or 15 for a legacy number), got {got}")]
    Length {
        /// Number of characters after trimming whitespace.
        got: usize,
    },
    /// A character that is not allowed at this position.
    #[error(
        "invalid character {found:?} at position {position}: expected a digit (X only as the 18th)"
    )]
    Character {
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The province digits are not a valid province-level code.
    #[error("unknown province code {code:?}")]
    Province {
        /// The province digits (possibly only those typed so far).
        code: String,
    },
    /// The birth-date digits are not a real date within the accepted years.
    #[error("invalid birth date {text:?}")]
    Date {
        /// The date digits (possibly only those typed so far).
        text: String,
    },
    /// The check character does not match. The correct one is deliberately not reported.
    #[error("check digit does not match")]
    CheckDigit,
}

impl IdError {
    /// Plain Chinese for the (often elderly) user at the kiosk.
    #[must_use]
    pub fn user_message_zh(&self) -> String {
        match self {
            Self::Length { got } => format!("号码长度不对：应为18位，您输入了{got}位"),
            Self::Character { position, .. } => {
                format!("第{position}位输入有误：只能输入数字，最后一位可以是X")
            }
            Self::Province { .. } => "号码开头的省份代码不正确，请核对号码".to_owned(),
            Self::Date { .. } => "出生日期不正确，请核对号码".to_owned(),
            Self::CheckDigit => "最后一位校验码不符，请核对号码".to_owned(),
        }
    }
}

/// Result of checking keypad input while it is being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartialCheck {
    /// No error so far, but fewer than 18 characters typed.
    Incomplete {
        /// Characters typed so far (after trimming whitespace).
        typed: usize,
    },
    /// 18 characters typed and valid.
    Complete(IdNumber),
    /// An error that no further typing can fix.
    Invalid(IdError),
}

impl IdNumber {
    /// Parses an 18-character number or a legacy 15-digit one (upgraded to 18).
    ///
    /// Surrounding whitespace is trimmed; a lower-case `x` is accepted and
    /// normalised to `X`. Checks, in order: length, characters, province code,
    /// birth date, check digit.
    ///
    /// # Errors
    /// The first [`IdError`] found, naming the part that is wrong.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        match s.chars().count() {
            LEN => Self::parse_18(s),
            LEGACY_LEN => Self::upgrade_15(s),
            got => Err(IdError::Length { got }),
        }
    }

    /// Upgrades a legacy 15-digit number: inserts `19` after position 6 and
    /// appends the computed check digit. Surrounding whitespace is trimmed.
    ///
    /// # Errors
    /// [`IdError::Length`] unless 15 characters, [`IdError::Character`] for a
    /// non-digit, [`IdError::Province`] or [`IdError::Date`] (reported as `19YYMMDD`).
    pub fn upgrade_15(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        let got = s.chars().count();
        if got != LEGACY_LEN {
            return Err(IdError::Length { got });
        }
        if let Some((i, found)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(IdError::Character {
                position: i + 1,
                found,
            });
        }
        // All ASCII digits now. A legacy number is always a resident number,
        // so a leading `9` is a bad province, not a foreigner's number.
        let Some((address, rest)) = s.split_at_checked(6) else {
            return Err(IdError::Length { got });
        };
        check_province(address.as_bytes().get(..2).unwrap_or_default(), false)?;
        let upgraded = format!("{address}19{rest}");
        let first17: &[u8; 17] = upgraded
            .as_bytes()
            .try_into()
            .map_err(|_| IdError::Length { got })?;
        let number = format!("{upgraded}{}", check_digit(first17));
        Self::parse_18(&number)
    }

    /// Validates exactly 18 characters (already trimmed).
    fn parse_18(s: &str) -> Result<Self, IdError> {
        validate_prefix(s)?;
        // `validate_prefix` guarantees ASCII, so bytes are characters.
        let b = s.as_bytes();
        let Some((first17, &[last])) = b.split_first_chunk::<17>() else {
            return Err(IdError::Length {
                got: s.chars().count(),
            });
        };
        if char::from(last.to_ascii_uppercase()) != check_digit(first17) {
            return Err(IdError::CheckDigit);
        }
        let birth_date = b
            .get(6..14)
            .and_then(parse_date)
            .ok_or_else(|| IdError::Date {
                text: ascii(b.get(6..14).unwrap_or_default()),
            })?;
        Ok(Self {
            number: s.to_ascii_uppercase(),
            birth_date,
        })
    }

    /// The full number: the only way to see the full number; never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.number
    }

    /// The masked form, e.g. `1101**********002X` (see [`mask`]).
    #[must_use]
    pub fn masked(&self) -> String {
        mask(&self.number)
    }

    /// The kind of document, inferred from the number alone.
    #[must_use]
    pub fn kind(&self) -> IdKind {
        match self.number.as_bytes() {
            [b'9', ..] => IdKind::ForeignPermanentResident,
            [b'8', b'1'..=b'3', ..] => IdKind::HkMacauTaiwanPermit,
            _ => IdKind::Resident,
        }
    }

    /// The birth date (positions 7–14).
    #[must_use]
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// The province-level code: positions 1–2, or 2–3 for a foreigner's number.
    #[must_use]
    pub fn province_code(&self) -> u8 {
        let b = self.number.as_bytes();
        let digits = match self.kind() {
            IdKind::ForeignPermanentResident => b.get(1..3),
            _ => b.get(..2),
        };
        digits.map_or(0, |d| u8::try_from(number(d)).unwrap_or_default())
    }

    /// The gender encoded by position 17 (odd = male).
    #[must_use]
    pub fn gender(&self) -> Gender {
        match self.number.as_bytes().get(16).map(|&d| digit(d) % 2) {
            Some(1) => Gender::Male,
            _ => Gender::Female,
        }
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.number)
    }
}

impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(IdNumberVisitor)
    }
}

/// Visitor that refuses non-strings without echoing them: serde's default
/// "invalid type" errors would print a number sent as an integer in full.
struct IdNumberVisitor;

impl serde::de::Visitor<'_> for IdNumberVisitor {
    type Value = IdNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ID number as a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdNumber, E> {
        IdNumber::parse(v).map_err(E::custom)
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<IdNumber, E> {
        std::str::from_utf8(v)
            .map_err(|_| E::custom("ID number is not valid UTF-8"))
            .and_then(|s| self.visit_str(s))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<IdNumber, E> {
        Err(E::custom("ID number must be a string, not an integer"))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<IdNumber, E> {
        Err(E::custom("ID number must be a string, not an integer"))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<IdNumber, E> {
        Err(E::custom("ID number must be a string, not a number"))
    }
}

/// The ISO 7064 MOD 11-2 check character (`0`–`9` or `X`) for the first 17
/// characters, given as ASCII digits. Other bytes give a meaningless result
/// but never panic.
#[must_use]
pub fn check_digit(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| digit(d) * w)
        .sum();
    // `sum % 11` is always < 11, so the fallback is never used.
    CHECK_CHARS
        .get(usize::try_from(sum % 11).unwrap_or_default())
        .copied()
        .unwrap_or('?')
}

/// Masks a number for display and logs.
///
/// Shows the first and last `min(4, len / 4)` characters and replaces the rest
/// with `*`: `11010519491231002X` → `1101**********002X`, a legacy 15-digit
/// number shows 3 + 3. It thus never reveals more than 8 characters, nor more
/// than half of the string, whatever its length. Works on characters, not bytes.
#[must_use]
pub fn mask(number: &str) -> String {
    let len = number.chars().count();
    let keep = (len / 4).min(4);
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < keep || i >= len - keep { c } else { '*' })
        .collect()
}

/// Masked echo of keypad input while typing.
///
/// Shows the first 4 characters and the last one typed (so an elderly user
/// sees each key land) and masks the rest: `110105` → `1101*5`. From 18
/// characters on it equals [`mask`]. Surrounding whitespace is trimmed.
#[must_use]
pub fn mask_partial(input: &str) -> String {
    let input = input.trim();
    let len = input.chars().count();
    if len >= LEN {
        return mask(input);
    }
    input
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i + 1 == len { c } else { '*' })
        .collect()
}

/// Validates keypad input as it is typed, reporting an error as soon as no
/// continuation could make it valid: a bad character at once, a bad province
/// from the first digit on, an impossible year, month or day as soon as its
/// digits rule every date out, too many characters, and the check digit at 18.
///
/// The keypad always wants the 18-character number, so 15 valid digits are
/// still `Incomplete`, and a legacy 15-digit number (accepted by
/// [`IdNumber::parse`]) is not keypad input: read as the start of an 18-digit
/// number its `YYMMDD` is usually an impossible year, reported as
/// [`IdError::Date`] (from the 7th digit on, since every character is checked as typed).
/// Surrounding whitespace is trimmed.
#[must_use]
pub fn check_partial(input: &str) -> PartialCheck {
    let input = input.trim();
    let typed = input.chars().count();
    if typed > LEN {
        return PartialCheck::Invalid(IdError::Length { got: typed });
    }
    if let Err(e) = validate_prefix(input) {
        return PartialCheck::Invalid(e);
    }
    if typed < LEN {
        return PartialCheck::Incomplete { typed };
    }
    match IdNumber::parse_18(input) {
        Ok(id) => PartialCheck::Complete(id),
        Err(e) => PartialCheck::Invalid(e),
    }
}

/// Checks the first (at most 18) characters: characters, province and date,
/// each as far as typed. Not the check digit.
fn validate_prefix(s: &str) -> Result<(), IdError> {
    for (i, found) in s.chars().enumerate() {
        let allowed = found.is_ascii_digit() || (i == LEN - 1 && matches!(found, 'X' | 'x'));
        if !allowed {
            return Err(IdError::Character {
                position: i + 1,
                found,
            });
        }
    }
    // All ASCII now.
    let b = s.as_bytes();
    let part = |from: usize, to: usize| {
        b.get(from.min(b.len())..to.min(b.len()))
            .unwrap_or_default()
    };
    match b.first() {
        Some(b'9') => check_province(part(1, 3), true)?,
        _ => check_province(part(0, 2), false)?,
    }
    let date = part(6, 14);
    if !date_prefix_ok(date) {
        return Err(IdError::Date { text: ascii(date) });
    }
    Ok(())
}

/// Checks that some province code starts with `prefix` (0–2 ASCII digits).
/// A foreigner's number must name a mainland province.
fn check_province(prefix: &[u8], foreign: bool) -> Result<(), IdError> {
    let ok = PROVINCES
        .iter()
        .filter(|&&code| !foreign || code < FIRST_NON_MAINLAND)
        .any(|&code| [b'0' + code / 10, b'0' + code % 10].starts_with(prefix));
    if ok {
        Ok(())
    } else {
        Err(IdError::Province {
            code: ascii(prefix),
        })
    }
}

/// Whether some accepted date `YYYYMMDD` starts with these ASCII digits (0–8 of them).
fn date_prefix_ok(d: &[u8]) -> bool {
    let Some(year_digits) = d.get(..4) else {
        // Partial year: does [lo, hi] overlap the accepted years?
        let scale = 10_i32.pow(u32::try_from(4 - d.len()).unwrap_or_default());
        let lo = number(d) * scale;
        return lo + scale > MIN_BIRTH_YEAR && lo <= MAX_BIRTH_YEAR;
    };
    let year = number(year_digits);
    if !(MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&year) {
        return false;
    }
    let Some(month_digits) = d.get(4..6) else {
        return d.get(4).is_none_or(|&m| digit(m) <= 1);
    };
    let Some(month) = u8::try_from(number(month_digits))
        .ok()
        .and_then(|m| Month::try_from(m).ok())
    else {
        return false;
    };
    let days = i32::from(month.length(year));
    match d.get(6..) {
        Some([]) | None => true,
        Some([tens]) => number(&[*tens]) * 10 <= days,
        Some(day_digits) => (1..=days).contains(&number(day_digits)),
    }
}

/// The date for 8 ASCII digits `YYYYMMDD`, if accepted.
fn parse_date(d: &[u8]) -> Option<Date> {
    if d.len() != 8 || !date_prefix_ok(d) {
        return None;
    }
    let month = Month::try_from(u8::try_from(number(d.get(4..6)?)).ok()?).ok()?;
    let day = u8::try_from(number(d.get(6..8)?)).ok()?;
    Date::from_calendar_date(number(d.get(..4)?), month, day).ok()
}

/// Value of one ASCII digit (garbage, but no panic, for other bytes).
fn digit(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// Value of up to 8 ASCII digits.
fn number(d: &[u8]) -> i32 {
    d.iter().fold(0, |acc, &x| {
        acc.saturating_mul(10)
            .saturating_add(i32::from(x.wrapping_sub(b'0')))
    })
}

/// ASCII bytes as a `String` (lossless for the validated digits used here).
fn ascii(b: &[u8]) -> String {
    b.iter().map(|&x| char::from(x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde::de::IntoDeserializer;
    use serde::de::value::Error as DeError;
    use time::macros::date;

    /// Appends the correct check digit to 17 ASCII digits.
    fn with_check(first17: &str) -> String {
        let arr: [u8; 17] = first17.as_bytes().try_into().unwrap();
        format!("{first17}{}", check_digit(&arr))
    }

    #[rstest]
    #[case("11010519491231002X", "11010519491231002X", date!(1949-12-31), 11, Gender::Female, IdKind::Resident)]
    #[case("11010519491231002x", "11010519491231002X", date!(1949-12-31), 11, Gender::Female, IdKind::Resident)]
    #[case("  11010519491231002X\n", "11010519491231002X", date!(1949-12-31), 11, Gender::Female, IdKind::Resident)]
    #[case("440524188001010014", "440524188001010014", date!(1880-01-01), 44, Gender::Male, IdKind::Resident)]
    #[case("130503670401001", "130503196704010016", date!(1967-04-01), 13, Gender::Male, IdKind::Resident)]
    #[case("932682198501010017", "932682198501010017", date!(1985-01-01), 32, Gender::Male, IdKind::ForeignPermanentResident)]
    #[case("911124198108030024", "911124198108030024", date!(1981-08-03), 11, Gender::Female, IdKind::ForeignPermanentResident)]
    fn valid_numbers(
        #[case] input: &str,
        #[case] normalised: &str,
        #[case] birth: Date,
        #[case] province: u8,
        #[case] gender: Gender,
        #[case] kind: IdKind,
    ) {
        let id = IdNumber::parse(input).unwrap();
        assert_eq!(id.expose(), normalised);
        assert_eq!(id.birth_date(), birth);
        assert_eq!(id.province_code(), province);
        assert_eq!(id.gender(), gender);
        assert_eq!(id.kind(), kind);
    }

    #[rstest]
    #[case("810000199001010013")]
    #[case("820000199001010017")]
    #[case("830000199001010010")]
    fn permits(#[case] first17_source: &str) {
        let n = with_check(&first17_source[..17]);
        let id = IdNumber::parse(&n).unwrap();
        assert_eq!(id.kind(), IdKind::HkMacauTaiwanPermit);
        assert_eq!(
            id.province_code(),
            first17_source[..2].parse::<u8>().unwrap()
        );
    }

    #[test]
    fn taiwan_resident_code_71_is_resident() {
        let id = IdNumber::parse(&with_check("71000019900101001")).unwrap();
        assert_eq!(id.kind(), IdKind::Resident);
    }

    #[test]
    fn upgrade_legacy() {
        let id = IdNumber::upgrade_15("130503670401001").unwrap();
        assert_eq!(id.expose(), "130503196704010016");
        assert_eq!(IdNumber::parse("130503670401001").unwrap(), id);
        assert_eq!(
            IdNumber::upgrade_15("11010519491231002X"),
            Err(IdError::Length { got: 18 })
        );
        assert_eq!(
            IdNumber::upgrade_15("13050367040100X"),
            Err(IdError::Character {
                position: 15,
                found: 'X'
            })
        );
        // A legacy number is never a foreigner's number.
        assert_eq!(
            IdNumber::upgrade_15("932682850101001"),
            Err(IdError::Province { code: "93".into() })
        );
        assert_eq!(
            IdNumber::upgrade_15("130503670230001"),
            Err(IdError::Date {
                text: "19670230".into()
            })
        );
    }

    #[test]
    fn check_digits_of_standard_examples() {
        assert_eq!(check_digit(b"11010519491231002"), 'X');
        assert_eq!(check_digit(b"44052418800101001"), '4');
        assert_eq!(check_digit(b"13050319670401001"), '6');
        // Non-digit input must not panic.
        let _ = check_digit(&[0xFF; 17]);
    }

    #[rstest]
    #[case("", 0)]
    #[case("   ", 0)]
    #[case("1", 1)]
    #[case("1101051949123100", 16)]
    #[case("11010519491231002", 17)]
    #[case("11010519491231002X0", 19)]
    #[case("13050367040100", 14)]
    #[case("中文中文中文", 6)]
    fn length_errors(#[case] input: &str, #[case] got: usize) {
        let err = IdNumber::parse(input).unwrap_err();
        assert_eq!(err, IdError::Length { got });
        assert_no_leak(input, &err);
        assert!(err.user_message_zh().contains(&format!("您输入了{got}位")));
    }

    #[rstest]
    #[case("11010519491231002A", 18, 'A')]
    #[case("1101051949123100X2", 17, 'X')]
    #[case("X1010519491231002X", 1, 'X')]
    #[case("1101 519491231002X", 5, ' ')]
    #[case("11010519491231002中", 18, '中')]
    #[case("１1010519491231002X", 1, '１')]
    #[case("11010519491231002\u{0}", 18, '\u{0}')]
    #[case("1305036704010x1", 14, 'x')]
    fn character_errors(#[case] input: &str, #[case] position: usize, #[case] found: char) {
        let err = IdNumber::parse(input).unwrap_err();
        assert_eq!(err, IdError::Character { position, found });
        assert_no_leak(input, &err);
    }

    #[rstest]
    #[case("00010519491231002X", "00")]
    #[case("10010519491231002X", "10")]
    #[case("16010519491231002X", "16")]
    #[case("66010519491231002X", "66")]
    #[case("72010519491231002X", "72")]
    #[case("84010519491231002X", "84")]
    #[case("990105194912310021", "90")]
    #[case("971124198108030024", "71")]
    #[case("981124198108030024", "81")]
    #[case("100503670401001", "10")]
    fn province_errors(#[case] input: &str, #[case] code: &str) {
        let err = IdNumber::parse(input).unwrap_err();
        assert_eq!(err, IdError::Province { code: code.into() });
        assert_no_leak(input, &err);
    }

    #[rstest]
    #[case("19490230")]
    #[case("19010229")]
    #[case("19000229")]
    #[case("19491301")]
    #[case("19490001")]
    #[case("19490100")]
    #[case("19490132")]
    #[case("19490431")]
    #[case("17991231")]
    #[case("21010101")]
    #[case("00000000")]
    fn date_errors(#[case] date: &str) {
        let input = with_check(&format!("110105{date}002"));
        let err = IdNumber::parse(&input).unwrap_err();
        assert_eq!(err, IdError::Date { text: date.into() });
        assert_no_leak(&input, &err);
        assert_eq!(err.user_message_zh(), "出生日期不正确，请核对号码");
    }

    #[rstest]
    #[case("20000229", date!(2000-02-29))]
    #[case("19960229", date!(1996-02-29))]
    #[case("18000101", date!(1800-01-01))]
    #[case("21001231", date!(2100-12-31))]
    #[case("19490131", date!(1949-01-31))]
    fn date_ok(#[case] text: &str, #[case] expected: Date) {
        let id = IdNumber::parse(&with_check(&format!("110105{text}002"))).unwrap();
        assert_eq!(id.birth_date(), expected);
    }

    #[rstest]
    #[case("110105194912310021")]
    #[case("440524188001010015")]
    #[case("44052418800101001X")]
    #[case("932682198501010018")]
    fn check_digit_errors(#[case] input: &str) {
        let err = IdNumber::parse(input).unwrap_err();
        assert_eq!(err, IdError::CheckDigit);
        assert_eq!(err.user_message_zh(), "最后一位校验码不符，请核对号码");
        // Neither message may reveal the correct digit.
        assert_eq!(err.to_string(), "check digit does not match");
        assert_no_leak(input, &err);
    }

    fn assert_no_leak(input: &str, err: &IdError) {
        let input = input.trim();
        for text in [err.to_string(), format!("{err:?}"), err.user_message_zh()] {
            assert!(input.chars().count() < 9 || !text.contains(input), "{text}");
            if let Some(prefix) = input.get(..9) {
                assert!(!text.contains(prefix), "{text}");
            }
        }
    }

    #[test]
    fn debug_and_display_are_masked() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        let full = "11010519491231002X";
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(id.to_string(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(\"1101**********002X\")");
        for text in [
            format!("{id}"),
            format!("{id:?}"),
            format!("{id:#?}"),
            format!("{:?}", PartialCheck::Complete(id.clone())),
            format!("{:?}", Some(&id)),
        ] {
            assert!(!text.contains(full), "{text}");
            assert!(!text.contains("0519491231"), "{text}");
        }
    }

    #[rstest]
    #[case("11010519491231002X", "1101**********002X")]
    #[case("130503670401001", "130*********001")]
    #[case("12345678", "12****78")]
    #[case("1234567", "1*****7")]
    #[case("123", "***")]
    #[case("", "")]
    #[case("中文中文中文中文", "中文****中文")]
    #[case("11010519491231002X123456", "1101****************3456")]
    fn masking(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(mask(input), expected);
    }

    #[rstest]
    #[case("", "")]
    #[case("1", "1")]
    #[case("1101", "1101")]
    #[case("11010", "11010")]
    #[case("110105", "1101*5")]
    #[case("1101051", "1101**1")]
    #[case("11010519491231002", "1101************2")]
    #[case("11010519491231002X", "1101**********002X")]
    #[case(" 110105 ", "1101*5")]
    fn masking_partial(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(mask_partial(input), expected);
    }

    fn invalid(e: IdError) -> PartialCheck {
        PartialCheck::Invalid(e)
    }

    fn province(code: &str) -> PartialCheck {
        invalid(IdError::Province { code: code.into() })
    }

    fn date_err(text: &str) -> PartialCheck {
        invalid(IdError::Date { text: text.into() })
    }

    #[rstest]
    #[case("", PartialCheck::Incomplete { typed: 0 })]
    #[case("1", PartialCheck::Incomplete { typed: 1 })]
    #[case("9", PartialCheck::Incomplete { typed: 1 })]
    #[case("93", PartialCheck::Incomplete { typed: 2 })]
    #[case("0", province("0"))]
    #[case("10", province("10"))]
    #[case("97", province("7"))]
    #[case("981", province("81"))]
    #[case("a", invalid(IdError::Character { position: 1, found: 'a' }))]
    #[case("1x", invalid(IdError::Character { position: 2, found: 'x' }))]
    #[case("110105", PartialCheck::Incomplete { typed: 6 })]
    #[case("1101050", date_err("0"))]
    #[case("1101051", PartialCheck::Incomplete { typed: 7 })]
    #[case("11010517", date_err("17"))]
    #[case("11010522", date_err("22"))]
    #[case("110105210", PartialCheck::Incomplete { typed: 9 })]
    #[case("110105211", date_err("211"))]
    #[case("1101051949", PartialCheck::Incomplete { typed: 10 })]
    #[case("11010519492", date_err("19492"))]
    #[case("110105194913", date_err("194913"))]
    #[case("110105194900", date_err("194900"))]
    #[case("1101051949023", date_err("1949023"))]
    #[case("1101051949043", PartialCheck::Incomplete { typed: 13 })]
    #[case("11010519490230", date_err("19490230"))]
    #[case("110105194912310", PartialCheck::Incomplete { typed: 15 })]
    // Legacy 15-digit numbers are not keypad input: read as 18, "67.." is no year.
    #[case("130503670401001", date_err("67040100"))]
    #[case("11010519491231002", PartialCheck::Incomplete { typed: 17 })]
    #[case("1101051949123100X", invalid(IdError::Character { position: 17, found: 'X' }))]
    #[case("110105194912310021", invalid(IdError::CheckDigit))]
    #[case("11010519491231002X1", invalid(IdError::Length { got: 19 }))]
    fn partial_checks(#[case] input: &str, #[case] expected: PartialCheck) {
        assert_eq!(check_partial(input), expected);
    }

    #[test]
    fn partial_complete() {
        let expected = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(
            check_partial("11010519491231002x"),
            PartialCheck::Complete(expected)
        );
    }

    #[test]
    fn serde_round_trip_validates() {
        let de = |s: &str| {
            IdNumber::deserialize(
                s.into_deserializer() as serde::de::value::StrDeserializer<'_, DeError>
            )
        };
        assert_eq!(
            de("11010519491231002x").unwrap().expose(),
            "11010519491231002X"
        );
        let err = de("110105194912310021").unwrap_err().to_string();
        assert!(!err.contains("110105194912310021"), "{err}");
        let err = IdNumber::deserialize(110_105_194_912_310_021_u64.into_deserializer()
            as serde::de::value::U64Deserializer<DeError>)
        .unwrap_err()
        .to_string();
        assert!(!err.contains("110105194912310021"), "{err}");
    }

    /// Strategy for a valid 18-character number and its birth date.
    fn valid_number() -> impl Strategy<Value = (String, Date)> {
        let codes = PROVINCES.to_vec();
        let mainland: Vec<u8> = codes
            .iter()
            .copied()
            .filter(|&c| c < FIRST_NON_MAINLAND)
            .collect();
        let days = date!(1850 - 01 - 01).to_julian_day()..=date!(2020 - 12 - 31).to_julian_day();
        (
            any::<bool>(),
            proptest::sample::select(codes),
            proptest::sample::select(mainland),
            0u32..10_000,
            days,
            0u32..1000,
        )
            .prop_map(|(foreign, code, mainland, county, day, seq)| {
                let date = Date::from_julian_day(day).unwrap();
                let address = if foreign {
                    format!("9{mainland:02}{:03}", county % 1000)
                } else {
                    format!("{code:02}{county:04}")
                };
                let ymd = format!(
                    "{:04}{:02}{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                );
                (with_check(&format!("{address}{ymd}{seq:03}")), date)
            })
    }

    proptest! {
        #[test]
        fn generated_valid_numbers_validate((number, date) in valid_number()) {
            let id = IdNumber::parse(&number).unwrap();
            prop_assert_eq!(id.expose(), number.as_str());
            prop_assert_eq!(id.birth_date(), date);
            prop_assert_eq!(id.masked(), mask(&number));
            prop_assert_eq!(mask_partial(&number), mask(&number));
            let shown = format!("{id:?}{id}");
            prop_assert!(!shown.contains(&number));
            // Every prefix of a valid number is fine while typing.
            for n in 0..18 {
                prop_assert_eq!(check_partial(&number[..n]), PartialCheck::Incomplete { typed: n });
            }
            prop_assert_eq!(check_partial(&number), PartialCheck::Complete(id));
        }

        #[test]
        fn single_substitutions_are_rejected(
            (number, _) in valid_number(),
            position in 0usize..18,
            shift in 1usize..11,
        ) {
            const ALPHABET: &[u8; 11] = b"0123456789X";
            let mut bytes = number.into_bytes();
            let old = ALPHABET.iter().position(|&c| c == bytes[position]).unwrap();
            bytes[position] = ALPHABET[(old + shift) % 11];
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(IdNumber::parse(&changed).is_err(), "{}", changed);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>(), t in "[0-9Xx \u{4e2d}]{0,20}") {
            for input in [s.as_str(), t.as_str()] {
                let _ = IdNumber::parse(input);
                let _ = IdNumber::upgrade_15(input);
                let _ = check_partial(input);
                let _ = mask_partial(input);
                let masked = mask(input);
                prop_assert_eq!(masked.chars().count(), input.chars().count());
                let shown = masked.chars().zip(input.chars()).filter(|(m, i)| m == i && *i != '*').count();
                prop_assert!(shown <= 8);
            }
        }
    }
}
