//! Breadcrumbs: the trail of events an SDK recorded before the error.
//!
//! Each crumb gets the defaults Relay gives it (`type: default`, `level: info`) so the UI can
//! render every crumb the same way; levels are read like the event's own (`log` → `info`,
//! Python's numbers). Timestamps are handled with the event's other timestamps in `time`.

use crate::json::{Json, Object};

use super::attributes::parse_level;
use super::errors::EventErrors;
use super::limits;
use super::shape::{drop_unless, normalize_values};
use super::value::{join, lenient_text_field, remove_nulls};

/// Longest crumb message kept whole (Relay trims it like an event message).
const MAX_MESSAGE_CHARS: usize = 8192;
const MESSAGE_ALLOWANCE: usize = 200;

/// Normalizes `breadcrumbs.values`, dropping the container when no crumb is left.
pub(crate) fn normalize_breadcrumbs(event: &mut Object<'_>, errors: &mut EventErrors) {
    normalize_values(event, "breadcrumbs", errors, |crumb, path, errors| {
        normalize_crumb(crumb, path, errors);
        true
    });
}

fn normalize_crumb(crumb: &mut Object<'_>, path: &str, errors: &mut EventErrors) {
    remove_nulls(crumb);

    match crumb.get("type") {
        Some(Json::String(t)) if !t.is_empty() => {}
        Some(Json::String(_)) | None => {
            crumb.insert("type", Json::from("default"));
        }
        Some(_) => {
            let v = crumb.shift_remove("type");
            errors.invalid(&join(path, "type"), v.as_ref());
            crumb.insert("type", Json::from("default"));
        }
    }

    let level = match crumb.get("level") {
        None => "info",
        Some(raw) => parse_level(raw).unwrap_or_else(|| {
            errors.invalid(&join(path, "level"), Some(raw));
            "info"
        }),
    };
    crumb.insert("level", Json::from(level));

    lenient_text_field(crumb, "message");
    limits::trim_field(crumb, "message", MAX_MESSAGE_CHARS, MESSAGE_ALLOWANCE);
    drop_unless(crumb, "category", path, errors, Json::is_string);

    let data_kept = crumb
        .get_mut("data")
        .map(|data| data.is_object() && limits::trim_databag(data, limits::MEDIUM));
    if data_kept == Some(false) {
        if let Some(v) = crumb.shift_remove("data").filter(|v| !v.is_object()) {
            errors.invalid(&join(path, "data"), Some(&v));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::normalize::errors::run_step;

    #[test]
    fn crumbs_get_type_and_level_defaults() {
        let (out, _) = run_step(
            json!({"breadcrumbs": {"values": [
                {"message": "a"},
                {"type": "http", "level": "log", "data": {"url": "/x"}},
                {"level": 30, "category": "query"}
            ]}}),
            normalize_breadcrumbs,
        );
        assert_eq!(
            out,
            json!({"breadcrumbs": {"values": [
                {"message": "a", "type": "default", "level": "info"},
                {"type": "http", "level": "info", "data": {"url": "/x"}},
                {"level": "warning", "category": "query", "type": "default"}
            ]}})
        );
    }

    #[test]
    fn garbage_crumbs_are_dropped_with_notes() {
        let (out, notes) = run_step(
            json!({"breadcrumbs": {"values": [1, null, {"level": "loud", "data": 3}]}}),
            normalize_breadcrumbs,
        );
        assert_eq!(
            out,
            json!({"breadcrumbs": {"values": [{"level": "info", "type": "default"}]}})
        );
        assert_eq!(notes.len(), 3);
        let (out, notes) = run_step(json!({"breadcrumbs": "nope"}), normalize_breadcrumbs);
        assert_eq!((out, notes.len()), (json!({}), 1));
    }
}
