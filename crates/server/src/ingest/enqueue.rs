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
use vigil_store::QueuedEnvelope;

use super::error::IngestError;
use crate::event_json::{parse_event_json, scan_event_json};
use crate::metrics::Metrics;
use crate::AppState;

/// An envelope ready to be queued.
#[derive(Debug)]
pub struct Prepared {
    pub envelope: Envelope,
    /// The id to answer with, when the envelope carries an event.
    pub event_id: Option<String>,
    /// One line per item dropped as invalid.
    pub invalid: Vec<String>,
}

/// Drops event items whose payload is not a JSON object (repairing the `NaN` tokens of old
/// Python clients) and settles the envelope's event id: the header's, else the event's, else a
/// new one.
pub fn prepare(mut envelope: Envelope) -> Prepared {
    let mut invalid = Vec::new();
    let mut payload_event_id = None;
    envelope.items.retain_mut(|item| {
        if !matches!(item.ty(), ItemType::Event) {
            return true;
        }
        match validate_event_payload(&item.payload) {
            Ok((repaired, id)) => {
                if let Some(repaired) = repaired {
                    item.payload = repaired;
                    item.headers.remove("length");
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
    let event_id = if envelope.requires_event_id() {
        Some(header_id.or(payload_event_id).unwrap_or_else(new_event_id))
    } else {
        header_id
    };
    if let Some(id) = &event_id {
        envelope
            .headers
            .insert("event_id".into(), Value::String(id.clone()));
    }
    Prepared {
        envelope,
        event_id,
        invalid,
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
    prepared: &Prepared,
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
        return Err(IngestError::Overloaded);
    }
    let body = prepared.envelope.to_vec();
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
    let events = prepared
        .envelope
        .items
        .iter()
        .filter(|i| matches!(i.ty(), ItemType::Event))
        .count();
    Metrics::inc(&state.metrics.envelopes_accepted, 1);
    Metrics::inc(&state.metrics.events_accepted, events as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::envelope::parse_envelope;

    fn parse(text: &str) -> Envelope {
        parse_envelope(Bytes::from(text.to_owned())).expect("valid envelope")
    }

    #[test]
    fn invalid_event_is_dropped_and_named_the_rest_kept() {
        let prepared = prepare(parse(
            "{}\n{\"type\":\"event\"}\n[1]\n{\"type\":\"session\"}\n{\"sid\":\"x\"}\n",
        ));
        assert_eq!(prepared.invalid.len(), 1);
        assert_eq!(prepared.envelope.items.len(), 1);
        assert_eq!(prepared.envelope.items[0].ty(), ItemType::Session);
    }

    #[test]
    fn event_id_comes_from_header_then_payload_then_is_made() {
        let from_header = prepare(parse(
            "{\"event_id\":\"9ec79c33-ec99-42ab-8353-589fcb2e04dc\"}\n{\"type\":\"event\"}\n{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n",
        ));
        assert_eq!(
            from_header.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        let from_payload = prepare(parse(
            "{}\n{\"type\":\"event\"}\n{\"event_id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\n",
        ));
        assert_eq!(
            from_payload.event_id.as_deref(),
            Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
        let made = prepare(parse("{}\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n"));
        let id = made.event_id.expect("an id is made");
        assert_eq!(
            made.envelope.event_id().as_deref(),
            Some(id.as_str()),
            "and written into the header"
        );
        let none = prepare(parse("{}\n{\"type\":\"client_report\"}\n{}\n"));
        assert_eq!(none.event_id, None);
    }

    /// `levels` nested arrays inside an event object (which is one level itself).
    fn nested(levels: usize) -> String {
        format!("{{\"x\":{}1{}}}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn nesting_limit_ignores_brackets_in_strings() {
        let prepared = prepare(parse(&format!(
            "{{}}\n{{\"type\":\"event\"}}\n{{\"a\": \"{}\\\"{}\"}}\n",
            "[".repeat(200),
            "{".repeat(200)
        )));
        assert!(prepared.invalid.is_empty(), "{:?}", prepared.invalid);
        let deep = nested(200);
        let prepared = prepare(parse(&format!("{{}}\n{{\"type\":\"event\"}}\n{deep}\n")));
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
        let prepared = prepare(parse("{}\n{\"type\":\"event\"}\n{\"extra\":{\"x\":NaN}}\n"));
        assert!(prepared.invalid.is_empty());
        let value: Value =
            serde_json::from_slice(&prepared.envelope.items[0].payload).expect("valid JSON now");
        assert_eq!(value["extra"]["x"], Value::Null);
    }
}
