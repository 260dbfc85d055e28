//! Sentry's Discover API as Sentry's MCP server and Grafana's data source call it, against the
//! real binary with events and a transaction sent through the real ingest endpoint: the errors
//! dataset (rows, aggregates grouped by issue, Sentry's search terms, pages), `events-stats/`
//! for errors (one series, and top issues with and without `Other`), `events/validate/`, the
//! spans dataset, and a trace's `trace-meta/` and `trace/` tree.
//!
//! On SQLite and on PostgreSQL (`VIGIL_TEST_DATABASE_URL`), from one test body.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::{Dsn, Vigil};
use serde_json::{json, Value};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ROOT_SPAN: &str = "a000000000000001";
const DB_SPAN: &str = "b000000000000001";
const HTTP_SPAN: &str = "b000000000000002";
const EVENTS: &str = "/api/0/organizations/default/events/";
const STATS: &str = "/api/0/organizations/default/events-stats/";

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sends `payload` as an `item_type` item with the id `n`.
fn send(vigil: &Vigil, dsn: &Dsn, item_type: &str, n: u32, payload: &Value) -> String {
    let event_id = format!("{n:032x}");
    let payload = payload.to_string();
    let body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"{item_type}\",\"length\":{}}}\n{payload}\n",
        payload.len()
    );
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=discover-e2e/1.0",
        dsn.public_key
    );
    let answer = vigil
        .http()
        .post(vigil.url(&format!("/api/{}/envelope/", dsn.project_id)))
        .header("X-Sentry-Auth", auth)
        .body(body)
        .send()
        .expect("POST envelope");
    assert_eq!(answer.status().as_u16(), 200, "{item_type} {n}");
    event_id
}

/// A Python exception event; `span` places it in the trace.
fn exception(ty: &str, value: &str, level: &str, user: &str, span: Option<&str>) -> Value {
    let mut event = json!({
        "platform": "python",
        "level": level,
        "timestamp": now(),
        "release": "shop@1.0",
        "environment": if ty == "ValueError" { "production" } else { "staging" },
        "user": {"id": user, "email": format!("{user}@example.com")},
        "tags": {"browser": "Firefox"},
        "exception": {"values": [{
            "type": ty,
            "value": value,
            "stacktrace": {"frames": [{
                "filename": "shop/cart.py", "function": "checkout", "lineno": 42, "in_app": true
            }]}
        }]}
    });
    if let Some(span) = span {
        event["contexts"] = json!({"trace": {"trace_id": TRACE, "span_id": span}});
    }
    event
}

/// The checkout transaction of [`TRACE`]: a database span, and an HTTP call below it.
fn checkout() -> Value {
    let t = now() - 5.0;
    json!({
        "type": "transaction",
        "platform": "python",
        "transaction": "/checkout/",
        "start_timestamp": t,
        "timestamp": t + 2.0,
        "contexts": {"trace": {
            "trace_id": TRACE, "span_id": ROOT_SPAN, "op": "http.server", "status": "ok"
        }},
        "spans": [
            {"span_id": DB_SPAN, "parent_span_id": ROOT_SPAN, "trace_id": TRACE, "op": "db",
             "description": "SELECT * FROM cart", "start_timestamp": t + 0.1, "timestamp": t + 0.5},
            {"span_id": HTTP_SPAN, "parent_span_id": DB_SPAN, "trace_id": TRACE,
             "op": "http.client", "description": "GET https://pay.example.com/charge",
             "start_timestamp": t + 0.2, "timestamp": t + 0.4}
        ]
    })
}

/// `GET path` with repeated query pairs; the status and body.
fn get(vigil: &Vigil, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let answer = vigil.api_get(path, query);
    (answer.status, answer.body)
}

#[track_caller]
fn ok(vigil: &Vigil, path: &str, query: &[(&str, &str)]) -> Value {
    vigil.api_get(path, query).ok(&format!("{path} {query:?}"))
}

fn sum_series(series: &Value) -> u64 {
    series["data"]
        .as_array()
        .expect("series data")
        .iter()
        .map(|point| point[1][0]["count"].as_u64().expect("count"))
        .sum()
}

test_on_both_backends!(
    discover_as_the_clients_call_it,
    errors_spans_and_traces_answer_as_sentry,
    on_postgres_errors_spans_and_traces_answer_as_sentry
);

fn discover_as_the_clients_call_it(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");

    // Three ValueErrors (two users; two in the database span of the trace), two KeyErrors
    // (warnings, in a span that was never sent), one message, and the transaction.
    send(
        vigil,
        &dsn,
        "event",
        1,
        &exception("ValueError", "bad value", "error", "1", Some(DB_SPAN)),
    );
    send(
        vigil,
        &dsn,
        "event",
        2,
        &exception("ValueError", "bad value", "error", "1", Some(DB_SPAN)),
    );
    send(
        vigil,
        &dsn,
        "event",
        3,
        &exception("ValueError", "bad value", "error", "2", None),
    );
    let lost_span = Some("c000000000000009");
    send(
        vigil,
        &dsn,
        "event",
        4,
        &exception("KeyError", "'sku'", "warning", "3", lost_span),
    );
    send(
        vigil,
        &dsn,
        "event",
        5,
        &exception("KeyError", "'sku'", "warning", "3", lost_span),
    );
    send(
        vigil,
        &dsn,
        "event",
        6,
        &json!({
            "platform": "python", "level": "info", "timestamp": now(),
            "message": "hello checkout"
        }),
    );
    let transaction_id = send(vigil, &dsn, "transaction", 7, &checkout());
    vigil.settle();

    let issues = vigil.project_issues("shop", "");
    let short_id_of = |ty: &str| -> String {
        issues
            .iter()
            .find(|i| i["metadata"]["type"] == ty)
            .and_then(|i| i["shortId"].as_str())
            .unwrap_or_else(|| panic!("no {ty} issue in {issues:?}"))
            .to_owned()
    };
    let value_error = short_id_of("ValueError");
    let key_error = short_id_of("KeyError");

    // The MCP server's search_errors: issues by count, then by last seen (`-last_seen`).
    let mcp_fields = [
        ("dataset", "errors"),
        ("per_page", "10"),
        ("statsPeriod", "24h"),
        ("field", "issue"),
        ("field", "title"),
        ("field", "project"),
        ("field", "last_seen()"),
        ("field", "count()"),
        ("query", ""),
    ];
    let mut by_count = mcp_fields.to_vec();
    by_count.push(("sort", "-count"));
    let body = ok(vigil, EVENTS, &by_count);
    let rows = body["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{body}");
    assert_eq!(rows[0]["issue"], value_error.as_str());
    assert_eq!(rows[0]["count()"], 3);
    assert_eq!(rows[0]["project"], "shop");
    assert!(rows[0]["title"]
        .as_str()
        .expect("title")
        .starts_with("ValueError"));
    assert!(rows[0]["last_seen()"]
        .as_str()
        .expect("date")
        .ends_with('Z'));
    assert_eq!(rows[1]["issue"], key_error.as_str());
    assert_eq!(rows[1]["count()"], 2);
    assert_eq!(rows[2]["count()"], 1);
    assert_eq!(body["meta"]["fields"]["count()"], "integer");
    assert_eq!(body["meta"]["fields"]["last_seen()"], "date");
    assert_eq!(body["meta"]["fields"]["issue"], "string");

    // Sentry's terms narrow the groups.
    for (query, issue, count) in [
        ("level:warning", &key_error, 2),
        ("error.type:KeyError", &key_error, 2),
        (&format!("issue:{value_error}") as &str, &value_error, 3),
        (
            "!level:warning is:unresolved environment:production",
            &value_error,
            3,
        ),
        ("browser:Firefox error.value:\"bad*\"", &value_error, 3),
        ("user:id:2", &value_error, 1),
        ("has:trace level:error", &value_error, 2),
    ] {
        let mut q = mcp_fields.to_vec();
        q.retain(|(k, _)| *k != "query");
        q.push(("query", query));
        let body = ok(vigil, EVENTS, &q);
        let rows = body["data"].as_array().expect("rows");
        assert_eq!(rows.len(), 1, "{query}: {body}");
        assert_eq!(rows[0]["issue"], issue.as_str(), "{query}");
        assert_eq!(rows[0]["count()"], count, "{query}");
    }
    // Free text finds the message.
    let body = ok(
        vigil,
        EVENTS,
        &[
            ("dataset", "errors"),
            ("field", "message"),
            ("field", "level"),
            ("query", "checkout"),
        ],
    );
    assert_eq!(
        body["data"],
        json!([{"message": "hello checkout", "level": "info"}])
    );

    // Users per issue, and no dataset: error fields make it the errors dataset.
    let body = ok(
        vigil,
        EVENTS,
        &[
            ("field", "title"),
            ("field", "count_unique(user)"),
            ("field", "count()"),
            ("sort", "-count_unique_user"),
        ],
    );
    assert_eq!(body["meta"]["dataset"], "errors", "{body}");
    assert_eq!(body["data"][0]["count_unique(user)"], 2, "{body}");
    assert_eq!(body["data"][0]["count()"], 3);

    // Single events, newest first, a page of two and then the rest.
    let rows_query = [
        ("dataset", "errors"),
        ("field", "id"),
        ("field", "issue"),
        ("field", "error.type"),
        ("field", "trace"),
        ("field", "user.display"),
        ("field", "timestamp"),
        ("sort", "-timestamp"),
        ("per_page", "2"),
    ];
    let mut q = rows_query.to_vec();
    let issue_query = format!("issue:{value_error}");
    q.push(("query", &issue_query));
    let first = vigil.api_get(EVENTS, &q);
    let cursor = first.next_cursor().expect("a next page");
    let body = first.ok("first page");
    let rows = body["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(rows[0]["id"], format!("{:032x}", 3), "newest first");
    assert_eq!(rows[0]["error.type"], json!(["ValueError"]));
    assert_eq!(rows[0]["trace"], Value::Null, "event 3 has no trace");
    assert_eq!(rows[0]["user.display"], "2@example.com");
    assert_eq!(rows[1]["trace"], TRACE);
    assert_eq!(rows[1]["issue"], value_error.as_str());
    assert_eq!(body["meta"]["fields"]["error.type"], "array");
    q.push(("cursor", &cursor));
    let body = ok(vigil, EVENTS, &q);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["data"][0]["id"], format!("{:032x}", 1));

    // Refusals name what they refuse.
    for (query, named) in [
        (
            vec![("dataset", "errors"), ("field", "nonsense")],
            "nonsense",
        ),
        (
            vec![
                ("dataset", "errors"),
                ("field", "count()"),
                ("query", "nosuchkey:1"),
            ],
            "nosuchkey",
        ),
        (
            vec![
                ("dataset", "errors"),
                ("field", "timestamp"),
                ("field", "count()"),
            ],
            "timestamp",
        ),
        (
            vec![
                ("dataset", "errors"),
                ("field", "title"),
                ("sort", "-count()"),
            ],
            "count()",
        ),
        (vec![("dataset", "logs"), ("field", "message")], "logs"),
        (vec![("dataset", "metrics"), ("field", "value")], "metrics"),
    ] {
        let (status, body) = get(vigil, EVENTS, &query);
        assert_eq!(status, 400, "{query:?}: {body}");
        assert!(body.to_string().contains(named), "{query:?}: {body}");
    }

    // events-stats: every error counted once over the day; top issues with `Other`.
    let body = ok(
        vigil,
        STATS,
        &[
            ("dataset", "errors"),
            ("yAxis", "count()"),
            ("interval", "1h"),
            ("statsPeriod", "24h"),
            ("partial", "1"),
        ],
    );
    assert_eq!(sum_series(&body), 6, "{body}");
    assert_eq!(
        body["data"].as_array().map(Vec::len),
        Some(25),
        "hourly buckets, the last partial"
    );
    let top = [
        ("dataset", "errors"),
        ("yAxis", "count()"),
        ("field", "issue"),
        ("field", "count()"),
        ("topEvents", "2"),
        ("interval", "1h"),
        ("statsPeriod", "24h"),
        ("partial", "1"),
    ];
    let body = ok(vigil, STATS, &top);
    assert_eq!(sum_series(&body[value_error.as_str()]), 3, "{body}");
    assert_eq!(sum_series(&body[key_error.as_str()]), 2);
    assert_eq!(sum_series(&body["Other"]), 1);
    assert_eq!(body[value_error.as_str()]["order"], 0);
    let mut exclude = top.to_vec();
    exclude.push(("excludeOther", "1"));
    let body = ok(vigil, STATS, &exclude);
    assert!(body.get("Other").is_none(), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2));

    // Grafana's charts: no dataset, `topEvents` always; split by title they chart errors,
    // unsplit they chart transactions (the one transaction).
    let grafana = [
        ("yAxis", "count()"),
        ("query", ""),
        ("statsPeriod", "24h"),
        ("interval", "1h"),
        ("partial", "1"),
        ("excludeOther", "1"),
        ("topEvents", "10"),
    ];
    let mut by_title = grafana.to_vec();
    by_title.push(("field", "title"));
    let body = ok(vigil, STATS, &by_title);
    assert_eq!(sum_series(&body["ValueError: bad value"]), 3, "{body}");
    assert_eq!(sum_series(&body["hello checkout"]), 1, "{body}");
    let body = ok(vigil, STATS, &grafana);
    assert_eq!(sum_series(&body), 1, "{body}");

    // events/validate: valid, then each wrong part named.
    let body = ok(
        vigil,
        "/api/0/organizations/default/events/validate/",
        &[
            ("dataset", "errors"),
            ("field", "issue"),
            ("field", "count()"),
            ("orderby", "-count()"),
            ("query", "level:error"),
        ],
    );
    assert_eq!(body["valid"], true, "{body}");
    assert_eq!(
        body["field"][1],
        json!({"name": "count()", "valid": true, "attrType": "number", "error": null})
    );
    let (status, body) = get(
        vigil,
        "/api/0/organizations/default/events/validate/",
        &[
            ("dataset", "errors"),
            ("field", "issue"),
            ("field", "bogus"),
            ("orderby", "-timestamp"),
            ("query", "nosuchkey:1"),
        ],
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["valid"], false);
    assert_eq!(body["field"][0]["valid"], true);
    assert_eq!(body["field"][1]["valid"], false);
    assert_eq!(
        body["orderby"][0]["error"],
        "Orderby must also be a selected field"
    );
    assert_eq!(body["query"]["valid"], false);
    assert!(body["query"]["error"]
        .as_str()
        .expect("error")
        .contains("nosuchkey"));
    let (status, body) = get(
        vigil,
        "/api/0/organizations/default/events/validate/",
        &[("dataset", "logs"), ("field", "message")],
    );
    assert_eq!(status, 400);
    assert_eq!(body["dataset"][0]["name"], "logs");
    assert_eq!(body["dataset"][0]["valid"], false);

    // The spans dataset as the MCP server's span search asks it.
    let span_fields = [
        ("dataset", "spans"),
        ("per_page", "10"),
        ("statsPeriod", "24h"),
        ("useRpc", "1"),
        ("field", "id"),
        ("field", "trace"),
        ("field", "span.op"),
        ("field", "span.description"),
        ("field", "span.duration"),
        ("field", "transaction"),
        ("field", "project"),
        ("field", "timestamp"),
    ];
    let mut q = span_fields.to_vec();
    q.extend([("query", "is_transaction:true"), ("sort", "-timestamp")]);
    let body = ok(vigil, EVENTS, &q);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["data"][0]["id"], ROOT_SPAN);
    assert_eq!(body["data"][0]["span.op"], "http.server");
    assert_eq!(body["data"][0]["transaction"], "/checkout/");
    let mut q = span_fields.to_vec();
    q.extend([
        ("query", "span.duration:>100ms"),
        ("sort", "-span.duration"),
    ]);
    let body = ok(vigil, EVENTS, &q);
    let ops: Vec<&str> = body["data"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["span.op"].as_str())
        .collect();
    assert_eq!(
        ops,
        ["http.server", "db", "http.client"],
        "slowest first: {body}"
    );
    assert_eq!(body["data"][1]["span.description"], "SELECT * FROM cart");
    let duration = body["data"][1]["span.duration"].as_f64().expect("ms");
    assert!((duration - 400.0).abs() < 1.0, "{duration}");
    assert_eq!(body["meta"]["units"]["span.duration"], "millisecond");

    // trace-meta and the trace tree.
    let meta = ok(
        vigil,
        &format!("/api/0/organizations/default/trace-meta/{TRACE}/"),
        &[("statsPeriod", "14d")],
    );
    assert_eq!(meta["errors"], 4, "{meta}");
    assert_eq!(meta["performance_issues"], 0);
    assert_eq!(meta["span_count"], 3);
    assert_eq!(
        meta["span_count_map"],
        json!({"db": 1, "http.client": 1, "http.server": 1})
    );
    assert_eq!(
        meta["transaction_child_count_map"],
        json!([{"transaction.event_id": transaction_id, "count()": 3}])
    );
    let tree = ok(
        vigil,
        &format!("/api/0/organizations/default/trace/{TRACE}/"),
        &[("limit", "1000"), ("project", "-1"), ("statsPeriod", "14d")],
    );
    let roots = tree.as_array().expect("a list");
    assert_eq!(
        roots.len(),
        3,
        "the root span and two errors of no stored span: {tree}"
    );
    let root = &roots[0];
    assert_eq!(root["event_id"], ROOT_SPAN);
    assert_eq!(root["transaction_id"], transaction_id);
    assert_eq!(root["is_transaction"], true);
    assert_eq!(root["project_slug"], "shop");
    assert_eq!(root["name"], "/checkout/");
    let db = &root["children"][0];
    assert_eq!(db["op"], "db");
    assert_eq!(db["name"], "SELECT * FROM cart");
    assert_eq!(db["transaction_id"], transaction_id);
    assert_eq!(db["parent_span_id"], ROOT_SPAN);
    assert_eq!(db["children"][0]["op"], "http.client");
    let errors = db["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{db}");
    assert_eq!(errors[0]["short_id"], value_error.as_str());
    assert_eq!(errors[0]["event_type"], "error");
    assert_eq!(roots[1]["short_id"], key_error.as_str());
    assert_eq!(roots[1]["level"], "warning");
    // Sentry answers an unknown trace with nothing, not 404.
    let empty = ok(
        vigil,
        "/api/0/organizations/default/trace/0123456789abcdef0123456789abcdef/",
        &[],
    );
    assert_eq!(empty, json!([]));
}
