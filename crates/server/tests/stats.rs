//! Outcomes and Sentry's stats: `GET /api/0/organizations/{org}/stats_v2/` over outcomes stored
//! directly (its shape, grouping, filters and 400s, after Sentry's own tests of the endpoint),
//! what the ingest endpoints and the worker count for a known mix of envelopes, and the Stats
//! page.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::page::Session;
use common::Harness;
use serde_json::{json, Value};
use vigil_store::prelude::*;
use vigil_store::{hour_of, DataCategory, KeyRateLimit, Outcome, OutcomeRow, NO_REASON};

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn row(
    project_id: i64,
    hour: i64,
    category: DataCategory,
    outcome: Outcome,
    reason: &str,
    quantity: i64,
    times_seen: i64,
) -> OutcomeRow {
    OutcomeRow {
        project_id,
        hour,
        category,
        outcome,
        reason: reason.into(),
        quantity,
        times_seen,
    }
}

/// Sentry's fixture of its stats tests, an hour ago: 5 accepted errors and 1 accepted
/// `default` event (shown as an error), 1024 bytes of attachments and (in the second project)
/// one transaction dropped by spike protection. Returns the second project's id.
async fn seed(h: &Harness) -> i64 {
    let other = h.project_in("default", "other", None).await;
    let hour = hour_of(now()) - 3600;
    let p = h.project.id;
    h.store
        .add_outcomes(vec![
            row(
                p,
                hour,
                DataCategory::Error,
                Outcome::Accepted,
                NO_REASON,
                5,
                5,
            ),
            row(
                p,
                hour,
                DataCategory::Default,
                Outcome::Accepted,
                NO_REASON,
                1,
                1,
            ),
            row(
                p,
                hour,
                DataCategory::Attachment,
                Outcome::RateLimited,
                "smart_rate_limit",
                1024,
                1,
            ),
            row(
                other.id,
                hour,
                DataCategory::Transaction,
                Outcome::RateLimited,
                "smart_rate_limit",
                1,
                1,
            ),
        ])
        .await
        .expect("outcomes");
    other.id
}

async fn stats(h: &Harness, query: &str) -> (StatusCode, Value) {
    let (status, _, body) = h
        .get(&format!("/api/0/organizations/default/stats_v2/?{query}"))
        .await;
    (status, body)
}

/// The groups of an answer by their `by`, sorted, as Sentry's tests compare them.
fn groups(body: &Value) -> Vec<Value> {
    let mut groups = body["groups"].as_array().expect("groups").clone();
    groups.sort_by_key(|g| g["by"].to_string());
    groups
}

#[tokio::test]
async fn stats_v2_answers_with_sentrys_shape() {
    let h = Harness::new().await;
    let other = seed(&h).await;

    let (status, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(quantity)&category=error&project=-1",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A day at daily intervals spans two days: the start aligned down, the end up.
    let intervals = body["intervals"].as_array().expect("intervals");
    assert_eq!(intervals.len(), 2, "{body}");
    let day = |secs: i64| {
        let iso = vigil_protocol::timestamp::format_iso((secs - secs.rem_euclid(86_400)) as f64);
        format!("{}Z", &iso[..19])
    };
    let t = now() as i64;
    assert_eq!(body["start"], json!(day(t - 86_400)));
    assert_eq!(body["end"], json!(day(t + 86_400)));
    assert_eq!(intervals[0], body["start"]);
    // The hour an hour ago is in the second day unless today began within the hour.
    let slot = usize::from(day(t - 3600) == day(t));
    let mut series = vec![0, 0];
    series[slot] = 6;
    assert_eq!(
        body["groups"],
        json!([{"by": {}, "totals": {"sum(quantity)": 6}, "series": {"sum(quantity)": series}}])
    );

    // Grouped by category, outcome and reason, over hours.
    let (status, body) = stats(
        &h,
        "statsPeriod=2d&interval=1h&field=sum(quantity)&field=sum(times_seen)\
         &groupBy=category&groupBy=outcome&groupBy=reason",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["intervals"].as_array().map(Vec::len), Some(49));
    let found: Vec<(Value, Value)> = groups(&body)
        .iter()
        .map(|g| (g["by"].clone(), g["totals"].clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                json!({"category": "attachment", "outcome": "rate_limited", "reason": "spike_protection"}),
                json!({"sum(quantity)": 1024, "sum(times_seen)": 1})
            ),
            (
                json!({"category": "error", "outcome": "accepted", "reason": "none"}),
                json!({"sum(quantity)": 6, "sum(times_seen)": 6})
            ),
            (
                json!({"category": "transaction", "outcome": "rate_limited", "reason": "spike_protection"}),
                json!({"sum(quantity)": 1, "sum(times_seen)": 1})
            ),
        ]
    );
    for group in groups(&body) {
        let series = group["series"]["sum(quantity)"].as_array().expect("series");
        assert_eq!(series.len(), 49);
        assert_eq!(series[47], group["totals"]["sum(quantity)"], "an hour ago");
    }

    // Grouped by project: totals only, no intervals.
    let (status, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(times_seen)&groupBy=project&category=error&category=transaction",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("intervals").is_none(), "{body}");
    assert_eq!(
        groups(&body),
        vec![
            json!({"by": {"project": h.project.id}, "totals": {"sum(times_seen)": 6}}),
            json!({"by": {"project": other}, "totals": {"sum(times_seen)": 1}}),
        ]
    );

    // Filters: project, outcome, reason, category.
    let total = |body: &Value| body["groups"][0]["totals"]["sum(quantity)"].clone();
    let (_, body) = stats(
        &h,
        &format!(
            "statsPeriod=1d&interval=1d&field=sum(quantity)&category=error&category=transaction&project={}",
            h.project.id
        ),
    )
    .await;
    assert_eq!(total(&body), json!(6), "{body}");
    let (_, body) = stats(
        &h,
        &format!(
            "statsPeriod=1d&interval=1d&field=sum(quantity)&category=transaction&project={other}"
        ),
    )
    .await;
    assert_eq!(total(&body), json!(1), "{body}");
    let (_, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(quantity)&category=error&category=transaction&outcome=rate_limited",
    )
    .await;
    assert_eq!(total(&body), json!(1), "{body}");
    let (_, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(times_seen)&reason=spike_protection&groupBy=category",
    )
    .await;
    let by: Vec<Value> = groups(&body).iter().map(|g| g["by"].clone()).collect();
    assert_eq!(
        by,
        vec![
            json!({"category": "attachment"}),
            json!({"category": "transaction"})
        ]
    );
    let (_, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(quantity)&category=security",
    )
    .await;
    assert_eq!(
        total(&body),
        json!(0),
        "nothing of `security` alone: {body}"
    );
    // Nothing counted: one group of zeros, as Sentry answers.
    let (_, body) = stats(
        &h,
        "statsPeriod=1d&interval=1d&field=sum(quantity)&category=replay",
    )
    .await;
    assert_eq!(
        body["groups"],
        json!([{"by": {}, "totals": {"sum(quantity)": 0}, "series": {"sum(quantity)": [0, 0]}}])
    );
}

#[tokio::test]
async fn stats_v2_refuses_what_it_does_not_apply() {
    let h = Harness::new().await;
    seed(&h).await;
    let base = "statsPeriod=1d&interval=1d&field=sum(quantity)&category=error";
    for (query, detail) in [
        ("", "At least one \"field\" is required."),
        (
            &format!("{base}&dragon=smaug") as &str,
            "Invalid parameter: \"dragon\"",
        ),
        (
            "statsPeriod=1d&field=summ(qarntenty)&category=error",
            "Invalid field: \"summ(qarntenty)\"",
        ),
        (
            &format!("{base}&groupBy=cattygory"),
            "Invalid groupBy: \"cattygory\"",
        ),
        (
            "statsPeriod=1d&field=sum(quantity)&category=scoobydoo",
            "Invalid category: \"scoobydoo\"",
        ),
        (
            &format!("{base}&outcome=scoobydoo"),
            "Invalid outcome: \"scoobydoo\"",
        ),
        (
            &format!("{base}&category=attachment"),
            "if filtering by attachment no other category may be present",
        ),
        (
            "statsPeriod=1d&field=sum(quantity)",
            "Query must have category as groupby or filter",
        ),
        (
            "statsPeriod=1h&interval=15m&field=sum(quantity)&category=error",
            "The interval has to be a multiple of the minimum interval of one hour.",
        ),
        (
            "statsPeriod=90d&interval=1h&field=sum(quantity)&category=error",
            "Your interval and date range would create too many results. \
             Use a larger interval, or a smaller date range.",
        ),
        (
            "start=2021-03-14T00:00:00Z&field=sum(quantity)&category=error",
            "start and end are both required",
        ),
        (
            "statsPeriod=soon&field=sum(quantity)&category=error",
            "Invalid statsPeriod: 'soon'",
        ),
        (
            &format!("{base}&project=shop"),
            "Invalid project parameter. Values must be numbers.",
        ),
    ] {
        let (status, body) = stats(&h, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body, json!({"detail": detail}), "{query}");
    }
    // A project of another organization: 403, as Sentry answers.
    let elsewhere = h.project_in("elsewhere", "shop", None).await;
    let (status, _) = stats(&h, &format!("{base}&project={}", elsewhere.id)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A bad token: 401; a member of `default` only: its stats, and 404 for another
    // organization.
    let (status, _) = h
        .get_as(
            "not-a-token",
            &format!("/api/0/organizations/default/stats_v2/?{base}"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let member = h.member_of("default", "member@example.com").await;
    let token = h.token_for(member.id, &["org:read"]).await;
    let (status, body) = h
        .get_as(
            &token,
            &format!("/api/0/organizations/default/stats_v2/?{base}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"][0]["totals"]["sum(quantity)"], json!(6));
    let (status, _) = h
        .get_as(
            &token,
            &format!("/api/0/organizations/elsewhere/stats_v2/?{base}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `(outcome, category, reason) → sum(quantity)` of the organization's last day.
async fn outcome_totals(h: &Harness) -> BTreeMap<(String, String, String), i64> {
    let (status, body) = stats(
        h,
        "statsPeriod=1d&interval=1h&field=sum(quantity)&groupBy=outcome&groupBy=category&groupBy=reason",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    groups(&body)
        .iter()
        .map(|g| {
            let by = &g["by"];
            let text = |k: &str| by[k].as_str().expect("by").to_owned();
            (
                (text("outcome"), text("category"), text("reason")),
                g["totals"]["sum(quantity)"].as_i64().expect("total"),
            )
        })
        .collect()
}

fn event_envelope(n: u32) -> Vec<u8> {
    common::envelope(
        &format!("{n:032x}"),
        &json!({"message": format!("event {n}")}),
    )
}

/// A transaction with `spans` child spans.
fn transaction_envelope(spans: usize) -> Vec<u8> {
    let t = now() - 10.0;
    let trace_id = "5c7c070a55e54f53aeebfa86dbe3f266";
    let children: Vec<Value> = (0..spans)
        .map(|i| {
            json!({"span_id": format!("{:016x}", 0xc000 + i), "parent_span_id": "aaaaaaaaaaaaaaaa",
                   "trace_id": trace_id, "op": "db", "description": "SELECT 1",
                   "start_timestamp": t, "timestamp": t + 0.01})
        })
        .collect();
    let payload = json!({
        "type": "transaction", "transaction": "/checkout/", "start_timestamp": t, "timestamp": t + 0.5,
        "contexts": {"trace": {"trace_id": trace_id, "span_id": "aaaaaaaaaaaaaaaa", "op": "http.server"}},
        "spans": children,
    })
    .to_string();
    format!(
        "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"transaction\",\"length\":{}}}\n{payload}\n",
        0xfeed,
        payload.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn outcomes_of_a_known_mix_add_up() {
    let h = Harness::new().await;
    // Two events an hour on the key: the third is refused.
    h.store
        .set_key_rate_limit(
            h.key.id,
            Some(KeyRateLimit {
                count: 2,
                window_secs: 3600,
            }),
        )
        .await
        .expect("rate limit");
    for n in 1..=2 {
        let (status, body) = h.post_envelope(event_envelope(n)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = h.post_envelope(event_envelope(3)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // A transaction with three spans.
    let (status, body) = h.post_envelope(transaction_envelope(3)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Streamed spans (span v2): a health-check segment with a child, which the default
    // inbound filters drop together, and another segment with a child, kept.
    let span = |trace: &str, id: &str, name: &str, parent: Option<&str>| {
        json!({"trace_id": trace, "span_id": id, "parent_span_id": parent, "name": name,
               "start_timestamp": now() - 1.0, "end_timestamp": now() - 0.5,
               "is_segment": parent.is_none(), "status": "ok", "attributes": {}})
    };
    let (health, cart) = (
        "b734577d50fd48ea9070b488e32bdbf7",
        "c734577d50fd48ea9070b488e32bdbf8",
    );
    let spans = json!({"version": 2, "items": [
        span(health, "aaaaaaaaaaaaaa01", "GET /healthz", None),
        span(health, "aaaaaaaaaaaaaa02", "SELECT 1", Some("aaaaaaaaaaaaaa01")),
        span(cart, "bbbbbbbbbbbbbb01", "GET /cart", None),
        span(cart, "bbbbbbbbbbbbbb02", "SELECT * FROM carts", Some("bbbbbbbbbbbbbb01")),
    ]});
    let body = format!(
        "{{}}\n{{\"type\":\"span\",\"item_count\":4,\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{spans}\n"
    );
    let (status, body) = h.post_envelope(body.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An event that is not an object beside a 5-byte attachment, which is kept.
    let mixed = b"{}\n{\"type\":\"event\"}\n[1]\n{\"type\":\"attachment\",\"length\":5}\nhello\n";
    let (status, body) = h.post_envelope(mixed.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An event over the 1 MiB limit: the envelope is refused with 413, its items counted.
    let big = json!({"message": "x".repeat(1_100_000)}).to_string();
    let too_large =
        format!("{{}}\n{{\"type\":\"event\"}}\n{big}\n{{\"type\":\"session\"}}\n{{}}\n");
    let (status, body) = h.post_envelope(too_large.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // What the SDK dropped itself.
    let report = json!({"timestamp": now(), "discarded_events": [
        {"reason": "sample_rate", "category": "transaction", "quantity": 7},
        {"reason": "queue_overflow", "category": "error", "quantity": 2}]});
    let body = format!("{{}}\n{{\"type\":\"client_report\"}}\n{report}\n");
    let (status, _) = h.post_envelope(body.into_bytes()).await;
    assert_eq!(status, StatusCode::OK);

    // The workers wrote theirs with the batches; the accept side's are written by the flush.
    h.state
        .outcomes
        .flush(&*h.state.store)
        .await
        .expect("flush");
    let key = |o: &str, c: &str, r: &str| (o.to_owned(), c.to_owned(), r.to_owned());
    let expected = BTreeMap::from([
        (key("accepted", "error", "none"), 2),
        (key("rate_limited", "error", "key_quota"), 1),
        (key("accepted", "transaction", "none"), 1),
        (key("accepted", "span", "none"), 4 + 2),
        (key("filtered", "span", "filtered-transaction"), 2),
        (key("invalid", "error", "invalid_json"), 1),
        (key("accepted", "attachment", "none"), 5),
        (key("accepted", "attachment_item", "none"), 1),
        (key("invalid", "error", "too_large"), 1),
        (key("invalid", "session", "too_large"), 1),
        (key("client_discard", "transaction", "sample_rate"), 7),
        (key("client_discard", "error", "queue_overflow"), 2),
    ]);
    assert_eq!(outcome_totals(&h).await, expected);
    // A second flush has nothing left to add.
    h.state
        .outcomes
        .flush(&*h.state.store)
        .await
        .expect("flush");
    assert_eq!(outcome_totals(&h).await, expected);

    // The Stats page shows the same numbers.
    let session = Session::admin(&h).await;
    let page = session
        .shown("/organizations/default/stats/?statsPeriod=24h")
        .await;
    assert!(
        page.body.contains(">Stats</a>"),
        "linked from the navigation"
    );
    let error_row = page
        .body
        .split("<tr data-category=\"error\">")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("a row for errors");
    for (outcome, n) in [
        ("accepted", 2),
        ("rate_limited", 1),
        ("invalid", 2),
        ("client_discard", 2),
        ("filtered", 0),
    ] {
        assert!(
            error_row.contains(&format!("<td data-outcome=\"{outcome}\">{n}</td>")),
            "{outcome}: {error_row}"
        );
    }
}
