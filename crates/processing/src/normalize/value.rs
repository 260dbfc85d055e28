//! Loose readings of JSON values, the way Relay's schema types read them.
//!
//! SDKs are not strict about types: a user id may be a number, a tag value a boolean, an
//! exception value an object. Relay's `LenientString` and `JsonLenientString` decide what such a
//! value becomes; these helpers reproduce those decisions over the event's [`Json`] tree, so
//! every normalization step coerces the same way.

use std::borrow::Cow;

use crate::json::{Json, Object, Str};

/// Reads a value the way Relay's `LenientString` does (an emulation of Python's `str(x)`).
///
/// Strings stay as they are (still borrowed from the payload), integers print in decimal, floats
/// lose their fraction (only while they are exactly representable), booleans become
/// `True`/`False` as old Python SDKs sent them. Null, arrays and objects have no string reading.
pub(crate) fn lenient_string<'a>(value: &Json<'a>) -> Option<Str<'a>> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Bool(true) => Some(Cow::Borrowed("True")),
        Json::Bool(false) => Some(Cow::Borrowed("False")),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Cow::Owned(i.to_string()))
            } else if let Some(u) = n.as_u64() {
                Some(Cow::Owned(u.to_string()))
            } else {
                let f = n.as_f64()?;
                // Beyond 2^53 a float no longer names one integer; Relay refuses it.
                (f.is_finite() && f.abs() < (1u64 << 53) as f64)
                    .then(|| Cow::Owned(format!("{}", f.trunc())))
            }
        }
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

/// Reads a value the way Relay's `JsonLenientString` does: strings as they are, anything else
/// (except null) as its JSON text. Used where a free-text field must end up a string, such as
/// an exception's `value`.
pub(crate) fn json_lenient_string<'a>(value: &Json<'a>) -> Option<Str<'a>> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => String::from_utf8(other.to_json_vec()).ok().map(Cow::Owned),
    }
}

/// Replaces `key` of `map` by its free-text reading ([`json_lenient_string`]), or removes it when
/// it has none.
pub(crate) fn lenient_text_field(map: &mut Object<'_>, key: &str) {
    let Some(raw) = map.get_mut(key) else {
        return;
    };
    match raw {
        Json::String(_) => {}
        Json::Null => {
            map.shift_remove(key);
        }
        other => {
            let text = json_lenient_string(other);
            *other = Json::from(text);
        }
    }
}

/// `s` without leading and trailing whitespace, still borrowed from the payload when it was.
pub(crate) fn trimmed<'a>(s: &Str<'a>) -> Str<'a> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o.clone()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// Whether a value carries nothing: null, an empty string, an empty array or an empty object.
/// Relay skips such values when it serializes an event (`skip_serialization = "empty"`).
pub(crate) fn is_empty(value: &Json<'_>) -> bool {
    match value {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        Json::Bool(_) | Json::Number(_) => false,
    }
}

/// Removes every key whose value is null. Relay never writes a missing field back as `null`, so
/// `"module": null` from the Python SDK disappears in the stored event.
pub(crate) fn remove_nulls(map: &mut Object<'_>) {
    map.retain(|_, v| !v.is_null());
}

/// The non-empty string under `key`, if there is one.
pub(crate) fn str_at<'o>(map: &'o Object<'_>, key: &str) -> Option<&'o str> {
    map.get(key)
        .and_then(Json::as_str)
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
pub(crate) fn hex_id(raw: &Json<'_>, len: usize) -> Option<String> {
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
        assert_eq!(
            lenient_string(&Json::from(json!("x"))).as_deref(),
            Some("x")
        );
        assert_eq!(lenient_string(&Json::from(json!(7))).as_deref(), Some("7"));
        assert_eq!(
            lenient_string(&Json::from(json!(-7))).as_deref(),
            Some("-7")
        );
        assert_eq!(
            lenient_string(&Json::from(json!(7.9))).as_deref(),
            Some("7")
        );
        assert_eq!(
            lenient_string(&Json::from(json!(true))).as_deref(),
            Some("True")
        );
        assert_eq!(lenient_string(&Json::from(json!(1e300))), None);
        assert_eq!(lenient_string(&Json::from(json!(null))), None);
        assert_eq!(lenient_string(&Json::from(json!([1]))), None);
        assert_eq!(lenient_string(&Json::from(json!({"a": 1}))), None);
    }

    #[test]
    fn json_lenient_string_serializes_structures() {
        assert_eq!(
            json_lenient_string(&Json::from(json!({"a": 1}))).as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(
            json_lenient_string(&Json::from(json!("plain"))).as_deref(),
            Some("plain")
        );
        assert_eq!(
            json_lenient_string(&Json::from(json!(false))).as_deref(),
            Some("false")
        );
        assert_eq!(json_lenient_string(&Json::from(json!(null))), None);
    }

    #[test]
    fn nulls_are_removed_but_empty_values_kept() {
        let mut map = Json::from(json!({"a": null, "b": "", "c": 0}))
            .as_object()
            .cloned()
            .unwrap_or_default();
        remove_nulls(&mut map);
        assert_eq!(Json::Object(map), json!({"b": "", "c": 0}));
    }
}
