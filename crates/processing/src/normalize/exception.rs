//! Exceptions, their mechanisms and stack traces, threads, and the legacy top-level stack trace.
//!
//! The last exception in `exception.values` drives the issue title and grouping, so each one is
//! made to carry a usable `type` and `value`: when only a value like `"TypeError: x"` was sent,
//! the type is split off it (Relay's store normalization), and an exception with neither is
//! dropped. raven-era SDKs put the stack trace at the top level; when there is exactly one
//! exception it belongs to that exception, as Relay moves it.

use std::sync::LazyLock;

use crate::json::{Json, Object};
use regex::Regex;

use super::errors::{self, EventErrors};
use super::limits::{self, dispose};
use super::shape::{drop_unless, for_each_object, normalize_values, take_object};
use super::stacktrace::normalize_stacktrace;
use super::value::{is_empty, join, lenient_string, lenient_text_field, remove_nulls};

static TYPE_AND_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\w+):(.*)$").expect("static regex for `Type: value` is valid"));

/// Longest exception value kept whole (Relay trims it like a message).
const MAX_VALUE_CHARS: usize = 8192;
const VALUE_ALLOWANCE: usize = 200;

/// Normalizes `exception`, `threads` and the top-level `stacktrace`.
pub(crate) fn normalize_exceptions(event: &mut Object<'_>, errors: &mut EventErrors) {
    normalize_exception_list(event, errors);

    // A legacy top-level trace belongs to the only exception, replacing whatever it had.
    let exception_count = event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    if exception_count == 1 {
        if let Some(mut stacktrace) = event.shift_remove("stacktrace").filter(|s| !s.is_null()) {
            let keep = normalize_stacktrace(&mut stacktrace, "stacktrace", false, errors);
            let only_exception = event
                .get_mut("exception")
                .and_then(|e| e.get_mut("values"))
                .and_then(|values| values.get_mut(0))
                .and_then(Json::as_object_mut);
            match only_exception {
                Some(exception) if keep => {
                    if let Some(old) = exception.insert("stacktrace", stacktrace) {
                        dispose(old);
                    }
                }
                _ => dispose(stacktrace),
            }
        }
    }

    if let Some(mut stacktrace) = event.shift_remove("stacktrace") {
        if normalize_stacktrace(&mut stacktrace, "stacktrace", false, errors) {
            event.insert("stacktrace", stacktrace);
        }
    }

    normalize_threads(event, errors);
}

fn normalize_exception_list(event: &mut Object<'_>, errors: &mut EventErrors) {
    normalize_values(event, "exception", errors, |exception, path, errors| {
        let keep = normalize_exception(exception, path, errors);
        if !keep {
            errors.push(errors::MISSING_ATTRIBUTE, path, None);
        }
        keep
    });
}

/// Normalizes one exception; `false` when it has neither type nor value.
fn normalize_exception(exception: &mut Object<'_>, path: &str, errors: &mut EventErrors) -> bool {
    remove_nulls(exception);
    for key in ["type", "module"] {
        drop_unless(exception, key, path, errors, Json::is_string);
    }
    // The value is free text; structures are kept as their JSON (`JsonLenientString`).
    lenient_text_field(exception, "value");
    drop_unless(exception, "thread_id", path, errors, |v| {
        lenient_string(v).is_some()
    });

    split_type_from_value(exception);
    let has_type = exception.get("type").is_some_and(|v| !is_empty(v));
    let has_value = exception.get("value").is_some_and(|v| !is_empty(v));
    if !has_type && !has_value {
        return false;
    }

    if let Some(mut mechanism) = exception.shift_remove("mechanism") {
        let mechanism_path = join(path, "mechanism");
        if normalize_mechanism(&mut mechanism, &mechanism_path, errors) {
            exception.insert("mechanism", mechanism);
        }
    }
    for (key, raw) in [("stacktrace", false), ("raw_stacktrace", true)] {
        if let Some(mut stacktrace) = exception.shift_remove(key) {
            if normalize_stacktrace(&mut stacktrace, &join(path, key), raw, errors) {
                exception.insert(key, stacktrace);
            }
        }
    }
    limits::trim_field(exception, "value", MAX_VALUE_CHARS, VALUE_ALLOWANCE);
    true
}

/// `{"value": "TypeError: x"}` → `{"type": "TypeError", "value": "x"}` when no type was given.
fn split_type_from_value(exception: &mut Object<'_>) {
    if exception.get("type").is_some_and(|v| !is_empty(v)) {
        return;
    }
    let Some(value) = exception.get("value").and_then(Json::as_str) else {
        return;
    };
    let Some(caps) = TYPE_AND_VALUE.captures(value) else {
        return;
    };
    let ty = caps[1].to_owned();
    let rest = caps[2].trim().to_owned();
    exception.insert("type", Json::from(ty));
    exception.insert("value", Json::from(rest));
}

/// A mechanism needs a `type` (Sentry shows it and derives the `mechanism` tag from it);
/// `handled` and `synthetic` must be booleans because they drive the unhandled flag and the
/// title.
fn normalize_mechanism(value: &mut Json<'_>, path: &str, errors: &mut EventErrors) -> bool {
    let Json::Object(mechanism) = value else {
        if !value.is_null() {
            errors.invalid(path, Some(value));
        }
        return false;
    };
    remove_nulls(mechanism);
    match mechanism.get("type") {
        Some(Json::String(t)) if !t.is_empty() => {}
        Some(other) if !other.is_string() => {
            let v = mechanism.shift_remove("type");
            errors.invalid(&join(path, "type"), v.as_ref());
            mechanism.insert("type", Json::from("generic"));
        }
        _ => {
            mechanism.insert("type", Json::from("generic"));
        }
    }
    for key in ["handled", "synthetic", "is_exception_group"] {
        if mechanism.get(key).is_some_and(|v| !v.is_boolean()) {
            let v = mechanism.shift_remove(key);
            errors.invalid(&join(path, key), v.as_ref());
        }
    }
    if let Some(data) = mechanism.get_mut("data") {
        if !limits::trim_databag(data, limits::MEDIUM) {
            mechanism.shift_remove("data");
        }
    }
    true
}

/// `threads.values`: each thread's stack trace is normalized like an exception's.
fn normalize_threads(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(mut container) = take_object(event, "threads", "threads", errors) else {
        return;
    };
    let Some(Json::Array(values)) = container.shift_remove("values") else {
        return;
    };
    let mut kept = Vec::with_capacity(values.len());
    for_each_object(
        values,
        "threads.values",
        errors,
        |mut thread, path, errors| {
            remove_nulls(&mut thread);
            for (key, raw) in [("stacktrace", false), ("raw_stacktrace", true)] {
                if let Some(mut stacktrace) = thread.shift_remove(key) {
                    if normalize_stacktrace(&mut stacktrace, &join(path, key), raw, errors) {
                        thread.insert(key, stacktrace);
                    }
                }
            }
            kept.push(Json::Object(thread));
        },
    );
    if !kept.is_empty() {
        container.insert("values", Json::Array(kept));
        event.insert("threads", Json::Object(container));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step;

    fn run(v: Value) -> (Value, Vec<Value>) {
        run_step(v, normalize_exceptions)
    }

    #[test]
    fn type_is_split_from_value() {
        let (out, _) =
            run(json!({"exception": {"values": [{"value": "TypeError: x is undefined"}]}}));
        assert_eq!(
            out,
            json!({"exception": {"values": [{"value": "x is undefined", "type": "TypeError"}]}})
        );
        let (out, _) = run(json!({"exception": {"values": [{"value": "no colon here"}]}}));
        assert_eq!(
            out,
            json!({"exception": {"values": [{"value": "no colon here"}]}})
        );
    }

    #[test]
    fn exceptions_without_type_and_value_are_dropped() {
        let (out, errors) = run(json!({"exception": {"values": [
            {"stacktrace": {"frames": []}}, {"type": "E"}, "junk"
        ]}}));
        assert_eq!(out, json!({"exception": {"values": [{"type": "E"}]}}));
        assert_eq!(errors.len(), 2);
        let (out, _) = run(json!({"exception": {"values": [{"module": null}]}}));
        assert_eq!(out, json!({}));
    }

    #[test]
    fn value_objects_become_text_and_mechanism_gets_a_type() {
        let (out, _) = run(json!({"exception": {"values": [
            {"type": "E", "value": {"code": 1}, "module": null, "mechanism": {"handled": false}}
        ]}}));
        assert_eq!(
            out,
            json!({"exception": {"values": [
                {"type": "E", "value": "{\"code\":1}", "mechanism": {"handled": false, "type": "generic"}}
            ]}})
        );
    }

    #[test]
    fn invalid_handled_is_dropped() {
        let (out, errors) = run(
            json!({"exception": {"values": [{"type": "E", "mechanism": {"type": "x", "handled": "no"}}]}}),
        );
        assert_eq!(
            out["exception"]["values"][0]["mechanism"],
            json!({"type": "x"})
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn top_level_stacktrace_moves_into_the_only_exception() {
        let (out, _) = run(json!({
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "old"}]}}]},
            "stacktrace": {"frames": [{"function": "new"}]}
        }));
        assert_eq!(
            out,
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "new"}]}}]}})
        );
    }

    #[test]
    fn top_level_stacktrace_stays_with_two_exceptions() {
        let (out, _) = run(json!({
            "exception": {"values": [{"type": "A"}, {"type": "B"}]},
            "stacktrace": {"frames": [{"function": "f"}]}
        }));
        assert_eq!(out["stacktrace"], json!({"frames": [{"function": "f"}]}));
    }

    #[test]
    fn garbage_shapes_do_not_panic() {
        for input in [
            json!({"exception": "boom"}),
            json!({"exception": {"values": "boom"}}),
            json!({"exception": {"values": [null, [], {"type": []}]}}),
            json!({"threads": [1, {"stacktrace": 5}]}),
            json!({"stacktrace": [1, 2]}),
        ] {
            let _ = run(input);
        }
    }
}
