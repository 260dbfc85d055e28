//! Every envelope a real SDK sent (shared/fixtures/sdk-payloads) parses into the items the
//! capture README lists, with payloads that are exactly the bytes the SDK meant.

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::Value;
use vigil_protocol::dsn::Dsn;
use vigil_protocol::envelope::{parse_envelope, Envelope, ItemType};
use vigil_protocol::ids::normalize_uuid;

use common::{envelope_fixtures, EnvelopeFixture};

/// Item types per request, in body order (the README's scenario table, one row per request).
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "browser-uncaught-error/001-post-api-42-envelope",
        &["session"],
    ),
    (
        "browser-uncaught-error/002-post-api-42-envelope",
        &["event"],
    ),
    (
        "browser-uncaught-error/003-post-api-42-envelope",
        &["session"],
    ),
    ("browser-uncaught-error/004-post-api-42-envelope", &["span"]),
    ("browser-uncaught-error/005-post-api-42-envelope", &["span"]),
    ("celery-task-failure/001-post-api-42-envelope", &["event"]),
    (
        "celery-task-failure/002-post-api-42-envelope",
        &["transaction"],
    ),
    (
        "django-db-nplus1/001-post-api-42-envelope",
        &["transaction"],
    ),
    ("django-db-nplus1/002-post-api-42-envelope", &["sessions"]),
    ("django-zerodivision/001-post-api-42-envelope", &["event"]),
    (
        "django-zerodivision/002-post-api-42-envelope",
        &["transaction"],
    ),
    (
        "django-zerodivision/003-post-api-42-envelope",
        &["sessions"],
    ),
    ("node-error/001-post-api-42-envelope", &["session"]),
    ("node-error/002-post-api-42-envelope", &["event"]),
    ("node-feedback/001-post-api-42-envelope", &["feedback"]),
    ("node-feedback/002-post-api-42-envelope", &["session"]),
    ("node-feedback/003-post-api-42-envelope", &["event"]),
    (
        "node-http-server-error/001-post-api-42-envelope",
        &["client_report"],
    ),
    (
        "node-http-server-error/002-post-api-42-envelope",
        &["sessions"],
    ),
    ("node-http-server-error/003-post-api-42-envelope", &["span"]),
    (
        "node-http-server-error/004-post-api-42-envelope",
        &["event"],
    ),
    ("node-message/001-post-api-42-envelope", &["session"]),
    ("node-message/002-post-api-42-envelope", &["event"]),
    ("node-transaction/001-post-api-42-envelope", &["span"]),
    (
        "node-tunnel-envelope-dsn/001-post-api-42-envelope",
        &["session"],
    ),
    (
        "node-tunnel-envelope-dsn/002-post-api-42-envelope",
        &["event"],
    ),
    (
        "node-uncaught-exception/001-post-api-42-envelope",
        &["event"],
    ),
    (
        "node-uncaught-exception/002-post-api-42-envelope",
        &["session"],
    ),
    (
        "python-attachment/001-post-api-42-envelope",
        &["event", "attachment"],
    ),
    (
        "python-breadcrumbs-user-tags/001-post-api-42-envelope",
        &["event"],
    ),
    (
        "python-capture-message/001-post-api-42-envelope",
        &["event"],
    ),
    (
        "python-chained-exception/001-post-api-42-envelope",
        &["event"],
    ),
    (
        "python-client-report/001-post-api-42-envelope",
        &["client_report"],
    ),
    (
        "python-cron-checkin/001-post-api-42-envelope",
        &["check_in"],
    ),
    (
        "python-cron-checkin/002-post-api-42-envelope",
        &["check_in"],
    ),
    (
        "python-custom-fingerprint/001-post-api-42-envelope",
        &["event"],
    ),
    (
        "python-logging-message/001-post-api-42-envelope",
        &["event"],
    ),
    ("python-logs/001-post-api-42-envelope", &["event"]),
    ("python-logs/002-post-api-42-envelope", &["log"]),
    (
        "python-profile/001-post-api-42-envelope",
        &["profile", "transaction"],
    ),
    ("python-session-crash/001-post-api-42-envelope", &["event"]),
    (
        "python-session-crash/002-post-api-42-envelope",
        &["session"],
    ),
    (
        "python-transaction-manual/001-post-api-42-envelope",
        &["transaction"],
    ),
    ("python-user-feedback/001-post-api-42-envelope", &["event"]),
    (
        "python-user-feedback/002-post-api-42-envelope",
        &["user_report"],
    ),
    ("rust-error/001-post-api-42-envelope", &["event"]),
    ("rust-panic/001-post-api-42-envelope", &["event"]),
    ("sentry-cli-send-event/001-post-api-42-envelope", &["event"]),
];

const FIXTURE_KEY: &str = "0123456789abcdef0123456789abcdef";

fn parsed() -> Vec<(EnvelopeFixture, Envelope)> {
    envelope_fixtures()
        .into_iter()
        .map(|fixture| {
            let envelope = parse_envelope(fixture.body.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
            (fixture, envelope)
        })
        .collect()
}

fn find<'a>(all: &'a [(EnvelopeFixture, Envelope)], name: &str) -> &'a Envelope {
    all.iter()
        .find(|(fixture, _)| fixture.name == name)
        .map(|(_, envelope)| envelope)
        .unwrap_or_else(|| panic!("fixture {name} not found"))
}

#[test]
fn every_fixture_envelope_has_the_documented_item_types() {
    let all = parsed();
    let found: BTreeSet<&str> = all.iter().map(|(f, _)| f.name.as_str()).collect();
    for (name, _) in EXPECTED {
        assert!(found.contains(name), "fixture {name} is missing");
    }
    for (fixture, envelope) in &all {
        let types: Vec<ItemType> = envelope.items.iter().map(|item| item.ty()).collect();
        // A fixture added after this table must still parse, into known item types.
        let Some((_, expected)) = EXPECTED.iter().find(|(name, _)| *name == fixture.name) else {
            assert!(
                types.iter().all(|ty| !matches!(ty, ItemType::Unknown(_))),
                "{}: {types:?}",
                fixture.name
            );
            continue;
        };
        let expected: Vec<ItemType> = expected.iter().map(|name| ItemType::from(*name)).collect();
        assert_eq!(types, expected, "{}", fixture.name);
    }
}

#[test]
fn every_fixture_payload_is_what_its_headers_promise() {
    for (fixture, envelope) in parsed() {
        for item in &envelope.items {
            let ty = item.ty();
            if let Some(length) = item.headers.get("length").and_then(Value::as_u64) {
                assert_eq!(item.payload.len() as u64, length, "{} {ty}", fixture.name);
            }
            if ty == ItemType::Attachment {
                continue;
            }
            // Every other item type in the captures is one JSON object; a payload cut at the
            // wrong place would not parse.
            let payload: Value = serde_json::from_slice(&item.payload)
                .unwrap_or_else(|e| panic!("{} {ty}: payload is not JSON: {e}", fixture.name));
            assert!(payload.is_object(), "{} {ty}", fixture.name);
            if let Some(count) = item.item_count() {
                let items = payload["items"].as_array().map_or(0, Vec::len);
                assert_eq!(items as u64, count, "{} {ty}: item_count", fixture.name);
            }
        }
    }
}

#[test]
fn fixture_event_ids_match_their_payloads() {
    // Rule 7: the Rust SDK and sentry-cli send a hyphenated header id and a simple payload id.
    let mut compared = 0;
    for (fixture, envelope) in parsed() {
        let Some(header_id) = envelope.event_id() else {
            continue;
        };
        for item in &envelope.items {
            if !matches!(
                item.ty(),
                ItemType::Event | ItemType::Transaction | ItemType::Feedback
            ) {
                continue;
            }
            let payload: Value = serde_json::from_slice(&item.payload).unwrap_or_default();
            if let Some(payload_id) = payload["event_id"].as_str() {
                assert_eq!(
                    normalize_uuid(payload_id).as_ref(),
                    Some(&header_id),
                    "{}",
                    fixture.name
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "only {compared} event ids compared");
}

#[test]
fn dashed_header_event_ids_are_normalized() {
    let all = parsed();
    for (name, id) in [
        (
            "rust-error/001-post-api-42-envelope",
            "4f4d6282ef2f4fe79487094e61e020a6",
        ),
        (
            "sentry-cli-send-event/001-post-api-42-envelope",
            "ce846a2250224fb4bf5088dd21429c88",
        ),
    ] {
        assert_eq!(find(&all, name).event_id().as_deref(), Some(id), "{name}");
    }
}

#[test]
fn fixture_sent_at_is_read_from_both_sdk_spellings() {
    let all = parsed();
    // JS: milliseconds; Python: microseconds.
    let js = find(&all, "browser-uncaught-error/001-post-api-42-envelope");
    let python = find(&all, "celery-task-failure/001-post-api-42-envelope");
    let js_sent = js.sent_at().expect("JS envelope has sent_at");
    let python_sent = python.sent_at().expect("Python envelope has sent_at");
    assert!((js_sent - 1_795_574_486.483).abs() < 1e-3, "{js_sent}");
    assert!(
        (python_sent - 1_795_574_453.070_522).abs() < 1e-5,
        "{python_sent}"
    );
}

#[test]
fn tunnel_fixture_authenticates_with_envelope_dsn() {
    let all = parsed();
    for name in [
        "node-tunnel-envelope-dsn/001-post-api-42-envelope",
        "node-tunnel-envelope-dsn/002-post-api-42-envelope",
    ] {
        let dsn: Dsn = find(&all, name)
            .dsn()
            .expect("tunnel envelope has dsn")
            .parse()
            .unwrap();
        assert_eq!(dsn.public_key, FIXTURE_KEY);
        assert_eq!(dsn.numeric_project_id(), Some(42));
    }
}

#[test]
fn python_attachment_keeps_its_headers_and_bytes() {
    let all = parsed();
    let envelope = find(&all, "python-attachment/001-post-api-42-envelope");
    let attachment = &envelope.items[1];
    assert_eq!(attachment.filename(), Some("order.csv"));
    assert_eq!(attachment.content_type(), Some("text/csv"));
    assert_eq!(attachment.payload.len(), 26);
    assert!(
        attachment.payload.ends_with(b"\n"),
        "the CSV's own newline belongs to the payload"
    );
}

#[test]
fn python_logs_container_has_item_count() {
    let all = parsed();
    let log = &find(&all, "python-logs/002-post-api-42-envelope").items[0];
    assert_eq!(log.ty(), ItemType::Log);
    assert_eq!(log.item_count(), Some(3));
    assert_eq!(
        log.content_type(),
        Some("application/vnd.sentry.items.log+json")
    );
}

#[test]
fn reserialized_fixtures_parse_to_the_same_items() {
    for (fixture, envelope) in parsed() {
        let again = parse_envelope(Bytes::from(envelope.to_vec()))
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        assert_eq!(again.headers, envelope.headers, "{}", fixture.name);
        assert_eq!(again.items.len(), envelope.items.len(), "{}", fixture.name);
        for (a, b) in again.items.iter().zip(&envelope.items) {
            assert_eq!(a.payload, b.payload, "{}", fixture.name);
            assert_eq!(a.ty(), b.ty(), "{}", fixture.name);
        }
    }
}
