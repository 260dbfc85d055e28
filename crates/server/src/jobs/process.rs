//! What a worker makes of each item of a claimed envelope: events are processed into issues,
//! transactions and spans into the performance model (processing finds the performance issues
//! in them on the way), client reports are counted, the other known types are kept raw until
//! their own pipelines exist, and unknown types are skipped. One bad item is reported without
//! dropping the good ones beside it. The result is in the store's terms, ready to be written.

use serde::Deserialize;
use serde_json::Value;
use vigil_processing::performance::{
    process_span_item, process_transaction, ProcessedSpans, Thresholds,
};
use vigil_processing::{process_event, NormalizeContext, Outcome};
use vigil_protocol::envelope::{Envelope, Item, ItemType};
use vigil_store::{NewEvent, RawItem, SpanBatch};

use crate::event_json::{parse_accepted_event_json, parse_event_tree};

/// `(reason, category, quantity)` of one client-report entry.
pub type ClientReportCount = (String, String, i64);

/// What an envelope turned into, ready to be written.
#[derive(Debug, Default)]
pub struct Accepted {
    pub project_id: i64,
    /// When the envelope was received.
    pub received: f64,
    pub events: Vec<NewEvent>,
    /// Transactions and spans, from `transaction` and `span` items.
    pub spans: SpanBatch,
    pub raw_items: Vec<RawItem>,
    /// Client-report items: each item's source key and its counts.
    pub client_reports: Vec<(String, Vec<ClientReportCount>)>,
    /// One line per item that was dropped as invalid.
    pub invalid: Vec<String>,
    /// Events and transactions the project's inbound filters dropped, not stored: their data
    /// category (`error`, `transaction`, `security`) and the filter's id as Sentry reports it in
    /// outcomes (`browser-extensions`, `release-version`, …).
    pub filtered: Vec<(&'static str, &'static str)>,
}

/// Turns every item of an authenticated envelope into what the store keeps. `source` names the
/// envelope's delivery (its queue entry): items keyed by it and their index are stored once
/// however often the envelope is processed. `thresholds` are the project's for performance
/// issues.
pub fn accept_envelope(
    envelope: &Envelope,
    project_id: i64,
    ctx: &NormalizeContext,
    source: &str,
    thresholds: &Thresholds,
) -> Accepted {
    let mut accepted = Accepted {
        project_id,
        received: ctx.received,
        ..Accepted::default()
    };
    for (index, item) in envelope.items.iter().enumerate() {
        let item_key = || format!("{source}:{index}");
        let ty = item.ty();
        match ty {
            ItemType::Event => match accept_event_item(item, project_id, ctx) {
                Ok(Outcome::Kept(event)) => accepted.events.push(event),
                Ok(Outcome::Filtered(f)) => {
                    accepted.filtered.push((f.category, f.filter.as_str()));
                }
                Err(reason) => accepted.invalid.push(format!("event item: {reason}")),
            },
            ItemType::ClientReport => match parse_client_report(&item.payload) {
                Ok(counts) => accepted.client_reports.push((item_key(), counts)),
                Err(reason) => accepted
                    .invalid
                    .push(format!("client_report item: {reason}")),
            },
            ItemType::Transaction => {
                let processed = parse_event_tree(&item.payload).and_then(|raw| {
                    process_transaction(raw, project_id, ctx, thresholds)
                        .map_err(|err| err.to_string())
                });
                match processed {
                    Ok(Outcome::Kept(processed)) => accepted.add_spans(processed),
                    Ok(Outcome::Filtered(f)) => {
                        accepted.filtered.push((f.category, f.filter.as_str()));
                    }
                    Err(reason) => accepted.invalid.push(format!("transaction item: {reason}")),
                }
            }
            ItemType::Span => {
                let content_type = item.headers.get("content_type").and_then(Value::as_str);
                match process_span_item(
                    &item.payload,
                    content_type,
                    envelope.headers.get("trace"),
                    project_id,
                    ctx,
                    thresholds,
                ) {
                    Ok(processed) => accepted.add_spans(processed),
                    Err(reason) => accepted.invalid.push(format!("span item: {reason}")),
                }
            }
            ItemType::Attachment
            | ItemType::Session
            | ItemType::Sessions
            | ItemType::CheckIn
            | ItemType::UserReport
            | ItemType::Feedback
            | ItemType::Log => accepted.raw_items.push(RawItem {
                project_id,
                item_type: ty.as_str().to_string(),
                event_id: ctx.envelope_event_id.clone(),
                received: ctx.received,
                headers: Value::Object(item.headers.clone()),
                payload: item.payload.to_vec(),
                dedup_key: Some(item_key()),
            }),
            // Profiles, replays, metrics and anything unknown: accepted and skipped.
            _ => tracing::debug!(item_type = ty.as_str(), "envelope item skipped"),
        }
    }
    accepted
}

impl Accepted {
    /// Adds an item's transactions and spans, and an issue occurrence for each performance
    /// problem processing found in them.
    fn add_spans(&mut self, processed: ProcessedSpans) {
        for problem in processed.problems {
            let mut event = problem.occurrence.into_new_event(self.project_id);
            // The occurrence's trace is its transaction's.
            event.trace_id = Some(problem.trace_id);
            self.events.push(event);
        }
        self.spans.transactions.extend(processed.transactions);
        self.spans.spans.extend(processed.spans);
    }
}

/// Parses and processes one event payload; `Filtered` when the project's inbound filters drop
/// it.
pub fn accept_event_item(
    item: &Item,
    project_id: i64,
    ctx: &NormalizeContext,
) -> Result<Outcome<NewEvent>, String> {
    // Checked (and repaired) when the envelope was accepted.
    let raw = parse_accepted_event_json(&item.payload)?;
    let processed = process_event(raw, ctx).map_err(|err| err.to_string())?;
    Ok(match processed {
        Outcome::Kept(event) => Outcome::Kept(event.into_new_event(project_id)),
        Outcome::Filtered(filtered) => Outcome::Filtered(filtered),
    })
}

#[derive(Deserialize)]
struct ClientReport {
    #[serde(default)]
    discarded_events: Vec<Discarded>,
    #[serde(default)]
    rate_limited_events: Vec<Discarded>,
    #[serde(default)]
    filtered_events: Vec<Discarded>,
    #[serde(default)]
    filtered_sampling_events: Vec<Discarded>,
}

#[derive(Deserialize)]
struct Discarded {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    quantity: i64,
}

fn parse_client_report(payload: &[u8]) -> Result<Vec<(String, String, i64)>, String> {
    let report: ClientReport =
        serde_json::from_slice(payload).map_err(|err| format!("invalid JSON: {err}"))?;
    Ok(report
        .discarded_events
        .into_iter()
        .chain(report.rate_limited_events)
        .chain(report.filtered_events)
        .chain(report.filtered_sampling_events)
        .filter(|d| d.quantity > 0)
        .map(|d| (d.reason, d.category, d.quantity))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_report_sums_every_list() {
        let counts = parse_client_report(
            br#"{"timestamp": 1, "discarded_events": [{"reason": "before_send", "category": "error", "quantity": 3}],
                 "rate_limited_events": [{"reason": "ratelimit_backoff", "category": "transaction", "quantity": 2}]}"#,
        )
        .expect("valid report");
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[0], ("before_send".into(), "error".into(), 3));
    }
}
