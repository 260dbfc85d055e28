//! `transaction` items (the Python SDK's, and every other SDK that does not stream spans): one
//! event whose `contexts.trace` is the segment's root span and whose `spans` are the rest.
//!
//! The event is normalized like any other (timestamps, clock drift, ids of the trace context),
//! then split: the event without its spans is the segment, each span a [`NewSpan`]. A span
//! that cannot be placed (no valid span id, no start or end) is dropped and noted in the
//! event's `errors`, the way normalization notes what it repaired.

use vigil_model::{NewSpan, NewTransaction};

use super::detect::{item_problems, Thresholds};
use super::{duration_ms, hex_id, span_group, text_or, timestamp, ProcessedSpans};
use crate::json::{Json, Object};
use crate::normalize::{normalize_event, NormalizeContext, NormalizeError};
use crate::tags;
use crate::{Filtered, Outcome, ProcessingError};

/// Processes a `transaction` item's payload, already parsed as JSON, sent to project
/// `project_id`, and finds the segment's performance problems with the project's `thresholds`.
///
/// Fails when the payload is not an object, has no start or end (as normalization rejects), or
/// has no trace context with a trace id and span id: Relay drops those too, since nothing could
/// place the transaction in a trace.
pub fn process_transaction(
    raw: Json<'_>,
    project_id: i64,
    ctx: &NormalizeContext,
    thresholds: &Thresholds,
) -> Result<Outcome<ProcessedSpans>, ProcessingError> {
    let mut raw = raw;
    if let Some(obj) = raw.as_object_mut() {
        // The item type says what this is; an SDK that leaves `type` out still sent a
        // transaction, and normalization needs to know it.
        obj.insert("type", Json::from("transaction"));
    }
    let mut event = normalize_event(raw, ctx)?;
    // Before scrubbing, as Relay filters (health checks, crawlers, …).
    if let Some(filter) = crate::filter::check(&event, &ctx.filters, ctx.client_ip.as_deref()) {
        let category = crate::filter::category(&event);
        return Ok(Outcome::Filtered(Filtered { filter, category }));
    }
    // Spans, their data and the stored transaction are made from the scrubbed event.
    crate::scrub::scrub_event(&mut event, &ctx.scrubbing);
    let Some(obj) = event.as_object_mut() else {
        return Err(NormalizeError::NotAnObject.into());
    };
    let raw_spans = match obj.shift_remove("spans") {
        Some(Json::Array(spans)) => spans,
        _ => Vec::new(),
    };

    let trace = obj.get("contexts").and_then(|c| c.get("trace"));
    let trace_id = trace
        .and_then(|t| t.get("trace_id"))
        .and_then(|id| hex_id(id, 32))
        .ok_or(NormalizeError::InvalidTransaction(
            "contexts.trace.trace_id missing or invalid",
        ))?;
    let span_id = trace
        .and_then(|t| t.get("span_id"))
        .and_then(|id| hex_id(id, 16))
        .ok_or(NormalizeError::InvalidTransaction(
            "contexts.trace.span_id missing or invalid",
        ))?;
    let parent_span_id = trace
        .and_then(|t| t.get("parent_span_id"))
        .and_then(|id| hex_id(id, 16));
    let op = text_or(trace.and_then(|t| t.get("op")), "default");
    let status = text_or(trace.and_then(|t| t.get("status")), "unknown");
    let name = str_field(obj, "transaction").unwrap_or_default();

    let mut dropped = Vec::new();
    let mut spans = Vec::with_capacity(raw_spans.len());
    for (i, span) in raw_spans.into_iter().enumerate() {
        match span_from_v1(span, project_id, &trace_id, &span_id, &name) {
            Ok(span) => spans.push(span),
            Err((field, value)) => {
                let mut error = Object::with_capacity(3);
                error.insert("type", Json::from("invalid_data"));
                error.insert("name", Json::from(format!("spans.{i}.{field}")));
                error.insert("value", value);
                dropped.push(Json::Object(error));
            }
        }
    }
    if !dropped.is_empty() {
        let errors = obj
            .entry("errors")
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(errors) = errors {
            errors.extend(dropped);
        }
    }

    let transaction = finish_segment(
        event,
        project_id,
        ctx.received,
        Segment {
            trace_id,
            span_id,
            parent_span_id,
            op,
            status,
        },
    );
    let mut out = ProcessedSpans {
        transactions: vec![transaction],
        spans,
        problems: Vec::new(),
        filtered: Vec::new(),
    };
    out.problems = item_problems(&out, thresholds);
    Ok(Outcome::Kept(out))
}

/// What a segment's root span says of it, read from its trace context (`op` and `status`
/// already defaulted as [`text_or`] does).
pub(super) struct Segment {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub op: String,
    pub status: String,
}

/// Turns a normalized transaction event (without spans) into the segment: reads the columns
/// the store indexes, derives the tags and writes them back into the event as Sentry stores
/// them. Shared with streamed segment spans, which are rebuilt as such an event first.
pub(super) fn finish_segment(
    mut event: Json<'_>,
    project_id: i64,
    received: f64,
    segment: Segment,
) -> NewTransaction {
    let (tags, user_tag) = { (tags::derive_tags(&event), tags::user_tag(&event)) };
    let obj = event.as_object_mut();
    let field = |key: &str| {
        obj.as_ref()
            .and_then(|o| o.get(key))
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let event_id = field("event_id").unwrap_or_default();
    let name = field("transaction").unwrap_or_default();
    let environment = field("environment");
    let release = field("release");
    let platform = field("platform").unwrap_or_else(|| "other".to_owned());
    let time = |key: &str| obj.as_ref().and_then(|o| o.get(key)).and_then(timestamp);
    let end = time("timestamp").unwrap_or(0.0);
    let start = time("start_timestamp").unwrap_or(end);
    if let Some(obj) = obj {
        obj.insert(
            "tags",
            tags.iter()
                .map(|(k, v)| Json::Array(vec![Json::from(k.clone()), Json::from(v.clone())]))
                .collect(),
        );
    }
    let Segment {
        trace_id,
        span_id,
        parent_span_id,
        op,
        status,
    } = segment;
    NewTransaction {
        project_id,
        event_id,
        trace_id,
        span_id,
        parent_span_id,
        name,
        op,
        status,
        start,
        duration_ms: duration_ms(start, end),
        received,
        environment,
        release,
        user_tag,
        platform,
        tags,
        // BRIDGE(port): model data
        data: event.to_value(),
    }
}

/// One span of a transaction's `spans` (timestamps already normalized). On failure, the field
/// that made it unusable and its value.
fn span_from_v1<'a>(
    span: Json<'a>,
    project_id: i64,
    trace_id: &str,
    segment_id: &str,
    transaction: &str,
) -> Result<NewSpan, (&'static str, Json<'a>)> {
    let Json::Object(mut span) = span else {
        return Err(("", span));
    };
    let Some(span_id) = span.get("span_id").and_then(|id| hex_id(id, 16)) else {
        let value = span.shift_remove("span_id").unwrap_or(Json::Null);
        return Err(("span_id", value));
    };
    if span_id == segment_id {
        // The root span again: it is the segment itself.
        return Err(("span_id", Json::from(span_id)));
    }
    let start = span
        .get("start_timestamp")
        .and_then(timestamp)
        .ok_or(("start_timestamp", Json::Null))?;
    let end = span
        .get("timestamp")
        .and_then(timestamp)
        .ok_or(("timestamp", Json::Null))?;
    let text = |span: &Object<'_>, key: &str| {
        span.get(key)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let op = text(&span, "op").unwrap_or_else(|| "default".to_owned());
    let description = text(&span, "description").unwrap_or_default();
    let status = text(&span, "status").unwrap_or_else(|| "unknown".to_owned());
    let data = match span.shift_remove("data") {
        // BRIDGE(port): model data
        Some(Json::Object(data)) if !data.is_empty() => Json::Object(data).to_value(),
        _ => serde_json::Value::Null,
    };
    Ok(NewSpan {
        project_id,
        // A span inside a transaction belongs to its trace, whatever its own field says.
        trace_id: trace_id.to_owned(),
        segment_id: segment_id.to_owned(),
        transaction: transaction.to_owned(),
        parent_span_id: span.get("parent_span_id").and_then(|id| hex_id(id, 16)),
        span_id,
        group: span_group(&op, &description),
        op,
        description,
        status,
        start,
        duration_ms: duration_ms(start, end),
        data,
    })
}

fn str_field(obj: &Object<'_>, key: &str) -> Option<String> {
    obj.get(key).and_then(Json::as_str).map(str::to_owned)
}
