//! The tags a client sent, cleaned the way Relay's `normalize_event_tags` cleans them.
//!
//! Tags arrive as an object or as `[key, value]` pairs and leave as pairs of strings. Sentry
//! derives some tags itself when it saves the event (`release`, `dist`, `user`, … see
//! [`crate::tags`]); a client sending those names would make them ambiguous, so they are
//! removed here. Legacy SDKs sent the environment as a tag; it moves to its field. The event
//! fields `server_name` and `site` move the other way, into tags.

use crate::json::{Json, Object, Str};

use super::errors::{self, EventErrors};
use super::limits::dispose;
use super::release::normalize_environment;
use super::value::{join, lenient_string};

/// Tag keys that only Sentry may set.
const RESERVED_KEYS: &[&str] = &["release", "dist", "user", "filename", "function"];
/// Longest tag key and value Sentry indexes (Relay `MaxChars::TagKey`/`TagValue`).
pub(crate) const MAX_TAG_CHARS: usize = 200;

/// Cleans `tags`, moves an `environment` tag to its field and `server_name`/`site` into tags.
pub(crate) fn normalize_tags<'a>(event: &mut Object<'a>, errors: &mut EventErrors) {
    let raw = event.shift_remove("tags").unwrap_or(Json::Null);
    let mut pairs = read_pairs(raw, errors);

    // Legacy apps passed the environment as a tag. The field wins when both are given.
    if let Some(pos) = pairs.iter().position(|(k, _)| k == "environment") {
        let (_, env) = pairs.remove(pos);
        pairs.retain(|(k, _)| k != "environment");
        if event.get("environment").is_none_or(Json::is_null) {
            event.insert("environment", Json::from(env));
            normalize_environment(event, errors);
        }
    }

    let mut seen = std::collections::HashSet::new();
    let mut clean: Vec<(Str<'a>, Str<'a>)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        if RESERVED_KEYS.contains(&&*key) || key.starts_with("sentry:") {
            continue;
        }
        if !seen.insert(key.clone()) {
            // Duplicates: the first one wins, as in Relay's `DedupCache`.
            continue;
        }
        let path = join("tags", &key);
        if key.is_empty() || value.is_empty() {
            errors.invalid(&path, Some(&Json::String(value)));
            continue;
        }
        if key.chars().count() > MAX_TAG_CHARS || value.chars().count() > MAX_TAG_CHARS {
            errors.push(errors::VALUE_TOO_LONG, &path, Some(&Json::String(value)));
            continue;
        }
        clean.push((key, value));
    }

    for field in ["server_name", "site"] {
        let Some(raw) = event.shift_remove(field) else {
            continue;
        };
        match lenient_string(&raw) {
            Some(value) if !value.is_empty() => {
                clean.retain(|(k, _)| k != field);
                clean.push((Str::Borrowed(field), value));
            }
            Some(_) => {}
            None => {
                if !raw.is_null() {
                    errors.invalid(field, Some(&raw));
                }
                dispose(raw);
            }
        }
    }

    if !clean.is_empty() {
        let pairs = clean
            .into_iter()
            .map(|(k, v)| Json::Array(vec![Json::String(k), Json::String(v)]))
            .collect();
        event.insert("tags", Json::Array(pairs));
    }
}

/// Reads `{"k": "v"}` or `[["k", "v"], …]` into string pairs, noting entries that are not
/// pairs of scalars.
fn read_pairs<'a>(raw: Json<'a>, errors: &mut EventErrors) -> Vec<(Str<'a>, Str<'a>)> {
    let mut pairs = Vec::new();
    match raw {
        Json::Null => {}
        Json::Object(map) => {
            for (key, value) in map {
                if value.is_null() {
                    continue;
                }
                match lenient_string(&value) {
                    Some(v) => pairs.push((key, v)),
                    None => {
                        errors.discard(&join("tags", &key), value);
                    }
                }
            }
        }
        Json::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let pair = match &item {
                    Json::Array(kv) if kv.len() == 2 => {
                        lenient_string(&kv[0]).zip(lenient_string(&kv[1]))
                    }
                    _ => None,
                };
                match pair {
                    Some(pair) => pairs.push(pair),
                    // `[key, null]` is an unset tag, not a mistake.
                    None if matches!(&item, Json::Array(kv) if kv.len() == 2 && kv[1].is_null()) => {
                    }
                    None => {
                        errors.discard(&join("tags", i), item);
                    }
                }
            }
        }
        other => {
            errors.discard("tags", other);
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step;

    fn run(v: Value) -> (Value, Vec<Value>) {
        run_step(v, normalize_tags)
    }

    #[test]
    fn object_becomes_pairs_with_string_values() {
        let (out, errors) = run(json!({"tags": {"a": "x", "n": 7, "b": true, "gone": null}}));
        assert_eq!(
            out,
            json!({"tags": [["a", "x"], ["n", "7"], ["b", "True"]]})
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn pairs_are_deduplicated_first_wins() {
        let (out, _) = run(json!({"tags": [["a", "1"], ["a", "2"], ["b", "3"]]}));
        assert_eq!(out, json!({"tags": [["a", "1"], ["b", "3"]]}));
    }

    #[test]
    fn reserved_empty_and_long_tags_are_removed() {
        let (out, errors) = run(json!({"tags": {
            "release": "1.0", "user": "u", "sentry:x": "y",
            "empty": "", "long": "x".repeat(201), "ok": "yes"
        }}));
        assert_eq!(out, json!({"tags": [["ok", "yes"]]}));
        let kinds: Vec<_> = errors.iter().map(|e| e["type"].clone()).collect();
        assert_eq!(kinds, vec![json!("invalid_data"), json!("value_too_long")]);
    }

    #[test]
    fn environment_tag_moves_to_the_field_unless_set() {
        let (out, _) = run(json!({"tags": {"environment": "staging", "a": "b"}}));
        assert_eq!(out, json!({"environment": "staging", "tags": [["a", "b"]]}));
        let (out, _) = run(json!({"environment": "prod", "tags": [["environment", "staging"]]}));
        assert_eq!(out, json!({"environment": "prod"}));
    }

    #[test]
    fn server_name_and_site_become_tags() {
        let (out, _) =
            run(json!({"server_name": "web-1", "site": "eu", "tags": {"server_name": "old"}}));
        assert_eq!(
            out,
            json!({"tags": [["server_name", "web-1"], ["site", "eu"]]})
        );
    }

    #[test]
    fn garbage_tags_are_noted() {
        let (out, errors) = run(json!({"tags": "a=b"}));
        assert_eq!(out, json!({}));
        assert_eq!(errors.len(), 1);
        let (out, errors) = run(json!({"tags": [["a"], ["b", {"c": 1}], ["d", "e"], 5]}));
        assert_eq!(out, json!({"tags": [["d", "e"]]}));
        assert_eq!(errors.len(), 3);
    }
}
