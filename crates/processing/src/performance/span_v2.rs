//! `span` items: spans the JS SDKs stream instead of sending transactions.
//!
//! The current form (span v2, `application/vnd.sentry.items.span.v2+json`) is
//! `{"version": 2, "items": [...]}` with typed attributes (`{"value", "type"}`) and the
//! segment's root marked `is_segment`; the older form is one span per item, Relay's span JSON
//! (`description`, `timestamp`, `data`, `sentry_tags`). Both are read into one [`RawSpan`].
//! A segment root becomes a transaction: it is rebuilt as the transaction event a Python SDK
//! would have sent and normalized like one, so the transaction pages show both alike. Every
//! other span becomes a [`NewSpan`] of the segment its `sentry.segment.id` names, whether
//! or not that segment is in the same item.

use std::borrow::Cow;

use serde_json::Value;
use vigil_model::{NewSpan, NewTransaction};

use super::detect::{item_problems, Thresholds};
use super::transaction::{finish_segment, Segment};
use super::{
    duration_ms, hex_id, md5_hex, span_group, text_or, timestamp, ProcessedSpans, SPAN_STATUSES,
};
use crate::filter::FilterId;
use crate::json::{Json, Object};
use crate::normalize::{normalize_event, NormalizeContext};

/// The device clock is only corrected when it is off by more than this (Relay's threshold;
/// less is network delay).
const MIN_CLOCK_DRIFT_SECS: f64 = 55.0 * 60.0;
/// A span ending later than this after receipt is treated as sent now.
const MAX_SECS_IN_FUTURE: f64 = 60.0;
/// Sentry's default event retention, used when the project sets none.
const DEFAULT_RETENTION_DAYS: u32 = 90;

/// One span as sent, in either format, with its attributes flattened to `{key: value}`.
#[derive(Debug)]
struct RawSpan<'a> {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    op: String,
    status: String,
    start: f64,
    end: f64,
    is_segment: bool,
    attributes: Object<'a>,
}

impl RawSpan<'_> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .get(key)
            .and_then(Json::as_str)
            .filter(|v| !v.is_empty())
    }

    fn segment_id(&self) -> Option<String> {
        self.attributes
            .get("sentry.segment.id")
            .and_then(|id| hex_id(id, 16))
    }
}

/// Processes a `span` item sent to project `project_id`: its payload, its `content_type` header
/// and the envelope header's `trace` (dynamic sampling context: environment, release,
/// transaction); the performance problems of the segments it holds are found with the
/// project's `thresholds`.
///
/// Spans without a valid trace id, span id or start and end are skipped; the item fails only
/// when it is not JSON or holds no span at all.
pub fn process_span_item(
    payload: &[u8],
    content_type: Option<&str>,
    envelope_trace: Option<&Value>,
    project_id: i64,
    ctx: &NormalizeContext,
    thresholds: &Thresholds,
) -> Result<ProcessedSpans, String> {
    let parsed = Json::parse(payload).map_err(|e| format!("span item is not JSON: {e}"))?;
    let is_v2 = content_type.is_some_and(|ct| ct.contains("span.v2"))
        || parsed.get("items").is_some_and(Json::is_array);
    let raw_items: Vec<Json<'_>> = match parsed {
        Json::Object(mut container) if is_v2 => match container.shift_remove("items") {
            Some(Json::Array(items)) => items,
            _ => return Err("span v2 item without an `items` array".to_owned()),
        },
        Json::Object(_) => vec![parsed],
        _ => return Err("span item is not a JSON object".to_owned()),
    };
    if raw_items.is_empty() {
        return Err("span item holds no spans".to_owned());
    }
    let mut spans: Vec<RawSpan> = raw_items
        .into_iter()
        .filter_map(|item| if is_v2 { read_v2(item) } else { read_v1(item) })
        .collect();
    correct_times(&mut spans, ctx);

    let mut out = ProcessedSpans::default();
    // Segments first: a segment the inbound filters drop takes its children in this item
    // along (as Relay drops the spans of a filtered segment).
    let mut dropped_segments: Vec<(&str, usize)> = Vec::new();
    for span in spans.iter().filter(|s| s.is_segment) {
        match segment_transaction(span, envelope_trace, project_id, ctx) {
            Ok(transaction) => out.transactions.push(transaction),
            Err(filter) => {
                dropped_segments.push((&span.span_id, out.filtered.len()));
                out.filtered.push((filter, 1));
            }
        }
    }
    for span in spans.iter().filter(|s| !s.is_segment) {
        let Some(child) = child_span(span, &spans, envelope_trace, project_id, ctx) else {
            continue;
        };
        match dropped_segments
            .iter()
            .find(|(id, _)| *id == child.segment_id)
        {
            Some(&(_, index)) => out.filtered[index].1 += 1,
            None => match child_filter(span, is_v2, ctx) {
                Some(filter) => match out.filtered.iter_mut().find(|(f, _)| *f == filter) {
                    Some(entry) => entry.1 += 1,
                    None => out.filtered.push((filter, 1)),
                },
                None => out.spans.push(child),
            },
        }
    }
    out.problems = item_problems(&out, thresholds);
    Ok(out)
}

/// The inbound filter that drops a child span on its own, as Relay judges every span (its
/// segment may have come in another item): by the segment name, release and User-Agent its
/// attributes carry, and for the older span format also its URL and client address (what
/// Relay's `Filterable` reads of each), with the sender's address for the IP filter.
fn child_filter(span: &RawSpan<'_>, is_v2: bool, ctx: &NormalizeContext) -> Option<FilterId> {
    let segment_name = span.attribute("sentry.segment.name");
    let release = span.attribute("sentry.release");
    let user_agent = span.attribute("user_agent.original");
    let (url, address) = if is_v2 {
        (None, None)
    } else {
        (span.attribute("url.full"), span.attribute("client.address"))
    };
    let has_any = [segment_name, release, user_agent, url, address]
        .iter()
        .any(Option::is_some);
    if !has_any && ctx.client_ip.is_none() {
        return None;
    }
    let mut event = Object::with_capacity(5);
    event.insert("type", Json::from("transaction"));
    if let Some(name) = segment_name {
        event.insert("transaction", Json::from(name));
    }
    if let Some(release) = release {
        event.insert("release", Json::from(release));
    }
    if url.is_some() || user_agent.is_some() {
        let mut request = Object::with_capacity(2);
        if let Some(url) = url {
            request.insert("url", Json::from(url));
        }
        if let Some(user_agent) = user_agent {
            let mut headers = Object::with_capacity(1);
            headers.insert("User-Agent", Json::from(user_agent));
            request.insert("headers", Json::Object(headers));
        }
        event.insert("request", Json::Object(request));
    }
    if let Some(address) = address {
        let mut user = Object::with_capacity(1);
        user.insert("ip_address", Json::from(address));
        event.insert("user", Json::Object(user));
    }
    crate::filter::check(&Json::Object(event), &ctx.filters, ctx.client_ip.as_deref())
}

/// A span v2 item: `name`, `status` `ok`/`error`, `end_timestamp`, typed attributes.
fn read_v2(item: Json<'_>) -> Option<RawSpan<'_>> {
    let Json::Object(mut item) = item else {
        return None;
    };
    let attributes = match item.shift_remove("attributes") {
        Some(Json::Object(attributes)) => attributes
            .into_iter()
            .filter_map(|(key, typed)| {
                let value = match typed {
                    Json::Object(mut typed) => typed.shift_remove("value")?,
                    // Not typed: taken as the value itself.
                    other => other,
                };
                (!value.is_null()).then_some((key, value))
            })
            .collect(),
        _ => Object::new(),
    };
    let status = match item.get("status").and_then(Json::as_str) {
        Some("error") => attributes
            .get("sentry.status.message")
            .and_then(Json::as_str)
            .filter(|m| SPAN_STATUSES.contains(m) && *m != "ok")
            .unwrap_or("internal_error")
            .to_owned(),
        Some(status) if !status.is_empty() => status.to_owned(),
        _ => "unknown".to_owned(),
    };
    let op = text_or(attributes.get("sentry.op"), "default");
    Some(RawSpan {
        trace_id: hex_id(item.get("trace_id")?, 32)?,
        span_id: hex_id(item.get("span_id")?, 16)?,
        parent_span_id: item.get("parent_span_id").and_then(|id| hex_id(id, 16)),
        name: item
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned(),
        op,
        status,
        start: item.get("start_timestamp").and_then(timestamp)?,
        end: item.get("end_timestamp").and_then(timestamp)?,
        is_segment: item.get("is_segment").and_then(Json::as_bool) == Some(true),
        attributes,
    })
}

/// The older single-span JSON: `description`, `timestamp`, `data`, `sentry_tags`,
/// `segment_id`. Read into the v2 vocabulary so the rest does not care.
fn read_v1(item: Json<'_>) -> Option<RawSpan<'_>> {
    let Json::Object(mut item) = item else {
        return None;
    };
    let mut attributes = match item.shift_remove("data") {
        Some(Json::Object(data)) => data,
        _ => Object::new(),
    };
    if let Some(Json::Object(tags)) = item.shift_remove("sentry_tags") {
        for (key, value) in tags {
            let key = match key.as_ref() {
                "transaction" => Cow::Borrowed("sentry.segment.name"),
                "environment" | "release" | "op" | "platform" => {
                    Cow::Owned(format!("sentry.{key}"))
                }
                _ => key,
            };
            attributes.entry(key).or_insert(value);
        }
    }
    if let Some(segment_id) = item.shift_remove("segment_id") {
        attributes.entry("sentry.segment.id").or_insert(segment_id);
    }
    let text = |key: &str| {
        item.get(key)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some(RawSpan {
        trace_id: hex_id(item.get("trace_id")?, 32)?,
        span_id: hex_id(item.get("span_id")?, 16)?,
        parent_span_id: item.get("parent_span_id").and_then(|id| hex_id(id, 16)),
        name: text("description").unwrap_or_default(),
        op: text("op").unwrap_or_else(|| "default".to_owned()),
        status: text("status").unwrap_or_else(|| "unknown".to_owned()),
        start: item.get("start_timestamp").and_then(timestamp)?,
        end: item.get("timestamp").and_then(timestamp)?,
        is_segment: item.get("is_segment").and_then(Json::as_bool) == Some(true),
        attributes,
    })
}

/// Clock drift and impossible times, as normalization treats an event's: a device clock off
/// by the difference between `sent_at` and the receive time is corrected for every span, and
/// a span still ending in the future or before retention is moved to end at the receive time.
fn correct_times(spans: &mut [RawSpan], ctx: &NormalizeContext) {
    if let Some(sent_at) = ctx.sent_at {
        let drift = ctx.received - sent_at;
        if drift.abs() >= MIN_CLOCK_DRIFT_SECS {
            for span in spans.iter_mut() {
                span.start += drift;
                span.end += drift;
            }
        }
    }
    let retention_days = match ctx.retention_days {
        0 => DEFAULT_RETENTION_DAYS,
        days => days,
    };
    let oldest = ctx.received - f64::from(retention_days) * 86_400.0;
    for span in spans.iter_mut() {
        if span.end > ctx.received + MAX_SECS_IN_FUTURE || span.end < oldest {
            let shift = ctx.received - span.end;
            span.start += shift;
            span.end += shift;
        }
    }
}

/// A segment root as the transaction event Sentry would have built from it, normalized and
/// finished like a `transaction` item.
fn segment_transaction(
    span: &RawSpan<'_>,
    envelope_trace: Option<&Value>,
    project_id: i64,
    ctx: &NormalizeContext,
) -> Result<NewTransaction, FilterId> {
    let from_trace = |key: &str| {
        envelope_trace
            .and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let name = span
        .attribute("sentry.segment.name")
        .or((!span.name.is_empty()).then_some(span.name.as_str()))
        .or_else(|| from_trace("transaction"))
        .unwrap_or("<unlabeled transaction>");
    let event_id = md5_hex(&[&span.trace_id, &span.span_id]);
    let sdk_name = span.attribute("sentry.sdk.name");
    let platform = span
        .attribute("sentry.platform")
        .unwrap_or_else(|| platform_of_sdk(sdk_name));
    let environment = span
        .attribute("sentry.environment")
        .or_else(|| from_trace("environment"));
    let release = span
        .attribute("sentry.release")
        .or_else(|| from_trace("release"));

    let mut trace_data = span.attributes.clone();
    for consumed in [
        "sentry.op",
        "sentry.segment.name",
        "sentry.segment.id",
        "sentry.sdk.name",
        "sentry.sdk.version",
        "sentry.sdk.integrations",
        "sentry.release",
        "sentry.environment",
        "sentry.platform",
        "sentry.origin",
        "sentry.status.message",
    ] {
        trace_data.shift_remove(consumed);
    }
    let mut trace = Object::with_capacity(8);
    trace.insert("trace_id", Json::from(span.trace_id.as_str()));
    trace.insert("span_id", Json::from(span.span_id.as_str()));
    trace.insert("op", Json::from(span.op.as_str()));
    trace.insert("status", Json::from(span.status.as_str()));
    trace.insert("type", Json::from("trace"));
    if let Some(parent) = &span.parent_span_id {
        trace.insert("parent_span_id", Json::from(parent.as_str()));
    }
    if let Some(origin) = span.attribute("sentry.origin") {
        trace.insert("origin", Json::from(origin));
    }
    if !trace_data.is_empty() {
        trace.insert("data", Json::Object(trace_data));
    }
    let mut contexts = Object::with_capacity(1);
    contexts.insert("trace", Json::Object(trace));

    let mut event = Object::with_capacity(14);
    event.insert("event_id", Json::from(event_id));
    event.insert("type", Json::from("transaction"));
    event.insert("transaction", Json::from(name));
    event.insert("platform", Json::from(platform));
    event.insert("start_timestamp", Json::from(span.start));
    event.insert("timestamp", Json::from(span.end));
    event.insert("contexts", Json::Object(contexts));
    if let Some(source) = span.attribute("sentry.segment.name.source") {
        let mut info = Object::with_capacity(1);
        info.insert("source", Json::from(source));
        event.insert("transaction_info", Json::Object(info));
    }
    if let Some(environment) = environment {
        event.insert("environment", Json::from(environment));
    }
    if let Some(release) = release {
        event.insert("release", Json::from(release));
    }
    if let Some(sdk_name) = sdk_name {
        let mut sdk = Object::with_capacity(3);
        sdk.insert("name", Json::from(sdk_name));
        sdk.insert(
            "version",
            Json::from(span.attribute("sentry.sdk.version").unwrap_or("unknown")),
        );
        if let Some(integrations) = span.attributes.get("sentry.sdk.integrations") {
            sdk.insert("integrations", integrations.clone());
        }
        event.insert("sdk", Json::Object(sdk));
    }
    let user = user_of(span);
    if !user.is_empty() {
        event.insert("user", Json::Object(user));
    }
    let url = span
        .attribute("url.full")
        .or_else(|| span.attribute("http.url"));
    let user_agent = span.attribute("user_agent.original");
    if url.is_some() || user_agent.is_some() {
        let mut request = Object::with_capacity(3);
        if let Some(url) = url {
            request.insert("url", Json::from(url));
        }
        if let Some(method) = span
            .attribute("http.request.method")
            .or_else(|| span.attribute("http.method"))
        {
            request.insert("method", Json::from(method));
        }
        if let Some(user_agent) = user_agent {
            let mut headers = Object::with_capacity(1);
            headers.insert("User-Agent", Json::from(user_agent));
            request.insert("headers", Json::Object(headers));
        }
        event.insert("request", Json::Object(request));
    }
    let event = Json::Object(event);

    // Times are already corrected above; normalization must not shift them a second time, and
    // the envelope's event id belongs to no span.
    let span_ctx = NormalizeContext {
        sent_at: None,
        envelope_event_id: None,
        ..ctx.clone()
    };
    // Built here from values already checked: normalization cannot reject it (a non-object or
    // an end before the start, which `duration_ms` clamps instead).
    // The original stays the segment if normalization refuses it (it cannot, see above).
    let mut normalized = normalize_event(event.clone(), &span_ctx).unwrap_or(event);
    // Judged as the transaction it stands for, before scrubbing, as `transaction` items are.
    if let Some(filter) = crate::filter::check(&normalized, &ctx.filters, ctx.client_ip.as_deref())
    {
        return Err(filter);
    }
    crate::scrub::scrub_event(&mut normalized, &ctx.scrubbing);
    Ok(finish_segment(
        normalized,
        project_id,
        ctx.received,
        Segment {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            // What the rebuilt trace context says, defaulted as a `transaction` item's is.
            op: text_or(Some(&Json::from(span.op.as_str())), "default"),
            status: text_or(Some(&Json::from(span.status.as_str())), "unknown"),
        },
    ))
}

/// A span below a segment. Its segment is `sentry.segment.id`, else the one segment of its
/// trace in this item, else its parent (a span one level below an unseen root).
fn child_span(
    span: &RawSpan<'_>,
    all: &[RawSpan<'_>],
    envelope_trace: Option<&Value>,
    project_id: i64,
    ctx: &NormalizeContext,
) -> Option<NewSpan> {
    let segment_in_item = |id: Option<&str>| {
        all.iter().find(|s| {
            s.is_segment && s.trace_id == span.trace_id && id.is_none_or(|id| s.span_id == id)
        })
    };
    let segment_id = span
        .segment_id()
        .or_else(|| segment_in_item(None).map(|s| s.span_id.clone()))
        .or_else(|| span.parent_span_id.clone())?;
    if segment_id == span.span_id {
        // Names itself as its segment without `is_segment`: nothing to hang it under.
        return None;
    }
    let transaction = span
        .attribute("sentry.segment.name")
        .map(str::to_owned)
        .or_else(|| {
            segment_in_item(Some(&segment_id)).map(|s| {
                s.attribute("sentry.segment.name")
                    .unwrap_or(&s.name)
                    .to_owned()
            })
        })
        .or_else(|| {
            envelope_trace
                .and_then(|t| t.get("transaction"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let (description, attributes) = scrubbed(description_of(span), &span.attributes, ctx);
    Some(NewSpan {
        project_id,
        trace_id: span.trace_id.clone(),
        segment_id,
        transaction,
        span_id: span.span_id.clone(),
        parent_span_id: span.parent_span_id.clone(),
        group: span_group(&span.op, &description),
        op: span.op.clone(),
        description,
        status: span.status.clone(),
        start: span.start,
        duration_ms: duration_ms(span.start, span.end),
        data: if attributes.is_empty() {
            Value::Null
        } else {
            // BRIDGE(port): model data
            Value::Object(
                attributes
                    .iter()
                    .map(|(key, value)| (key.to_owned(), value.to_value()))
                    .collect(),
            )
        },
    })
}

/// A child span's description and attributes scrubbed as the same span's would be in a
/// transaction's `spans` (attributes there are its `data`), with the project's settings. What
/// the scrubber would say in `_meta` has no place in a stored span and is dropped.
fn scrubbed<'a>(
    description: String,
    attributes: &Object<'a>,
    ctx: &NormalizeContext,
) -> (String, Object<'a>) {
    let mut span = Object::with_capacity(2);
    span.insert("description", Json::from(description));
    span.insert("data", Json::Object(attributes.clone()));
    let mut event = Object::with_capacity(1);
    event.insert("spans", Json::Array(vec![Json::Object(span)]));
    let mut event = Json::Object(event);
    crate::scrub::scrub_event(&mut event, &ctx.scrubbing);
    let mut span = match event.get_mut("spans").and_then(|spans| spans.get_mut(0)) {
        Some(Json::Object(span)) => std::mem::take(span),
        _ => Object::new(),
    };
    let description = match span.shift_remove("description") {
        Some(Json::String(text)) => text.into_owned(),
        _ => String::new(),
    };
    let attributes = match span.shift_remove("data") {
        Some(Json::Object(data)) => data,
        _ => Object::new(),
    };
    (description, attributes)
}

/// What Sentry shows as the span's description. Streamed resource and HTTP client spans are
/// named after the host only (`127.0.0.1`); the URL they fetched is an attribute, and it is
/// what a v1 span's description held and what they are grouped by.
fn description_of(span: &RawSpan<'_>) -> String {
    let url = span
        .attribute("url.full")
        .or_else(|| span.attribute("http.url"));
    match url {
        Some(url) if span.op.starts_with("resource") && !span.name.contains("://") => {
            url.to_owned()
        }
        Some(url) if span.op.starts_with("http.client") && !span.name.contains("://") => {
            let method = span
                .attribute("http.request.method")
                .or_else(|| span.attribute("http.method"))
                .or_else(|| span.name.split_whitespace().next())
                .unwrap_or("GET");
            format!("{method} {url}")
        }
        _ => span.name.clone(),
    }
}

/// The event platform of an SDK, as its own error events name it.
fn platform_of_sdk(sdk_name: Option<&str>) -> &'static str {
    match sdk_name.unwrap_or_default() {
        name if name.starts_with("sentry.javascript.node")
            || name.starts_with("sentry.javascript.bun")
            || name.starts_with("sentry.javascript.deno") =>
        {
            "node"
        }
        name if name.starts_with("sentry.javascript") => "javascript",
        name if name.starts_with("sentry.python") => "python",
        name if name.starts_with("sentry.rust") => "rust",
        _ => "other",
    }
}

/// `user.*` attributes as an event's `user`.
fn user_of<'a>(span: &RawSpan<'a>) -> Object<'a> {
    let mut user = Object::new();
    for (attribute, field) in [
        ("user.id", "id"),
        ("user.email", "email"),
        ("user.name", "username"),
        ("user.username", "username"),
        ("user.ip_address", "ip_address"),
    ] {
        if let Some(value) = span.attributes.get(attribute) {
            if value.is_string() || value.is_number() {
                user.entry(field).or_insert_with(|| value.clone());
            }
        }
    }
    user
}
