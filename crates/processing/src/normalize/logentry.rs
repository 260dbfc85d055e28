//! The event's message: `message` and `logentry`, one slot with two spellings (§5.3).
//!
//! Sentry shows and groups by `logentry.formatted`, so every spelling ends there: a plain
//! `"message": "text"`, raven's `sentry.interfaces.Message` with `params`, sentry-cli's
//! `logentry: {"message": …}`. When only a template and parameters are given, the text is
//! rendered here (Relay's `normalize_logentry`); the template stays in `message` so that
//! grouping can still see it.

use crate::json::{Json, Object};

use super::errors::EventErrors;
use super::limits::{self, dispose};
use super::message_format::format_message;
use super::value::json_lenient_string;

/// Longest message kept whole (Relay `MaxChars::Message` with its allowance).
const MAX_MESSAGE_CHARS: usize = 8192;
const MESSAGE_ALLOWANCE: usize = 200;

/// Builds `logentry` from `logentry` or `message`, fills `formatted` and drops `message`.
pub(crate) fn normalize_logentry(event: &mut Object<'_>, errors: &mut EventErrors) {
    let message = event.shift_remove("message");
    let logentry = match event.shift_remove("logentry") {
        Some(Json::Null) | None => message.and_then(|m| from_message(m, errors)),
        Some(entry) => {
            // Both spellings: `logentry` (or raven's interface) is the richer one.
            if let Some(m) = message {
                dispose(m);
            }
            match entry {
                Json::Object(map) => Some(map),
                other => from_message(other, errors),
            }
        }
    };
    let Some(mut logentry) = logentry else { return };
    if finish(&mut logentry, errors) {
        event.insert("logentry", Json::Object(logentry));
    }
}

/// Reads a non-object message: text as it is, `false` as nothing, anything else as JSON text.
fn from_message<'a>(value: Json<'a>, errors: &mut EventErrors) -> Option<Object<'a>> {
    match value {
        Json::Object(map) => Some(map),
        Json::Null | Json::Bool(false) => None,
        other => {
            let text = json_lenient_string(&other);
            if text.is_none() {
                errors.invalid("logentry", Some(&other));
            }
            let mut map = Object::new();
            map.insert("formatted", Json::from(text?));
            Some(map)
        }
    }
}

/// Normalizes one log entry in place; `false` when nothing usable is left.
fn finish(entry: &mut Object<'_>, errors: &mut EventErrors) -> bool {
    for key in ["message", "formatted"] {
        match entry.get(key) {
            None => {}
            Some(Json::Null) => {
                entry.shift_remove(key);
            }
            Some(raw) => match json_lenient_string(raw) {
                Some(text) => {
                    entry.insert(key, Json::from(text));
                }
                None => {
                    entry.shift_remove(key);
                }
            },
        }
    }
    match entry.get("params") {
        None | Some(Json::Array(_)) | Some(Json::Object(_)) => {}
        Some(Json::Null) => {
            entry.shift_remove("params");
        }
        Some(_) => {
            let raw = entry.shift_remove("params");
            errors.invalid("logentry.params", raw.as_ref());
        }
    }

    let message = entry.get("message").and_then(Json::as_str);
    let formatted = entry.get("formatted").and_then(Json::as_str);
    if message.is_none() && formatted.is_none() {
        if !entry.is_empty() {
            errors.invalid("logentry", Some(&Json::Object(entry.clone())));
        }
        return false;
    }

    if formatted.is_none() {
        let rendered = message
            .zip(entry.get("params"))
            .and_then(|(template, params)| format_message(template, params));
        if let Some(text) = rendered {
            entry.insert("formatted", Json::from(text));
        }
    }
    // Only a message, or the same text twice: it is the formatted text, not a template.
    let formatted = entry.get("formatted").and_then(Json::as_str);
    let message = entry.get("message").and_then(Json::as_str);
    if formatted.is_none() || formatted == message {
        if let Some(m) = entry.shift_remove("message") {
            entry.insert("formatted", m);
        }
    }

    limits::trim_field(entry, "message", MAX_MESSAGE_CHARS, MESSAGE_ALLOWANCE);
    limits::trim_field(entry, "formatted", MAX_MESSAGE_CHARS, MESSAGE_ALLOWANCE);
    if let Some(params) = entry.get_mut("params") {
        if !limits::trim_databag(params, limits::MEDIUM) {
            entry.shift_remove("params");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step;

    fn run(v: Value) -> Value {
        run_step(v, normalize_logentry).0
    }

    #[test]
    fn plain_message_becomes_formatted() {
        assert_eq!(
            run(json!({"message": "hello"})),
            json!({"logentry": {"formatted": "hello"}})
        );
    }

    #[test]
    fn false_message_is_ignored_and_numbers_are_text() {
        assert_eq!(run(json!({"message": false})), json!({}));
        assert_eq!(
            run(json!({"message": 42})),
            json!({"logentry": {"formatted": "42"}})
        );
    }

    #[test]
    fn template_and_params_are_rendered() {
        let out = run(
            json!({"logentry": {"message": "Failed to charge user %s: %s", "params": [42, "card expired"]}}),
        );
        assert_eq!(
            out,
            json!({"logentry": {
                "message": "Failed to charge user %s: %s",
                "params": [42, "card expired"],
                "formatted": "Failed to charge user 42: card expired"
            }})
        );
    }

    #[test]
    fn sentry_cli_message_only_moves_to_formatted() {
        let out = run(json!({"logentry": {"message": "Deploy script failed on step migrate"}}));
        assert_eq!(
            out,
            json!({"logentry": {"formatted": "Deploy script failed on step migrate"}})
        );
    }

    #[test]
    fn raven_sends_both_spellings() {
        let out = run(json!({
            "logentry": {"message": "legacy client says hello", "params": [], "formatted": null},
            "message": "legacy client says hello"
        }));
        assert_eq!(
            out,
            json!({"logentry": {"params": [], "formatted": "legacy client says hello"}})
        );
    }

    #[test]
    fn given_formatted_is_kept() {
        let entry = json!({"message": "a %s", "params": ["b"], "formatted": "custom"});
        assert_eq!(
            run(json!({ "logentry": entry.clone() })),
            json!({ "logentry": entry })
        );
    }

    #[test]
    fn empty_logentry_is_dropped() {
        assert_eq!(run(json!({"logentry": {"params": [1]}})), json!({}));
        assert_eq!(run(json!({"logentry": {}})), json!({}));
    }
}
