//! Event payloads read as JSON, the same way where they are accepted (to answer with the event
//! id, or to refuse a payload that is not an event) and where the workers process them: a
//! payload accepted at the door must not be one the workers cannot read. Pure and fuzzed
//! (`fuzz/`): the accept side runs it on whatever arrives.

use std::fmt;

use crate::json::Json;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use vigil_protocol::ids::normalize_uuid;

/// Reads an event payload in one pass without building it, accepting exactly what
/// `serde_json::from_slice::<Value>` accepts as a JSON object: same syntax, numbers and
/// strings checked as a full parse checks them, and the same 128-level nesting limit (every
/// nested value goes through serde_json's depth-counting `deserialize_any`, where `IgnoredAny`
/// would skip it unchecked). `Some(event id)` (normalized, when the payload has a valid one) if
/// it does; `None` when only a full parse can tell why not, or repair it.
pub fn scan_event_json(payload: &[u8]) -> Option<Option<String>> {
    // A full parse refuses invalid UTF-8 anywhere (in a string as such, elsewhere as a syntax
    // error), so checking it once up front, fast on ASCII, spares checking each string.
    let text = std::str::from_utf8(payload).ok()?;
    serde_json::from_str::<EventHead>(text)
        .ok()
        .map(|head| head.event_id)
}

/// Parses a payload the accept side already checked (and repaired) with [`scan_event_json`] or
/// [`parse_event_json`]: straight to the tree. Entries queued by older versions, which checked
/// less, still get the full treatment when the direct parse fails.
pub fn parse_accepted_event_json(payload: &[u8]) -> Result<Json<'_>, String> {
    match Json::parse(payload) {
        Ok(event) if event.is_object() => Ok(event),
        _ => parse_event_tree(payload),
    }
}

/// What [`scan_event_json`] keeps of an event: its id.
struct EventHead {
    event_id: Option<String>,
}

impl<'de> Deserialize<'de> for EventHead {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventHead, D::Error> {
        deserializer.deserialize_any(EventHeadVisitor)
    }
}

struct EventHeadVisitor;

impl<'de> Visitor<'de> for EventHeadVisitor {
    type Value = EventHead;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventHead, A::Error> {
        let mut event_id = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                // A repeated key: the last one wins, as in a parsed `Value`.
                Key::EventId => event_id = map.next_value::<EventId>()?.0,
                Key::Other => {
                    map.next_value::<Walked>()?;
                }
            }
        }
        Ok(EventHead { event_id })
    }
}

/// A key of the event object: `event_id` or another.
enum Key {
    EventId,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(if key == "event_id" {
            Key::EventId
        } else {
            Key::Other
        })
    }
}

/// The value of `event_id`: the normalized id when it is a string holding a UUID.
struct EventId(Option<String>);

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventId, D::Error> {
        deserializer.deserialize_any(EventIdVisitor)
    }
}

struct EventIdVisitor;

impl<'de> Visitor<'de> for EventIdVisitor {
    type Value = EventId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, id: &str) -> Result<EventId, E> {
        Ok(EventId(normalize_uuid(id)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<EventId, E> {
        Ok(EventId(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<EventId, E> {
        Ok(EventId(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<EventId, E> {
        Ok(EventId(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<EventId, E> {
        Ok(EventId(None))
    }

    fn visit_unit<E>(self) -> Result<EventId, E> {
        Ok(EventId(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<EventId, A::Error> {
        WalkVisitor.visit_seq(seq).map(|_| EventId(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EventId, A::Error> {
        WalkVisitor.visit_map(map).map(|_| EventId(None))
    }
}

/// Any JSON value, read and checked as a full parse reads it, and forgotten.
struct Walked;

impl<'de> Deserialize<'de> for Walked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(WalkVisitor)
    }
}

struct WalkVisitor;

impl<'de> Visitor<'de> for WalkVisitor {
    type Value = Walked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, _: &str) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_unit<E>(self) -> Result<Walked, E> {
        Ok(Walked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walked, A::Error> {
        while seq.next_element::<Walked>()?.is_some() {}
        Ok(Walked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        while map.next_key::<Walked>()?.is_some() {
            map.next_value::<Walked>()?;
        }
        Ok(Walked)
    }
}

/// Parses event JSON into the tree processing works on, borrowing the payload's strings:
/// nesting depth is bounded (serde_json refuses past 128 levels) and the `NaN`/`Infinity`
/// tokens that old Python clients emit become `null` (such a payload is copied: the repair is
/// a new text).
pub fn parse_event_tree(payload: &[u8]) -> Result<Json<'_>, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err("empty payload".into());
    }
    match Json::parse(payload) {
        Ok(event) if event.is_object() => Ok(event),
        Ok(_) => Err("payload is not a JSON object".into()),
        Err(first) => {
            let text =
                std::str::from_utf8(payload).map_err(|_| format!("invalid JSON: {first}"))?;
            let repaired = replace_non_json_numbers(text);
            if repaired == text {
                return Err(format!("invalid JSON: {first}"));
            }
            match Json::parse_str(&repaired) {
                Ok(event) if event.is_object() => Ok(event.into_owned()),
                _ => Err(format!("invalid JSON: {first}")),
            }
        }
    }
}

/// [`parse_event_tree`] as a `serde_json::Value`, for the accept side's repairs and reports.
pub fn parse_event_json(payload: &[u8]) -> Result<Value, String> {
    parse_event_tree(payload).map(|event| event.to_value())
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
