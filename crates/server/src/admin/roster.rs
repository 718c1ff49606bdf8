//! Roster CSV import: decoding (UTF-8 with/without BOM, or GBK/GB18030 as
//! saved by Excel in China) and per-row validation.
//!
//! Header (any column order, case-insensitive, empty extra columns ignored):
//! `id_number,name,region,benefit,status,status_since,last_certified`.
//! Good rows are returned for import; each bad row is reported with its line
//! number (the header is line 1, as Excel numbers rows) and every problem
//! found in it, in Chinese and English.

use std::collections::HashMap;

use lifecert_core::id::{IdError, IdNumber};
use lifecert_protocol::BenefitType;
use time::{Date, Month};

use super::data::{RosterRow, RosterStatus, benefit_code};

/// The required columns, in the documented order.
pub const COLUMNS: [&str; 7] = [
    "id_number",
    "name",
    "region",
    "benefit",
    "status",
    "status_since",
    "last_certified",
];

/// The longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 50;

/// How an uploaded file was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEncoding {
    Utf8,
    Utf8Bom,
    /// Not valid UTF-8; decoded as GB18030 (a superset of GBK).
    Gbk,
}

impl SourceEncoding {
    /// Label for the result page.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            SourceEncoding::Utf8 => "UTF-8",
            SourceEncoding::Utf8Bom => "UTF-8 (BOM)",
            SourceEncoding::Gbk => "GBK",
        }
    }
}

/// A problem with the whole file: nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterFileError {
    #[error("文件为空 (the file is empty)")]
    Empty,
    #[error(
        "文件编码无法识别：请在 Excel 中另存为“CSV UTF-8”或“CSV（逗号分隔）” \
         (cannot decode the file: save it as CSV UTF-8 or CSV in GBK)"
    )]
    Encoding,
    #[error(
        "这是 UTF-16 文本（Excel“Unicode 文本”），请另存为“CSV UTF-8” \
         (UTF-16 text is not supported: save as CSV UTF-8)"
    )]
    Utf16,
    #[error("表头缺少列：{0}（表头应为 {cols}） (missing columns: {0})", cols = COLUMNS.join(","))]
    MissingColumns(String),
    #[error("表头有未知列：{0} (unknown columns: {0})")]
    UnknownColumns(String),
    #[error("表头列名重复：{0} (duplicate column: {0})")]
    DuplicateColumn(String),
    #[error("无法读取 CSV 表头：{0} (cannot read the CSV header)")]
    Header(String),
}

/// One problem in a row, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub zh: String,
    pub en: String,
}

impl Problem {
    fn new(zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// A bad row: its line number and every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub problems: Vec<Problem>,
}

impl RowError {
    /// `第 3 行：身份证号校验位错误；…`
    #[must_use]
    pub fn message_zh(&self) -> String {
        let joined: Vec<&str> = self.problems.iter().map(|p| p.zh.as_str()).collect();
        format!("第 {} 行：{}", self.line, joined.join("；"))
    }

    /// `row 3: ID number check digit is wrong; …`
    #[must_use]
    pub fn message_en(&self) -> String {
        let joined: Vec<&str> = self.problems.iter().map(|p| p.en.as_str()).collect();
        format!("row {}: {}", self.line, joined.join("; "))
    }
}

/// A parsed file: the good rows (with their line numbers) and the bad ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRoster {
    pub encoding: SourceEncoding,
    pub rows: Vec<(u64, RosterRow)>,
    pub errors: Vec<RowError>,
}

/// Decodes an uploaded file to text: UTF-8 (BOM stripped) when valid,
/// otherwise GB18030/GBK.
///
/// # Errors
/// [`RosterFileError::Empty`], [`RosterFileError::Utf16`] or
/// [`RosterFileError::Encoding`] when the bytes are neither.
pub fn decode(bytes: &[u8]) -> Result<(String, SourceEncoding), RosterFileError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(RosterFileError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(RosterFileError::Utf16);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_owned(), SourceEncoding::Utf8Bom))
            .map_err(|_| RosterFileError::Encoding);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_owned(), SourceEncoding::Utf8));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| (text.into_owned(), SourceEncoding::Gbk))
        .ok_or(RosterFileError::Encoding)
}

/// Decodes and validates a roster file. `today` is the import day: dates
/// after it are rejected.
///
/// # Errors
/// A [`RosterFileError`] when the file as a whole is unusable (encoding,
/// header). Bad rows are not errors: they are listed in [`ParsedRoster::errors`].
pub fn parse_roster(bytes: &[u8], today: Date) -> Result<ParsedRoster, RosterFileError> {
    let (text, encoding) = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| RosterFileError::Header(e.to_string()))?
        .clone();
    let index = column_index(&header)?;

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    // (id, benefit) → line of first occurrence, to catch duplicates in the file.
    let mut seen: HashMap<(String, BenefitType), u64> = HashMap::new();
    // csv's own line counter skips blank lines; count newlines ourselves.
    let mut lines = LineCounter::new(&text);
    for (n, record) in reader.records().enumerate() {
        let fallback_line = n as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map_or(fallback_line, |p| p.line())
                    .max(fallback_line);
                errors.push(RowError {
                    line,
                    problems: vec![Problem::new(
                        "无法读取此行（引号不配对？）",
                        format!("cannot read this row ({e})"),
                    )],
                });
                continue;
            }
        };
        let line = record
            .position()
            .map_or(fallback_line, |p| lines.line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue; // Blank line or a row of empty cells (Excel leaves those).
        }
        let field = |col: usize| record.get(index[col]).unwrap_or("");
        let mut problems = Vec::new();
        if record.len() > header.len() {
            problems.push(Problem::new(
                format!("此行有 {} 列，多于表头的 {} 列", record.len(), header.len()),
                format!(
                    "{} fields, more than the header's {}",
                    record.len(),
                    header.len()
                ),
            ));
        }
        let row = validate(
            [
                field(0),
                field(1),
                field(2),
                field(3),
                field(4),
                field(5),
                field(6),
            ],
            today,
            &mut problems,
        );
        if let Some(row) = &row {
            let key = (row.id_number.expose().to_owned(), row.benefit);
            if let Some(first) = seen.get(&key) {
                problems.push(Problem::new(
                    format!("与第 {first} 行重复（同一身份证号和待遇类型）"),
                    format!("duplicate of row {first} (same ID number and benefit)"),
                ));
            }
        }
        match row {
            Some(row) if problems.is_empty() => {
                seen.insert((row.id_number.expose().to_owned(), row.benefit), line);
                rows.push((line, row));
            }
            _ => errors.push(RowError { line, problems }),
        }
    }
    Ok(ParsedRoster {
        encoding,
        rows,
        errors,
    })
}

/// Turns csv record offsets (increasing) into 1-based line numbers.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let target = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if target > self.byte {
            let newlines = self.text[self.byte..target]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += newlines as u64;
            self.byte = target;
        }
        // csv reports the end of the previous record, before blank lines:
        // step over line breaks to where this record really starts.
        while let Some(&b) = self.text.get(self.byte) {
            match b {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => break,
            }
            self.byte += 1;
        }
        self.line
    }
}

/// Maps each of [`COLUMNS`] to its position in the header.
fn column_index(header: &csv::StringRecord) -> Result<[usize; 7], RosterFileError> {
    let mut found: [Option<usize>; 7] = [None; 7];
    let mut unknown = Vec::new();
    for (pos, name) in header.iter().enumerate() {
        let name = name
            .trim()
            .trim_start_matches('\u{feff}')
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        match COLUMNS.iter().position(|c| *c == name) {
            Some(col) if found[col].is_some() => {
                return Err(RosterFileError::DuplicateColumn(name));
            }
            Some(col) => found[col] = Some(pos),
            None => unknown.push(shorten(&name, 30)),
        }
    }
    if !unknown.is_empty() {
        return Err(RosterFileError::UnknownColumns(unknown.join(",")));
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(found)
        .filter(|(_, f)| f.is_none())
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(RosterFileError::MissingColumns(missing.join(",")));
    }
    let mut index = [0; 7];
    for (slot, f) in index.iter_mut().zip(found) {
        *slot = f.unwrap_or(0);
    }
    Ok(index)
}

/// Validates the seven fields of a row (in [`COLUMNS`] order), pushing every
/// problem found. Returns the row only when all fields are valid.
fn validate(fields: [&str; 7], today: Date, problems: &mut Vec<Problem>) -> Option<RosterRow> {
    let [
        id,
        name,
        region,
        benefit,
        status,
        status_since,
        last_certified,
    ] = fields;
    let id_number = check_id(id, problems);

    let name_ok = if name.is_empty() {
        problems.push(Problem::new("姓名为空", "name is empty"));
        false
    } else if name.chars().count() > MAX_NAME_CHARS {
        problems.push(Problem::new(
            format!("姓名超过 {MAX_NAME_CHARS} 个字"),
            format!("name is longer than {MAX_NAME_CHARS} characters"),
        ));
        false
    } else if name.chars().any(char::is_control) {
        problems.push(Problem::new(
            "姓名含有控制字符",
            "name contains control characters",
        ));
        false
    } else {
        true
    };

    let region_ok = region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit());
    if !region_ok {
        problems.push(Problem::new(
            format!("参保地区代码“{}”应为 6 位数字", shorten(region, 20)),
            format!("region {:?} must be 6 digits", shorten(region, 20)),
        ));
    }

    let benefit_value = BenefitType::ALL
        .into_iter()
        .find(|b| benefit_code(*b) == benefit.to_ascii_lowercase());
    if benefit_value.is_none() {
        let allowed = "pension、unemployment、work_injury、dependant_relief";
        problems.push(Problem::new(
            format!(
                "待遇类型“{}”无效，应为 {allowed} 之一",
                shorten(benefit, 30)
            ),
            format!(
                "unknown benefit {:?} (pension, unemployment, work_injury, dependant_relief)",
                shorten(benefit, 30)
            ),
        ));
    }

    let status_value = RosterStatus::from_code(&status.to_ascii_lowercase());
    if status_value.is_none() {
        problems.push(Problem::new(
            format!(
                "状态“{}”无效，应为 active、suspended、terminated、identity_changed 之一",
                shorten(status, 30)
            ),
            format!(
                "unknown status {:?} (active, suspended, terminated, identity_changed)",
                shorten(status, 30)
            ),
        ));
    }

    let since = check_date(
        status_since,
        "状态日期 status_since",
        "status_since",
        today,
        problems,
    );
    let last = check_date(
        last_certified,
        "上次认证日期 last_certified",
        "last_certified",
        today,
        problems,
    );
    if status_value == Some(RosterStatus::Suspended) && status_since.is_empty() {
        problems.push(Problem::new(
            "状态为 suspended（暂停发放）时必须填写 status_since",
            "status_since is required when status is suspended",
        ));
    }

    match (id_number, benefit_value, status_value, since, last) {
        (Some(id_number), Some(benefit), Some(status), Ok(status_since), Ok(last_certified))
            if name_ok && region_ok =>
        {
            Some(RosterRow {
                id_number,
                name: name.to_owned(),
                region: region.to_owned(),
                benefit,
                status,
                status_since,
                last_certified,
            })
        }
        _ => None,
    }
}

fn check_id(id: &str, problems: &mut Vec<Problem>) -> Option<IdNumber> {
    if id.is_empty() {
        problems.push(Problem::new("身份证号为空", "ID number is empty"));
        return None;
    }
    if id.contains("E+") || id.contains("e+") {
        problems.push(Problem::new(
            "身份证号被 Excel 改成了科学计数法：请把该列设为“文本”格式，重新填写后再导出",
            "the ID number was turned into scientific notation by Excel: format the column as Text and re-enter it",
        ));
        return None;
    }
    match IdNumber::parse(id) {
        Ok(n) => Some(n),
        Err(e) => {
            problems.push(id_problem(&e));
            None
        }
    }
}

/// Plain wording for an ID error; never contains the number itself.
fn id_problem(e: &IdError) -> Problem {
    match e {
        IdError::Length { got } => Problem::new(
            format!("身份证号应为 18 位，此行为 {got} 位"),
            format!("ID number must have 18 characters, this one has {got}"),
        ),
        IdError::Character { position, .. } => Problem::new(
            format!("身份证号第 {position} 位不是数字（只有最后一位可以是 X）"),
            format!("ID number has an invalid character at position {position}"),
        ),
        IdError::Province { .. } => Problem::new(
            "身份证号开头的省份代码不正确",
            "ID number starts with an unknown province code",
        ),
        IdError::Date { .. } => Problem::new(
            "身份证号中的出生日期不正确",
            "ID number contains an invalid birth date",
        ),
        IdError::CheckDigit => Problem::new("身份证号校验位错误", "ID number check digit is wrong"),
    }
}

/// An empty cell is `Ok(None)`; a bad or future date pushes a problem.
fn check_date(
    value: &str,
    label_zh: &str,
    label_en: &str,
    today: Date,
    problems: &mut Vec<Problem>,
) -> Result<Option<Date>, ()> {
    if value.is_empty() {
        return Ok(None);
    }
    match parse_date(value) {
        Some(d) if d > today => {
            problems.push(Problem::new(
                format!("{label_zh}“{d}”晚于今天"),
                format!("{label_en} {d} is in the future"),
            ));
            Err(())
        }
        Some(d) => Ok(Some(d)),
        None => {
            problems.push(Problem::new(
                format!(
                    "{label_zh}“{}”不是有效日期，应为 YYYY-MM-DD，例如 2024-03-05",
                    shorten(value, 20)
                ),
                format!(
                    "{label_en} {:?} is not a date YYYY-MM-DD",
                    shorten(value, 20)
                ),
            ));
            Err(())
        }
    }
}

/// `YYYY-MM-DD`, also `YYYY/M/D` and `YYYY-M-D` (Excel's Chinese locale
/// rewrites dates as `2024/3/5` when it saves a CSV). Years 1900–2199.
#[must_use]
pub fn parse_date(value: &str) -> Option<Date> {
    let sep = if value.contains('/') { '/' } else { '-' };
    let mut parts = value.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || ![y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    if !(1900..=2199).contains(&year) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, d.parse().ok()?).ok()
}

/// At most `max` characters of `s`, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 05 - 10);
    const HEADER: &str = "id_number,name,region,benefit,status,status_since,last_certified\n";
    // Valid GB 11643 numbers.
    const ID_A: &str = "11010519491231002X";
    const ID_B_FIRST17: &str = "11010519600101001";

    fn valid_id_b() -> String {
        // Compute a valid second number from the check digit function.
        let first17: [u8; 17] = ID_B_FIRST17.as_bytes().try_into().unwrap();
        let check = lifecert_core::id::check_digit(&first17);
        format!("{ID_B_FIRST17}{check}")
    }

    #[test]
    fn good_rows_are_parsed() {
        let b = valid_id_b();
        let text = format!(
            "{HEADER}{ID_A},张三,450403,pension,active,,2025-06-01\n\
             {b},李四,450403,dependant_relief,suspended,2026/4/1,\n"
        );
        let parsed = parse_roster(text.as_bytes(), TODAY).unwrap();
        assert_eq!(parsed.encoding, SourceEncoding::Utf8);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows.len(), 2);
        let (line, row) = &parsed.rows[0];
        assert_eq!(*line, 2);
        assert_eq!(row.id_number.expose(), ID_A);
        assert_eq!(row.name, "张三");
        assert_eq!(row.region, "450403");
        assert_eq!(row.benefit, BenefitType::Pension);
        assert_eq!(row.status, RosterStatus::Active);
        assert_eq!(row.status_since, None);
        assert_eq!(row.last_certified, Some(date!(2025 - 06 - 01)));
        let (line, row) = &parsed.rows[1];
        assert_eq!(*line, 3);
        assert_eq!(row.benefit, BenefitType::DependantRelief);
        assert_eq!(row.status, RosterStatus::Suspended);
        assert_eq!(row.status_since, Some(date!(2026 - 04 - 01)));
    }

    #[test]
    fn bad_rows_are_listed_with_line_and_reason_and_good_rows_kept() {
        let mut bad_check = ID_A.to_owned();
        bad_check.replace_range(17.., "3");
        let text = format!(
            "{HEADER}{ID_A},张三,450403,pension,active,,\n\
             {bad_check},王五,450403,pension,active,,\n\
             {ID_A},,4504,bonus,alive,2026-13-01,2030-01-01\n\
             1.10105E+17,赵六,450403,pension,active,,\n\
             {ID_A},张三,450403,pension,terminated,2026-01-01,\n\
             {ID_A},张三,450403,unemployment,suspended,,\n"
        );
        let parsed = parse_roster(text.as_bytes(), TODAY).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].0, 2);
        let lines: Vec<u64> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);

        assert_eq!(parsed.errors[0].message_zh(), "第 3 行：身份证号校验位错误");
        assert_eq!(
            parsed.errors[0].message_en(),
            "row 3: ID number check digit is wrong"
        );
        // Every problem of line 4 is reported, not only the first.
        let zh = parsed.errors[1].message_zh();
        for part in [
            "姓名为空",
            "6 位数字",
            "待遇类型“bonus”",
            "状态“alive”",
            "不是有效日期",
            "晚于今天",
        ] {
            assert!(zh.contains(part), "{part} missing in {zh}");
        }
        assert!(parsed.errors[2].message_zh().contains("科学计数法"));
        assert!(parsed.errors[3].message_zh().contains("与第 2 行重复"));
        assert!(
            parsed.errors[4]
                .message_zh()
                .contains("必须填写 status_since")
        );
        // No message repeats the full ID number.
        for e in &parsed.errors {
            assert!(!e.message_zh().contains(ID_A) && !e.message_en().contains(ID_A));
        }
    }

    #[test]
    fn utf8_bom_and_reordered_columns_are_accepted() {
        let text = format!(
            "\u{feff}Name,ID_NUMBER,region,benefit,status,status_since,last_certified,\n\
             张三,{ID_A},450403,work_injury,active,,\n"
        );
        let parsed = parse_roster(text.as_bytes(), TODAY).unwrap();
        assert_eq!(parsed.encoding, SourceEncoding::Utf8Bom);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows[0].1.name, "张三");
        assert_eq!(parsed.rows[0].1.benefit, BenefitType::WorkInjury);
    }

    #[test]
    fn gbk_file_is_decoded() {
        let text = format!("{HEADER}{ID_A},张三,450403,pension,active,,\n");
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
        assert!(!unmappable);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "test needs non-UTF-8 bytes"
        );
        let parsed = parse_roster(&bytes, TODAY).unwrap();
        assert_eq!(parsed.encoding, SourceEncoding::Gbk);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].1.name, "张三");
    }

    #[test]
    fn file_level_errors() {
        assert_eq!(parse_roster(b"", TODAY), Err(RosterFileError::Empty));
        assert_eq!(
            parse_roster(&[0xFF, 0xFE, b'i', 0], TODAY),
            Err(RosterFileError::Utf16)
        );
        assert_eq!(
            parse_roster(&[0x81, 0x20, 0xFF, 0xFF], TODAY),
            Err(RosterFileError::Encoding)
        );
        assert_eq!(
            parse_roster(b"id_number,name,region\n", TODAY),
            Err(RosterFileError::MissingColumns(
                "benefit,status,status_since,last_certified".into()
            ))
        );
        let text = HEADER.replace('\n', ",phone\n");
        assert_eq!(
            parse_roster(text.as_bytes(), TODAY),
            Err(RosterFileError::UnknownColumns("phone".into()))
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_follow_the_file() {
        let text = format!("{HEADER},,,,,,\n\n{ID_A},张三,450403,pension,bogus,,\n");
        let parsed = parse_roster(text.as_bytes(), TODAY).unwrap();
        assert!(parsed.rows.is_empty());
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 4);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-03-05"), Some(date!(2024 - 03 - 05)));
        assert_eq!(parse_date("2024/3/5"), Some(date!(2024 - 03 - 05)));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("24-03-05"), None);
        assert_eq!(parse_date("2024-03-05-01"), None);
        assert_eq!(parse_date("2024-+3-05"), None);
        assert_eq!(parse_date("1800-01-01"), None);
    }
}
