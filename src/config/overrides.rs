//! `LIFECERT__SECTION__KEY=value` environment overrides, applied to the parsed
//! TOML table before deserialization.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::error::Problem;
use super::{DEFAULT_TOML, ENV_PREFIX};

/// One applied override: the dotted key it set and the variable that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Override {
    pub key: String,
    pub var: String,
}

/// Applies every `LIFECERT__…` variable (in name order) to `table`. Malformed
/// variable names are reported as problems; unknown keys are left in place
/// for deserialization to report like any unknown key.
pub(crate) fn apply(
    table: &mut Table,
    vars: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> Vec<Override> {
    let defaults: Table = DEFAULT_TOML.parse().unwrap_or_default();
    let mut applied = Vec::new();
    for (var, text) in vars {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
        let key = path.join(".");
        if path.iter().any(String::is_empty) {
            problems.push(Problem::new(
                &key,
                format!(
                    "environment variable {var}: empty key segment (expected \
                     LIFECERT__SECTION__KEY, segments separated by two underscores)"
                ),
            ));
            continue;
        }
        let literal = matches!(lookup(&defaults, &path), Some(Value::String(_)));
        let value = parse_value(text, literal);
        match set(table, &path, value) {
            Ok(()) => applied.push(Override {
                key,
                var: var.clone(),
            }),
            Err(parent) => problems.push(Problem::new(
                &key,
                format!("environment variable {var} sets `{key}`, but `{parent}` is not a table"),
            )),
        }
    }
    applied
}

/// A TOML value when `text` parses as exactly one (and the key is not a
/// string key), else the text itself as a string.
pub(crate) fn parse_value(text: &str, literal: bool) -> Value {
    if !literal
        && let Ok(mut parsed) = format!("v = {text}").parse::<Table>()
        && parsed.len() == 1
        && let Some(value) = parsed.remove("v")
    {
        return value;
    }
    Value::String(text.to_owned())
}

fn lookup<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(table.get(first)?, |value, key| match value {
            Value::Table(t) => t.get(key),
            _ => None,
        })
}

/// Sets `value` at `path`, creating tables; `Err` names the first non-table
/// on the way.
fn set(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let mut current = table;
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    for (depth, key) in parents.iter().enumerate() {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(t) => t,
            _ => return Err(path[..=depth].join(".")),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_toml_or_fall_back_to_strings() {
        assert_eq!(parse_value("9600", false), Value::Integer(9600));
        assert_eq!(parse_value("false", false), Value::Boolean(false));
        assert_eq!(parse_value("0.4", false), Value::Float(0.4));
        assert_eq!(
            parse_value(r#"["blink","turn_left"]"#, false),
            Value::Array(vec![
                Value::String("blink".into()),
                Value::String("turn_left".into())
            ])
        );
        for text in ["v4l:1", "/dev/ttyUSB0", "", "a b", "1\nw = 2"] {
            assert_eq!(
                parse_value(text, false),
                Value::String(text.into()),
                "{text:?}"
            );
        }
        assert_eq!(parse_value("12345", true), Value::String("12345".into()));
    }

    #[test]
    fn nested_keys_and_conflicts() {
        let mut table: Table = "camera = 5\n".parse().unwrap();
        let vars = BTreeMap::from([
            (
                "LIFECERT__PERIPHERALS__PRINTER__BAUD".to_owned(),
                "19200".to_owned(),
            ),
            ("LIFECERT__CAMERA__FPS".to_owned(), "10".to_owned()),
            ("LIFECERT____X".to_owned(), "1".to_owned()),
            ("LIFECERT_LOG".to_owned(), "debug".to_owned()),
        ]);
        let mut problems = Vec::new();
        let applied = apply(&mut table, &vars, &mut problems);
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].key, "peripherals.printer.baud");
        assert_eq!(
            table["peripherals"]["printer"]["baud"],
            Value::Integer(19200)
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("`camera` is not a table"));
        assert!(problems[1].message.contains("empty key segment"));
    }
}
