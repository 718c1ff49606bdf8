//! [`ConfigError`] and the translation of serde/TOML errors into operator-facing
//! [`Problem`]s.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde_path_to_error::Segment;
use toml::{Table, Value};

use super::pin::REDACTED;

/// Keys whose values are secrets and are never shown in messages.
const SECRET_KEYS: &[&str] = &["session.staff_pin_hash"];

/// Longest rendering of a bad value inside a message.
const MAX_VALUE_CHARS: usize = 80;

/// One problem found in a configuration, naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `liveness.action_count` or `liveness.actions[2]`.
    pub key: String,
    /// The full message line (it names the key, the bad value and what is allowed).
    pub message: String,
}

impl Problem {
    /// Creates a problem for `key` with a complete message line.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// True when this problem concerns `key` or something below it.
    pub(crate) fn is_under(&self, key: &str) -> bool {
        self.key == key
            || self
                .key
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file does not exist.
    #[error(
        "configuration file {} not found.\n  To create one, copy the documented kiosk.toml shipped \
         with lifecert to that path, or save the built-in defaults printed by \
         `lifecert check-config` there; then edit it.",
        path.display()
    )]
    NotFound {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// The configuration file exists but could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("TOML syntax error in {origin} at line {line}, column {column}: {message}")]
    Syntax {
        /// File path or other description of where the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The TOML is well-formed but has unknown keys, wrong types or bad values.
    /// All problems found are listed.
    #[error("{}", render_invalid(origin, problems))]
    Invalid {
        /// File path or other description of where the text came from.
        origin: String,
        /// Every problem found, at least one.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The individual problems of an [`ConfigError::Invalid`] error (empty otherwise).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn render_invalid(origin: &str, problems: &[Problem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut out = format!("invalid configuration in {origin} ({count}):");
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.message);
    }
    out
}

/// Converts a TOML parse error into [`ConfigError::Syntax`].
pub(crate) fn syntax_error(text: &str, origin: &str, err: &toml::de::Error) -> ConfigError {
    let offset = err.span().map_or(0, |span| span.start);
    let (line, column) = line_column(text, offset);
    ConfigError::Syntax {
        origin: origin.to_owned(),
        line,
        column,
        message: err.message().trim().to_owned(),
    }
}

/// 1-based line and character column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// Renders a value for a message, redacting secrets and shortening long values.
pub(crate) fn show_value(key: &str, value: &Value) -> String {
    let is_secret = SECRET_KEYS
        .iter()
        .any(|secret| Problem::new(key, "").is_under(secret));
    let holds_secret = matches!(value, Value::Table(_))
        && SECRET_KEYS
            .iter()
            .any(|secret| secret.starts_with(&format!("{key}.")));
    if is_secret || holds_secret {
        return REDACTED.to_owned();
    }
    let shown = match value {
        Value::Table(_) => value
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    shorten(&shown)
}

/// Renders a string value in TOML quoting.
pub(crate) fn show_str(s: &str) -> String {
    shorten(&Value::String(s.to_owned()).to_string())
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE_CHARS {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX_VALUE_CHARS).collect();
        out.push('…');
        out
    }
}

/// Operator-facing name of a TOML value's type.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Operator-facing wording for serde's "expected ..." text.
fn expected_name(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "an integer".to_owned()
        }
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "an array".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// Finds the value at a serde path inside the table.
fn lookup<'a>(root: &'a Table, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    let mut segments = path.iter();
    let first = match segments.next()? {
        Segment::Map { key } => root.get(key)?,
        _ => return None,
    };
    segments.try_fold(first, |value, segment| match (segment, value) {
        (Segment::Map { key }, Value::Table(table)) => table.get(key),
        (Segment::Seq { index }, Value::Array(items)) => items.get(*index),
        _ => None,
    })
}

/// Translates a deserialization error (with its key path) into a [`Problem`].
pub(crate) fn problem_from_serde(
    err: &serde_path_to_error::Error<toml::de::Error>,
    root: &Table,
) -> Problem {
    let key = err.path().to_string();
    let message = err.inner().message().trim();
    let shown = lookup(root, err.path()).map(|value| (show_value(&key, value), value));

    if message.starts_with("unknown field `") {
        let allowed = message
            .split_once(", expected ")
            .map(|(_, list)| {
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "none".to_owned());
        return Problem::new(&key, format!("unknown key `{key}` (allowed: {allowed})"));
    }

    if let (Some(_), Some((_, expected))) = (
        message.strip_prefix("invalid type: "),
        message.rsplit_once(", expected "),
    ) {
        let expected = expected_name(expected);
        let text = match shown {
            Some((shown, value)) => format!(
                "{key} = {shown}: wrong type: expected {expected}, found {}",
                type_name(value)
            ),
            None => format!("{key}: wrong type: expected {expected}"),
        };
        return Problem::new(&key, text);
    }

    let text = match shown {
        Some((shown, _)) => format!("{key} = {shown}: {message}"),
        None => format!("{key}: {message}"),
    };
    Problem::new(&key, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nsite = \"村\" x";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let x = text.find('x').unwrap();
        assert_eq!(line_column(text, x), (2, 12));
        assert_eq!(line_column(text, 10_000), (2, 13));
    }

    #[test]
    fn secrets_are_redacted() {
        let value = Value::String("$argon2id$v=19$secret".to_owned());
        assert_eq!(show_value("session.staff_pin_hash", &value), REDACTED);
        let mut session = Table::new();
        session.insert("staff_pin_hash".to_owned(), value.clone());
        assert_eq!(show_value("session", &Value::Table(session)), REDACTED);
        assert_eq!(
            show_value("device.site", &value),
            "\"$argon2id$v=19$secret\""
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        assert!(show_str(&long).chars().count() <= MAX_VALUE_CHARS + 1);
    }

    #[test]
    fn invalid_lists_every_problem_on_its_own_line() {
        let err = ConfigError::Invalid {
            origin: "kiosk.toml".to_owned(),
            problems: vec![Problem::new("a", "first"), Problem::new("b", "second")],
        };
        let text = err.to_string();
        assert_eq!(
            text,
            "invalid configuration in kiosk.toml (2 problems):\n  first\n  second"
        );
    }
}
