//! What a worker makes of each item of a claimed envelope: events are processed into issues,
//! transactions and spans into the performance model (processing finds the performance issues
//! in them on the way), client reports become outcomes, attachments and user reports are kept
//! by the event they name, the other known types are kept raw until their own pipelines exist,
//! and unknown types are skipped. One bad item is reported
//! without dropping the good ones beside it. Every item's outcome is counted (accepted, or
//! invalid with Relay's reason). The result is in the store's terms, ready to be written.

use serde::Deserialize;
use serde_json::Value;
use vigil_processing::performance::{
    process_span_item, process_transaction, ProcessedSpans, Thresholds,
};
use vigil_processing::user_report::{parse_feedback, parse_user_report, ParsedReport};
use vigil_processing::{process_event, NormalizeContext, Outcome as Processed};
use vigil_protocol::envelope::{Envelope, Item, ItemType};
use vigil_store::{
    hour_of, DataCategory, DeliveryOutcomes, NewAttachment, NewEvent, NewUserReport, Outcome,
    OutcomeRow, RawItem, SpanBatch, NO_REASON,
};

use crate::outcomes::{item_quantities, reason};
use vigil_processing::payload::{parse_accepted_event_json, parse_event_tree};

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
    /// `attachment` items, kept by the envelope's event id.
    pub attachments: Vec<NewAttachment>,
    /// `user_report` and `feedback` items.
    pub user_reports: Vec<NewUserReport>,
    /// The envelope's delivery (its queue entry): its outcomes count once under it.
    pub source: String,
    /// What became of each item, and what the client reports say the SDK dropped.
    pub outcomes: Vec<OutcomeRow>,
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
        source: source.to_owned(),
        ..Accepted::default()
    };
    // Attachments follow their event: when a filter drops the envelope's event, they are
    // dropped with it (as Relay drops an envelope's event-bound items), so they wait until the
    // event is judged.
    let mut attachments = Vec::new();
    let mut event_filter: Option<&'static str> = None;
    for (index, item) in envelope.items.iter().enumerate() {
        let item_key = || format!("{source}:{index}");
        let ty = item.ty();
        match ty {
            ItemType::Event => match accept_event_item(item, project_id, ctx) {
                Ok(Processed::Kept(event)) => {
                    let category = event_category(&event.event_type);
                    accepted.outcome(category, Outcome::Accepted, NO_REASON, 1);
                    accepted.events.push(event);
                }
                Ok(Processed::Filtered(f)) => {
                    accepted.item_outcome(item, Outcome::Filtered, f.filter.as_str());
                    accepted.filtered.push((f.category, f.filter.as_str()));
                    event_filter = Some(f.filter.as_str());
                }
                Err((why, message)) => {
                    accepted.outcome(DataCategory::Error, Outcome::Invalid, why, 1);
                    accepted.invalid.push(format!("event item: {message}"));
                }
            },
            // A client report has no category of its own: its entries are the outcomes.
            ItemType::ClientReport => match parse_client_report(&item.payload) {
                Ok(entries) => {
                    for (outcome, why, category, quantity) in entries {
                        accepted.outcome(category, outcome, &why, quantity);
                    }
                }
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
                    Ok(Processed::Kept(processed)) => {
                        // Relay counts a transaction's spans with its own root span.
                        let spans = processed.spans.len() as i64 + 1;
                        accepted.outcome(
                            DataCategory::Transaction,
                            Outcome::Accepted,
                            NO_REASON,
                            1,
                        );
                        accepted.outcome(DataCategory::Span, Outcome::Accepted, NO_REASON, spans);
                        accepted.add_spans(processed);
                    }
                    Ok(Processed::Filtered(f)) => {
                        accepted.item_outcome(item, Outcome::Filtered, f.filter.as_str());
                        accepted.filtered.push((f.category, f.filter.as_str()));
                    }
                    Err(message) => {
                        let why = reason::INVALID_TRANSACTION;
                        accepted.outcome(DataCategory::Transaction, Outcome::Invalid, why, 1);
                        accepted
                            .invalid
                            .push(format!("transaction item: {message}"));
                    }
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
                    Ok(processed) => {
                        let found = processed.spans.len() + processed.transactions.len();
                        let spans = item.item_count().map_or(found as i64, |n| n as i64);
                        let mut filtered = 0;
                        for &(filter, dropped) in &processed.filtered {
                            let (category, why) = (DataCategory::Span, filter.as_str());
                            accepted.outcome(category, Outcome::Filtered, why, dropped as i64);
                            accepted.filtered.push(("span", why));
                            filtered += dropped as i64;
                        }
                        let kept = (spans - filtered).max(0);
                        accepted.outcome(DataCategory::Span, Outcome::Accepted, NO_REASON, kept);
                        accepted.add_spans(processed);
                    }
                    Err(message) => {
                        accepted.item_outcome(item, Outcome::Invalid, reason::INVALID_SPAN);
                        accepted.invalid.push(format!("span item: {message}"));
                    }
                }
            }
            ItemType::Attachment => match attachment_of(item, project_id, ctx, item_key()) {
                Some(attachment) => attachments.push((item, attachment)),
                None => {
                    accepted.item_outcome(item, Outcome::Invalid, reason::PAYLOAD);
                    accepted
                        .invalid
                        .push("attachment item: the envelope has no event_id".into());
                }
            },
            ItemType::UserReport | ItemType::Feedback => {
                let envelope_event_id = ctx.envelope_event_id.as_deref();
                let parsed = if ty == ItemType::UserReport {
                    parse_user_report(&item.payload, envelope_event_id)
                } else {
                    parse_feedback(&item.payload, envelope_event_id)
                };
                match parsed {
                    Ok(report) => {
                        accepted.item_outcome(item, Outcome::Accepted, NO_REASON);
                        accepted.user_reports.push(user_report_of(
                            report,
                            project_id,
                            ctx,
                            item_key(),
                        ));
                    }
                    Err(err) => {
                        accepted.item_outcome(item, Outcome::Invalid, reason::INVALID_JSON);
                        accepted
                            .invalid
                            .push(format!("{} item: {err}", ty.as_str()));
                    }
                }
            }
            // NEL reports are logs in Relay; kept raw with the logs.
            ItemType::Session
            | ItemType::Sessions
            | ItemType::CheckIn
            | ItemType::Log
            | ItemType::Nel => {
                accepted.item_outcome(item, Outcome::Accepted, NO_REASON);
                accepted.raw_items.push(RawItem {
                    project_id,
                    item_type: ty.as_str().to_string(),
                    event_id: ctx.envelope_event_id.clone(),
                    received: ctx.received,
                    headers: Value::Object(item.headers.clone()),
                    payload: item.payload.to_vec(),
                    dedup_key: Some(item_key()),
                });
            }
            // Profiles, replays, metrics and anything unknown: accepted (the SDK was answered
            // 200 for them) and skipped; metrics and unknown types count in no category.
            _ => {
                accepted.item_outcome(item, Outcome::Accepted, NO_REASON);
                tracing::debug!(item_type = ty.as_str(), "envelope item skipped");
            }
        }
    }
    for (item, attachment) in attachments {
        match event_filter {
            Some(filter) => {
                accepted.item_outcome(item, Outcome::Filtered, filter);
            }
            None => {
                accepted.item_outcome(item, Outcome::Accepted, NO_REASON);
                accepted.attachments.push(attachment);
            }
        }
    }
    accepted
}

/// An attachment item as stored: named by its `filename` header (Relay requires one; a
/// missing one is Sentry's default), of its envelope's event. `None` without an event id,
/// which Relay refuses at the door for attachments.
fn attachment_of(
    item: &Item,
    project_id: i64,
    ctx: &NormalizeContext,
    dedup_key: String,
) -> Option<NewAttachment> {
    use sha1::Digest;
    let header = |name: &str| {
        item.headers
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    Some(NewAttachment {
        project_id,
        event_id: ctx.envelope_event_id.clone()?,
        name: item.filename().unwrap_or("Unnamed Attachment").to_owned(),
        content_type: item
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned(),
        attachment_type: header("attachment_type")
            .unwrap_or("event.attachment")
            .to_owned(),
        sha1: hex::encode(sha1::Sha1::digest(&item.payload)),
        received: ctx.received,
        payload: item.payload.to_vec(),
        dedup_key: Some(dedup_key),
    })
}

/// A parsed report as stored.
fn user_report_of(
    report: ParsedReport,
    project_id: i64,
    ctx: &NormalizeContext,
    dedup_key: String,
) -> NewUserReport {
    NewUserReport {
        project_id,
        event_id: report.event_id,
        name: report.name,
        email: report.email,
        comments: report.comments,
        received: ctx.received,
        dedup_key: Some(dedup_key),
    }
}

/// The outcomes of an envelope set aside without processing (it kept failing): every item
/// `invalid` with Relay's `internal`.
pub fn set_aside(envelope: &Envelope, project_id: i64, received: f64, source: &str) -> Accepted {
    let mut accepted = Accepted {
        project_id,
        received,
        source: source.to_owned(),
        ..Accepted::default()
    };
    for item in &envelope.items {
        accepted.item_outcome(item, Outcome::Invalid, reason::INTERNAL);
    }
    accepted
}

/// The category an event counts in, by its type (Relay's `DataCategory::from(EventType)`).
pub fn event_category(event_type: &str) -> DataCategory {
    match event_type {
        "csp" | "hpkp" | "expectct" | "expectstaple" => DataCategory::Security,
        _ => DataCategory::Error,
    }
}

impl Accepted {
    /// Counts `quantity` of `category` with `outcome` and `reason` in the hour the envelope was
    /// received: one call per filtered, rate-limited or accepted thing.
    pub fn outcome(
        &mut self,
        category: DataCategory,
        outcome: Outcome,
        reason: &str,
        quantity: i64,
    ) {
        if quantity <= 0 {
            return;
        }
        self.outcomes.push(OutcomeRow {
            project_id: self.project_id,
            hour: hour_of(self.received),
            category,
            outcome,
            reason: reason.to_owned(),
            quantity,
            times_seen: 1,
        });
    }

    /// Counts an item with `outcome` and `reason` in every category it counts in
    /// ([`item_quantities`]).
    pub fn item_outcome(&mut self, item: &Item, outcome: Outcome, reason: &str) {
        for (category, quantity) in item_quantities(item) {
            self.outcome(category, outcome, reason, quantity);
        }
    }

    /// The outcomes to write, under the delivery's key.
    pub fn delivery_outcomes(&mut self) -> DeliveryOutcomes {
        DeliveryOutcomes {
            project_id: self.project_id,
            source: self.source.clone(),
            rows: std::mem::take(&mut self.outcomes),
        }
    }

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
/// it; on failure, Relay's discard reason and the message.
pub fn accept_event_item(
    item: &Item,
    project_id: i64,
    ctx: &NormalizeContext,
) -> Result<Processed<NewEvent>, (&'static str, String)> {
    // Checked (and repaired) when the envelope was accepted.
    let raw =
        parse_accepted_event_json(&item.payload).map_err(|err| (reason::INVALID_JSON, err))?;
    let processed = process_event(raw, ctx).map_err(|err| (reason::PAYLOAD, err.to_string()))?;
    Ok(match processed {
        Processed::Kept(event) => Processed::Kept(event.into_new_event(project_id)),
        Processed::Filtered(filtered) => Processed::Filtered(filtered),
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

/// A client report's entries as outcomes `(outcome, reason, category, quantity)`, as Relay
/// reads them: `discarded_events` are `client_discard`, `rate_limited_events` `rate_limited`,
/// `filtered_events` and `filtered_sampling_events` `filtered`, each with the SDK's reason.
/// Entries of a category Relay does not know, or of no quantity, count nothing.
fn parse_client_report(
    payload: &[u8],
) -> Result<Vec<(Outcome, String, DataCategory, i64)>, String> {
    let report: ClientReport =
        serde_json::from_slice(payload).map_err(|err| format!("invalid JSON: {err}"))?;
    let lists = [
        (Outcome::ClientDiscard, report.discarded_events),
        (Outcome::RateLimited, report.rate_limited_events),
        (Outcome::Filtered, report.filtered_events),
        (Outcome::Filtered, report.filtered_sampling_events),
    ];
    Ok(lists
        .into_iter()
        .flat_map(|(outcome, entries)| entries.into_iter().map(move |d| (outcome, d)))
        .filter(|(_, d)| d.quantity > 0)
        .filter_map(|(outcome, d)| {
            let category = DataCategory::parse(&d.category)?;
            let reason = if d.reason.is_empty() {
                NO_REASON.to_owned()
            } else {
                d.reason
            };
            Some((outcome, reason, category, d.quantity))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_report_entries_become_outcomes() {
        let entries = parse_client_report(
            br#"{"timestamp": 1, "discarded_events": [{"reason": "before_send", "category": "error", "quantity": 3},
                                                      {"reason": "queue_overflow", "category": "scoobydoo", "quantity": 1}],
                 "rate_limited_events": [{"reason": "", "category": "transaction", "quantity": 2}],
                 "filtered_events": [{"reason": "release-version", "category": "error", "quantity": 0}]}"#,
        )
        .expect("valid report");
        assert_eq!(
            entries,
            vec![
                (
                    Outcome::ClientDiscard,
                    "before_send".into(),
                    DataCategory::Error,
                    3
                ),
                (
                    Outcome::RateLimited,
                    "none".into(),
                    DataCategory::Transaction,
                    2
                ),
            ]
        );
    }

    #[test]
    fn a_filtered_event_takes_its_attachments_along() {
        let envelope = |release: &str| {
            let event = format!(
                r#"{{"event_id":"b734577d50fd48ea9070b488e32bdbf7","release":"{release}","message":"boom"}}"#
            );
            let body = format!(
                "{{\"event_id\":\"b734577d50fd48ea9070b488e32bdbf7\"}}\n\
                 {{\"type\":\"event\",\"length\":{}}}\n{event}\n\
                 {{\"type\":\"attachment\",\"length\":5,\"filename\":\"a.txt\"}}\nhello\n",
                event.len()
            );
            vigil_protocol::envelope::parse_envelope(bytes::Bytes::from(body)).expect("envelope")
        };
        let settings = vigil_store::InboundFilters {
            releases: vec!["old@*".into()],
            ..vigil_store::InboundFilters::none()
        };
        let ctx = NormalizeContext {
            received: 1_795_576_123.0,
            envelope_event_id: Some("b734577d50fd48ea9070b488e32bdbf7".into()),
            filters: std::sync::Arc::new(vigil_processing::filter::Filters::new(settings)),
            ..NormalizeContext::default()
        };
        let attachment_rows = |accepted: &Accepted| -> Vec<(Outcome, String, i64)> {
            accepted
                .outcomes
                .iter()
                .filter(|row| row.category == DataCategory::Attachment)
                .map(|row| (row.outcome, row.reason.clone(), row.quantity))
                .collect()
        };

        let dropped = accept_envelope(
            &envelope("old@1.0"),
            1,
            &ctx,
            "test:1",
            &Thresholds::default(),
        );
        assert!(dropped.events.is_empty());
        assert!(
            dropped.attachments.is_empty(),
            "the attachment goes with its event"
        );
        assert_eq!(
            attachment_rows(&dropped),
            [(Outcome::Filtered, "release-version".to_owned(), 5)]
        );

        let kept = accept_envelope(
            &envelope("new@2.0"),
            1,
            &ctx,
            "test:2",
            &Thresholds::default(),
        );
        assert_eq!(kept.events.len(), 1);
        assert_eq!(kept.attachments.len(), 1);
        assert_eq!(
            attachment_rows(&kept),
            [(Outcome::Accepted, NO_REASON.to_owned(), 5)]
        );
    }
}
