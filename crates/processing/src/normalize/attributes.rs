//! The event's top-level scalar attributes: id, type, level, platform, logger, transaction,
//! culprit, fingerprint and sdk.
//!
//! Each has a type and validity rule in Relay's `Event` schema (§5.1); a value that breaks it is
//! dropped with a note and, where Sentry needs one, replaced by the default.

use std::sync::LazyLock;

use regex::Regex;

use crate::json::{Json, Object, Str};

use super::errors::{drop_invalid, EventErrors};
use super::limits;
use super::value::{lenient_string, str_at, trimmed};
use super::NormalizeContext;

/// Platforms Sentry knows (`VALID_PLATFORMS` in relay-event-schema); anything else is `other`.
const VALID_PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "go",
    "groovy",
    "haskell",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
];

/// Sentry's `sentry.models.BoundedIntegerField` upper bound.
const MAX_TIME_SPENT: u64 = 2_147_483_647;
/// The protocol version Sentry records on stored events.
const PROTOCOL_VERSION: &str = "7";

/// Sets `event_id`: the envelope header's id, else the payload's, else a new UUIDv4; always 32
/// lowercase hex digits.
pub(crate) fn normalize_event_id(
    event: &mut Object<'_>,
    ctx: &NormalizeContext,
    errors: &mut EventErrors,
) {
    let from_payload = match event.get("event_id") {
        None | Some(Json::Null) => None,
        Some(raw) => {
            let parsed = raw.as_str().and_then(parse_uuid);
            if parsed.is_none() {
                errors.invalid("event_id", Some(raw));
            }
            parsed
        }
    };
    // The envelope header is what the SDK acknowledged to its user and what attachments and
    // feedback refer to, so it wins when the two differ.
    let from_envelope = ctx.envelope_event_id.as_deref().and_then(parse_uuid);
    let id = from_envelope
        .or(from_payload)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    event.insert("event_id", Json::from(id));
}

/// 32 lowercase hex digits from any spelling of a UUID (dashed, braced, upper case).
pub(crate) fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::try_parse(s.trim())
        .ok()
        .map(|u| u.simple().to_string())
}

/// Reads a level: Relay's names and aliases, or Python's numeric logging levels (raven sends
/// `40`).
pub(crate) fn parse_level(value: &Json<'_>) -> Option<&'static str> {
    match value {
        Json::String(s) => match s.as_ref() {
            "debug" => Some("debug"),
            "info" | "log" => Some("info"),
            "warning" => Some("warning"),
            "error" => Some("error"),
            "fatal" | "critical" => Some("fatal"),
            _ => None,
        },
        Json::Number(n) => match n.as_u64()? {
            10 => Some("debug"),
            20 => Some("info"),
            30 => Some("warning"),
            40 => Some("error"),
            50 => Some("fatal"),
            _ => None,
        },
        _ => None,
    }
}

/// Sets `type`: transactions and feedback say so themselves; everything else is inferred from
/// its contents, as Relay's `infer_event_type` does.
pub(crate) fn normalize_type(event: &mut Object<'_>) {
    let stated = event.get("type").and_then(Json::as_str);
    let ty = match stated {
        Some("transaction") => "transaction",
        Some("feedback") => "feedback",
        _ => infer_type(event),
    };
    event.insert("type", Json::from(ty));
}

fn infer_type(event: &Object<'_>) -> &'static str {
    let has_exceptions = event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Json::as_array)
        .is_some_and(|v| !v.is_empty());
    let has_nel = event.get("contexts").and_then(|c| c.get("nel")).is_some();
    if has_exceptions {
        "error"
    } else if event.get("csp").is_some() {
        "csp"
    } else if event.get("hpkp").is_some() {
        "hpkp"
    } else if event.get("expectct").is_some() {
        "expectct"
    } else if event.get("expectstaple").is_some() {
        "expectstaple"
    } else if has_nel {
        "nel"
    } else {
        "default"
    }
}

/// Whether the event is a browser security report (CSP, HPKP, Expect-CT, Expect-Staple), which
/// the server builds from the report body.
pub(crate) fn is_security_report(event: &Object<'_>) -> bool {
    ["csp", "hpkp", "expectct", "expectstaple"]
        .iter()
        .any(|k| event.get(k).is_some_and(Json::is_object))
}

/// Sets `level` (default `error`, `info` for transactions) and `platform` (default `other`).
pub(crate) fn normalize_level_and_platform(event: &mut Object<'_>, errors: &mut EventErrors) {
    let level = match event.get("level") {
        None | Some(Json::Null) => None,
        Some(raw) => {
            let level = parse_level(raw);
            if level.is_none() {
                errors.invalid("level", Some(raw));
            }
            level
        }
    };
    let is_transaction = event.get("type").and_then(Json::as_str) == Some("transaction");
    let level = level.unwrap_or(if is_transaction { "info" } else { "error" });
    event.insert("level", Json::from(level));

    let platform = match event.get("platform") {
        Some(Json::String(p)) if VALID_PLATFORMS.contains(&p.as_ref()) => p.clone(),
        Some(raw @ (Json::Array(_) | Json::Object(_) | Json::Bool(_) | Json::Number(_))) => {
            errors.invalid("platform", Some(raw));
            Str::Borrowed("other")
        }
        _ => Str::Borrowed("other"),
    };
    event.insert("platform", Json::from(platform));
}

/// Validates `logger`, `transaction`, `culprit` and `time_spent`, and sets `version`.
pub(crate) fn normalize_scalars(event: &mut Object<'_>, errors: &mut EventErrors) {
    normalize_logger(event, errors);
    // Security reports are filed under the `csp` logger (Relay's `normalize_security_report`).
    if is_security_report(event) && !event.contains_key("logger") {
        event.insert("logger", Json::from("csp"));
    }

    match event.get("transaction") {
        None => {}
        Some(Json::String(name)) => {
            let name = trimmed(name);
            if name.is_empty() {
                event.shift_remove("transaction");
            } else {
                let mut name = Json::String(name);
                limits::trim_string(&mut name, 200, 0);
                event.insert("transaction", name);
            }
        }
        Some(_) => drop_invalid(event, "transaction", errors),
    }
    if event.get("culprit").is_some_and(|c| !c.is_string()) {
        drop_invalid(event, "culprit", errors);
    }
    limits::trim_field(event, "culprit", 200, 0);

    if let Some(raw) = event.get("time_spent") {
        let valid = raw.as_u64().is_some_and(|t| t < MAX_TIME_SPENT);
        if !valid && !raw.is_null() {
            errors.invalid("time_spent", Some(raw));
        }
        if !valid {
            event.shift_remove("time_spent");
        }
    }
    event.insert("version", Json::from(PROTOCOL_VERSION));
}

/// `logger`: at most 64 characters and one line. Longer names are shortened from the left to
/// whole dot-separated words and marked with `*` (Relay's logger normalization), because the
/// end of a logger name (`…views.checkout`) is the part that tells loggers apart.
fn normalize_logger(event: &mut Object<'_>, errors: &mut EventErrors) {
    let logger = match event.get("logger") {
        None => return,
        Some(Json::String(logger)) => trimmed(logger),
        Some(_) => {
            drop_invalid(event, "logger", errors);
            return;
        }
    };
    if logger.is_empty() {
        event.shift_remove("logger");
        return;
    }
    if logger.contains(['\r', '\n']) {
        drop_invalid(event, "logger", errors);
        return;
    }
    let shortened = if logger.chars().count() <= MAX_LOGGER_CHARS {
        logger
    } else {
        Str::Owned(shorten_logger(&logger))
    };
    event.insert("logger", Json::String(shortened));
}

const MAX_LOGGER_CHARS: usize = 64;

fn shorten_logger(logger: &str) -> String {
    let chars: Vec<char> = logger.chars().collect();
    if chars.len() <= MAX_LOGGER_CHARS {
        return logger.to_owned();
    }
    let start = chars.len() - (MAX_LOGGER_CHARS - 1);
    let mut tail: String = chars[start..].iter().collect();
    // Do not keep half a word: when the cut fell inside one, start at the next dot instead.
    let cut_inside_word = chars[start - 1] != '.' && chars[start] != '.';
    if cut_inside_word {
        if let Some(dot) = tail.find('.') {
            tail = tail[dot..].to_owned();
        }
    }
    format!("*{tail}")
}

/// `fingerprint`: a list of strings (numbers and booleans are read as strings, like Relay's
/// `Fingerprint`); any other shape is dropped whole, since a half fingerprint would group
/// differently than the client asked.
pub(crate) fn normalize_fingerprint<'a>(event: &mut Object<'a>, errors: &mut EventErrors) {
    let Some(raw) = event.get("fingerprint") else {
        return;
    };
    let parts: Option<Vec<Json<'a>>> = raw.as_array().and_then(|items| {
        items
            .iter()
            .map(|i| lenient_string(i).map(Json::String))
            .collect()
    });
    match parts {
        Some(parts) if !parts.is_empty() => {
            event.insert("fingerprint", Json::Array(parts));
        }
        Some(_) => {
            event.shift_remove("fingerprint");
        }
        None => drop_invalid(event, "fingerprint", errors),
    }
}

static CLIENT_SDK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([^/\s]+)/([^/\s]+)$").expect("static regex for name/version is valid")
});

/// `sdk`: when the event does not describe its SDK, the `sentry_client` of the request
/// (`sentry.python/2.75.0`) does.
pub(crate) fn fill_sdk(event: &mut Object<'_>, ctx: &NormalizeContext, errors: &mut EventErrors) {
    match event.get("sdk") {
        Some(Json::Object(sdk)) if str_at(sdk, "name").is_some() => return,
        Some(Json::Object(_)) | Some(Json::Null) | None => {}
        Some(_) => drop_invalid(event, "sdk", errors),
    }
    let Some(client) = ctx.client_sdk.as_deref() else {
        return;
    };
    let Some(caps) = CLIENT_SDK.captures(client.trim()) else {
        return;
    };
    let mut sdk = match event.shift_remove("sdk") {
        Some(Json::Object(sdk)) => sdk,
        _ => Object::new(),
    };
    sdk.insert("name", Json::from(caps[1].to_owned()));
    sdk.insert("version", Json::from(caps[2].to_owned()));
    event.insert("sdk", Json::Object(sdk));
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn map(v: Value) -> Object<'static> {
        Json::from(v).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn envelope_id_wins_and_is_lowercased() {
        let mut e = map(json!({"event_id": "cf0f148eb192471caf12ee2245752600"}));
        let ctx = NormalizeContext {
            envelope_event_id: Some("CE846A22-5022-4FB4-BF50-88DD21429C88".into()),
            ..NormalizeContext::default()
        };
        let mut errors = EventErrors::default();
        normalize_event_id(&mut e, &ctx, &mut errors);
        assert_eq!(e["event_id"], json!("ce846a2250224fb4bf5088dd21429c88"));
    }

    #[test]
    fn payload_id_is_used_then_generated() {
        let mut errors = EventErrors::default();
        let ctx = NormalizeContext::default();
        let mut e = map(json!({"event_id": "4F4D6282-EF2F-4FE7-9487-094E61E020A6"}));
        normalize_event_id(&mut e, &ctx, &mut errors);
        assert_eq!(e["event_id"], json!("4f4d6282ef2f4fe79487094e61e020a6"));

        let mut e = map(json!({"event_id": "not-a-uuid"}));
        normalize_event_id(&mut e, &ctx, &mut errors);
        let id = e["event_id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(id.len(), 32);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(errors.entries().len(), 1);
    }

    #[test]
    fn levels_have_aliases_and_numbers() {
        assert_eq!(parse_level(&Json::from(json!("log"))), Some("info"));
        assert_eq!(parse_level(&Json::from(json!("critical"))), Some("fatal"));
        assert_eq!(parse_level(&Json::from(json!("warn"))), None);
        assert_eq!(parse_level(&Json::from(json!(40))), Some("error"));
        assert_eq!(parse_level(&Json::from(json!(10))), Some("debug"));
        assert_eq!(parse_level(&Json::from(json!(45))), None);
    }

    #[test]
    fn invalid_level_falls_back_to_the_default() {
        let mut errors = EventErrors::default();
        let mut e = map(json!({"level": "warn", "platform": "brainfuck"}));
        normalize_level_and_platform(&mut e, &mut errors);
        assert_eq!(e["level"], json!("error"));
        assert_eq!(e["platform"], json!("other"));
        let mut t = map(json!({"type": "transaction", "platform": "python"}));
        normalize_level_and_platform(&mut t, &mut errors);
        assert_eq!(t["level"], json!("info"));
        assert_eq!(t["platform"], json!("python"));
    }

    #[test]
    fn type_is_inferred() {
        let cases = [
            (json!({"exception": {"values": [{"type": "E"}]}}), "error"),
            (json!({"exception": {"values": []}}), "default"),
            (json!({"type": "error"}), "default"),
            (json!({"type": "transaction"}), "transaction"),
            (json!({"type": "feedback"}), "feedback"),
            (json!({"csp": {}}), "csp"),
            (json!({"contexts": {"nel": {}}}), "nel"),
        ];
        for (input, expected) in cases {
            let mut e = map(input);
            normalize_type(&mut e);
            assert_eq!(e["type"], json!(expected));
        }
    }

    #[test]
    fn security_reports_get_the_csp_logger() {
        let mut errors = EventErrors::default();
        let mut e = map(json!({"csp": {"effective_directive": "script-src"}}));
        normalize_scalars(&mut e, &mut errors);
        assert_eq!(e["logger"], json!("csp"));
    }

    #[test]
    fn long_loggers_keep_their_last_words() {
        let long =
            "com.example.this_is_the_start.this_part-is-kept.this_right_here-is_a-very_long_word";
        let short = shorten_logger(long);
        assert!(short.chars().count() <= 64);
        assert_eq!(
            short,
            "*.this_part-is-kept.this_right_here-is_a-very_long_word"
        );
        let one_word = "x".repeat(70);
        assert_eq!(shorten_logger(&one_word), format!("*{}", "x".repeat(63)));
        assert_eq!(shorten_logger("shop.billing"), "shop.billing");
    }

    #[test]
    fn fingerprint_is_all_or_nothing() {
        let mut errors = EventErrors::default();
        let mut e = map(json!({"fingerprint": ["{{ default }}", 42, true]}));
        normalize_fingerprint(&mut e, &mut errors);
        assert_eq!(e["fingerprint"], json!(["{{ default }}", "42", "True"]));
        let mut e = map(json!({"fingerprint": ["a", {"b": 1}]}));
        normalize_fingerprint(&mut e, &mut errors);
        assert!(e.get("fingerprint").is_none());
    }

    #[test]
    fn sdk_comes_from_the_client_header_when_missing() {
        let mut errors = EventErrors::default();
        let ctx = NormalizeContext {
            client_sdk: Some("raven-python/6.10.0".into()),
            ..NormalizeContext::default()
        };
        let mut e = map(json!({}));
        fill_sdk(&mut e, &ctx, &mut errors);
        assert_eq!(
            e["sdk"],
            json!({"name": "raven-python", "version": "6.10.0"})
        );
        let mut e = map(json!({"sdk": {"name": "sentry.python", "version": "2"}}));
        fill_sdk(&mut e, &ctx, &mut errors);
        assert_eq!(e["sdk"]["name"], json!("sentry.python"));
    }
}
