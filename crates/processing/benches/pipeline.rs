//! What one event costs on its way in: JSON parse → normalize → group → title and tags, and
//! what one 30-span transaction costs (parse → normalize → spans → performance detection).
//!
//! Real SDK events from `../shared/fixtures/sdk-payloads/` (a Django error with a full Python
//! stack and locals, a Node error, a Rust panic with debug images), so the figures are those of
//! the events users send; the transaction is the one `vigil-loadgen --transactions --spans 30`
//! sends. Run with `cargo bench -p vigil-processing --bench pipeline`; `scripts/bench-check.sh`
//! counts the instructions of some of these per event and compares them with
//! `benches/budget.txt`, so rename a benchmark there too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use divan::{black_box, Bencher};
use serde_json::{json, Value};
use vigil_processing::filter::check;
use vigil_processing::json::Json;
use vigil_processing::performance::{process_transaction, Thresholds};
use vigil_processing::scrub::{scrub_event, ScrubbingSettings};
use vigil_processing::tags::{derive_tags, is_unhandled, search_text, user_tag};
use vigil_processing::{
    derive_summary, group_event, normalize_event, process_event, NormalizeContext,
};
use vigil_protocol::timestamp::format_iso;

fn main() {
    divan::main();
}

/// The first `event` item of the first request of a fixture scenario, as raw bytes.
fn fixture_event(scenario: &str) -> Vec<u8> {
    let dir = fixtures_dir().join(scenario);
    let mut requests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    requests.sort();
    for request in requests {
        let decoded = request.join("body.decoded");
        let body = std::fs::read(if decoded.exists() {
            decoded
        } else {
            request.join("body.bin")
        })
        .expect("reading a fixture body");
        let Ok(envelope) = vigil_protocol::envelope::parse_envelope(body.into()) else {
            continue;
        };
        if let Some(item) = envelope
            .items
            .iter()
            .find(|i| i.ty() == vigil_protocol::envelope::ItemType::Event)
        {
            return item.payload.to_vec();
        }
    }
    panic!("no event item in fixture {scenario}");
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads")
}

fn context() -> NormalizeContext {
    NormalizeContext {
        received: 1_795_574_460.0,
        sent_at: Some(1_795_574_459.5),
        client_ip: Some("127.0.0.1".into()),
        envelope_event_id: None,
        client_sdk: Some("sentry.python/2.75.0".into()),
        retention_days: 90,
        scrubbing: Default::default(),
        // Sentry's defaults for a new project: what every event pays for.
        filters: Default::default(),
        symbolication: None,
    }
}

const SCENARIOS: &[&str] = &["django-zerodivision", "node-error", "rust-panic"];

#[divan::bench(args = SCENARIOS)]
fn parse_json(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    bencher.bench(|| Json::parse(black_box(&bytes)).expect("valid JSON"));
}

#[divan::bench(args = SCENARIOS)]
fn normalize(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let ctx = context();
    bencher
        .with_inputs(|| Json::parse(&bytes).expect("valid JSON"))
        .bench_values(|raw| normalize_event(raw, &ctx).expect("normalizes"));
}

#[divan::bench(args = SCENARIOS)]
fn group(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let raw = Json::parse(&bytes).expect("valid JSON");
    let event = normalize_event(raw, &context()).expect("normalizes");
    bencher.bench(|| group_event(black_box(&event)));
}

/// The inbound-filter check with a new Sentry project's filters, on a normalized event that
/// none of them drops: what every stored event pays (the User-Agent's browser and crawler
/// tests, the exceptions' extension, chunk-load and hydration tests).
#[divan::bench(args = SCENARIOS)]
fn filter(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let raw = Json::parse(&bytes).expect("valid JSON");
    let ctx = context();
    let event = normalize_event(raw, &ctx).expect("normalizes");
    assert_eq!(check(&event, &ctx.filters, ctx.client_ip.as_deref()), None);
    bencher.bench(|| check(black_box(&event), &ctx.filters, ctx.client_ip.as_deref()));
}

/// Data scrubbing with Sentry's default settings, on a normalized event. The event is scrubbed
/// in place again and again: a second pass finds what the first left (`[Filtered]` stays as it
/// is), so every iteration walks and checks the same strings, without a clone of the event in
/// the figure.
#[divan::bench(args = SCENARIOS)]
fn scrub(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let raw = Json::parse(&bytes).expect("valid JSON");
    let mut event = normalize_event(raw, &context()).expect("normalizes");
    let config = ScrubbingSettings::default();
    scrub_event(&mut event, &config);
    bencher.bench_local(|| scrub_event(black_box(&mut event), &config));
}

/// The whole pipeline from bytes, as the ingest path runs it.
#[divan::bench(args = SCENARIOS)]
fn parse_and_process(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let ctx = context();
    bencher.bench(|| {
        let raw = Json::parse(black_box(&bytes)).expect("valid JSON");
        process_event(raw, &ctx).expect("processes")
    });
}

/// The title, culprit and tags step alone, on a normalized event: what `process_event` derives
/// besides the grouping hashes.
#[divan::bench(args = SCENARIOS)]
fn title_and_tags(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let raw = Json::parse(&bytes).expect("valid JSON");
    let event = normalize_event(raw, &context()).expect("normalizes");
    bencher.bench(|| {
        let event = black_box(&event);
        (
            derive_summary(event),
            derive_tags(event),
            user_tag(event),
            search_text(event),
            is_unhandled(event),
        )
    });
}

/// Which transaction: `plain` has no two database spans in a row, `n-plus-one` has an N+1 run
/// (a source query and 12 identical `SELECT`s), so detection finds a problem and the worker
/// makes an issue occurrence of it.
const TRANSACTIONS: &[&str] = &["plain", "n-plus-one"];

/// A 30-span transaction from bytes, as the worker runs it for a `transaction` item.
#[divan::bench(args = TRANSACTIONS)]
fn parse_and_process_transaction(bencher: Bencher, kind: &str) {
    let bytes = transaction_payload(30, kind == "n-plus-one");
    let ctx = context();
    let thresholds = Thresholds::default();
    // The transaction measures what it says: 30 spans kept, and detection's finding if any.
    let raw = Json::parse(&bytes).expect("valid JSON");
    let processed = process_transaction(raw, 1, &ctx, &thresholds)
        .expect("processes")
        .kept()
        .expect("no default filter drops it");
    assert_eq!(processed.spans.len(), 30, "spans kept");
    assert_eq!(processed.problems.len(), usize::from(kind == "n-plus-one"));
    bencher.bench(|| {
        let raw = Json::parse(black_box(&bytes)).expect("valid JSON");
        process_transaction(raw, 1, &ctx, &thresholds).expect("processes")
    });
}

/// A Django transaction shaped like those `vigil-loadgen --transactions` sends (see
/// `crates/loadgen/src/transactions.rs`), with fixed ids and durations so that every run
/// measures the same bytes.
fn transaction_payload(spans: usize, n_plus_one: bool) -> Vec<u8> {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const ROOT_SPAN_ID: &str = "00f067aa0ba902b7";
    let select = |table: &str| {
        format!(
            "SELECT \"{table}\".\"id\", \"{table}\".\"name\", \"{table}\".\"created_at\" \
             FROM \"{table}\" WHERE \"{table}\".\"id\" = %s LIMIT 21"
        )
    };
    let tables = ["shop_product", "shop_order", "shop_cart", "shop_review"];
    // (op, description, origin, milliseconds)
    let mut specs: Vec<(&str, String, &str, f64)> = vec![
        (
            "event.django",
            "django.db.reset_queries".into(),
            "auto.http.django",
            0.05,
        ),
        (
            "middleware.django",
            "django.contrib.sessions.middleware.SessionMiddleware.__call__".into(),
            "auto.http.django",
            0.3,
        ),
    ];
    if n_plus_one {
        specs.push((
            "db",
            "SELECT \"shop_author\".\"id\", \"shop_author\".\"name\" FROM \"shop_author\"".into(),
            "auto.db.django",
            2.0,
        ));
        for _ in 0..12 {
            specs.push(("db", select("auth_user"), "auto.db.django", 10.0));
        }
    }
    let mut n = 0;
    while specs.len() < spans {
        specs.push(match n % 5 {
            0 | 2 => (
                "db",
                select(tables[n % tables.len()]),
                "auto.db.django",
                1.5,
            ),
            1 => (
                "http.client",
                "GET https://stock.example.com/v1/items".into(),
                "auto.http.stdlib.httplib",
                12.0,
            ),
            3 => (
                "template.render",
                "shop/product_detail.html".into(),
                "auto.http.django",
                4.0,
            ),
            _ => (
                "cache.get",
                "views.decorators.cache.cache_page".into(),
                "auto.cache.django",
                0.3,
            ),
        });
        n += 1;
    }
    specs.truncate(spans);

    let end = context().received - 1.0;
    let busy_ms: f64 = specs.iter().map(|s| s.3 + 0.05).sum();
    let start = end - (busy_ms + 2.0) / 1000.0;
    let mut at = start + 0.001;
    let spans: Vec<Value> = specs
        .iter()
        .enumerate()
        .map(|(i, (op, description, origin, ms))| {
            let span_start = at;
            let span_end = span_start + ms / 1000.0;
            at = span_end + 0.000_05;
            let mut span_id = String::new();
            let _ = write!(span_id, "{:016x}", 0x1000_0000_0000_0000_u64 + i as u64);
            let mut data = json!({"thread.id": "140414685234880", "thread.name": "Thread-1"});
            if *op == "db" {
                data["db.system"] = "postgresql".into();
                data["db.name"] = "shop".into();
            }
            json!({
                "trace_id": TRACE_ID,
                "span_id": span_id,
                "parent_span_id": ROOT_SPAN_ID,
                "same_process_as_parent": true,
                "op": op,
                "description": description,
                "start_timestamp": format_iso(span_start),
                "timestamp": format_iso(span_end),
                "origin": origin,
                "data": data,
            })
        })
        .collect();
    let transaction = json!({
        "type": "transaction",
        "transaction": "/api/products/{product_id}/",
        "transaction_info": {"source": "route"},
        "contexts": {
            "response": {"status_code": 200},
            "trace": {
                "trace_id": TRACE_ID,
                "span_id": ROOT_SPAN_ID,
                "parent_span_id": null,
                "op": "http.server",
                "origin": "auto.http.django",
                "status": "ok",
                "data": {"http.response.status_code": 200},
            },
            "runtime": {"name": "CPython", "version": "3.11.7"},
        },
        "tags": {"http.status_code": "200"},
        "timestamp": format_iso(end),
        "start_timestamp": format_iso(start),
        "measurements": {},
        "event_id": "9f3c2a1b4d5e6f708192a3b4c5d6e7f8",
        "request": {
            "url": "https://shop.example.com/api/products/1742/",
            "method": "GET",
            "headers": {
                "Host": "shop.example.com",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            },
        },
        "spans": spans,
        "user": {"ip_address": "203.0.113.7"},
        "release": "shop@1.4.2",
        "environment": "production",
        "server_name": "web-1",
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
        "platform": "python",
    });
    serde_json::to_vec(&transaction).expect("a Value serializes")
}
