//! Reading the attributes of a Zendesk request body leniently, as clients differ (ids as
//! numbers or strings, `null` and `""` for "none", tags as a list or one string), with every
//! problem reported per field.

use serde_json::{Map, Value};

use super::error::Problems;

/// A string attribute: `Some(None)` for `null` or `""`, a problem for anything not a string.
pub(crate) fn optional_text(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Option<String>> {
    match object.get(key)? {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) => Some(Some(s.trim().to_owned())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => {
            problems.invalid(key, "must be a string");
            None
        }
    }
}

/// An id attribute: an integer or a string of digits, or `null`.
pub(crate) fn optional_id(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Option<i64>> {
    match object.get(key)? {
        Value::Null => Some(None),
        Value::Number(n) if n.as_i64().is_some_and(|id| id > 0) => Some(n.as_i64()),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) if s.trim().parse::<i64>().is_ok_and(|id| id > 0) => Some(s.trim().parse().ok()),
        other => {
            problems.invalid(key, format!("{other} is not an id"));
            None
        }
    }
}

/// `tags`: a list of words, or one string of words.
pub(crate) fn tags(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
    match object.get(key)? {
        Value::Null => Some(Vec::new()),
        Value::String(s) => Some(ctihub_domain::normalize_tags([s])),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            Some(ctihub_domain::normalize_tags(items.iter().filter_map(Value::as_str)))
        }
        _ => {
            problems.invalid(key, "must be a list of tags");
            None
        }
    }
}

/// An enum attribute (`status`, `priority`, `type`): `Some(None)` for `null`.
pub(crate) fn enum_value<T>(
    object: &Map<String, Value>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, ctihub_domain::DomainError>,
    problems: &mut Problems,
) -> Option<Option<T>> {
    match optional_text(object, key, problems)? {
        None => Some(None),
        Some(text) => match parse(&text) {
            Ok(value) => Some(Some(value)),
            Err(e) => {
                problems.invalid(key, e.message);
                None
            }
        },
    }
}
