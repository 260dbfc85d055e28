//! Event payloads read as JSON, the same way where they are accepted (to answer with the event
//! id, or to refuse a payload that is not an event) and where the workers process them: a
//! payload accepted at the door must not be one the workers cannot read.

use serde_json::Value;

/// Parses event JSON, bounding nesting depth (serde_json refuses past 128 levels) and turning
/// the `NaN`/`Infinity` tokens that old Python clients emit into `null`.
pub fn parse_event_json(payload: &[u8]) -> Result<Value, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err("empty payload".into());
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("payload is not a JSON object".into()),
        Err(first) => {
            let text =
                std::str::from_utf8(payload).map_err(|_| format!("invalid JSON: {first}"))?;
            let repaired = replace_non_json_numbers(text);
            if repaired == text {
                return Err(format!("invalid JSON: {first}"));
            }
            match serde_json::from_str::<Value>(&repaired) {
                Ok(value) if value.is_object() => Ok(value),
                _ => Err(format!("invalid JSON: {first}")),
            }
        }
    }
}

/// Replaces bare `NaN`, `Infinity` and `-Infinity` tokens outside strings with `null`.
fn replace_non_json_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        } else {
            let token = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|t| rest.starts_with(t));
            if let Some(token) = token {
                out.push_str("null");
                rest = &rest[token.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_infinity_outside_strings_become_null() {
        let text = r#"{"a": NaN, "b": "NaN Infinity", "c": [-Infinity, Infinity]}"#;
        let value = parse_event_json(text.as_bytes()).expect("repaired");
        assert_eq!(value["a"], Value::Null);
        assert_eq!(value["b"], "NaN Infinity");
        assert_eq!(value["c"], serde_json::json!([null, null]));
    }

    #[test]
    fn non_object_and_garbage_payloads_are_reasons_not_panics() {
        assert!(parse_event_json(b"[1,2]").is_err());
        assert!(parse_event_json(b"").is_err());
        assert!(parse_event_json(b"\xff\xfe{").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_event_json(format!("{{\"a\":{deep}").as_bytes()).is_err());
    }
}
