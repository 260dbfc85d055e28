//! Old and alternative spellings of the event, brought to the one shape later steps read.
//!
//! raven-era SDKs name interfaces `sentry.interfaces.Exception` & co.; lists that Sentry wraps
//! as `{"values": [...]}` may arrive bare; a single exception may arrive without a list at all.
//! Relay accepts all of these (`legacy_alias` attributes and `Values<T>` in
//! relay-event-schema). This step also removes what only the server may set, since a client
//! that sends `project` or `grouping_config` must not influence how its event is stored.

use crate::json::{Json, Object};

use super::limits::dispose;

/// Legacy interface names and the field each stands for. (`message`, the other alias of
/// `logentry`, needs more than a rename and is handled with the log entry.)
const ALIASES: &[(&str, &str)] = &[
    ("sentry.interfaces.Exception", "exception"),
    ("sentry.interfaces.Message", "logentry"),
    ("sentry.interfaces.Http", "request"),
    ("sentry.interfaces.User", "user"),
    ("sentry.interfaces.Stacktrace", "stacktrace"),
    ("sentry.interfaces.Breadcrumbs", "breadcrumbs"),
    ("sentry.interfaces.Contexts", "contexts"),
    ("sentry.interfaces.Template", "template"),
];

/// Fields the server writes; anything a client sends under these names is discarded. `repos`
/// is raven's, and means nothing to Sentry.
const SERVER_SET: &[&str] = &[
    "project",
    "key_id",
    "version",
    "ingest_path",
    "grouping_config",
    "received",
    "errors",
    "_meta",
    "_metrics",
    "repos",
];

/// Interfaces stored as `{"values": [...]}`.
const VALUE_LISTS: &[&str] = &["exception", "breadcrumbs", "threads"];

/// Renames legacy interfaces, drops server-only fields and wraps value lists.
pub(crate) fn canonicalize(event: &mut Object<'_>) {
    for key in SERVER_SET {
        if let Some(v) = event.shift_remove(key) {
            dispose(v);
        }
    }

    for (alias, field) in ALIASES {
        let Some(value) = event.shift_remove(alias) else {
            continue;
        };
        // The modern name wins when both are present, as in Relay, where the alias is only
        // looked at when the field itself is missing.
        if event.get(field).is_none_or(Json::is_null) {
            event.insert(*field, value);
        } else {
            dispose(value);
        }
    }

    for key in VALUE_LISTS {
        if let Some(value) = event.get_mut(key) {
            wrap_values(value);
        }
    }
}

/// `[a, b]` → `{"values": [a, b]}`; a lone item object → `{"values": [item]}`.
fn wrap_values(value: &mut Json<'_>) {
    match value {
        Json::Array(items) => {
            let items = std::mem::take(items);
            *value = wrapped(items);
        }
        Json::Object(map) if !map.contains_key("values") && !map.is_empty() => {
            let item = std::mem::take(map);
            *value = wrapped(vec![Json::Object(item)]);
        }
        _ => {}
    }
}

fn wrapped<'a>(items: Vec<Json<'a>>) -> Json<'a> {
    let mut map = Object::new();
    map.insert("values", Json::Array(items));
    Json::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn canonical(v: Value) -> Value {
        let mut map = Json::from(v).as_object().cloned().unwrap_or_default();
        canonicalize(&mut map);
        Json::Object(map).to_value()
    }

    #[test]
    fn legacy_interfaces_are_renamed() {
        let out = canonical(json!({
            "sentry.interfaces.Http": {"url": "http://x/"},
            "sentry.interfaces.User": {"id": "1"},
            "sentry.interfaces.Exception": {"values": []}
        }));
        assert_eq!(
            out,
            json!({"request": {"url": "http://x/"}, "user": {"id": "1"}, "exception": {"values": []}})
        );
    }

    #[test]
    fn modern_name_wins_over_alias() {
        let out =
            canonical(json!({"user": {"id": "new"}, "sentry.interfaces.User": {"id": "old"}}));
        assert_eq!(out, json!({"user": {"id": "new"}}));
    }

    #[test]
    fn bare_lists_and_single_items_are_wrapped() {
        let out = canonical(json!({
            "exception": {"type": "E", "value": "v"},
            "breadcrumbs": [{"message": "m"}],
            "threads": {"values": [{"id": 1}]}
        }));
        assert_eq!(
            out,
            json!({
                "exception": {"values": [{"type": "E", "value": "v"}]},
                "breadcrumbs": {"values": [{"message": "m"}]},
                "threads": {"values": [{"id": 1}]}
            })
        );
    }

    #[test]
    fn server_fields_are_dropped() {
        let out = canonical(json!({"project": "42", "repos": {}, "errors": [1], "event_id": "x"}));
        assert_eq!(out, json!({"event_id": "x"}));
    }
}
