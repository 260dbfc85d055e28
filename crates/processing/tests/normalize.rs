//! Normalization of the real SDK requests in `fixtures/sdk-payloads/`, plus the rules that the
//! fixtures do not exercise (clock drift, numeric levels, tag pairs, `{{auto}}`, garbage).
//!
//! Each `event`, `transaction` and `feedback` item of every captured envelope (and each raven
//! `/store/` body) is normalized with the context the server would give it and snapshotted
//! together with the tags derived from it. The snapshots are the specification: review them
//! like code.
//!
//! The fixtures live outside the workspace (`/work/shared/fixtures/sdk-payloads` next to the
//! checkout); set `VIGIL_FIXTURES_DIR` to point elsewhere.

mod common;

use serde_json::{json, Value};
use vigil_processing::json::{Json, Object};
use vigil_processing::normalize::{normalize_event, NormalizeContext, NormalizeError};
use vigil_processing::tags;

use common::fixture_events;

/// Everything a snapshot shows about one event: the normalized event and what is derived from
/// it for storage and search.
fn snapshot_of(event: &Value) -> Value {
    let tree = Json::from(event.clone());
    json!({
        "event": event,
        "tags": tags::derive_tags(&tree),
        "user_tag": tags::user_tag(&tree),
        "search_text": tags::search_text(&tree),
        "is_unhandled": tags::is_unhandled(&tree),
    })
}

#[test]
fn fixture_events_normalize_as_snapshotted() {
    let events = fixture_events();
    assert!(
        events.len() >= 25,
        "expected every fixture event, found {}",
        events.len()
    );
    for (name, bytes, ctx) in events {
        let raw = Json::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event = normalize_event(raw, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_json_snapshot!(name, snapshot_of(&event.to_value()));
    }
}

#[test]
fn fixture_events_need_no_repairs() {
    // Real SDKs send valid events: a repair note on one would mean a rule is wrong.
    for (name, bytes, ctx) in fixture_events() {
        let raw = Json::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event = normalize_event(raw, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.get("errors"), None, "{name}");
    }
}

#[test]
fn normalizing_twice_changes_nothing() {
    for (name, bytes, ctx) in fixture_events() {
        let raw = Json::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let once = normalize_event(raw, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again_ctx = NormalizeContext {
            sent_at: None,
            envelope_event_id: None,
            ..ctx
        };
        let twice =
            normalize_event(once.clone(), &again_ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(once, twice, "{name}");
    }
}

fn ctx(received: f64) -> NormalizeContext {
    NormalizeContext {
        received,
        ..NormalizeContext::default()
    }
}

/// The normalized event as `Value`, for comparing with `json!` literals.
fn normalize(raw: impl Into<Json<'static>>, ctx: &NormalizeContext) -> Value {
    normalize_event(raw.into(), ctx)
        .map(|event| event.to_value())
        .unwrap_or_else(|e| panic!("normalization failed: {e}"))
}

#[test]
fn three_days_of_drift_keep_and_shift_the_event() {
    let day = 86_400.0;
    let sent_at = 1_795_574_443.0;
    let raw = json!({
        "event_id": "cf0f148eb192471caf12ee2245752600",
        "timestamp": "2026-11-25T02:40:43.024442Z",
        "breadcrumbs": [{"timestamp": 1_795_574_443.023_421, "message": "m"}]
    });
    let c = NormalizeContext {
        sent_at: Some(sent_at),
        ..ctx(sent_at + 3.0 * day)
    };
    let event = normalize(raw, &c);
    assert_eq!(event["timestamp"], json!(1_795_574_443.024_442 + 3.0 * day));
    assert_eq!(
        event["breadcrumbs"]["values"][0]["timestamp"],
        json!(1_795_833_643.023_421)
    );
    assert_eq!(event["received"], json!(sent_at + 3.0 * day));
    assert_eq!(event["errors"][0]["type"], json!("clock_drift"));
}

#[test]
fn numeric_levels_are_python_logging_levels() {
    for (level, expected) in [
        (10, "debug"),
        (20, "info"),
        (30, "warning"),
        (40, "error"),
        (50, "fatal"),
    ] {
        let event = normalize(json!({ "level": level }), &ctx(1.0));
        assert_eq!(event["level"], json!(expected));
    }
    let event = normalize(json!({"level": 41}), &ctx(1.0));
    assert_eq!(event["level"], json!("error"));
    assert_eq!(
        event["errors"],
        json!([{"type": "invalid_data", "name": "level", "value": 41}])
    );
}

#[test]
fn tags_as_pairs_are_cleaned() {
    let event = normalize(
        json!({"tags": [["a", "1"], ["a", "2"], ["release", "x"], ["n", 5], ["environment", "staging"]]}),
        &ctx(1.0),
    );
    assert_eq!(event["tags"], json!([["a", "1"], ["n", "5"]]));
    assert_eq!(event["environment"], json!("staging"));
}

#[test]
fn auto_ip_is_the_client_address() {
    let c = NormalizeContext {
        client_ip: Some("203.0.113.9".into()),
        ..ctx(1.0)
    };
    let event = normalize(
        json!({"user": {"ip_address": "{{auto}}"}, "request": {"env": {"REMOTE_ADDR": "{{auto}}"}}}),
        &c,
    );
    assert_eq!(event["user"]["ip_address"], json!("203.0.113.9"));
    assert_eq!(event["request"]["env"]["REMOTE_ADDR"], json!("203.0.113.9"));
    assert_eq!(
        tags::user_tag(&Json::from(event.clone())).as_deref(),
        Some("ip:203.0.113.9")
    );
}

#[test]
fn invalid_transactions_are_refused() {
    let raw = json!({"type": "transaction", "start_timestamp": 20.0, "timestamp": 10.0});
    assert!(matches!(
        normalize_event(Json::from(raw), &ctx(30.0)),
        Err(NormalizeError::InvalidTransaction(_))
    ));
}

/// A value nested `depth` levels deep. Built fresh for every use and only ever moved: cloning
/// it, dropping it, or passing it through `json!` (which serializes its arguments) would itself
/// overflow the stack with `serde_json`'s recursive code.
fn deep(depth: usize, in_object: bool) -> Json<'static> {
    let mut v = Json::from("bottom");
    for _ in 0..depth {
        v = if in_object {
            obj(vec![("k", v)])
        } else {
            Json::Array(vec![v])
        };
    }
    v
}

/// An object built by moving its values in (unlike `json!`, which copies them recursively).
fn obj(entries: Vec<(&str, Json<'static>)>) -> Json<'static> {
    Json::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn arr(items: Vec<Json<'static>>) -> Json<'static> {
    Json::Array(items)
}

/// Garbage of every JSON type, including 10 000-level nests.
fn garbage() -> Vec<Json<'static>> {
    vec![
        Json::Null,
        Json::from(json!(true)),
        Json::from(json!(-1)),
        Json::from(json!(1.5e300)),
        Json::from(json!("garbage")),
        Json::from(json!("")),
        Json::from(json!([])),
        Json::from(json!({})),
        Json::from(json!([null, 1, "x", [], {}])),
        Json::from(json!({"values": null, "frames": "x", "type": [], "value": {}})),
        deep(10_000, false),
        deep(10_000, true),
    ]
}

const FIELDS: &[&str] = &[
    "event_id",
    "timestamp",
    "start_timestamp",
    "type",
    "level",
    "platform",
    "logger",
    "release",
    "dist",
    "environment",
    "transaction",
    "server_name",
    "site",
    "tags",
    "extra",
    "modules",
    "fingerprint",
    "message",
    "logentry",
    "exception",
    "stacktrace",
    "threads",
    "breadcrumbs",
    "user",
    "request",
    "contexts",
    "sdk",
    "measurements",
    "spans",
    "culprit",
    "time_spent",
    "sentry.interfaces.Exception",
    "sentry.interfaces.Message",
    "unknown_field",
];

#[test]
fn garbage_in_any_field_never_panics() {
    for field in FIELDS {
        for value in garbage() {
            let mut raw = Object::new();
            raw.insert(*field, value);
            let c = NormalizeContext {
                client_ip: Some("not an ip".into()),
                sent_at: Some(f64::NAN),
                ..ctx(1e9)
            };
            if let Ok(event) = normalize_event(Json::Object(raw), &c) {
                // The result must be storable and readable back.
                let text = serde_json::to_string(&event).unwrap_or_default();
                assert!(serde_json::from_str::<Value>(&text).is_ok(), "{field}");
                let _ = tags::derive_tags(&event);
                let _ = tags::search_text(&event);
            }
        }
    }
}

/// Places inside interfaces where a garbage value is put.
fn garbage_places() -> Vec<fn(Json<'static>) -> Json<'static>> {
    vec![
        |v| obj(vec![("exception", obj(vec![("values", arr(vec![v]))]))]),
        |v| {
            let exception = obj(vec![
                ("type", Json::from(json!("E"))),
                ("mechanism", v),
                ("stacktrace", Json::from(json!({"frames": [1]}))),
            ]);
            obj(vec![(
                "exception",
                obj(vec![("values", arr(vec![exception]))]),
            )])
        },
        |v| {
            let frame = obj(vec![("vars", v), ("function", Json::from(json!("f")))]);
            let exception = obj(vec![
                ("type", Json::from(json!("E"))),
                ("stacktrace", obj(vec![("frames", arr(vec![frame]))])),
            ]);
            obj(vec![("exception", arr(vec![exception]))])
        },
        |v| {
            obj(vec![(
                "breadcrumbs",
                arr(vec![obj(vec![
                    ("data", v),
                    ("level", Json::from(json!(10))),
                ])]),
            )])
        },
        |v| {
            obj(vec![(
                "logentry",
                obj(vec![("message", Json::from(json!("%s %s"))), ("params", v)]),
            )])
        },
        |v| {
            obj(vec![(
                "request",
                obj(vec![
                    ("headers", v),
                    ("url", Json::from(json!("http://x/?a=1"))),
                ]),
            )])
        },
        |v| {
            obj(vec![(
                "request",
                obj(vec![("data", v), ("cookies", Json::from(json!("a=b")))]),
            )])
        },
        |v| {
            obj(vec![(
                "request",
                obj(vec![("env", obj(vec![("REMOTE_ADDR", v)]))]),
            )])
        },
        |v| {
            obj(vec![(
                "user",
                obj(vec![
                    ("data", v),
                    ("id", Json::from(json!(1))),
                    ("ip_address", Json::from(json!("{{auto}}"))),
                ]),
            )])
        },
        |v| {
            obj(vec![(
                "contexts",
                obj(vec![("trace", v), ("os", Json::from(json!({"name": [1]})))]),
            )])
        },
        |v| {
            obj(vec![(
                "contexts",
                obj(vec![("browser", obj(vec![("name", v)]))]),
            )])
        },
        |v| {
            obj(vec![
                ("type", Json::from(json!("transaction"))),
                ("start_timestamp", Json::from(json!(1.0))),
                ("timestamp", Json::from(json!(2.0))),
                ("spans", arr(vec![v])),
                ("measurements", Json::from(json!({"lcp": {"value": "x"}}))),
            ])
        },
        |v| obj(vec![("extra", obj(vec![("a", v)]))]),
        |v| {
            obj(vec![(
                "tags",
                arr(vec![arr(vec![Json::from(json!("k")), v])]),
            )])
        },
        |v| obj(vec![("fingerprint", arr(vec![v]))]),
    ]
}

#[test]
fn garbage_inside_interfaces_never_panics() {
    for place in garbage_places() {
        for value in garbage() {
            if let Ok(event) = normalize_event(place(value), &ctx(10.0)) {
                let text = serde_json::to_string(&event).unwrap_or_default();
                assert!(serde_json::from_str::<Value>(&text).is_ok());
                let _ = tags::derive_tags(&event);
                let _ = tags::is_unhandled(&event);
            }
        }
    }
}

#[test]
fn deep_nesting_is_cut_and_noted() {
    let raw = obj(vec![
        ("extra", obj(vec![("deep", deep(10_000, false))])),
        ("my_field", deep(10_000, true)),
    ]);
    let event = normalize(raw, &ctx(1.0));
    let text = serde_json::to_string(&event).unwrap_or_default();
    assert!(serde_json::from_str::<Value>(&text).is_ok());
    assert!(event["errors"].as_array().is_some_and(|e| !e.is_empty()));
}
