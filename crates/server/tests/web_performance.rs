//! The performance pages through the real router and a real SQLite store: the transactions
//! overview and its filters, a transaction's summary, one transaction's span waterfall, a trace
//! across two projects with its error, performance settings, a performance issue's evidence,
//! and no data for other organizations or logged-out visitors.

mod common;

use axum::http::StatusCode;
use common::page::{csrf_of, get, Session};
use common::Harness;
use serde_json::{json, Value};
use vigil_store::prelude::*;
use vigil_store::{NewEvent, NewSpan, NewTransaction, Project, SpanBatch, TransactionQuery};

const TRACE: &str = "7f3a2b1c4d5e6f708192a3b4c5d6e7f8";
const DJANGO_SPAN: &str = "a000000000000001";
const VIEW_SPAN: &str = "a000000000000002";
const QUEUE_SPAN: &str = "a000000000000003";
const CELERY_SPAN: &str = "c000000000000001";
const DJANGO_EVENT: &str = "d0000000000000000000000000000001";
const CELERY_EVENT: &str = "c0000000000000000000000000000001";
const ERROR_EVENT: &str = "e0000000000000000000000000000001";
const STATEMENT: &str = "SELECT \"shop_book\".\"id\", \"shop_book\".\"title\" FROM \"shop_book\" WHERE \"shop_book\".\"author_id\" = %s";

fn now() -> f64 {
    vigil_server::time::unix_now()
}

#[allow(clippy::too_many_arguments)]
fn transaction(
    project: &Project,
    event_id: &str,
    span_id: &str,
    parent: Option<&str>,
    name: &str,
    op: &str,
    start: f64,
    duration_ms: f64,
    environment: &str,
) -> NewTransaction {
    NewTransaction {
        project_id: project.id,
        event_id: event_id.into(),
        trace_id: TRACE.into(),
        span_id: span_id.into(),
        parent_span_id: parent.map(str::to_owned),
        name: name.into(),
        op: op.into(),
        status: "ok".into(),
        start,
        duration_ms,
        received: start + duration_ms / 1000.0,
        environment: Some(environment.into()),
        release: Some("shop@1.2.3".into()),
        user_tag: Some("id:7".into()),
        platform: "python".into(),
        tags: vec![("environment".into(), environment.into())],
        data: json!({
            "type": "transaction", "transaction": name, "platform": "python",
            "environment": environment, "release": "shop@1.2.3",
            "contexts": {"trace": {"trace_id": TRACE, "span_id": span_id, "op": op, "status": "ok"}},
            "request": {"url": "http://shop.example/books/", "method": "GET",
                        "headers": {"User-Agent": "pytest"}},
            "tags": {"environment": environment},
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn span(
    project: &Project,
    segment: &str,
    transaction: &str,
    span_id: &str,
    parent: &str,
    op: &str,
    description: &str,
    group: &str,
    start: f64,
    duration_ms: f64,
) -> NewSpan {
    NewSpan {
        project_id: project.id,
        trace_id: TRACE.into(),
        segment_id: segment.into(),
        transaction: transaction.into(),
        span_id: span_id.into(),
        parent_span_id: Some(parent.into()),
        op: op.into(),
        description: description.into(),
        group: group.into(),
        status: "ok".into(),
        start,
        duration_ms,
        data: Value::Null,
    }
}

/// What the seeded data is called by.
struct Seeded {
    worker: Project,
    error_issue: i64,
    start: f64,
}

/// A Django request (`/books/`, with a view span, 12 similar DB queries under it and the
/// enqueueing of a Celery task), the Celery task in another project of the same trace, two
/// more `/books/` requests (one in staging), one two days old, and an error in the trace.
async fn seed(h: &Harness) -> Seeded {
    let worker = h
        .store
        .create_project(h.project.organization_id, "worker", Some("python"))
        .await
        .expect("worker project")
        .0;
    let shop = &h.project;
    let start = (now() - 600.0).floor();
    let mut spans = vec![
        span(
            shop,
            DJANGO_SPAN,
            "/books/",
            VIEW_SPAN,
            DJANGO_SPAN,
            "view.render",
            "shop.views.books",
            "shop.views.books",
            start + 0.01,
            200.0,
        ),
        span(
            shop,
            DJANGO_SPAN,
            "/books/",
            QUEUE_SPAN,
            DJANGO_SPAN,
            "queue.submit.celery",
            "shop.tasks.send_invoice",
            "shop.tasks.send_invoice",
            start + 0.22,
            5.0,
        ),
    ];
    for i in 0..12u32 {
        spans.push(span(
            shop,
            DJANGO_SPAN,
            "/books/",
            &format!("b{i:015x}"),
            VIEW_SPAN,
            "db",
            &STATEMENT.replace("%s", &(i + 1).to_string()),
            STATEMENT,
            start + 0.02 + f64::from(i) * 0.015,
            12.0,
        ));
    }
    spans.push(span(
        &worker,
        CELERY_SPAN,
        "shop.tasks.send_invoice",
        "c000000000000002",
        CELERY_SPAN,
        "db",
        "UPDATE invoice SET sent = true WHERE id = 3",
        "UPDATE invoice SET sent = %s WHERE id = %s",
        start + 0.3,
        8.0,
    ));
    let transactions = vec![
        transaction(
            shop,
            DJANGO_EVENT,
            DJANGO_SPAN,
            None,
            "/books/",
            "http.server",
            start,
            250.0,
            "production",
        ),
        transaction(
            &worker,
            CELERY_EVENT,
            CELERY_SPAN,
            Some(QUEUE_SPAN),
            "shop.tasks.send_invoice",
            "celery.task",
            start + 0.25,
            120.0,
            "production",
        ),
        NewTransaction {
            trace_id: "11111111111111111111111111111111".into(),
            ..transaction(
                shop,
                "d0000000000000000000000000000002",
                "a100000000000001",
                None,
                "/books/",
                "http.server",
                start + 60.0,
                250.0,
                "production",
            )
        },
        NewTransaction {
            trace_id: "22222222222222222222222222222222".into(),
            ..transaction(
                shop,
                "d0000000000000000000000000000003",
                "a200000000000001",
                None,
                "/books/",
                "http.server",
                start + 120.0,
                250.0,
                "staging",
            )
        },
        NewTransaction {
            trace_id: "33333333333333333333333333333333".into(),
            ..transaction(
                shop,
                "d0000000000000000000000000000004",
                "a300000000000001",
                None,
                "/old/",
                "http.server",
                start - 2.0 * 86_400.0,
                90.0,
                "production",
            )
        },
    ];
    h.store
        .save_spans(SpanBatch {
            transactions,
            spans,
        })
        .await
        .expect("save spans");

    let error = NewEvent {
        project_id: worker.id,
        event_id: ERROR_EVENT.into(),
        event_type: "error".into(),
        timestamp: start + 0.33,
        received: start + 0.33,
        level: "error".into(),
        platform: "python".into(),
        title: "ValueError: invoice 3 has no lines".into(),
        culprit: "shop.tasks.send_invoice".into(),
        metadata: json!({"type": "ValueError", "value": "invoice 3 has no lines"}),
        hashes: vec!["0123456789abcdef0123456789abcdef".into()],
        environment: Some("production".into()),
        release: Some("shop@1.2.3".into()),
        transaction: Some("shop.tasks.send_invoice".into()),
        user_tag: None,
        trace_id: Some(TRACE.into()),
        tags: vec![("level".into(), "error".into())],
        is_unhandled: true,
        message: "invoice 3 has no lines".into(),
        data: json!({
            "event_id": ERROR_EVENT, "platform": "python", "level": "error",
            "exception": {"values": [{"type": "ValueError", "value": "invoice 3 has no lines"}]},
            "contexts": {"trace": {"trace_id": TRACE, "span_id": "c000000000000002",
                                   "op": "celery.task"}},
        })
        .into(),
    };
    let saved = h.store.save_events(vec![error]).await.expect("save error");
    Seeded {
        worker,
        error_issue: saved[0].issue_id,
        start,
    }
}

/// The store's own p95 of `/books/` in the last 24 hours, as the page writes durations.
async fn books_p95(h: &Harness) -> f64 {
    let aggregates = h
        .store
        .aggregate_transactions(
            &TransactionQuery {
                organization_id: h.project.organization_id,
                project_ids: vec![h.project.id],
                transaction: Some("/books/".into()),
                since: Some(now() - 86_400.0),
                until: Some(now()),
                ..TransactionQuery::default()
            },
            false,
        )
        .await
        .expect("aggregate");
    aggregates[0].p95_ms
}

/// The overview's row of a transaction name: the markup from its link to the row's end.
fn row_of<'a>(body: &'a str, name: &str) -> &'a str {
    let link = format!(">{name}</a>");
    let at = body
        .find(&link)
        .unwrap_or_else(|| panic!("{name} not listed in {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn overview_lists_transactions_with_their_figures_and_filters() {
    let h = Harness::new().await;
    let seeded = seed(&h).await;
    let session = Session::admin(&h).await;

    let page = session.shown("/organizations/default/performance/").await;
    let books = row_of(&page.body, "/books/");
    assert!(books.contains("3 events"), "{books}");
    let p95 = books_p95(&h).await;
    assert!((p95 - 250.0).abs() < 1.0, "p95 {p95}");
    assert!(books.contains("250 ms"), "{books}");
    // Apdex with the default 300 ms threshold: all three satisfied.
    assert!(books.contains(">1.00<"), "{books}");
    assert!(
        page.body.contains(&format!(
            "/organizations/default/performance/summary/?project={}&amp;transaction=%2Fbooks%2F",
            h.project.id
        )),
        "no link to the summary"
    );
    assert!(page.body.contains("shop.tasks.send_invoice"));
    assert!(
        !page.body.contains("/old/"),
        "a two-day-old transaction in 24 h"
    );

    let week = session
        .get("/organizations/default/performance/?statsPeriod=7d")
        .await;
    assert!(week.body.contains(">/old/</a>"), "{}", week.body);

    let worker_only = session
        .get(&format!(
            "/organizations/default/performance/?project={}",
            seeded.worker.id
        ))
        .await;
    assert!(worker_only.body.contains(">shop.tasks.send_invoice</a>"));
    assert!(!worker_only.body.contains(">/books/</a>"));

    let staging = session
        .get("/organizations/default/performance/?environment=staging")
        .await;
    assert!(
        row_of(&staging.body, "/books/").contains("1 event ·"),
        "{}",
        staging.body
    );
    assert!(!staging.body.contains(">shop.tasks.send_invoice</a>"));

    // Sorting by p95, fastest first: the 120 ms task before the 250 ms request.
    let sorted = session
        .get("/organizations/default/performance/?sort=p95")
        .await;
    let task = sorted
        .body
        .find(">shop.tasks.send_invoice</a>")
        .expect("task");
    let request = sorted.body.find(">/books/</a>").expect("request");
    assert!(task < request);
    assert!(sorted.body.contains("aria-sort=\"ascending\""));
}

#[tokio::test]
async fn an_organization_without_transactions_is_told_how_to_enable_tracing() {
    let h = Harness::new().await;
    let session = Session::admin(&h).await;
    let page = session.shown("/organizations/default/performance/").await;
    assert!(page.body.contains("traces_sample_rate=1.0"));
    assert!(page.body.contains("tracesSampleRate: 1.0"));
    assert!(page.body.contains(">Performance</a>"), "no nav entry");
}

#[tokio::test]
async fn summary_shows_histogram_operations_and_expensive_queries() {
    let h = Harness::new().await;
    seed(&h).await;
    let session = Session::admin(&h).await;
    let path = format!(
        "/organizations/default/performance/summary/?project={}&transaction=%2Fbooks%2F",
        h.project.id
    );
    let page = session.shown(&path).await;
    let body = &page.body;
    assert!(
        body.contains("Duration distribution") && body.contains("<svg"),
        "{body}"
    );
    assert!(body.contains("figure class=\"histogram\""));
    assert!(body.contains("<polyline"), "no p95 line");
    let ops = &body[body.find("id=\"operations\"").expect("operations")..];
    assert!(ops.contains("<code>db</code>"), "{ops}");
    assert!(ops.contains("<code>view.render</code>"));
    // 12 queries of 12 ms: 144 ms in db.
    assert!(ops.contains("144 ms"), "{ops}");
    let queries = &body[body.find("id=\"queries\"").expect("queries")..];
    assert!(queries.contains("(all transactions)"));
    assert!(
        queries.contains("WHERE &quot;shop_book&quot;.&quot;author_id&quot; = %s"),
        "{queries}"
    );
    assert!(queries.contains(">12<"), "{queries}");
    assert!(body.contains(&transaction_path("shop", DJANGO_EVENT)));

    let unknown = session
        .get(&format!(
            "/organizations/default/performance/summary/?project={}&transaction=%2Fnope%2F",
            h.project.id
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.contains("No transactions named"));
}

/// The path of the transaction page of `event` in the project `project` of `default`.
fn transaction_path(project: &str, event: &str) -> String {
    format!("/organizations/default/performance/{project}:{event}/")
}

/// The path of the page of the trace `trace` in `default`.
fn trace_path(trace: &str) -> String {
    format!("/organizations/default/performance/trace/{trace}/")
}

/// Where, in a page's waterfall, the `<details>` group of the span labelled `label` starts: the
/// spans nested under it follow before the group's `</details>`.
fn group_of_span(body: &str, label: &str) -> usize {
    let span = body
        .find(&format!(">{label}<"))
        .unwrap_or_else(|| panic!("no span {label}"));
    body[..span]
        .rfind("<details")
        .unwrap_or_else(|| panic!("span {label} is not a group"))
}

#[tokio::test]
async fn transaction_page_nests_spans_under_their_parents() {
    let h = Harness::new().await;
    seed(&h).await;
    let session = Session::admin(&h).await;
    let page = session.shown(&transaction_path("shop", DJANGO_EVENT)).await;
    let body = &page.body;
    assert!(body.contains("http.server") && body.contains("250 ms"));
    assert!(body.contains(&trace_path(TRACE)));
    // The view span is a group holding the 12 queries one level deeper.
    let group = &body[group_of_span(body, "shop.views.books")..];
    let children = &group[group.find("wf-children").expect("children")..];
    let first_query = children.find("author_id").expect("query inside the group");
    assert!(!children[..first_query].contains("</details>"));
    assert_eq!(body.matches("padding-left:1.80rem").count(), 12, "{body}");
    assert!(
        body.contains("author_id&quot; = 12"),
        "the statement as sent"
    );
    // The request as the issue page shows one.
    assert!(body.contains("http://shop.example/books/"));

    let missing = session
        .get("/organizations/default/performance/shop:ffffffffffffffffffffffffffffffff/")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let wrong_project = session.get(&transaction_path("worker", DJANGO_EVENT)).await;
    assert_eq!(wrong_project.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn trace_page_nests_the_task_under_its_request_and_links_the_error() {
    let h = Harness::new().await;
    let seeded = seed(&h).await;
    let session = Session::admin(&h).await;
    let page = session.shown(&trace_path(TRACE)).await;
    let body = &page.body;
    assert!(body.contains(&transaction_path("shop", DJANGO_EVENT)));
    assert!(body.contains(&transaction_path("worker", CELERY_EVENT)));
    // The Celery transaction sits inside the group of the span that queued it.
    let group_start = group_of_span(body, "queue.submit.celery");
    let task = body[group_start..]
        .find(">celery.task<")
        .expect("task after the queue span");
    assert!(!body[group_start..group_start + task].contains("</details>"));
    let issue_link = format!(
        "/organizations/default/issues/{}/?event={ERROR_EVENT}",
        seeded.error_issue
    );
    assert!(body.contains(&issue_link), "{body}");
    assert!(body.contains("ValueError: invoice 3 has no lines"));
    assert!(body.contains("wf-row wf-error"));

    // The error's issue page links back to the trace.
    let issue = session
        .get(&format!(
            "/organizations/default/issues/{}/",
            seeded.error_issue
        ))
        .await;
    assert_eq!(issue.status, StatusCode::OK);
    assert!(issue.body.contains(&trace_path(TRACE)));

    let unknown = session
        .get("/organizations/default/performance/trace/99999999999999999999999999999999/")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = session
        .get("/organizations/default/performance/trace/xyz/")
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_organizations_and_logged_out_visitors_see_nothing() {
    let h = Harness::new().await;
    seed(&h).await;
    h.member_of("other", "eve@example.com").await;
    let pages = [
        "/organizations/default/performance/".to_string(),
        format!(
            "/organizations/default/performance/summary/?project={}&transaction=%2Fbooks%2F",
            h.project.id
        ),
        transaction_path("shop", DJANGO_EVENT),
        trace_path(TRACE),
        "/settings/default/projects/shop/performance/".to_string(),
    ];
    for path in &pages {
        let page = get(&h, path, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/auth/login/?next="), "{path}");
    }
    let session = Session::login(&h, "eve@example.com").await;
    let in_other_org = [
        format!(
            "/organizations/other/performance/summary/?project={}&transaction=%2Fbooks%2F",
            h.project.id
        ),
        format!("/organizations/other/performance/shop:{DJANGO_EVENT}/"),
        format!("/organizations/other/performance/trace/{TRACE}/"),
        "/settings/other/projects/shop/performance/".to_string(),
    ];
    for path in pages.iter().chain(&in_other_org) {
        let page = session.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("/books/"), "{path}");
    }
    // Her own organization's overview lists none of the other's transactions.
    let own = session.get("/organizations/other/performance/").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(!own.body.contains("/books/") && !own.body.contains("send_invoice"));
    let token = csrf_of(&own.body);
    let answer = session
        .post(
            "/settings/default/projects/shop/performance/",
            &[
                ("csrf", &token),
                ("apdex_threshold_ms", "1"),
                ("n_plus_one_min_count", "1"),
                ("n_plus_one_min_total_ms", "1"),
                ("slow_db_query_ms", "1"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let settings = h.performance_settings().await;
    assert_eq!(settings.apdex_threshold_ms, 300.0);
}

#[tokio::test]
async fn settings_form_changes_the_apdex_threshold_and_refuses_bad_values() {
    let h = Harness::new().await;
    let session = Session::admin(&h).await;
    let path = "/settings/default/projects/shop/performance/";
    let form = session.shown(path).await;
    assert!(
        form.body
            .contains("name=\"apdex_threshold_ms\" value=\"300\""),
        "{}",
        form.body
    );
    let token = csrf_of(&form.body);
    let fields = |apdex: &'static str| {
        vec![
            ("apdex_threshold_ms", apdex),
            ("n_plus_one_min_count", "5"),
            ("n_plus_one_min_total_ms", "50"),
            ("slow_db_query_ms", "500"),
        ]
    };

    let mut without_token = fields("450");
    without_token.push(("csrf", "forged"));
    let refused = session.post(path, &without_token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut good = fields("450");
    good.push(("csrf", &token));
    let saved = session.post(path, &good).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = h.performance_settings().await;
    assert_eq!(settings.apdex_threshold_ms, 450.0);
    assert_eq!(settings.n_plus_one_min_count, 5);
    assert_eq!(settings.slow_db_query_ms, 500.0);
    let again = session.get(saved.location()).await;
    assert!(again.body.contains("value=\"450\"") && again.body.contains("Saved."));

    let mut bad = fields("-5");
    bad.push(("csrf", &token));
    let answer = session.post(path, &bad).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("role=\"alert\""), "{}", answer.body);
    assert!(answer
        .body
        .contains("Apdex threshold must be a positive number"));
    assert!(
        answer.body.contains("value=\"-5\""),
        "the typed value is kept"
    );
    let unchanged = h.performance_settings().await;
    assert_eq!(unchanged.apdex_threshold_ms, 450.0);
}

#[tokio::test]
async fn a_performance_issue_shows_its_evidence_and_links_its_transaction() {
    let h = Harness::new().await;
    let seeded = seed(&h).await;
    let offenders: Vec<String> = (0..12u32).map(|i| format!("b{i:015x}")).collect();
    let spans: Vec<Value> = offenders
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let begin = seeded.start + 0.02 + i as f64 * 0.015;
            json!({"span_id": id, "parent_span_id": VIEW_SPAN, "trace_id": TRACE, "op": "db",
                   "description": STATEMENT.replace("%s", &(i + 1).to_string()),
                   "start_timestamp": begin, "timestamp": begin + 0.012})
        })
        .collect();
    let problem = NewEvent {
        project_id: h.project.id,
        event_id: "f0000000000000000000000000000001".into(),
        event_type: "performance_n_plus_one_db_queries".into(),
        timestamp: seeded.start + 0.25,
        received: seeded.start + 0.25,
        level: "info".into(),
        platform: "python".into(),
        title: "N+1 Query".into(),
        culprit: "/books/".into(),
        metadata: json!({"title": "N+1 Query", "value": STATEMENT, "location": "/books/"}),
        hashes: vec!["fedcba9876543210fedcba9876543210".into()],
        environment: Some("production".into()),
        release: Some("shop@1.2.3".into()),
        transaction: Some("/books/".into()),
        user_tag: Some("id:7".into()),
        trace_id: Some(TRACE.into()),
        tags: vec![],
        is_unhandled: false,
        message: STATEMENT.into(),
        data: json!({
            "type": "transaction", "transaction": "/books/", "title": "N+1 Query",
            "start_timestamp": seeded.start, "timestamp": seeded.start + 0.25,
            "contexts": {"trace": {"trace_id": TRACE, "span_id": DJANGO_SPAN, "op": "http.server"}},
            "spans": spans,
            "occurrence": {"type": "performance_n_plus_one_db_queries", "issue_title": "N+1 Query",
                "subtitle": STATEMENT,
                "evidence_data": {"op": "db", "parent_span_ids": [VIEW_SPAN],
                    "offender_span_ids": offenders, "cause_span_ids": [],
                    "transaction_name": "/books/", "num_repeating_spans": "12",
                    "repeating_spans": STATEMENT, "total_duration_ms": 144.0}},
        })
        .into(),
    };
    let saved = h
        .store
        .save_events(vec![problem])
        .await
        .expect("save problem");
    let session = Session::admin(&h).await;
    let page = session
        .shown(&format!(
            "/organizations/default/issues/{}/",
            saved[0].issue_id
        ))
        .await;
    let evidence = &page.body[page.body.find("id=\"evidence\"").expect("evidence section")..];
    let evidence = &evidence[..evidence.find("</section>").expect("section end")];
    assert!(evidence.contains("N+1 Query"));
    assert!(evidence.contains("Repeating statement"));
    assert!(evidence.contains("author_id&quot; = %s"));
    assert!(evidence.contains("144 ms"));
    assert_eq!(evidence.matches("<li>").count(), 12, "{evidence}");
    assert!(
        evidence.contains(&transaction_path("shop", DJANGO_EVENT)),
        "no link to the transaction: {evidence}"
    );
    assert!(evidence.contains(&trace_path(TRACE)));
}
