//! Outcomes add up, end to end: a known mix of envelopes sent to the real binary's ingest
//! endpoint — events under a DSN key rate limit set with `vigil key rate-limit` (some over it),
//! a transaction with its spans, an invalid event beside an attachment, an envelope over the
//! event size limit, a client report — and `GET /api/0/organizations/default/stats_v2/`
//! answers exactly the quantities sent, per outcome, category and reason: what the workers
//! counted with their batches and what the accept side counted and flushed (every 5 s). On
//! SQLite and on PostgreSQL (`VIGIL_TEST_DATABASE_URL`), from one test body.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::backend::{test_on_both_backends, Backend, Server};
use common::{poll, Dsn, Vigil};
use serde_json::{json, Value};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Posts an envelope with the DSN's key; the status.
fn post(vigil: &Vigil, dsn: &Dsn, body: Vec<u8>) -> u16 {
    vigil
        .http()
        .post(vigil.url(&format!("/api/{}/envelope/", dsn.project_id)))
        .header(
            "x-sentry-auth",
            format!(
                "Sentry sentry_key={}, sentry_version=7, sentry_client=outcomes-test/1.0",
                dsn.public_key
            ),
        )
        .body(body)
        .send()
        .expect("ingest answers")
        .status()
        .as_u16()
}

fn event(n: u32) -> Vec<u8> {
    let payload = json!({"message": format!("outcome {n}"), "level": "error"}).to_string();
    format!("{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{payload}\n").into_bytes()
}

/// A transaction with `spans` child spans.
fn transaction(spans: usize) -> Vec<u8> {
    let t = now() - 5.0;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let children: Vec<Value> = (0..spans)
        .map(|i| {
            json!({"span_id": format!("{:016x}", 0xd000 + i), "parent_span_id": "bbbbbbbbbbbbbbbb",
                   "trace_id": trace_id, "op": "db.sql.query", "description": "SELECT 1",
                   "start_timestamp": t, "timestamp": t + 0.002})
        })
        .collect();
    let payload = json!({
        "type": "transaction", "transaction": "/orders/", "start_timestamp": t, "timestamp": t + 0.1,
        "contexts": {"trace": {"trace_id": trace_id, "span_id": "bbbbbbbbbbbbbbbb", "op": "http.server"}},
        "spans": children,
    });
    format!(
        "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"transaction\"}}\n{payload}\n",
        0xbeef
    )
    .into_bytes()
}

/// `(outcome, category, reason) → sum(quantity)` of the last day.
fn totals(vigil: &Vigil) -> Result<BTreeMap<(String, String, String), i64>, String> {
    let response = vigil.api_get(
        "/api/0/organizations/default/stats_v2/",
        &[
            ("statsPeriod", "1d"),
            ("interval", "1h"),
            ("field", "sum(quantity)"),
            ("groupBy", "outcome"),
            ("groupBy", "category"),
            ("groupBy", "reason"),
        ],
    );
    if response.status != 200 {
        return Err(format!(
            "stats_v2 answered {}: {}",
            response.status, response.body
        ));
    }
    let groups = response.body["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(groups
        .iter()
        .map(|g| {
            let text = |k: &str| g["by"][k].as_str().unwrap_or("?").to_owned();
            (
                (text("outcome"), text("category"), text("reason")),
                g["totals"]["sum(quantity)"].as_i64().unwrap_or(-1),
            )
        })
        .collect())
}

fn outcomes_add_up(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("outcomes", "python");
    vigil.cli(&[
        "key",
        "rate-limit",
        &dsn.public_key,
        "--count",
        "3",
        "--window",
        "3600",
    ]);

    // Five events under a limit of three an hour: two are refused with 429.
    let statuses: Vec<u16> = (1..=5).map(|n| post(vigil, &dsn, event(n))).collect();
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert_eq!(post(vigil, &dsn, transaction(4)), 200);
    // An event that is not an object, beside a 7-byte attachment that is kept.
    let mixed =
        b"{}\n{\"type\":\"event\"}\n\"text\"\n{\"type\":\"attachment\",\"length\":7}\nabcdefg\n";
    assert_eq!(post(vigil, &dsn, mixed.to_vec()), 400);
    // An event over the 1 MiB event limit: the whole envelope is refused.
    let big = json!({"message": "y".repeat(1_050_000)}).to_string();
    let too_large = format!("{{}}\n{{\"type\":\"event\"}}\n{big}\n").into_bytes();
    assert_eq!(post(vigil, &dsn, too_large), 413);
    let report = json!({"timestamp": now(), "discarded_events": [
        {"reason": "sample_rate", "category": "transaction", "quantity": 11},
        {"reason": "ratelimit_backoff", "category": "error", "quantity": 2}]});
    let report = format!("{{}}\n{{\"type\":\"client_report\"}}\n{report}\n").into_bytes();
    assert_eq!(post(vigil, &dsn, report), 200);
    vigil.settle();

    let key = |o: &str, c: &str, r: &str| (o.to_owned(), c.to_owned(), r.to_owned());
    let expected = BTreeMap::from([
        (key("accepted", "error", "none"), 3),
        (key("rate_limited", "error", "key_quota"), 2),
        (key("accepted", "transaction", "none"), 1),
        (key("accepted", "span", "none"), 5),
        (key("invalid", "error", "invalid_json"), 1),
        (key("accepted", "attachment", "none"), 7),
        (key("accepted", "attachment_item", "none"), 1),
        (key("invalid", "error", "too_large"), 1),
        (key("client_discard", "transaction", "sample_rate"), 11),
        (key("client_discard", "error", "ratelimit_backoff"), 2),
    ]);
    // The accept side's counts arrive with its next flush (every 5 s).
    poll("the outcomes to add up", Duration::from_secs(30), || {
        let got = totals(vigil)?;
        if got == expected {
            Ok(())
        } else {
            Err(format!("stats_v2 says {got:?}"))
        }
    });
    // And they stay exact: nothing is counted twice by later flushes.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(totals(vigil).expect("stats"), expected);
}

test_on_both_backends!(
    outcomes_add_up,
    outcomes_add_up_on_sqlite,
    outcomes_add_up_on_postgres
);
