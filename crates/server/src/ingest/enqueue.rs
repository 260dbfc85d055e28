//! The accept side of the durable queue: what an authenticated envelope must satisfy before it
//! is acknowledged, and the hand-off to the queue.
//!
//! Only cheap checks run here (size limits, event JSON syntax); normalization, grouping and the
//! writes run in the workers. The event id is settled here, because the answer carries it and
//! the worker must store the event under that same id.

use bytes::Bytes;
use serde_json::Value;
use vigil_protocol::envelope::{Envelope, ItemType};
use vigil_protocol::ids::{new_event_id, normalize_uuid};
use vigil_store::{Outcome, QueuedEnvelope};

use super::error::IngestError;
use crate::metrics::Metrics;
use crate::outcomes::reason;
use crate::AppState;
use vigil_processing::payload::{parse_event_json, scan_event_json};

/// An envelope ready to be queued.
#[derive(Debug)]
pub struct Prepared {
    pub envelope: Envelope,
    /// The id to answer with, when the envelope carries an event.
    pub event_id: Option<String>,
    /// One line per item dropped as invalid.
    pub invalid: Vec<String>,
    /// The body `envelope` was parsed from, while preparation has changed nothing in it: then it
    /// is queued as it came instead of serialized again.
    source: Option<Bytes>,
}

/// Drops event items whose payload is not a JSON object (repairing the `NaN` tokens of old
/// Python clients) and settles the envelope's event id: the header's, else the event's, else a
/// new one. `source` is the body the envelope was parsed from, if it was parsed.
pub fn prepare(mut envelope: Envelope, source: Option<Bytes>) -> Prepared {
    let mut invalid = Vec::new();
    let mut payload_event_id = None;
    let mut repaired_any = false;
    envelope.items.retain_mut(|item| {
        if !matches!(item.ty(), ItemType::Event) {
            return true;
        }
        match validate_event_payload(&item.payload) {
            Ok((repaired, id)) => {
                if let Some(repaired) = repaired {
                    item.payload = repaired;
                    item.headers.remove("length");
                    repaired_any = true;
                }
                payload_event_id = payload_event_id.take().or(id);
                true
            }
            Err(reason) => {
                invalid.push(format!("event item: {reason}"));
                false
            }
        }
    });
    let header_id = envelope.event_id();
    // A header id in another spelling (hyphens, upper case) needs no rewrite: every reader of
    // the queued envelope normalizes it.
    let id_made = header_id.is_none() && envelope.requires_event_id();
    let event_id = if envelope.requires_event_id() {
        Some(header_id.or(payload_event_id).unwrap_or_else(new_event_id))
    } else {
        header_id
    };
    if let Some(id) = &event_id {
        match envelope.headers.get_mut("event_id") {
            Some(Value::String(held)) if held == id => {}
            Some(held) => *held = Value::String(id.clone()),
            None => {
                envelope
                    .headers
                    .insert("event_id".into(), Value::String(id.clone()));
            }
        }
    }
    let unchanged = invalid.is_empty() && !repaired_any && !id_made;
    Prepared {
        envelope,
        event_id,
        invalid,
        source: source.filter(|_| unchanged),
    }
}

impl Prepared {
    /// Drops the items `drop` picks by type (their category is over a quota); the rest is kept.
    pub fn drop_items(&mut self, drop: impl Fn(ItemType) -> bool) {
        let before = self.envelope.items.len();
        self.envelope.items.retain(|i| !drop(i.ty()));
        if self.envelope.items.len() != before {
            self.source = None;
        }
    }

    /// Whether the body as received is what will be queued (nothing was dropped or repaired,
    /// and the event id was in the header).
    pub fn queues_body_as_received(&self) -> bool {
        self.source.is_some()
    }

    /// The bytes to queue: the body as received when it still says what the envelope says,
    /// else the envelope serialized.
    pub fn into_queue_body(self) -> Vec<u8> {
        match self.source {
            Some(source) => {
                // The items are slices of `source`: without them it is usually the only owner
                // of its buffer, which then becomes the `Vec` without a copy.
                drop(self.envelope);
                Vec::from(source)
            }
            None => self.envelope.to_vec(),
        }
    }
}

/// Checks an event payload: `Ok((repaired bytes if they had to change, payload event id))`.
fn validate_event_payload(payload: &Bytes) -> Result<(Option<Bytes>, Option<String>), String> {
    // One pass over a valid payload: syntax, nesting limit and the id, without building a tree.
    if let Some(id) = scan_event_json(payload) {
        return Ok((None, id));
    }
    let value = parse_event_json(payload)?;
    let id = id_of(value.get("event_id"));
    let repaired = serde_json::to_vec(&value).map_err(|err| err.to_string())?;
    Ok((Some(Bytes::from(repaired)), id))
}

fn id_of(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).and_then(normalize_uuid)
}

/// Queues a prepared envelope for the workers; durable when it returns. Over the queue's bound
/// the answer is 429, so SDKs back off while the workers catch up.
pub async fn enqueue(
    state: &AppState,
    project_id: i64,
    prepared: Prepared,
    received: f64,
    client_ip: Option<String>,
    client_sdk: Option<String>,
) -> Result<(), IngestError> {
    if prepared.envelope.items.is_empty() {
        return Ok(());
    }
    let stats = state.queue.stats().await?;
    if stats.depth >= state.config.limits.max_queue_depth as u64
        || stats.bytes >= state.config.limits.max_queue_bytes as u64
    {
        Metrics::inc(&state.metrics.requests_rejected, 1);
        let items = &prepared.envelope.items;
        let (limited, why) = (Outcome::RateLimited, reason::QUEUE_FULL);
        state
            .outcomes
            .record_items(project_id, received, items, limited, why);
        return Err(IngestError::Overloaded);
    }
    let events = prepared
        .envelope
        .items
        .iter()
        .filter(|i| matches!(i.ty(), ItemType::Event))
        .count();
    let body = prepared.into_queue_body();
    state
        .queue
        .enqueue(QueuedEnvelope {
            project_id,
            received,
            client_ip,
            client_sdk,
            body,
        })
        .await?;
    state.queue_signal.notify_one();
    Metrics::inc(&state.metrics.envelopes_accepted, 1);
    Metrics::inc(&state.metrics.events_accepted, events as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::envelope::parse_envelope;

    /// Prepares `text` as the envelope endpoint does, with the body it was parsed from.
    fn prepare_body(text: &str) -> Prepared {
        let body = Bytes::from(text.to_owned());
        let envelope = parse_envelope(body.clone()).expect("valid envelope");
        prepare(envelope, Some(body))
    }

    #[test]
    fn invalid_event_is_dropped_and_named_the_rest_kept() {
        let prepared = prepare_body(
            "{}\n{\"type\":\"event\"}\n[1]\n{\"type\":\"session\"}\n{\"sid\":\"x\"}\n",
        );
        assert_eq!(prepared.invalid.len(), 1);
        assert_eq!(prepared.envelope.items.len(), 1);
        assert_eq!(prepared.envelope.items[0].ty(), ItemType::Session);
    }

    #[test]
    fn event_id_comes_from_header_then_payload_then_is_made() {
        let from_header = prepare_body(
            "{\"event_id\":\"9ec79c33-ec99-42ab-8353-589fcb2e04dc\"}\n{\"type\":\"event\"}\n{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n",
        );
        assert_eq!(
            from_header.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        let from_payload = prepare_body(
            "{}\n{\"type\":\"event\"}\n{\"event_id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\n",
        );
        assert_eq!(
            from_payload.event_id.as_deref(),
            Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
        let made = prepare_body("{}\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n");
        let id = made.event_id.expect("an id is made");
        assert_eq!(
            made.envelope.event_id().as_deref(),
            Some(id.as_str()),
            "and written into the header"
        );
        let none = prepare_body("{}\n{\"type\":\"client_report\"}\n{}\n");
        assert_eq!(none.event_id, None);
    }

    /// `levels` nested arrays inside an event object (which is one level itself).
    fn nested(levels: usize) -> String {
        format!("{{\"x\":{}1{}}}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn nesting_limit_ignores_brackets_in_strings() {
        let prepared = prepare_body(&format!(
            "{{}}\n{{\"type\":\"event\"}}\n{{\"a\": \"{}\\\"{}\"}}\n",
            "[".repeat(200),
            "{".repeat(200)
        ));
        assert!(prepared.invalid.is_empty(), "{:?}", prepared.invalid);
        let deep = nested(200);
        let prepared = prepare_body(&format!("{{}}\n{{\"type\":\"event\"}}\n{deep}\n"));
        assert_eq!(prepared.invalid.len(), 1, "as deep as a full parse refuses");
    }

    #[test]
    fn deep_nesting_is_refused_exactly_where_a_full_parse_refuses_it() {
        let mut accepted = Vec::new();
        for levels in 120..=135 {
            let payload = Bytes::from(nested(levels));
            let full = serde_json::from_slice::<Value>(&payload).is_ok();
            assert_eq!(validate_event_payload(&payload).is_ok(), full, "{levels}");
            if full {
                accepted.push(levels);
            }
        }
        // serde_json's limit lies inside the range, so both answers were checked.
        assert!(accepted.contains(&120) && !accepted.contains(&135));
    }

    /// Payloads on which a one-pass check could disagree with a full parse.
    const EDGE_PAYLOADS: &[&[u8]] = &[
        br#"{"event_id":"AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA"}"#,
        br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","event_id":"not a uuid"}"#,
        br#"{"event_id":"not a uuid","event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}"#,
        br#"{"event\u005fid":"9ec79c33ec9942ab8353589fcb2e04dc"}"#,
        br#"{"event_id":{"deep":[[[{"a":"9ec79c33ec9942ab8353589fcb2e04dc"}]]]}}"#,
        br#"{"event_id":7,"message":"x"}"#,
        br#"{"event_id":null}"#,
        br#"{"a":"\"[[","b":[1,-2,3.5e10,true,false,null,{}]}"#,
        b"  {\"a\":1}  \n",
        br#"{"a":1} x"#,
        br#"{"a":1}{"b":2}"#,
        br#"{"a":1e400}"#,
        br#"{"a":-1e400}"#,
        br#"{"a":18446744073709551616}"#,
        br#"{"a":01}"#,
        br#"{"a":"\ud800"}"#,
        br#"{"a":"\ud83d\ude00"}"#,
        br#"{"a":"\x"}"#,
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"tab\there\"}",
        br#"{"a":1,}"#,
        br#"{"a" 1}"#,
        br#"{"a":[1,]}"#,
        br#"{"a":tru}"#,
        br#"[{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}]"#,
        br#""{}""#,
        b"",
        b"   ",
        b"{",
    ];

    #[test]
    fn one_pass_check_answers_as_a_full_parse() {
        for payload in EDGE_PAYLOADS {
            let full = serde_json::from_slice::<Value>(payload)
                .ok()
                .filter(Value::is_object);
            let scanned = scan_event_json(payload);
            let shown = String::from_utf8_lossy(payload);
            assert_eq!(scanned.is_some(), full.is_some(), "{shown}");
            if let (Some(id), Some(full)) = (scanned, &full) {
                assert_eq!(id, id_of(full.get("event_id")), "{shown}");
            }
            // And the accept side's answer is the full parse's (NaN repair aside).
            let checked = validate_event_payload(&Bytes::copy_from_slice(payload));
            assert_eq!(checked.is_ok(), full.is_some(), "{shown}");
            if let (Ok((repaired, id)), Some(full)) = (checked, full) {
                assert_eq!(repaired, None, "{shown}: valid payloads are queued as sent");
                assert_eq!(id, id_of(full.get("event_id")), "{shown}");
            }
        }
    }

    #[test]
    fn nan_payload_is_repaired_before_queueing() {
        let prepared = prepare_body("{}\n{\"type\":\"event\"}\n{\"extra\":{\"x\":NaN}}\n");
        assert!(prepared.invalid.is_empty());
        let value: Value =
            serde_json::from_slice(&prepared.envelope.items[0].payload).expect("valid JSON now");
        assert_eq!(value["extra"]["x"], Value::Null);
    }

    /// What a worker reads back from the queued bytes.
    fn queued(prepared: Prepared) -> Envelope {
        parse_envelope(Bytes::from(prepared.into_queue_body())).expect("queued body parses")
    }

    #[test]
    fn unchanged_envelope_is_queued_as_received() {
        let text = "{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}\n\
                    {\"type\":\"event\",\"length\":15}\n{\"message\":\"x\"}\n\
                    {\"type\":\"session\"}\n{\"sid\":\"s\"}\n";
        let prepared = prepare_body(text);
        assert!(prepared.queues_body_as_received());
        let items = prepared.envelope.items.clone();
        let event_id = prepared.event_id.clone();
        let body = prepared.into_queue_body();
        assert_eq!(body, text.as_bytes());
        let read_back = parse_envelope(Bytes::from(body)).expect("parses");
        assert_eq!(read_back.items, items);
        assert_eq!(
            read_back.event_id(),
            event_id,
            "the same id, however spelled"
        );
    }

    #[test]
    fn changed_envelope_is_serialized_again() {
        let id = "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}";
        let cases = [
            // An invalid event dropped.
            format!("{id}\n{{\"type\":\"event\"}}\n[1]\n{{\"type\":\"session\"}}\n{{}}\n"),
            // A payload repaired.
            format!("{id}\n{{\"type\":\"event\"}}\n{{\"x\":NaN}}\n"),
            // An event id made up.
            "{}\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n".to_owned(),
            // An event id taken from the payload.
            "{}\n{\"type\":\"event\"}\n{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n"
                .to_owned(),
        ];
        for text in cases {
            let prepared = prepare_body(&text);
            assert!(!prepared.queues_body_as_received(), "{text}");
            let expected = prepared.envelope.to_vec();
            let event_id = prepared.event_id.clone();
            assert_eq!(prepared.into_queue_body(), expected, "{text}");
            let read_back = parse_envelope(Bytes::from(expected)).expect("parses");
            assert_eq!(read_back.event_id(), event_id, "{text}");
        }
    }

    #[test]
    fn events_dropped_over_a_rate_limit_are_not_queued() {
        let mut prepared = prepare_body(
            "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{}\n\
             {\"type\":\"attachment\"}\nabc\n",
        );
        assert!(prepared.queues_body_as_received());
        prepared.drop_items(|ty| ty == ItemType::Event);
        assert!(!prepared.queues_body_as_received());
        let read_back = queued(prepared);
        assert_eq!(read_back.items.len(), 1);
        assert_eq!(read_back.items[0].ty(), ItemType::Attachment);
        // Nothing to drop: still as received.
        let mut sessions = prepare_body("{}\n{\"type\":\"session\"}\n{}\n");
        sessions.drop_items(|ty| ty == ItemType::Event);
        assert!(sessions.queues_body_as_received());
    }

    #[test]
    fn envelope_without_a_body_is_serialized() {
        let envelope = parse_envelope(Bytes::from_static(b"{}\n{\"type\":\"session\"}\n{}\n"))
            .expect("valid envelope");
        let prepared = prepare(envelope, None);
        assert!(!prepared.queues_body_as_received());
        assert_eq!(queued(prepared).items.len(), 1);
    }
}
