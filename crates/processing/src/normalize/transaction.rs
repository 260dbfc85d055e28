//! What only transactions carry: a name, spans and measurements.
//!
//! Measurements (web vitals, app start, frame counts) belong to transactions alone; Relay drops
//! them from every other event. On transactions each measurement needs a numeric value and
//! gets the unit Relay assumes for its name when the SDK sent none. Span timestamps are read
//! with the event's other timestamps in `time`.

use crate::json::{Json, Object};

use super::errors::EventErrors;
use super::limits::dispose;
use super::shape::{for_each_object, take_array, take_object};
use super::value::{join, remove_nulls};

/// Name Sentry gives a transaction that arrived without one.
const UNLABELED: &str = "<unlabeled transaction>";

/// Normalizes `transaction` name, `spans` and `measurements` according to the event type.
pub(crate) fn normalize_transaction_parts(event: &mut Object<'_>, errors: &mut EventErrors) {
    let is_transaction = event.get("type").and_then(Json::as_str) == Some("transaction");
    if !is_transaction {
        if let Some(m) = event.shift_remove("measurements") {
            dispose(m);
        }
        return;
    }
    if !event.get("transaction").is_some_and(Json::is_string) {
        event.insert("transaction", Json::from(UNLABELED));
    }
    normalize_measurements(event, errors);
    normalize_spans(event, errors);
}

fn normalize_measurements(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(measurements) = take_object(event, "measurements", "measurements", errors) else {
        return;
    };
    // Collected and built once: a lookup per insert would scan the object each time.
    let mut kept = Vec::new();
    for (name, measurement) in measurements {
        let path = join("measurements", &name);
        let value = measurement
            .get("value")
            .and_then(Json::as_f64)
            .filter(|v| v.is_finite());
        let (value, mut measurement) = match (value, measurement) {
            (Some(value), Json::Object(measurement)) => (value, measurement),
            (_, other) => {
                errors.discard(&path, other);
                continue;
            }
        };
        remove_nulls(&mut measurement);
        measurement.insert(
            "value",
            serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number),
        );
        if !measurement.get("unit").is_some_and(Json::is_string) {
            measurement.insert("unit", Json::from(default_unit(&name)));
        }
        kept.push((name, Json::Object(measurement)));
    }
    if !kept.is_empty() {
        event.insert("measurements", Json::Object(kept.into_iter().collect()));
    }
}

/// The unit a measurement has when the SDK names none (Relay's `get_metric_measurement_unit`).
fn default_unit(name: &str) -> &'static str {
    match name {
        "fcp"
        | "lcp"
        | "fid"
        | "fp"
        | "inp"
        | "ttfb"
        | "ttfb.requesttime"
        | "app_start_cold"
        | "app_start_warm"
        | "time_to_full_display"
        | "time_to_initial_display"
        | "stall_total_time"
        | "stall_longest_time" => "millisecond",
        "frames_slow_rate" | "frames_frozen_rate" | "stall_percentage" => "ratio",
        _ => "none",
    }
}

fn normalize_spans(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(spans) = take_array(event, "spans", "spans", errors) else {
        return;
    };
    let mut kept = Vec::with_capacity(spans.len());
    for_each_object(spans, "spans", errors, |mut span, _, _| {
        remove_nulls(&mut span);
        kept.push(Json::Object(span));
    });
    // Python sends `"spans": []` for a transaction without children; keep that as it came.
    event.insert("spans", Json::Array(kept));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::normalize::errors::run_step;

    #[test]
    fn measurements_only_on_transactions() {
        let (out, _) = run_step(
            json!({"type": "error", "measurements": {"lcp": {"value": 1.0}}}),
            normalize_transaction_parts,
        );
        assert_eq!(out, json!({"type": "error"}));
    }

    #[test]
    fn measurements_get_default_units() {
        let (out, notes) = run_step(
            json!({"type": "transaction", "transaction": "/", "measurements": {
                "lcp": {"value": 1234.5}, "cls": {"value": 0.02}, "custom": {"value": 3, "unit": "byte"},
                "bad": {"value": "fast"}, "worse": 7
            }}),
            normalize_transaction_parts,
        );
        assert_eq!(
            out["measurements"],
            json!({
                "lcp": {"value": 1234.5, "unit": "millisecond"},
                "cls": {"value": 0.02, "unit": "none"},
                "custom": {"value": 3.0, "unit": "byte"}
            })
        );
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn unnamed_transactions_are_labeled() {
        let (out, _) = run_step(
            json!({"type": "transaction", "spans": [{"span_id": "a", "status": null}, 3], "measurements": {}}),
            normalize_transaction_parts,
        );
        assert_eq!(
            out,
            json!({"type": "transaction", "transaction": "<unlabeled transaction>", "spans": [{"span_id": "a"}]})
        );
    }
}
