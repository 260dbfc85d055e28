//! A transaction as Sentry's `EventSerializer` shows one (`"type": "transaction"`): its spans
//! in a `spans` entry, start and end in seconds, the trace context, measurements.

use serde_json::{json, Map, Value};
use vigil_store::{StoredSpan, StoredTransaction};

use super::event::{entries, user};
use super::iso;

/// The full transaction event (`GET /projects/{org}/{project}/events/{id}/`), with the spans
/// of its segment.
pub fn serialize_transaction(transaction: &StoredTransaction, spans: &[StoredSpan]) -> Value {
    let data = &transaction.data;
    let end = transaction.start + transaction.duration_ms / 1000.0;
    let mut tags: Vec<&(String, String)> = transaction.tags.iter().collect();
    tags.sort();
    let mut all_entries = vec![json!({
        "type": "spans",
        "data": spans.iter().map(|s| span(s, transaction)).collect::<Vec<_>>(),
    })];
    // The stored data has no spans, but a `spans: []` left in it must not make a second entry.
    all_entries.extend(entries(data).into_iter().filter(|e| e["type"] != "spans"));
    json!({
        "id": transaction.event_id,
        "eventID": transaction.event_id,
        "groupID": null,
        "projectID": transaction.project_id.to_string(),
        "type": "transaction",
        "event.type": "transaction",
        "title": transaction.name,
        "message": "",
        "culprit": transaction.name,
        "location": transaction.name,
        "transaction": transaction.name,
        "platform": transaction.platform,
        "startTimestamp": transaction.start,
        "endTimestamp": end,
        "dateCreated": iso(end),
        "dateReceived": iso(transaction.received),
        "contexts": contexts(transaction),
        "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "entries": all_entries,
        "measurements": data.get("measurements").cloned().unwrap_or_else(|| json!({})),
        "breakdowns": data.get("breakdowns").cloned().unwrap_or(Value::Null),
        "sdk": data.get("sdk").cloned().unwrap_or(Value::Null),
        "user": user(data),
        "release": transaction.release.as_ref().map(|v| json!({"version": v, "shortVersion": v})),
        "environment": transaction.environment,
        "context": data.get("extra").cloned().unwrap_or_else(|| json!({})),
        "errors": [],
        "_meta": {},
    })
}

/// The event's contexts with the trace context filled from the stored columns, which are what
/// the waterfall and the trace view key on.
fn contexts(transaction: &StoredTransaction) -> Value {
    let mut contexts = match transaction.data.get("contexts") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let trace = contexts.entry("trace").or_insert_with(|| json!({}));
    if !trace.is_object() {
        *trace = json!({});
    }
    if let Value::Object(trace) = trace {
        trace.insert("trace_id".into(), json!(transaction.trace_id));
        trace.insert("span_id".into(), json!(transaction.span_id));
        trace.insert("op".into(), json!(transaction.op));
        trace.insert("status".into(), json!(transaction.status));
        trace.insert("type".into(), json!("trace"));
        if let Some(parent) = &transaction.parent_span_id {
            trace.insert("parent_span_id".into(), json!(parent));
        }
    }
    Value::Object(contexts)
}

/// One span as in Sentry's `spans` entry; `hash` is the normalized description's group.
fn span(span: &StoredSpan, transaction: &StoredTransaction) -> Value {
    json!({
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "trace_id": span.trace_id,
        "op": span.op,
        "description": span.description,
        "start_timestamp": span.start,
        "timestamp": span.start + span.duration_ms / 1000.0,
        "exclusive_time": null,
        "status": span.status,
        "data": span.data,
        "hash": span.group,
        "same_process_as_parent": span.project_id == transaction.project_id,
    })
}
