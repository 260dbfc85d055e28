//! Contexts: the environment an event happened in (os, runtime, browser, device, trace …).
//!
//! Each context is an object keyed by an alias; its `type` says how to read it and defaults to
//! the alias, so `"os": {…}` is an OS context and sentry-cli's `"rust": {"type": "runtime"}` a
//! runtime. A trace context links an error to its trace, so its ids are checked and a missing
//! status is `unknown`, as Relay's `normalize_trace_context` sets it.

use crate::json::{Json, Object};

use super::errors::EventErrors;
use super::limits::dispose;
use super::shape::take_object;
use super::value::{hex_id, join, remove_nulls};

/// Normalizes `contexts`; drops the SDK-sent `reprocessing` context, which only Sentry writes.
pub(crate) fn normalize_contexts(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(contexts) = take_object(event, "contexts", "contexts", errors) else {
        return;
    };
    // Collected and built once: a lookup per insert would scan the object each time.
    let mut kept = Vec::with_capacity(contexts.len());
    for (alias, context) in contexts {
        let path = join("contexts", &alias);
        let mut context = match context {
            Json::Object(map) => map,
            Json::Null => continue,
            other => {
                errors.discard(&path, other);
                continue;
            }
        };
        if alias == "reprocessing" {
            dispose(Json::Object(context));
            continue;
        }
        remove_nulls(&mut context);
        let ty = match context.get("type") {
            Some(Json::String(t)) if !t.is_empty() => t.clone(),
            _ => alias.clone(),
        };
        context.insert("type", Json::String(ty.clone()));
        if ty == "trace" {
            normalize_trace(&mut context, &path, errors);
        }
        kept.push((alias, Json::Object(context)));
    }
    if !kept.is_empty() {
        event.insert("contexts", Json::Object(kept.into_iter().collect()));
    }
}

fn normalize_trace(trace: &mut Object<'_>, path: &str, errors: &mut EventErrors) {
    for (key, len) in [("trace_id", 32), ("span_id", 16), ("parent_span_id", 16)] {
        let Some(raw) = trace.get(key) else { continue };
        match hex_id(raw, len) {
            Some(id) => {
                trace.insert(key, Json::from(id));
            }
            None => {
                let v = trace.shift_remove(key);
                errors.invalid(&join(path, key), v.as_ref());
            }
        }
    }
    if !trace.get("status").is_some_and(Json::is_string) {
        trace.insert("status", Json::from("unknown"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step_on_field;

    fn run(v: Value) -> (Value, usize) {
        run_step_on_field("contexts", v, normalize_contexts)
    }

    #[test]
    fn type_defaults_to_the_alias() {
        let (c, _) =
            run(json!({"os": {"name": "Linux"}, "rust": {"type": "runtime", "name": "rustc"}}));
        assert_eq!(
            c,
            json!({"os": {"name": "Linux", "type": "os"}, "rust": {"type": "runtime", "name": "rustc"}})
        );
    }

    #[test]
    fn trace_gets_a_status_and_valid_ids() {
        let (c, errors) = run(json!({"trace": {
            "trace_id": "FAB9154464B5423482D28A59E9379429", "span_id": "b757b72f9702146b",
            "parent_span_id": null, "op": "x"
        }}));
        assert_eq!(
            c,
            json!({"trace": {
                "trace_id": "fab9154464b5423482d28a59e9379429", "span_id": "b757b72f9702146b",
                "op": "x", "type": "trace", "status": "unknown"
            }})
        );
        assert_eq!(errors, 0);
        let (c, errors) = run(json!({"trace": {"trace_id": "short", "status": "ok"}}));
        assert_eq!(
            (c, errors),
            (json!({"trace": {"status": "ok", "type": "trace"}}), 1)
        );
    }

    #[test]
    fn garbage_contexts_are_dropped() {
        let (c, errors) =
            run(json!({"os": "Linux", "reprocessing": {"original_issue_id": 1}, "app": {}}));
        assert_eq!((c, errors), (json!({"app": {"type": "app"}}), 1));
        let (c, errors) = run(json!([1, 2]));
        assert_eq!((c, errors), (Value::Null, 1));
    }
}
