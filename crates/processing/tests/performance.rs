//! Transactions and spans into the performance model, and the N+1 / slow query detectors:
//! over every `transaction` and `span` item of the real SDK captures in
//! `fixtures/sdk-payloads/`, and over synthetic transactions for the rules the fixtures do not
//! reach (thresholds, grouping of SQL and URLs, streamed spans without their segment).
//!
//! The fixtures live outside the workspace (`/work/shared/fixtures/sdk-payloads` next to the
//! checkout); set `VIGIL_FIXTURES_DIR` to point elsewhere.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use vigil_model::{NewSpan, NewTransaction};
use vigil_processing::json::Json;
use vigil_processing::normalize::NormalizeContext;
use vigil_processing::performance::{
    detect_problems, process_span_item, process_transaction, span_group, ProcessedSpans, Thresholds,
};
use vigil_processing::ProcessingError;

use common::{dir_name, item_context, parse_envelope, request_dirs, Captured};

/// The project every item here is processed for.
const PROJECT_ID: i64 = 7;

/// One performance item of a captured envelope.
struct FixtureItem {
    name: String,
    ty: String,
    content_type: Option<String>,
    envelope_trace: Option<Value>,
    payload: Vec<u8>,
    ctx: NormalizeContext,
}

impl FixtureItem {
    fn process(&self) -> ProcessedSpans {
        self.process_with(&Thresholds::default())
    }

    fn process_with(&self, thresholds: &Thresholds) -> ProcessedSpans {
        match self.ty.as_str() {
            "transaction" => {
                let raw = Json::parse(&self.payload).expect("payload is JSON");
                process_transaction(raw, PROJECT_ID, &self.ctx, thresholds)
                    .unwrap_or_else(|e| panic!("{}: {e}", self.name))
                    .kept()
                    .unwrap_or_else(|| panic!("{}: filtered with the default filters", self.name))
            }
            _ => process_span_item(
                &self.payload,
                self.content_type.as_deref(),
                self.envelope_trace.as_ref(),
                PROJECT_ID,
                &self.ctx,
                thresholds,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", self.name)),
        }
    }
}

/// Every `transaction` and `span` item in the fixtures, with the context the server would
/// give it (received one second after the SDK's `sent_at`).
fn fixture_items() -> Vec<FixtureItem> {
    let mut out = Vec::new();
    let envelopes = request_dirs()
        .into_iter()
        .filter(|dir| dir_name(dir).ends_with("-envelope"));
    for dir in envelopes {
        let (header, items) = parse_envelope(&Captured::read(&dir).body);
        let sent_at = header
            .get("sent_at")
            .and_then(vigil_protocol::timestamp::parse_timestamp);
        for (i, (item_header, payload)) in items.into_iter().enumerate() {
            let ty = item_header["type"].as_str().unwrap_or_default().to_owned();
            if ty != "transaction" && ty != "span" {
                continue;
            }
            let received = sent_at.expect("envelopes with spans carry sent_at") + 1.0;
            out.push(FixtureItem {
                name: format!("{}/{i}", dir.display()),
                ty,
                content_type: item_header["content_type"].as_str().map(str::to_owned),
                envelope_trace: header.get("trace").cloned(),
                payload,
                ctx: item_context(&header, received, sent_at, NormalizeContext::default()),
            });
        }
    }
    out
}

fn fixture(scenario: &str) -> FixtureItem {
    fixture_items()
        .into_iter()
        .find(|item| item.name.contains(&format!("/{scenario}/")))
        .unwrap_or_else(|| panic!("no performance item in {scenario}"))
}

/// The first span of `out` with this op.
fn span_with_op<'a>(out: &'a ProcessedSpans, op: &str) -> &'a NewSpan {
    out.spans
        .iter()
        .find(|s| s.op == op)
        .unwrap_or_else(|| panic!("no {op} span"))
}

/// The fields the tests check of the one transaction that each of these fixture scenarios
/// comes out as (durations to 0.01 ms).
fn expected_segment(scenario: &str) -> Value {
    let segments = json!({
        "django-db-nplus1": {
            "name": "/authors/", "op": "http.server", "status": "ok", "platform": "python",
            "environment": "production", "release": "shop@1.4.2", "duration_ms": 10.991,
            "trace_id": "5c7c070a55e54f53aeebfa86dbe3f266", "span_id": "bd15042177b2a21f",
            "event_id": "81e79c8169794755be1077790f04ed94",
        },
        "node-transaction": {
            "name": "GET /api/products", "op": "http.server", "status": "ok", "platform": "node",
            "environment": "production", "release": "storefront@3.1.0", "duration_ms": 34.18,
            "trace_id": "b734577d50fd48ea9070b488e32bdbf7", "span_id": "a1f9c1886a3431e6",
            "parent_span_id": null,
        },
    });
    segments[scenario].clone()
}

/// The one transaction of `out`, checked against `expected_segment(scenario)`.
fn only_segment<'a>(out: &'a ProcessedSpans, scenario: &str) -> &'a NewTransaction {
    assert_eq!(out.transactions.len(), 1);
    let t = &out.transactions[0];
    let actual = transaction_json(t);
    let expected = expected_segment(scenario);
    for (field, value) in expected.as_object().expect("expected fields are an object") {
        match (actual[field].as_f64(), value.as_f64()) {
            (Some(got), Some(want)) => assert!((got - want).abs() < 0.01, "{field}: {got}"),
            _ => assert_eq!(&actual[field], value, "{field}"),
        }
    }
    t
}

/// A processed transaction as JSON: what the snapshots show and `only_segment` reads.
fn transaction_json(t: &NewTransaction) -> Value {
    json!({
        "event_id": t.event_id, "trace_id": t.trace_id, "span_id": t.span_id,
        "parent_span_id": t.parent_span_id, "name": t.name, "op": t.op,
        "status": t.status, "start": t.start, "duration_ms": t.duration_ms,
        "environment": t.environment, "release": t.release, "user_tag": t.user_tag,
        "platform": t.platform, "tags": t.tags, "data": t.data,
    })
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[test]
fn every_fixture_transaction_and_span_item_processes() {
    let items = fixture_items();
    assert!(
        items.iter().filter(|i| i.ty == "transaction").count() >= 4
            && items.iter().filter(|i| i.ty == "span").count() >= 4,
        "expected the fixtures' transactions and span items, found {}",
        items.len()
    );
    for item in &items {
        let out = item.process();
        assert!(
            !out.transactions.is_empty() || !out.spans.is_empty(),
            "{}: nothing came out",
            item.name
        );
        for t in &out.transactions {
            assert!(
                is_hex(&t.event_id, 32),
                "{}: event id {}",
                item.name,
                t.event_id
            );
            assert!(is_hex(&t.trace_id, 32), "{}: trace id", item.name);
            assert!(is_hex(&t.span_id, 16), "{}: span id", item.name);
            assert!(
                t.duration_ms >= 0.0 && t.start > 1.7e9,
                "{}: times",
                item.name
            );
            assert!(!t.name.is_empty() && !t.op.is_empty() && !t.status.is_empty());
            assert!(
                t.data.get("spans").is_none(),
                "{}: spans kept in data",
                item.name
            );
            assert_eq!(t.data["type"], "transaction", "{}", item.name);
            // The records come out as the store writes them: the project and receive time
            // are the caller's.
            assert_eq!(t.project_id, PROJECT_ID, "{}", item.name);
            assert_eq!(t.received, item.ctx.received, "{}", item.name);
        }
        for s in &out.spans {
            assert!(
                is_hex(&s.span_id, 16) && is_hex(&s.segment_id, 16),
                "{}",
                item.name
            );
            assert!(is_hex(&s.trace_id, 32), "{}", item.name);
            assert_eq!(s.project_id, PROJECT_ID, "{}", item.name);
            assert!(
                s.duration_ms >= 0.0 && s.start > 1.7e9,
                "{}: span times",
                item.name
            );
            assert!(
                !s.transaction.is_empty(),
                "{}: span without segment name",
                item.name
            );
        }
        // Detection runs over every segment without failing.
        for t in &out.transactions {
            let _ = detect_problems(t, &out.spans, &Thresholds::default());
        }
    }
}

#[test]
fn django_transaction_splits_into_segment_and_spans() {
    let out = fixture("django-db-nplus1").process();
    let t = only_segment(&out, "django-db-nplus1");
    assert!(t.tags.contains(&("transaction".into(), "/authors/".into())));
    assert_eq!(out.spans.len(), 18);
    assert!(out.spans.iter().all(|s| s.segment_id == t.span_id
        && s.transaction == "/authors/"
        && s.trace_id == t.trace_id));
    let selects: Vec<_> = out
        .spans
        .iter()
        .filter(|s| s.op == "db" && s.description.starts_with("SELECT"))
        .collect();
    assert_eq!(selects.len(), 15);
    assert!(selects.iter().all(|s| s.group == selects[0].group));
    assert!(
        selects[0]
            .group
            .ends_with(r#"WHERE "auth_user"."id" = %s ORDER BY "auth_user"."id" ASC LIMIT %s"#),
        "{}",
        selects[0].group
    );
    assert_eq!(selects[0].data["db.system"], "sqlite");
}

#[test]
fn django_nplus1_is_one_problem_with_every_repetition() {
    let out = fixture("django-db-nplus1").process();
    let t = &out.transactions[0];
    // The 15 queries take about 1.3 ms together: under Sentry's 100 ms there is no issue …
    assert!(detect_problems(t, &out.spans, &Thresholds::default()).is_empty());
    // … with the time threshold off, there is exactly one.
    let thresholds = Thresholds {
        n_plus_one_min_total_ms: 0.0,
        ..Thresholds::default()
    };
    let problems = detect_problems(t, &out.spans, &thresholds);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert_eq!(p.event_type, "performance_n_plus_one_db_queries");
    assert_eq!(p.title, "N+1 Query");
    assert_eq!(p.culprit, "/authors/");
    assert_eq!(p.level, "info");
    assert_eq!(p.grouping_variant, "performance");
    assert_eq!(p.transaction.as_deref(), Some("/authors/"));
    assert!(!p.is_unhandled);
    assert_eq!(p.hashes.len(), 1);
    assert!(is_hex(&p.hashes[0], 32) && is_hex(&p.event_id, 32));
    assert_ne!(p.event_id, t.event_id);
    let data = p.data.to_value();
    let evidence = &data["occurrence"]["evidence_data"];
    let offenders = evidence["offender_span_ids"].as_array().expect("offenders");
    assert!(offenders.len() >= 10, "{evidence}");
    assert_eq!(offenders.len(), 15);
    assert_eq!(evidence["num_repeating_spans"], "15");
    assert_eq!(evidence["cause_span_ids"], json!(["92a2897d226c0a53"])); // `connect`
    assert_eq!(evidence["parent_span_ids"], json!(["bd15042177b2a21f"]));
    let groups: std::collections::HashSet<_> = out
        .spans
        .iter()
        .filter(|s| offenders.contains(&json!(s.span_id)))
        .map(|s| s.group.as_str())
        .collect();
    assert_eq!(groups.len(), 1);
    assert_eq!(p.message, *groups.iter().next().expect("one group"));
    assert_eq!(p.metadata["value"], p.message);
    assert_eq!(p.metadata["location"], "/authors/");
    assert_eq!(data["hashes"], json!(p.hashes));
    assert_eq!(data["contexts"]["trace"]["trace_id"], t.trace_id);
    // The offenders and their cause are shown.
    assert_eq!(data["spans"].as_array().map(Vec::len), Some(16));
}

#[test]
fn node_streamed_spans_become_one_transaction_with_two_spans() {
    let item = fixture("node-transaction");
    let out = item.process();
    let t = only_segment(&out, "node-transaction");
    assert_eq!(t.data["contexts"]["trace"]["span_id"], "a1f9c1886a3431e6");
    assert_eq!(t.data["sdk"]["name"], "sentry.javascript.node");
    assert_eq!(t.data["transaction"], "GET /api/products");
    assert_eq!(
        t.data["contexts"]["trace"]["data"]["device.processor_count"],
        2
    );
    // Processing the same item again gives the same transaction id.
    assert_eq!(item.process().transactions[0].event_id, t.event_id);

    assert_eq!(out.spans.len(), 2);
    let db = span_with_op(&out, "db");
    assert_eq!(db.group, "SELECT * FROM products WHERE category = $1");
    assert_eq!(db.segment_id, t.span_id);
    assert_eq!(db.transaction, "GET /api/products");
    assert_eq!(db.parent_span_id.as_deref(), Some("a1f9c1886a3431e6"));
    assert_eq!(db.data["sentry.origin"], "manual");
    assert!((db.duration_ms - 17.199).abs() < 0.01, "{}", db.duration_ms);
    let render = span_with_op(&out, "function");
    assert_eq!(render.description, "render product list");
}

#[test]
fn browser_pageload_error_status_is_internal_error() {
    let items = fixture_items();
    let item = items
        .iter()
        .find(|i| i.name.contains("/browser-uncaught-error/") && i.ty == "span")
        .expect("browser span item");
    let out = item.process();
    let t = out.transactions.first().expect("pageload segment");
    assert_eq!(t.name, "Pageload");
    assert_eq!(t.op, "pageload");
    assert_eq!(t.status, "internal_error");
    assert_eq!(t.platform, "javascript");
    // The user agent makes the browser tags an error event of the same page would get.
    assert!(
        t.tags
            .iter()
            .any(|(k, v)| k == "browser.name" && v == "Chrome"),
        "{:?}",
        t.tags
    );
    assert_eq!(out.spans.len(), 12);
    let script = span_with_op(&out, "resource.script");
    assert_eq!(script.group, "http://127.0.0.1:24594/sentry-browser.js");
}

#[test]
fn streamed_child_without_its_segment_is_a_span_only() {
    let payload = json!({"version": 2, "items": [{
        "name": "SELECT * FROM carts WHERE id = 42",
        "span_id": "AAAAAAAAAAAAAAA1",
        "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
        "parent_span_id": "bbbbbbbbbbbbbbb2",
        "start_timestamp": 1_795_576_122.5,
        "end_timestamp": 1_795_576_122.25,
        "is_segment": false,
        "status": "error",
        "attributes": {
            "sentry.op": {"value": "db.sql.query", "type": "string"},
            "sentry.segment.id": {"value": "cccccccccccccc03", "type": "string"},
            "db.system": {"value": "postgresql", "type": "string"}
        }
    }, {"name": "no ids", "start_timestamp": 1, "end_timestamp": 2}]});
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        ..NormalizeContext::default()
    };
    let trace = json!({"transaction": "POST /cart", "environment": "staging"});
    let out = process_span_item(
        &serde_json::to_vec(&payload).expect("serializes"),
        Some("application/vnd.sentry.items.span.v2+json"),
        Some(&trace),
        PROJECT_ID,
        &ctx,
        &Thresholds::default(),
    )
    .expect("processes");
    assert!(out.transactions.is_empty());
    assert_eq!(out.spans.len(), 1);
    let span = &out.spans[0];
    assert_eq!(span.span_id, "aaaaaaaaaaaaaaa1");
    assert_eq!(span.segment_id, "cccccccccccccc03");
    assert_eq!(span.transaction, "POST /cart");
    assert_eq!(span.status, "internal_error");
    assert_eq!(span.duration_ms, 0.0, "negative durations clamp to zero");
    assert_eq!(span.group, "SELECT * FROM carts WHERE id = %s");
    assert_eq!(
        span.data,
        json!({"sentry.op": "db.sql.query", "sentry.segment.id": "cccccccccccccc03", "db.system": "postgresql"})
    );
}

#[test]
fn streamed_child_spans_are_scrubbed_as_a_transactions_spans_are() {
    let payload = json!({"version": 2, "items": [{
        "name": "GET https://api.example.com/cart?password=hunter2secret",
        "span_id": "aaaaaaaaaaaaaa01",
        "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
        "parent_span_id": "bbbbbbbbbbbbbb02",
        "start_timestamp": 1_795_576_122.25,
        "end_timestamp": 1_795_576_122.5,
        "is_segment": false,
        "status": "ok",
        "attributes": {
            "sentry.op": {"value": "http.client", "type": "string"},
            "sentry.segment.id": {"value": "cccccccccccccc03", "type": "string"},
            "http.request.header.authorization": {"value": "Bearer PLANTED-span-token", "type": "string"},
            "payment.card": {"value": "4111 1111 1111 1111", "type": "string"},
            "cart.items": {"value": 3, "type": "integer"}
        }
    }]});
    let bytes = serde_json::to_vec(&payload).expect("serializes");
    let received = NormalizeContext {
        received: 1_795_576_123.0,
        ..NormalizeContext::default()
    };
    let span = &process_span_bytes(&bytes, &received)
        .expect("processes")
        .spans[0];
    assert_eq!(span.data["http.request.header.authorization"], "[Filtered]");
    assert_eq!(span.data["payment.card"], "[Filtered]");
    assert_eq!(span.data["cart.items"], 3, "what is not secret stays");
    assert_eq!(span.data["sentry.op"], "http.client");

    // With the project's scrubber off the span keeps what was sent.
    let mut off = received.clone();
    off.scrubbing.data_scrubber = false;
    let span = &process_span_bytes(&bytes, &off).expect("processes").spans[0];
    assert_eq!(
        span.data["http.request.header.authorization"],
        "Bearer PLANTED-span-token"
    );
    assert_eq!(span.data["payment.card"], "4111 1111 1111 1111");
}

#[test]
fn a_streamed_health_check_segment_is_filtered_with_its_children() {
    // Each segment in its own trace: a child names no segment, so it hangs under its trace's.
    let span = |id: &str, name: &str, segment: bool, parent: Option<&str>| {
        let trace = if id.starts_with('a') {
            "b734577d50fd48ea9070b488e32bdbf7"
        } else {
            "c734577d50fd48ea9070b488e32bdbf8"
        };
        json!({
            "name": name, "span_id": id, "parent_span_id": parent,
            "trace_id": trace,
            "start_timestamp": 1_795_576_122.25, "end_timestamp": 1_795_576_122.5,
            "is_segment": segment, "status": "ok",
            "attributes": {"sentry.op": {"value": if segment { "http.server" } else { "db" }, "type": "string"}}
        })
    };
    let payload = json!({"version": 2, "items": [
        span("aaaaaaaaaaaaaa01", "GET /healthz", true, None),
        span("aaaaaaaaaaaaaa02", "SELECT 1", false, Some("aaaaaaaaaaaaaa01")),
        span("bbbbbbbbbbbbbb01", "GET /cart", true, None),
        span("bbbbbbbbbbbbbb02", "SELECT * FROM carts", false, Some("bbbbbbbbbbbbbb01")),
    ]});
    let bytes = serde_json::to_vec(&payload).expect("serializes");
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        ..NormalizeContext::default()
    };
    let out = process_span_bytes(&bytes, &ctx).expect("processes");
    let names: Vec<&str> = out.transactions.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["GET /cart"]);
    let spans: Vec<&str> = out.spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(spans, ["bbbbbbbbbbbbbb02"]);
    assert_eq!(
        out.filtered,
        [(vigil_processing::filter::FilterId::FilteredTransaction, 2)]
    );

    // With the health-check filter off, both segments are kept.
    let settings = vigil_model::InboundFilters {
        filtered_transaction: false,
        ..Default::default()
    };
    let ctx = NormalizeContext {
        filters: std::sync::Arc::new(vigil_processing::filter::Filters::new(settings)),
        ..ctx
    };
    let out = process_span_bytes(&bytes, &ctx).expect("processes");
    assert_eq!(out.transactions.len(), 2);
    assert_eq!(out.spans.len(), 2);
    assert!(out.filtered.is_empty());
}

#[test]
fn streamed_children_without_their_segment_are_judged_on_their_own() {
    // Their segments came in earlier items; each child carries its segment's name, release
    // and User-Agent, which Relay's filters read of every span.
    let child = |id: &str, segment_name: &str, release: &str, user_agent: &str| {
        json!({
            "name": "SELECT 1", "span_id": id, "parent_span_id": "cccccccccccccc01",
            "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
            "start_timestamp": 1_795_576_122.25, "end_timestamp": 1_795_576_122.5,
            "is_segment": false, "status": "ok",
            "attributes": {
                "sentry.op": {"value": "db", "type": "string"},
                "sentry.segment.id": {"value": "cccccccccccccc01", "type": "string"},
                "sentry.segment.name": {"value": segment_name, "type": "string"},
                "sentry.release": {"value": release, "type": "string"},
                "user_agent.original": {"value": user_agent, "type": "string"}
            }
        })
    };
    let browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";
    let crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let payload = json!({"version": 2, "items": [
        child("aaaaaaaaaaaaaa01", "GET /healthz", "shop@2.0", browser),
        child("aaaaaaaaaaaaaa02", "GET /cart", "shop@1.0", browser),
        child("aaaaaaaaaaaaaa03", "GET /cart", "shop@2.0", crawler),
        child("aaaaaaaaaaaaaa04", "GET /cart", "shop@2.0", browser),
        child("aaaaaaaaaaaaaa05", "GET /readyz", "shop@2.0", browser),
    ]});
    let bytes = serde_json::to_vec(&payload).expect("serializes");
    let settings = vigil_model::InboundFilters {
        releases: vec!["shop@1.*".into()],
        ..Default::default()
    };
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        filters: std::sync::Arc::new(vigil_processing::filter::Filters::new(settings)),
        ..NormalizeContext::default()
    };
    let out = process_span_bytes(&bytes, &ctx).expect("processes");
    let kept: Vec<&str> = out.spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(kept, ["aaaaaaaaaaaaaa04"]);
    use vigil_processing::filter::FilterId;
    assert_eq!(
        out.filtered,
        [
            (FilterId::FilteredTransaction, 2),
            (FilterId::ReleaseVersion, 1),
            (FilterId::WebCrawlers, 1),
        ]
    );

    // With every filter off, all five are kept.
    let ctx = NormalizeContext {
        filters: std::sync::Arc::new(vigil_processing::filter::Filters::new(
            vigil_model::InboundFilters::none(),
        )),
        ..ctx
    };
    let out = process_span_bytes(&bytes, &ctx).expect("processes");
    assert_eq!(out.spans.len(), 5);
    assert!(out.filtered.is_empty());
}

#[test]
fn single_v1_span_item_is_read_best_effort() {
    let payload = json!({
        "span_id": "dddddddddddddd04", "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
        "segment_id": "cccccccccccccc03", "parent_span_id": "cccccccccccccc03",
        "op": "http.client", "description": "GET https://api.example.com/items/991?x=1",
        "start_timestamp": "2026-11-25T03:08:42.000Z", "timestamp": 1_795_576_122.1,
        "status": "ok", "data": {"http.response.status_code": 200},
        "sentry_tags": {"transaction": "GET /items"}
    });
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        ..NormalizeContext::default()
    };
    let out = process_span_json(&payload, &ctx);
    assert_eq!(out.spans.len(), 1);
    let span = &out.spans[0];
    assert_eq!(span.segment_id, "cccccccccccccc03");
    assert_eq!(span.transaction, "GET /items");
    assert_eq!(span.group, "GET https://api.example.com/items/*");
    assert!(
        (span.duration_ms - 100.0).abs() < 0.01,
        "{}",
        span.duration_ms
    );
}

#[test]
fn span_items_that_are_not_spans_fail() {
    let ctx = NormalizeContext::default();
    let not_spans: [&[u8]; 3] = [b"not json", b"[1]", br#"{"version":2,"items":[]}"#];
    for bytes in not_spans {
        assert!(
            process_span_bytes(bytes, &ctx).is_err(),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// A Python-shaped transaction under `/orders/` with the given spans (op, description,
/// duration in ms), one after another under the root span.
fn transaction_with(spans: &[(&str, &str, f64)]) -> Value {
    let start = 1_795_576_000.0;
    let mut at = start + 0.001;
    let spans: Vec<Value> = spans
        .iter()
        .enumerate()
        .map(|(i, (op, description, ms))| {
            let span = json!({
                "span_id": format!("{:016x}", 0x1000 + i),
                "parent_span_id": "00000000000000ff",
                "trace_id": "0123456789abcdef0123456789abcdef",
                "op": op, "description": description,
                "start_timestamp": at, "timestamp": at + ms / 1000.0,
            });
            at += ms / 1000.0 + 0.0001;
            span
        })
        .collect();
    json!({
        "type": "transaction", "transaction": "/orders/", "platform": "python",
        "event_id": "fedcba9876543210fedcba9876543210",
        "start_timestamp": start, "timestamp": at + 0.001,
        "contexts": {"trace": {
            "trace_id": "0123456789ABCDEF0123456789ABCDEF", "span_id": "00000000000000ff",
            "op": "http.server", "status": "ok"
        }},
        "user": {"id": "7"},
        "spans": spans,
    })
}

/// A synthetic transaction event processed as received at a fixed time, with the default
/// thresholds.
fn process_raw(raw: Value) -> Result<ProcessedSpans, ProcessingError> {
    let ctx = NormalizeContext {
        received: 1_795_576_100.0,
        ..NormalizeContext::default()
    };
    process_transaction(Json::from(raw), PROJECT_ID, &ctx, &Thresholds::default()).map(|outcome| {
        outcome
            .kept()
            .expect("no default filter drops these transactions")
    })
}

/// A span item's bytes, with no content type or envelope trace header, processed with the
/// default thresholds.
fn process_span_bytes(bytes: &[u8], ctx: &NormalizeContext) -> Result<ProcessedSpans, String> {
    process_span_item(bytes, None, None, PROJECT_ID, ctx, &Thresholds::default())
}

/// A span item given as JSON, processed as `process_span_bytes` does.
fn process_span_json(payload: &Value, ctx: &NormalizeContext) -> ProcessedSpans {
    let bytes = serde_json::to_vec(payload).expect("json");
    process_span_bytes(&bytes, ctx).expect("processes")
}

fn process_synthetic(spans: &[(&str, &str, f64)]) -> ProcessedSpans {
    process_raw(transaction_with(spans)).expect("processes")
}

fn n_plus_one(count: usize, each_ms: f64) -> Vec<(&'static str, String, f64)> {
    let mut spans = vec![("db", "SELECT id FROM orders".to_owned(), 2.0)];
    for i in 0..count {
        spans.push((
            "db.sql.query",
            format!("SELECT * FROM items WHERE order_id = {}", 100 + i),
            each_ms,
        ));
    }
    spans
}

fn detect(
    spans: &[(&str, String, f64)],
    thresholds: &Thresholds,
) -> Vec<vigil_processing::ProcessedEvent> {
    let borrowed: Vec<(&str, &str, f64)> = spans
        .iter()
        .map(|(op, d, ms)| (*op, d.as_str(), *ms))
        .collect();
    let out = process_synthetic(&borrowed);
    detect_problems(&out.transactions[0], &out.spans, thresholds)
}

#[test]
fn n_plus_one_needs_enough_repetitions_and_time() {
    let defaults = Thresholds::default();
    // Ten repetitions of 10 ms: exactly at both thresholds.
    let at = detect(&n_plus_one(10, 10.0), &defaults);
    assert_eq!(at.len(), 1, "{at:#?}");
    assert_eq!(at[0].message, "SELECT * FROM items WHERE order_id = %s");
    assert_eq!(at[0].user_tag.as_deref(), Some("id:7"));
    // Nine repetitions: too few, however slow.
    assert!(detect(&n_plus_one(9, 50.0), &defaults).is_empty());
    // Ten quick ones: too little time together.
    assert!(detect(&n_plus_one(10, 9.0), &defaults).is_empty());
    // A non-database span in the middle breaks the run.
    let mut broken = n_plus_one(12, 20.0);
    broken.insert(6, ("template.render", "orders.html".to_owned(), 1.0));
    assert!(detect(&broken, &defaults).is_empty());
    // Redis commands are not queries.
    let redis: Vec<_> = n_plus_one(12, 20.0)
        .into_iter()
        .map(|(_, d, ms)| ("db.redis", d, ms))
        .collect();
    assert!(detect(&redis, &defaults).is_empty());
}

#[test]
fn slow_select_at_threshold_is_a_problem() {
    let defaults = Thresholds::default();
    let slow = vec![(
        "db",
        "SELECT * FROM reports WHERE year = 2025".to_owned(),
        1000.0,
    )];
    let problems = detect(&slow, &defaults);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert_eq!(p.event_type, "performance_slow_db_query");
    assert_eq!(p.title, "Slow DB Query");
    assert_eq!(p.message, "SELECT * FROM reports WHERE year = %s");
    assert_eq!(
        p.data.to_value()["occurrence"]["evidence_data"]["num_repeating_spans"],
        "1"
    );

    let just_under = vec![("db", "SELECT * FROM reports".to_owned(), 999.0)];
    assert!(detect(&just_under, &defaults).is_empty());
    let update = vec![("db", "UPDATE reports SET x = 1".to_owned(), 5000.0)];
    assert!(detect(&update, &defaults).is_empty());
    let truncated = vec![("db", "SELECT * FROM reports WHERE ...".to_owned(), 5000.0)];
    assert!(detect(&truncated, &defaults).is_empty());
}

#[test]
fn problem_ids_are_deterministic_and_distinct_per_kind() {
    // A slow N+1: both problems in one segment.
    let mut spans = n_plus_one(10, 1000.0);
    spans[0].1 = "SELECT id FROM orders WHERE day = 3".to_owned();
    let first = detect(&spans, &Thresholds::default());
    let again = detect(&spans, &Thresholds::default());
    let kinds: Vec<_> = first.iter().map(|p| p.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "performance_n_plus_one_db_queries",
            "performance_slow_db_query"
        ]
    );
    assert_ne!(first[0].event_id, first[1].event_id);
    assert_ne!(first[0].hashes, first[1].hashes);
    let ids = |ps: &[vigil_processing::ProcessedEvent]| {
        ps.iter()
            .map(|p| (p.event_id.clone(), p.hashes.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&again));
}

#[test]
fn transaction_without_trace_context_is_rejected() {
    let mut raw = transaction_with(&[]);
    raw["contexts"] = json!({});
    let err = process_raw(raw).expect_err("no trace id");
    assert!(matches!(err, ProcessingError::Normalize(_)));
    assert!(err.to_string().contains("trace_id"), "{err}");
}

#[test]
fn spans_without_ids_or_times_are_dropped_and_noted() {
    let mut raw = transaction_with(&[("db", "SELECT 1", 1.0), ("db", "SELECT 2", 1.0)]);
    raw["spans"][0]["span_id"] = json!("not-hex");
    raw["spans"]
        .as_array_mut()
        .expect("spans")
        .push(json!({"span_id": "00000000000000aa", "op": "x"}));
    let out = process_raw(raw).expect("processes");
    assert_eq!(out.spans.len(), 1);
    assert_eq!(out.spans[0].span_id, "0000000000001001");
    assert_eq!(out.spans[0].status, "unknown");
    assert_eq!(
        out.transactions[0].trace_id,
        "0123456789abcdef0123456789abcdef"
    );
    let errors = out.transactions[0].data["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<_> = errors.iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.contains(&"spans.0.span_id"), "{errors:?}");
    assert!(names.contains(&"spans.2.start_timestamp"), "{errors:?}");
}

#[test]
fn span_groups_follow_sentrys_shapes() {
    let cases = [
        (
            "db",
            "SELECT a FROM t WHERE b = 'x' AND c IN (1, 2, 3)",
            "SELECT a FROM t WHERE b = %s AND c IN (%s)",
        ),
        (
            "db.sql.query",
            "select * from t where id = $1 and n = 10;",
            "select * from t where id = $1 and n = %s",
        ),
        (
            "db",
            "INSERT INTO t (a) VALUES (%s), (%s), (%s)",
            "INSERT INTO t (a) VALUES (%s)",
        ),
        (
            "db",
            "UPDATE  t\n SET v = -1.5 WHERE k = 'it''s'",
            "UPDATE t SET v = -%s WHERE k = %s",
        ),
        (
            "http.client",
            "GET http://svc:8080/users/42/orders?page=2",
            "GET http://svc:8080/users/*/orders",
        ),
        (
            "http.client",
            "DELETE https://Example.com/a/0f9e8d7c6b5a4f3e",
            "DELETE https://example.com/a/*",
        ),
        ("cache.get", "GET session:abc123", "GET *"),
        (
            "task",
            "process batch 17 of job 3f2a9c1e-8b7d-4a5f-9e3d-1c2b3a4d5e6f",
            "process batch * of job *",
        ),
        ("function", "", ""),
    ];
    for (op, description, group) in cases {
        assert_eq!(span_group(op, description), group, "{op} {description}");
    }
}

/// The processed items as JSON, for the snapshots.
fn snapshot_of(out: &ProcessedSpans, problems: &[vigil_processing::ProcessedEvent]) -> Value {
    json!({
        "transactions": out.transactions.iter().map(transaction_json).collect::<Vec<_>>(),
        "spans": out.spans.iter().map(|s| json!({
            "trace_id": s.trace_id, "segment_id": s.segment_id, "transaction": s.transaction,
            "span_id": s.span_id, "parent_span_id": s.parent_span_id, "op": s.op,
            "description": s.description, "group": s.group, "status": s.status,
            "start": s.start, "duration_ms": s.duration_ms, "data": s.data,
        })).collect::<Vec<_>>(),
        "problems": problems.iter().map(|p| json!({
            "event_id": p.event_id, "event_type": p.event_type, "timestamp": p.timestamp,
            "received": p.received, "level": p.level, "platform": p.platform,
            "title": p.title, "culprit": p.culprit, "metadata": p.metadata,
            "hashes": p.hashes, "grouping_variant": p.grouping_variant,
            "environment": p.environment, "release": p.release,
            "transaction": p.transaction, "user_tag": p.user_tag, "tags": p.tags,
            "is_unhandled": p.is_unhandled, "message": p.message, "data": p.data,
        })).collect::<Vec<_>>(),
    })
}

/// Every fixture item's result (problems with the N+1 time threshold off, so the Django
/// capture shows one), snapshotted: review the snapshots like code.
#[test]
fn fixture_items_process_as_snapshotted() {
    let thresholds = Thresholds {
        n_plus_one_min_total_ms: 0.0,
        ..Thresholds::default()
    };
    for item in fixture_items() {
        let out = item.process_with(&thresholds);
        let problems: Vec<_> = out.problems.iter().map(|p| p.occurrence.clone()).collect();
        let dir = Path::new(&item.name);
        let scenario = dir
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let request = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let index = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let name = format!("{scenario}__{}__{index}_{}", &request[..3], item.ty);
        insta::assert_json_snapshot!(name, snapshot_of(&out, &problems));
    }
}

/// The pipelines hand back what the detectors find in each of the item's segments, in segment
/// order, each with its segment's trace: the server needs no second call.
#[test]
fn pipelines_return_the_problems_of_each_segment() {
    let thresholds = Thresholds {
        n_plus_one_min_total_ms: 0.0,
        ..Thresholds::default()
    };
    let mut found = 0;
    for item in fixture_items() {
        let out = item.process_with(&thresholds);
        let expected: Vec<_> = out
            .transactions
            .iter()
            .flat_map(|t| {
                detect_problems(t, &out.spans, &thresholds)
                    .into_iter()
                    .map(move |p| (t.trace_id.clone(), p))
            })
            .collect();
        let got: Vec<_> = out
            .problems
            .iter()
            .map(|p| (p.trace_id.clone(), p.occurrence.clone()))
            .collect();
        assert_eq!(got, expected, "{}", item.name);
        found += got.len();
        // Without thresholds to meet nothing changes but the problems.
        let plain = item.process();
        assert_eq!(plain.transactions, out.transactions, "{}", item.name);
        assert_eq!(plain.spans, out.spans, "{}", item.name);
    }
    assert!(found > 0, "no fixture item has a problem to compare");
    // A synthetic N+1 at the default thresholds, through the pipeline alone.
    let out = process_synthetic(
        &n_plus_one(10, 10.0)
            .iter()
            .map(|(op, d, ms)| (*op, d.as_str(), *ms))
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.problems.len(), 1, "{:#?}", out.problems);
    assert_eq!(out.problems[0].trace_id, out.transactions[0].trace_id);
    assert_eq!(
        out.problems[0].occurrence.event_type,
        "performance_n_plus_one_db_queries"
    );
}

#[test]
fn streamed_spans_get_the_device_clock_corrected() {
    // The device clock runs two hours behind: `sent_at` says so, every span moves.
    let payload = json!({"version": 2, "items": [{
        "name": "GET /slow", "span_id": "aaaaaaaaaaaaaa01",
        "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
        "start_timestamp": 1_000.0, "end_timestamp": 1_000.5, "is_segment": true, "status": "ok",
        "attributes": {"sentry.op": {"value": "http.server", "type": "string"}}
    }, {
        "name": "child", "span_id": "aaaaaaaaaaaaaa02", "parent_span_id": "aaaaaaaaaaaaaa01",
        "trace_id": "b734577d50fd48ea9070b488e32bdbf7",
        "start_timestamp": 1_000.1, "end_timestamp": 1_000.2, "is_segment": false, "status": "ok",
        "attributes": {}
    }]});
    let received = 1_795_576_123.0;
    let ctx = NormalizeContext {
        received,
        sent_at: Some(received - 7_200.0),
        ..NormalizeContext::default()
    };
    // Without drift correction these times would be decades old and moved to `received`.
    let mut shifted = payload;
    for item in shifted["items"].as_array_mut().expect("items") {
        for key in ["start_timestamp", "end_timestamp"] {
            let t = item[key].as_f64().expect("time");
            item[key] = json!(t + received - 7_200.0 - 1_001.0);
        }
    }
    let out = process_span_json(&shifted, &ctx);
    let t = &out.transactions[0];
    assert!((t.start - (received - 1.0)).abs() < 1e-3, "{}", t.start);
    assert!((t.duration_ms - 500.0).abs() < 0.01);
    assert_eq!(t.op, "http.server");
    // The child names no segment and its segment is in the item: it hangs under it.
    assert_eq!(out.spans[0].segment_id, "aaaaaaaaaaaaaa01");
    assert_eq!(out.spans[0].transaction, "GET /slow");
    assert!((out.spans[0].start - (received - 0.9)).abs() < 1e-3);
}
