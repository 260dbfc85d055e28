//! The repairs normalization made, as Sentry's event `errors` list.
//!
//! Relay never rejects an event for a malformed field: it drops or fixes the field and notes
//! what it did, and Sentry shows those notes on the event page ("Discarded invalid value",
//! "Clock drift detected"). Each note is `{"type", "name", "value"}` plus optional details, with
//! the kinds Sentry knows (`invalid_data`, `missing_attribute`, `value_too_long`, `clock_drift`,
//! `future_timestamp`, `past_timestamp`).

use crate::json::{Json, Object};

use super::limits::dispose;

/// A field held data of the wrong shape or an impossible value and was dropped or replaced.
pub(crate) const INVALID_DATA: &str = "invalid_data";
/// A required part was missing, so its container was dropped.
pub(crate) const MISSING_ATTRIBUTE: &str = "missing_attribute";
/// A value was longer than Sentry stores and was dropped.
pub(crate) const VALUE_TOO_LONG: &str = "value_too_long";
/// The SDK's clock was off; every timestamp was shifted.
pub(crate) const CLOCK_DRIFT: &str = "clock_drift";
/// The event claimed to happen in the future; its timestamps were moved to the receive time.
pub(crate) const FUTURE_TIMESTAMP: &str = "future_timestamp";
/// The event was older than retention; its timestamps were moved to the receive time.
pub(crate) const PAST_TIMESTAMP: &str = "past_timestamp";

/// Longest string kept as an error's `value`: the note must not double the size of the event
/// whose oversized field it reports.
const MAX_VALUE_CHARS: usize = 256;
/// Largest structure (in serialized bytes, roughly) kept as an error's `value`.
const MAX_VALUE_BYTES: usize = 512;

/// Collects the notes of one normalization run.
#[derive(Debug, Default)]
pub(crate) struct EventErrors {
    entries: Vec<Json<'static>>,
}

impl EventErrors {
    /// Notes that the value at `name` was unusable and has been dropped or replaced.
    pub(crate) fn invalid(&mut self, name: &str, original: Option<&Json<'_>>) {
        self.push(INVALID_DATA, name, original);
    }

    /// Notes that the value at `name` was unusable, and drops it (without recursion, see
    /// [`dispose`]).
    pub(crate) fn discard(&mut self, name: &str, value: Json<'_>) {
        self.invalid(name, Some(&value));
        dispose(value);
    }

    /// Notes a repair of the given kind.
    pub(crate) fn push(&mut self, kind: &'static str, name: &str, original: Option<&Json<'_>>) {
        self.push_with(kind, name, original, Object::new());
    }

    /// Notes a repair with extra details (e.g. `sdk_time`/`server_time` for clock drift).
    pub(crate) fn push_with(
        &mut self,
        kind: &'static str,
        name: &str,
        original: Option<&Json<'_>>,
        details: Object<'static>,
    ) {
        let mut entry = Object::with_capacity(3 + details.len());
        entry.insert("type", Json::from(kind));
        entry.insert("name", Json::from(name.to_owned()));
        if let Some(value) = original.and_then(shown_value) {
            entry.insert("value", value);
        }
        entry.extend(details);
        self.entries.push(Json::Object(entry));
    }

    /// The notes so far, in the order they were made.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[Json<'static>] {
        &self.entries
    }

    /// The `errors` array to store, or `None` when nothing was repaired.
    pub(crate) fn into_value(self) -> Option<Json<'static>> {
        (!self.entries.is_empty()).then_some(Json::Array(self.entries))
    }
}

/// Removes a field whose value has the wrong type, noting it.
pub(crate) fn drop_invalid(event: &mut Object<'_>, key: &str, errors: &mut EventErrors) {
    if let Some(raw) = event.shift_remove(key) {
        if !raw.is_null() {
            errors.invalid(key, Some(&raw));
        }
        dispose(raw);
    }
}

/// Runs one normalization step over an event given as JSON: the event after it, and its notes.
#[cfg(test)]
pub(crate) fn run_step(
    event: serde_json::Value,
    step: impl FnOnce(&mut Object<'static>, &mut EventErrors),
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut map = Json::from(event).as_object().cloned().unwrap_or_default();
    let mut errors = EventErrors::default();
    step(&mut map, &mut errors);
    (
        Json::Object(map).to_value(),
        errors.entries.iter().map(Json::to_value).collect(),
    )
}

/// [`run_step`] over an event holding only `field`: that field after the step (`Null` when the
/// step removed it) and the number of notes.
#[cfg(test)]
pub(crate) fn run_step_on_field(
    field: &str,
    value: serde_json::Value,
    step: impl FnOnce(&mut Object<'static>, &mut EventErrors),
) -> (serde_json::Value, usize) {
    let (out, notes) = run_step(serde_json::json!({ field: value }), step);
    (
        out.get(field).cloned().unwrap_or(serde_json::Value::Null),
        notes.len(),
    )
}

/// The part of an original value worth keeping in a note: short values whole, long strings cut,
/// big structures left out.
fn shown_value(value: &Json<'_>) -> Option<Json<'static>> {
    match value {
        Json::Null => None,
        Json::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
            let cut: String = s.chars().take(MAX_VALUE_CHARS - 3).collect();
            Some(Json::from(format!("{cut}...")))
        }
        Json::Array(_) | Json::Object(_) => {
            fits_in(value, MAX_VALUE_BYTES).then(|| value.clone().into_owned())
        }
        other => Some(other.clone().into_owned()),
    }
}

/// Whether a value's JSON form is at most `budget` bytes, measured without serializing all of
/// it (and without recursing past what the budget allows).
fn fits_in(value: &Json<'_>, budget: usize) -> bool {
    let mut remaining = budget as i64;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        remaining -= match v {
            Json::Null => 4,
            Json::Bool(_) => 5,
            Json::Number(_) => 8,
            Json::String(s) => s.len() as i64 + 2,
            Json::Array(items) => {
                stack.extend(items.iter());
                2 + items.len() as i64
            }
            Json::Object(map) => {
                for (k, item) in map {
                    remaining -= k.len() as i64 + 3;
                    stack.push(item);
                }
                2
            }
        };
        if remaining < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn notes_carry_type_name_and_value() {
        let mut errors = EventErrors::default();
        errors.invalid("level", Some(&Json::from(json!("warn"))));
        errors.push(MISSING_ATTRIBUTE, "exception.values.0", None);
        assert_eq!(
            errors.into_value().map(|v| v.to_value()),
            Some(json!([
                {"type": "invalid_data", "name": "level", "value": "warn"},
                {"type": "missing_attribute", "name": "exception.values.0"}
            ]))
        );
    }

    #[test]
    fn long_originals_are_cut_and_big_ones_left_out() {
        let mut errors = EventErrors::default();
        errors.invalid("a", Some(&Json::from(json!("x".repeat(1000)))));
        errors.invalid("b", Some(&Json::from(json!(vec!["y".repeat(100); 10]))));
        let entries = errors.entries();
        let shown = entries[0]["value"].as_str().map(|s| s.chars().count());
        assert_eq!(shown, Some(MAX_VALUE_CHARS));
        assert!(entries[1].get("value").is_none());
    }

    #[test]
    fn no_notes_means_no_errors_field() {
        assert_eq!(EventErrors::default().into_value(), None);
    }
}
