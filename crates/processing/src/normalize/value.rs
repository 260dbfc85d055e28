//! Loose readings of JSON values, the way Relay's schema types read them.
//!
//! SDKs are not strict about types: a user id may be a number, a tag value a boolean, an
//! exception value an object. Relay's `LenientString` and `JsonLenientString` decide what such a
//! value becomes; these helpers reproduce those decisions over `serde_json::Value`, so every
//! normalization step coerces the same way.

use serde_json::{Map, Value};

/// Reads a value the way Relay's `LenientString` does (an emulation of Python's `str(x)`).
///
/// Strings stay as they are, integers print in decimal, floats lose their fraction (only while
/// they are exactly representable), booleans become `True`/`False` as old Python SDKs sent them.
/// Null, arrays and objects have no string reading.
pub(crate) fn lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                let f = n.as_f64()?;
                // Beyond 2^53 a float no longer names one integer; Relay refuses it.
                (f.is_finite() && f.abs() < (1u64 << 53) as f64).then(|| format!("{}", f.trunc()))
            }
        }
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Reads a value the way Relay's `JsonLenientString` does: strings as they are, anything else
/// (except null) as its JSON text. Used where a free-text field must end up a string, such as
/// an exception's `value`.
pub(crate) fn json_lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => serde_json::to_string(other).ok(),
    }
}

/// Replaces `key` of `map` by its free-text reading ([`json_lenient_string`]), or removes it when
/// it has none.
pub(crate) fn lenient_text_field(map: &mut Map<String, Value>, key: &str) {
    let Some(raw) = map.get(key) else {
        return;
    };
    match json_lenient_string(raw) {
        Some(text) => {
            map.insert(key.to_owned(), Value::String(text));
        }
        None => {
            map.shift_remove(key);
        }
    }
}

/// Whether a value carries nothing: null, an empty string, an empty array or an empty object.
/// Relay skips such values when it serializes an event (`skip_serialization = "empty"`).
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Removes every key whose value is null. Relay never writes a missing field back as `null`, so
/// `"module": null` from the Python SDK disappears in the stored event.
pub(crate) fn remove_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
}

/// The non-empty string under `key`, if there is one.
pub(crate) fn str_at<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Joins a path for error messages: `exception.values.0`.
pub(crate) fn join(parent: &str, child: impl std::fmt::Display) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// A lowercase hex id of exactly `len` digits from a string value (dashes removed, so a dashed
/// UUID is a trace id): trace and span ids as SDKs send them.
pub(crate) fn hex_id(raw: &Value, len: usize) -> Option<String> {
    let raw = raw.as_str()?;
    let id: String = raw
        .trim()
        .chars()
        .filter(|&c| c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (id.len() == len && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lenient_string_reads_like_python_str() {
        assert_eq!(lenient_string(&json!("x")).as_deref(), Some("x"));
        assert_eq!(lenient_string(&json!(7)).as_deref(), Some("7"));
        assert_eq!(lenient_string(&json!(-7)).as_deref(), Some("-7"));
        assert_eq!(lenient_string(&json!(7.9)).as_deref(), Some("7"));
        assert_eq!(lenient_string(&json!(true)).as_deref(), Some("True"));
        assert_eq!(lenient_string(&json!(1e300)), None);
        assert_eq!(lenient_string(&json!(null)), None);
        assert_eq!(lenient_string(&json!([1])), None);
        assert_eq!(lenient_string(&json!({"a": 1})), None);
    }

    #[test]
    fn json_lenient_string_serializes_structures() {
        assert_eq!(
            json_lenient_string(&json!({"a": 1})).as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(
            json_lenient_string(&json!("plain")).as_deref(),
            Some("plain")
        );
        assert_eq!(json_lenient_string(&json!(false)).as_deref(), Some("false"));
        assert_eq!(json_lenient_string(&json!(null)), None);
    }

    #[test]
    fn nulls_are_removed_but_empty_values_kept() {
        let mut map = json!({"a": null, "b": "", "c": 0})
            .as_object()
            .cloned()
            .unwrap_or_default();
        remove_nulls(&mut map);
        assert_eq!(Value::Object(map), json!({"b": "", "c": 0}));
    }
}
