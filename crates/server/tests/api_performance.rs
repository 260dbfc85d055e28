//! Sentry's performance API through the real router and a real SQLite store: Discover's
//! `events/` and `events-stats/` for transactions, transactions by id with their spans, the
//! trace tree, performance issues and the performance settings.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use common::Harness;
use serde_json::{json, Value};
use vigil_store::prelude::*;
use vigil_store::{NewEvent, NewSpan, NewTransaction, SpanBatch};

/// A transaction of the harness project, `secs_ago` seconds before now.
fn transaction(
    h: &Harness,
    n: u32,
    name: &str,
    duration_ms: f64,
    status: &str,
    user: Option<&str>,
    start: f64,
) -> NewTransaction {
    NewTransaction {
        project_id: h.project.id,
        event_id: format!("{n:032x}"),
        trace_id: format!("{:032x}", 0xaaaa_0000_u64 + u64::from(n)),
        span_id: format!("{:016x}", 0xbb00 + u64::from(n)),
        parent_span_id: None,
        name: name.to_string(),
        op: "http.server".into(),
        status: status.into(),
        start,
        duration_ms,
        received: start + 1.0,
        environment: Some("production".into()),
        release: Some("shop@1.0".into()),
        user_tag: user.map(str::to_owned),
        platform: "python".into(),
        tags: vec![("browser".into(), "Firefox".into())],
        data: json!({}),
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// `/checkout/`: 100 ms ok (user 1), 200 ms failed (user 2), 900 ms ok (user 1);
/// `/home/`: two of 500 ms, in staging.
async fn seed_shop(h: &Harness) {
    let t = now() - 600.0;
    let mut home1 = transaction(h, 4, "/home/", 500.0, "ok", None, t);
    home1.environment = Some("staging".into());
    let mut home2 = transaction(h, 5, "/home/", 500.0, "ok", None, t + 1.0);
    home2.environment = Some("staging".into());
    let batch = SpanBatch {
        transactions: vec![
            transaction(h, 1, "/checkout/", 100.0, "ok", Some("id:1"), t),
            transaction(
                h,
                2,
                "/checkout/",
                200.0,
                "internal_error",
                Some("id:2"),
                t + 2.0,
            ),
            transaction(h, 3, "/checkout/", 900.0, "ok", Some("id:1"), t + 3.0),
            home1,
            home2,
        ],
        spans: vec![],
    };
    h.store.save_spans(batch).await.expect("save transactions");
}

/// A user and token; `org` is the organization they belong to, `scopes` their token's.
async fn user_token(h: &Harness, email: &str, org: &str, scopes: &[&str]) -> String {
    let user = h.member_of(org, email).await;
    h.token_for(user.id, scopes).await
}

fn rows_by_transaction(body: &Value) -> HashMap<String, Value> {
    body["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|row| {
            (
                row["transaction"].as_str().expect("transaction").to_owned(),
                row.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn aggregates_per_transaction_have_sentrys_values_and_meta() {
    let h = Harness::new().await;
    seed_shop(&h).await;
    let (status, _, body) = h
        .get(
            "/api/0/organizations/default/events/?field=transaction&field=project&field=count()\
         &field=p50()&field=p95(transaction.duration)&field=failure_rate()&field=count_unique(user)\
         &field=max(transaction.duration)&field=tpm()&query=event.type:transaction&statsPeriod=1h\
         &sort=-count()",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().expect("rows");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["transaction"], "/checkout/", "most counted first");
    let checkout = &data[0];
    assert_eq!(checkout["project"], "shop");
    assert_eq!(checkout["count()"], 3);
    assert_eq!(checkout["p50()"], 200.0);
    assert_eq!(checkout["max(transaction.duration)"], 900.0);
    assert_eq!(checkout["count_unique(user)"], 2);
    let failure_rate = checkout["failure_rate()"].as_f64().expect("rate");
    assert!((failure_rate - 1.0 / 3.0).abs() < 1e-9, "{failure_rate}");
    let tpm = checkout["tpm()"].as_f64().expect("tpm");
    assert!((tpm - 3.0 / 60.0).abs() < 1e-9, "3 in an hour: {tpm}");
    assert_eq!(data[1]["count()"], 2);
    assert_eq!(data[1]["failure_rate()"], 0.0);

    let meta = &body["meta"];
    assert_eq!(meta["fields"]["count()"], "integer");
    assert_eq!(meta["fields"]["p50()"], "duration");
    assert_eq!(meta["units"]["p50()"], "millisecond");
    assert_eq!(meta["fields"]["failure_rate()"], "percentage");
    assert_eq!(meta["fields"]["transaction"], "string");
    assert_eq!(meta["units"]["transaction"], Value::Null);
    assert_eq!(meta["isMetricsData"], false);
    assert_eq!(meta["dataset"], "transactions");

    // Sorted by a percentile instead: /home/ (500 ms) before /checkout/ (200 ms).
    let (_, _, body) = h.get("/api/0/organizations/default/events/?field=transaction&field=p50()&sort=-p50()&statsPeriod=1h",
    )
    .await;
    assert_eq!(body["data"][0]["transaction"], "/home/", "{body}");
    assert_eq!(body["data"][1]["transaction"], "/checkout/");

    // No grouping: one row over everything.
    let (_, _, body) = h.get("/api/0/organizations/default/events/?field=count()&field=failure_count()&statsPeriod=1h",
    )
    .await;
    assert_eq!(body["data"], json!([{"count()": 5, "failure_count()": 1}]));
}

#[tokio::test]
async fn filters_narrow_the_transactions() {
    let h = Harness::new().await;
    seed_shop(&h).await;
    let count_of = |body: &Value| body["data"][0]["count()"].clone();
    let base = "/api/0/organizations/default/events/?field=count()&statsPeriod=1h";

    let project = format!("project={}", h.project.id);
    for (filter, expected) in [
        ("query=transaction:%22/home/%22", 2),
        ("environment=production", 3),
        ("query=environment:staging", 2),
        ("query=transaction.status:internal_error", 1),
        ("query=user:%22id:1%22", 2),
        // Every transaction has browser:Firefox.
        ("query=!browser:Firefox", 0),
        (project.as_str(), 5),
    ] {
        let (_, _, body) = h.get(&format!("{base}&{filter}")).await;
        assert_eq!(count_of(&body), expected, "{filter}: {body}");
    }
    // Transactions ten minutes old are outside the last five.
    let (_, _, body) = h
        .get("/api/0/organizations/default/events/?field=count()&statsPeriod=5m")
        .await;
    assert_eq!(count_of(&body), 0, "{body}");
}

#[tokio::test]
async fn transaction_lists_sort_and_page() {
    let h = Harness::new().await;
    seed_shop(&h).await;
    let (status, headers, body) = h.get("/api/0/organizations/default/events/?field=id&field=transaction&field=transaction.duration\
         &field=timestamp&field=user&sort=-transaction.duration&per_page=2&statsPeriod=1h",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().expect("rows");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["transaction.duration"], 900.0);
    assert_eq!(data[0]["id"], format!("{:032x}", 3));
    assert_eq!(data[0]["user"], "id:1");
    assert!(data[0]["timestamp"].as_str().expect("date").ends_with('Z'));
    assert_eq!(data[1]["transaction.duration"], 500.0);
    assert_eq!(body["meta"]["fields"]["timestamp"], "date");
    let link = headers
        .get("link")
        .expect("link header")
        .to_str()
        .expect("ascii");
    assert!(
        link.contains("rel=\"next\"; results=\"true\"; cursor=\"0:2:0\""),
        "{link}"
    );

    let (_, headers, body) = h
        .get(
            "/api/0/organizations/default/events/?field=id&field=transaction.duration\
         &sort=-transaction.duration&per_page=2&cursor=0:4:0&statsPeriod=1h",
        )
        .await;
    assert_eq!(body["data"].as_array().expect("rows").len(), 1);
    assert_eq!(body["data"][0]["transaction.duration"], 100.0);
    let link = headers.get("link").expect("link").to_str().expect("ascii");
    assert!(link.contains("rel=\"next\"; results=\"false\""), "{link}");
}

#[tokio::test]
async fn bad_queries_are_400_with_a_reason() {
    let h = Harness::new().await;
    let base = "/api/0/organizations/default/events/";
    for (query, key, needle) in [
        (
            "dataset=transactions&field=message",
            "field",
            "Unknown field: message",
        ),
        (
            "field=count()&statsPeriod=soon",
            "statsPeriod",
            "Invalid statsPeriod",
        ),
        (
            "field=environment&field=count()",
            "field",
            "cannot group by environment",
        ),
        (
            "dataset=transactions&field=count()&query=event.type:error",
            "query",
            "only transactions",
        ),
        ("field=count()&sort=-p95()", "sort", "not selected"),
        ("field=count()&query=checkout", "query", "free text"),
        (
            "field=id&field=transaction&sort=transaction",
            "sort",
            "-timestamp",
        ),
        ("", "field", "No columns"),
    ] {
        let (status, _, body) = h.get(&format!("{base}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let reason = body[key][0].as_str().unwrap_or_default();
        assert!(reason.contains(needle), "{query}: {body}");
        assert!(!reason.contains('\n'), "one line: {reason}");
    }
    let (status, _, body) = h
        .get("/api/0/organizations/default/events-stats/?yAxis=transaction")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = h
        .get("/api/0/organizations/default/events-stats/?interval=1m&statsPeriod=90d")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "too many buckets");
}

#[tokio::test]
async fn apdex_follows_the_threshold_set_through_the_settings_endpoint() {
    let h = Harness::new().await;
    seed_shop(&h).await;
    let apdex_path = "/api/0/organizations/default/events/?field=transaction&field=apdex()\
                      &query=transaction:/checkout/&statsPeriod=1h";
    // T = 300: 100 and 200 satisfied, 900 tolerated (≤ 1200).
    let (_, _, body) = h.get(apdex_path).await;
    let apdex = body["data"][0]["apdex()"].as_f64().expect("apdex");
    assert!((apdex - 2.5 / 3.0).abs() < 1e-9, "{body}");

    let settings = "/api/0/projects/default/shop/transaction-threshold/configure/";
    let (status, _, body) = h.get(settings).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["threshold"], "300");
    assert_eq!(body["metric"], "duration");

    // The harness token reads only; writing needs project:write.
    let (status, _, _) = h
        .api(
            "POST",
            settings,
            Some(json!({"threshold": 150, "metric": "duration"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let writer = user_token(&h, "writer@example.com", "default", &["project:write"]).await;
    // Vigil's apdex is on duration only: another metric is refused.
    for (metric, expected) in [
        ("duration", StatusCode::OK),
        ("lcp", StatusCode::BAD_REQUEST),
    ] {
        let update = json!({"threshold": 150, "metric": metric});
        let (status, body) = h.call_as(&writer, "POST", settings, Some(update)).await;
        assert_eq!(status, expected, "{metric}: {body}");
        if expected == StatusCode::OK {
            assert_eq!(body["threshold"], "150");
        }
    }

    // T = 150: 100 satisfied, 200 tolerated, 900 frustrated (> 600).
    let (_, _, body) = h.get(apdex_path).await;
    let apdex = body["data"][0]["apdex()"].as_f64().expect("apdex");
    assert!((apdex - 1.5 / 3.0).abs() < 1e-9, "{body}");
    // An explicit threshold is answered only when it is the project's.
    let (status, _, _) = h.get(&apdex_path.replace("apdex()", "apdex(150)")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = h.get(&apdex_path.replace("apdex()", "apdex(300)")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, _) = h.call_as(&writer, "DELETE", settings, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = h.get(settings).await;
    assert_eq!(body["threshold"], "300");
}

#[tokio::test]
async fn performance_issue_settings_read_and_write_sentrys_keys() {
    let h = Harness::new().await;
    let path = "/api/0/projects/default/shop/performance-issues/configure/";
    let (status, _, body) = h.get(path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["n_plus_one_db_count"], 10);
    assert_eq!(body["n_plus_one_db_duration_threshold"], 100.0);
    assert_eq!(body["slow_db_query_duration_threshold"], 1000.0);
    let writer = user_token(&h, "writer@example.com", "default", &["project:write"]).await;
    let (status, body) = h
        .call_as(
            &writer,
            "PUT",
            path,
            Some(json!({"n_plus_one_db_count": 5, "slow_db_query_duration_threshold": 500})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settings = h.performance_settings().await;
    assert_eq!(settings.n_plus_one_min_count, 5);
    assert_eq!(settings.slow_db_query_ms, 500.0);
    assert_eq!(settings.n_plus_one_min_total_ms, 100.0, "unchanged");
    let (status, body) = h
        .call_as(
            &writer,
            "PUT",
            path,
            Some(json!({"n_plus_one_db_duration_threshold": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["n_plus_one_db_duration_threshold"][0]
        .as_str()
        .expect("reason")
        .contains("between"));
}

#[tokio::test]
async fn events_stats_count_per_bucket() {
    let h = Harness::new().await;
    // Three hours on hour boundaries: two transactions in the first, one in the second.
    let base = 1_795_000_000.0 - 1_795_000_000.0 % 3600.0;
    let batch = SpanBatch {
        transactions: vec![
            transaction(&h, 1, "/a/", 100.0, "ok", None, base + 60.0),
            transaction(&h, 2, "/a/", 300.0, "ok", None, base + 120.0),
            transaction(&h, 3, "/a/", 200.0, "ok", None, base + 3600.0 + 5.0),
        ],
        spans: vec![],
    };
    h.store.save_spans(batch).await.expect("save");
    let start = vigil_protocol::timestamp::format_iso(base);
    let end = vigil_protocol::timestamp::format_iso(base + 3.0 * 3600.0);
    let path = format!(
        "/api/0/organizations/default/events-stats/?interval=1h&start={start}&end={end}&yAxis=count()"
    );
    let (status, _, body) = h.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let base = base as i64;
    assert_eq!(
        body["data"],
        json!([
            [base, [{"count": 2}]],
            [base + 3600, [{"count": 1}]],
            [base + 7200, [{"count": 0}]],
        ])
    );
    assert_eq!(body["start"], base);
    assert_eq!(body["end"], base + 3 * 3600);
    assert_eq!(body["isMetricsData"], false);

    let (status, _, body) = h
        .get(&format!("{path}&yAxis=max(transaction.duration)"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count()"]["order"], 0);
    assert_eq!(body["max(transaction.duration)"]["order"], 1);
    assert_eq!(
        body["max(transaction.duration)"]["data"][0],
        json!([base, [{"count": 300.0}]])
    );
    assert_eq!(
        body["max(transaction.duration)"]["data"][2],
        json!([base + 7200, [{"count": 0}]]),
        "empty buckets draw 0"
    );
}

/// A root transaction `/checkout/` (span …a0, child span …a1) calling another service whose
/// transaction `/charge/` continues span …a1; an error inside `/charge/` and one elsewhere.
async fn seed_trace(h: &Harness) -> (String, String, String) {
    let trace_id = "0123456789abcdef0123456789abcdef".to_string();
    let t = now() - 120.0;
    let mut root = transaction(h, 10, "/checkout/", 400.0, "ok", None, t);
    root.trace_id = trace_id.clone();
    root.span_id = "00000000000000a0".into();
    root.data = json!({
        "contexts": {"trace": {"trace_id": trace_id, "span_id": "00000000000000a0", "op": "http.server"},
                     "runtime": {"name": "CPython"}},
        "request": {"url": "http://shop.example/checkout/", "method": "POST"},
        "measurements": {"fcp": {"value": 120.0, "unit": "millisecond"}},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    });
    let mut child = transaction(h, 11, "/charge/", 150.0, "ok", None, t + 0.1);
    child.trace_id = trace_id.clone();
    child.span_id = "00000000000000b0".into();
    child.parent_span_id = Some("00000000000000a1".into());
    let span =
        |span_id: &str, parent: &str, segment: &str, name: &str, op: &str, offset: f64| NewSpan {
            project_id: h.project.id,
            trace_id: trace_id.clone(),
            segment_id: segment.into(),
            transaction: name.into(),
            span_id: span_id.into(),
            parent_span_id: Some(parent.into()),
            op: op.into(),
            description: "SELECT * FROM cart WHERE id = 7".into(),
            group: "SELECT * FROM cart WHERE id = %s".into(),
            status: "ok".into(),
            start: t + offset,
            duration_ms: 20.0,
            data: json!({"db.system": "postgresql"}),
        };
    let batch = SpanBatch {
        transactions: vec![root, child],
        spans: vec![
            span(
                "00000000000000a1",
                "00000000000000a0",
                "00000000000000a0",
                "/checkout/",
                "http.client",
                0.05,
            ),
            span(
                "00000000000000a2",
                "00000000000000a0",
                "00000000000000a0",
                "/checkout/",
                "db",
                0.3,
            ),
            span(
                "00000000000000b1",
                "00000000000000b0",
                "00000000000000b0",
                "/charge/",
                "db",
                0.12,
            ),
        ],
    };
    h.store.save_spans(batch).await.expect("save trace");
    // Errors through the real ingest path, in the trace.
    for (n, span_id) in [(20u32, "00000000000000b1"), (21, "ffffffffffffffff")] {
        let event = json!({
            "platform": "python",
            "level": "error",
            "exception": {"values": [{"type": "CardDeclined", "value": format!("declined {n}")}]},
            "contexts": {"trace": {"trace_id": trace_id, "span_id": span_id}},
        });
        let payload = event.to_string();
        let id = format!("{n:032x}");
        let envelope = format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
            payload.len()
        );
        let (status, body) = h.post_envelope(envelope.into_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (trace_id, format!("{:032x}", 10), format!("{:032x}", 11))
}

#[tokio::test]
async fn transaction_by_id_has_its_spans_and_request() {
    let h = Harness::new().await;
    let (trace_id, root_id, _) = seed_trace(&h).await;
    let (status, _, body) = h
        .get(&format!("/api/0/projects/default/shop/events/{root_id}/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "transaction");
    assert_eq!(body["eventID"], root_id);
    assert_eq!(body["title"], "/checkout/");
    assert_eq!(body["contexts"]["trace"]["trace_id"], trace_id);
    assert_eq!(body["contexts"]["runtime"]["name"], "CPython");
    assert_eq!(body["measurements"]["fcp"]["value"], 120.0);
    let start = body["startTimestamp"].as_f64().expect("start");
    let end = body["endTimestamp"].as_f64().expect("end");
    assert!((end - start - 0.4).abs() < 1e-3, "{start} {end}");
    let entries = body["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["type"], "spans");
    let spans = entries[0]["data"].as_array().expect("spans");
    assert_eq!(spans.len(), 2, "only the root segment's spans: {spans:?}");
    assert_eq!(spans[0]["span_id"], "00000000000000a1");
    assert_eq!(spans[1]["op"], "db");
    assert_eq!(spans[1]["hash"], "SELECT * FROM cart WHERE id = %s");
    assert_eq!(spans[1]["parent_span_id"], "00000000000000a0");
    assert!(entries
        .iter()
        .any(|e| e["type"] == "request" && e["data"]["method"] == "POST"));

    let (status, _, same) = h
        .get(&format!(
            "/api/0/organizations/default/events/shop:{root_id}/"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same["eventID"], root_id);
    let (status, _, _) = h
        .get(&format!(
            "/api/0/projects/default/shop/events/{:032x}/",
            999
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn trace_is_a_tree_with_errors_on_their_transaction() {
    let h = Harness::new().await;
    let (trace_id, root_id, child_id) = seed_trace(&h).await;
    let (status, _, body) = h
        .get(&format!(
            "/api/0/organizations/default/events-trace/{trace_id}/"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let roots = body["transactions"].as_array().expect("roots");
    assert_eq!(roots.len(), 1, "{body}");
    let root = &roots[0];
    assert_eq!(root["event_id"], root_id);
    assert_eq!(root["generation"], 0);
    assert_eq!(root["transaction.duration"], 400.0);
    assert_eq!(root["project_slug"], "shop");
    let child = &root["children"][0];
    assert_eq!(child["event_id"], child_id);
    assert_eq!(child["parent_event_id"], root_id);
    assert_eq!(child["parent_span_id"], "00000000000000a1");
    assert_eq!(child["generation"], 1);
    let errors = child["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["event_id"], format!("{:032x}", 20));
    assert_eq!(errors[0]["span"], "00000000000000b1");
    assert!(errors[0]["issue"]
        .as_str()
        .expect("short id")
        .starts_with("SHOP-"));
    let orphans = body["orphan_errors"].as_array().expect("orphans");
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0]["event_id"], format!("{:032x}", 21));

    let (status, _, _) = h
        .get(&format!(
            "/api/0/organizations/default/events-trace/{}/",
            "f".repeat(32)
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn performance_issue_serializes_with_its_type_and_category() {
    let h = Harness::new().await;
    let t = now();
    let saved = h
        .store
        .save_events(vec![NewEvent {
            project_id: h.project.id,
            event_id: format!("{:032x}", 77),
            event_type: "performance_n_plus_one_db_queries".into(),
            timestamp: t,
            received: t,
            level: "info".into(),
            platform: "python".into(),
            title: "N+1 Query".into(),
            culprit: "/authors/".into(),
            metadata: json!({"title": "N+1 Query", "value": "SELECT … FROM book WHERE author_id = %s"}),
            hashes: vec!["nplus1-authors".into()],
            environment: Some("production".into()),
            release: None,
            transaction: Some("/authors/".into()),
            user_tag: None,
            trace_id: Some("5c7c070a55e54f53aeebfa86dbe3f266".into()),
            tags: vec![("environment".into(), "production".into())],
            is_unhandled: false,
            message: String::new(),
            data: json!({"type": "transaction", "transaction": "/authors/"}).into(),
        }])
        .await
        .expect("save");
    let (status, _, body) = h
        .get(&format!("/api/0/issues/{}/", saved[0].issue_id))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issueType"], "performance_n_plus_one_db_queries");
    assert_eq!(body["issueCategory"], "performance");
    assert_eq!(body["type"], "transaction");

    // Error issues are unchanged.
    let payload =
        json!({"level": "error", "exception": {"values": [{"type": "KeyError", "value": "x"}]}})
            .to_string();
    let envelope = format!(
        "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        78,
        payload.len()
    );
    h.post_envelope(envelope.into_bytes()).await;
    let (_, _, issues) = h.get("/api/0/projects/default/shop/issues/?query=").await;
    let error = issues
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["title"].as_str().unwrap_or("").starts_with("KeyError"))
        .expect("the error issue")
        .clone();
    assert_eq!(error["issueType"], "error");
    assert_eq!(error["issueCategory"], "error");
    assert_eq!(error["type"], "error");
}

#[tokio::test]
async fn another_organizations_user_gets_404() {
    let h = Harness::new().await;
    let (trace_id, root_id, _) = seed_trace(&h).await;
    let outsider = user_token(
        &h,
        "outsider@example.com",
        "other",
        &["org:read", "project:read", "project:write"],
    )
    .await;
    for (method, path) in [
        (
            "GET",
            "/api/0/organizations/default/events/?field=count()".to_string(),
        ),
        (
            "GET",
            "/api/0/organizations/default/events-stats/".to_string(),
        ),
        (
            "GET",
            format!("/api/0/organizations/default/events-trace/{trace_id}/"),
        ),
        (
            "GET",
            format!("/api/0/projects/default/shop/events/{root_id}/"),
        ),
        (
            "GET",
            format!("/api/0/organizations/default/events/shop:{root_id}/"),
        ),
        (
            "GET",
            "/api/0/projects/default/shop/performance-issues/configure/".to_string(),
        ),
        (
            "POST",
            "/api/0/projects/default/shop/transaction-threshold/configure/".to_string(),
        ),
    ] {
        let body = (method == "POST").then(|| json!({"threshold": 100}));
        let (status, body) = h.call_as(&outsider, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // A project id of another organization is refused, not ignored.
    let secret = h.project_in("other", "secret", None).await;
    let (status, _, _) = h
        .get(&format!(
            "/api/0/organizations/default/events/?field=count()&project={}",
            secret.id
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The body of a captured request, and whether it was gzipped.
fn fixture(scenario: &str, request: &str) -> (Vec<u8>, Option<&'static str>) {
    let dir = std::path::Path::new("/work/shared/fixtures/sdk-payloads")
        .join(scenario)
        .join(request);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("request.json")).expect("request.json"))
            .expect("request json");
    let gzip = meta["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .any(|h| {
            h[0].as_str()
                .unwrap_or("")
                .eq_ignore_ascii_case("content-encoding")
                && h[1] == "gzip"
        });
    (
        std::fs::read(dir.join("body.bin")).expect("body.bin"),
        gzip.then_some("gzip"),
    )
}

async fn replay(h: &Harness, scenario: &str, request: &str) {
    let (body, encoding) = fixture(scenario, request);
    let mut builder = h.envelope_request(());
    if let Some(encoding) = encoding {
        builder = builder.header("content-encoding", encoding);
    }
    let (status, _, answer) = h
        .send(builder.body(Body::from(body)).expect("request"))
        .await;
    assert_eq!(status, StatusCode::OK, "{scenario}: {answer}");
}

/// Real SDK envelopes (Python's `transaction` item, Node's streamed v2 `span` item) through
/// ingest, read back through Discover, the event endpoint and the trace endpoint.
#[tokio::test]
async fn sdk_transactions_are_queryable_after_ingest() {
    let h = Harness::new().await;
    replay(&h, "django-db-nplus1", "001-post-api-42-envelope").await;
    replay(&h, "node-transaction", "001-post-api-42-envelope").await;

    let (status, _, body) = h
        .get(
            "/api/0/organizations/default/events/?field=transaction&field=count()&field=p95()\
         &statsPeriod=30d&sort=transaction",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = rows_by_transaction(&body);
    let row = |name: &str| {
        rows.get(name)
            .unwrap_or_else(|| panic!("no row for {name} after ingest: {body}"))
    };
    assert_eq!(row("/authors/")["count()"], 1, "{body}");
    assert_eq!(row("GET /api/products")["count()"], 1, "{body}");
    let p95 = row("/authors/")["p95()"].as_f64().expect("p95");
    assert!(
        p95 > 5.0 && p95 < 20.0,
        "the Django request took ~11 ms: {p95}"
    );

    let (_, _, body) = h
        .get(
            "/api/0/organizations/default/events/?field=id&field=transaction&statsPeriod=30d\
         &query=transaction:/authors/",
        )
        .await;
    let id = body["data"][0]["id"].as_str().expect("event id").to_owned();
    assert_eq!(id, "81e79c8169794755be1077790f04ed94");
    let (status, _, event) = h
        .get(&format!("/api/0/projects/default/shop/events/{id}/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{event}");
    assert_eq!(event["type"], "transaction");
    let spans = event["entries"][0]["data"].as_array().expect("spans");
    let queries = spans
        .iter()
        .filter(|s| s["op"].as_str().unwrap_or("").starts_with("db"))
        .count();
    assert!(queries >= 15, "the view ran its query 15 times: {queries}");

    let (status, _, trace) = h
        .get("/api/0/organizations/default/events-trace/b734577d50fd48ea9070b488e32bdbf7/")
        .await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    assert_eq!(trace["transactions"][0]["transaction"], "GET /api/products");
}
