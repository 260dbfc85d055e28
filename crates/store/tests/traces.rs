//! The performance part of the `Store` contract (transactions, spans, traces and their
//! aggregates), as behaviour, on every backend: the same case bodies run on SQLite and on
//! PostgreSQL (a fresh database per test on the server `VIGIL_TEST_DATABASE_URL` names; without
//! it the PostgreSQL tests fail, they never skip), as in `store.rs`.

mod common;

use common::project;
use serde_json::json;
use vigil_store::{
    NewEvent, NewSpan, NewTransaction, PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch,
    Store, StoreResult, StoredTransaction, TransactionAggregate, TransactionQuery, TransactionSort,
};

common::suite_on_both_backends!(
    saving_a_batch_twice_stores_and_counts_it_once,
    a_large_batch_partly_stored_before_counts_only_its_new_rows,
    trace_joins_the_organizations_projects_and_errors,
    aggregates_from_rows_are_exact,
    aggregates_from_rollups_are_within_five_percent,
    apdex_uses_each_projects_threshold,
    environment_transaction_and_tag_filters,
    slowest_transactions_are_listed_and_paged,
    series_has_a_bucket_per_interval_empty_ones_too,
    histogram_bins_durations_between_fastest_and_slowest,
    span_aggregates_by_op_and_by_group,
    performance_settings_default_then_changed,
    performance_settings_a_detector_cannot_use_are_refused,
    a_span_streamed_before_its_segment_is_found_with_it,
    expired_transactions_and_spans_are_deleted,
    invalid_spans_are_rejected_before_anything_is_written,
    concurrent_overlapping_batches_count_each_row_once,
    forty_days_read_from_days_hours_and_rows_are_exact_and_close,
    many_writers_of_one_hour_lose_no_duration,
);

/// The start of an hour in 2023, so tests never depend on the clock and rollup hours are easy
/// to aim at.
const H: f64 = 1_700_002_800.0;
const HOUR: f64 = 3600.0;

fn trace_id(n: u32) -> String {
    format!("{:032x}", 0xabc0_0000_u32 + n)
}

fn span_id(n: u32) -> String {
    format!("{:016x}", 0x5000_0000_u32 + n)
}

/// Transaction `n` of `project_id`: its own trace, `name`, starting at `start`, taking
/// `duration_ms`; production, user `id:{n % 3}`, browser Chrome.
fn transaction(
    project_id: i64,
    n: u32,
    name: &str,
    start: f64,
    duration_ms: f64,
    status: &str,
) -> NewTransaction {
    NewTransaction {
        project_id,
        event_id: format!("{n:032x}"),
        trace_id: trace_id(n),
        span_id: span_id(n),
        parent_span_id: None,
        name: name.to_owned(),
        op: "http.server".into(),
        status: status.to_owned(),
        start,
        duration_ms,
        received: start + 1.0,
        environment: Some("production".into()),
        release: Some("shop@1.0".into()),
        user_tag: Some(format!("id:{}", n % 3)),
        platform: "python".into(),
        tags: vec![("browser".into(), "Chrome".into())],
        data: json!({
            "contexts": {"trace": {"trace_id": trace_id(n), "span_id": span_id(n)}},
            "request": {"url": format!("https://shop.example{name}")},
        }),
    }
}

/// Span `n` below `segment`.
fn span(segment: &NewTransaction, n: u32, op: &str, group: &str, offset: f64, ms: f64) -> NewSpan {
    NewSpan {
        project_id: segment.project_id,
        trace_id: segment.trace_id.clone(),
        segment_id: segment.span_id.clone(),
        transaction: segment.name.clone(),
        span_id: span_id(10_000 + n),
        parent_span_id: Some(segment.span_id.clone()),
        op: op.to_owned(),
        description: group.replace("%s", &n.to_string()),
        group: group.to_owned(),
        status: "ok".into(),
        start: segment.start + offset,
        duration_ms: ms,
        data: json!({"db.system": "postgresql", "n": n}),
    }
}

/// Transactions `ns` of `project_id` named `name`: the n-th starts `n * spacing_s` after `H`
/// and takes `n * step_ms`, with the status `status(n)`.
fn transactions_spread(
    project_id: i64,
    name: &str,
    ns: std::ops::RangeInclusive<u32>,
    (spacing_s, step_ms): (f64, f64),
    status: impl Fn(u32) -> &'static str,
) -> Vec<NewTransaction> {
    ns.map(|n| {
        let k = f64::from(n);
        transaction(
            project_id,
            n,
            name,
            H + spacing_s * k,
            step_ms * k,
            status(n),
        )
    })
    .collect()
}

fn query(organization_id: i64) -> TransactionQuery {
    TransactionQuery {
        organization_id,
        ..TransactionQuery::default()
    }
}

/// Everything of `organization_id` in `since..until`.
fn between(organization_id: i64, since: f64, until: f64) -> TransactionQuery {
    TransactionQuery {
        since: Some(since),
        until: Some(until),
        ..query(organization_id)
    }
}

/// Everything of `organization_id` named `name`.
fn named(organization_id: i64, name: &str) -> TransactionQuery {
    TransactionQuery {
        transaction: Some(name.into()),
        ..query(organization_id)
    }
}

/// Saves `transactions` and `spans` in one batch; what the store said of it.
async fn try_save(
    store: &dyn Store,
    transactions: Vec<NewTransaction>,
    spans: Vec<NewSpan>,
) -> StoreResult<SavedSpans> {
    store
        .save_spans(SpanBatch {
            transactions,
            spans,
        })
        .await
}

/// The stored transaction of `transaction`'s event id in `project_id`, if any.
async fn stored_transaction(
    store: &dyn Store,
    project_id: i64,
    transaction: &NewTransaction,
) -> Option<StoredTransaction> {
    store
        .transaction_by_event_id(project_id, &transaction.event_id)
        .await
        .unwrap()
}

/// Saves every batch of `batches` at the same time; what the store said of each.
async fn save_at_once(store: &dyn Store, batches: Vec<SpanBatch>) -> Vec<StoreResult<SavedSpans>> {
    futures_util::future::join_all(batches.into_iter().map(|batch| store.save_spans(batch))).await
}

async fn save(store: &dyn Store, transactions: Vec<NewTransaction>, spans: Vec<NewSpan>) {
    try_save(store, transactions, spans).await.unwrap();
}

/// The one aggregate over everything the query matches.
async fn total(store: &dyn Store, query: &TransactionQuery) -> TransactionAggregate {
    let mut all = store.aggregate_transactions(query, false).await.unwrap();
    assert!(all.len() <= 1, "{all:?}");
    all.pop().unwrap_or_default()
}

/// The first per-name aggregate that `matches`.
async fn aggregate_where(
    store: &dyn Store,
    query: &TransactionQuery,
    matches: impl Fn(&TransactionAggregate) -> bool,
) -> Option<TransactionAggregate> {
    let all = store.aggregate_transactions(query, true).await.unwrap();
    all.into_iter().find(matches)
}

/// The aggregate of one transaction name.
async fn of_name(store: &dyn Store, query: &TransactionQuery, name: &str) -> TransactionAggregate {
    aggregate_where(store, query, |a| a.transaction.as_deref() == Some(name))
        .await
        .unwrap_or_else(|| panic!("no aggregate of {name}"))
}

/// The (first) per-name aggregate of project `project_id`.
async fn of_project(
    store: &dyn Store,
    query: &TransactionQuery,
    project_id: i64,
) -> TransactionAggregate {
    aggregate_where(store, query, |a| a.project_id == Some(project_id))
        .await
        .unwrap_or_else(|| panic!("no aggregate of project {project_id}"))
}

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= expected.abs() * tolerance
}

async fn saving_a_batch_twice_stores_and_counts_it_once(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let t1 = transaction(p, 1, "/checkout/", H + 10.0, 120.0, "ok");
    let t2 = transaction(p, 2, "/checkout/", H + 20.0, 240.0, "ok");
    let spans = vec![
        span(&t1, 1, "db", "SELECT %s", 1.0, 5.0),
        span(&t1, 2, "db", "SELECT %s", 2.0, 5.0),
    ];
    let batch = SpanBatch {
        // The same transaction twice in one batch counts once too.
        transactions: vec![t1.clone(), t2.clone(), t1.clone()],
        spans: spans.clone(),
    };
    let first = store.save_spans(batch.clone()).await.unwrap();
    assert_eq!((first.new_transactions, first.new_spans), (2, 2));
    let before = total(store, &query(org)).await;
    let spans_before = store
        .span_aggregates(&query(org), false, None, 10)
        .await
        .unwrap();

    let again = store.save_spans(batch).await.unwrap();
    assert_eq!((again.new_transactions, again.new_spans), (0, 0));
    let after = total(store, &query(org)).await;
    assert_eq!(after.count, 2);
    assert_eq!(before, after);
    assert_eq!(
        store
            .span_aggregates(&query(org), false, None, 10)
            .await
            .unwrap(),
        spans_before
    );
    assert_eq!(spans_before[0].count, 2);
    assert_eq!(
        store
            .segment_spans(p, &t1.trace_id, &t1.span_id)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A batch larger than one multi-row statement, some of whose rows were stored before and one
/// span given twice: only the new rows are stored and counted, and they read back as sent.
async fn a_large_batch_partly_stored_before_counts_only_its_new_rows(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let all = transactions_spread(p, "/checkout/", 1..=40, (1.0, 1.0), |_| "ok");
    // Two spans per transaction, of two groups: 80 spans.
    let spans: Vec<NewSpan> = all
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            let n = i as u32 * 2;
            [
                span(t, n, "db", PRODUCT_QUERY, 0.001, 2.0),
                span(t, n + 1, "cache.get", "cache_page", 0.002, 1.0),
            ]
        })
        .collect();
    let earlier = store
        .save_spans(SpanBatch {
            transactions: all[..10].to_vec(),
            spans: spans[..20].to_vec(),
        })
        .await
        .unwrap();
    assert_eq!((earlier.new_transactions, earlier.new_spans), (10, 20));
    let mut again = spans.clone();
    again.push(spans[70].clone());
    let saved = store
        .save_spans(SpanBatch {
            transactions: all.clone(),
            spans: again,
        })
        .await
        .unwrap();
    assert_eq!((saved.new_transactions, saved.new_spans), (30, 60));

    assert_eq!(total(store, &query(org)).await.count, 40);
    let by_op = store
        .span_aggregates(&query(org), false, None, 10)
        .await
        .unwrap();
    let counts: Vec<(&str, u64, u64)> = by_op
        .iter()
        .map(|a| (a.op.as_str(), a.count, a.transactions))
        .collect();
    assert_eq!(counts, vec![("db", 40, 40), ("cache.get", 40, 40)]);
    let segment = &all[35];
    let read = store
        .segment_spans(p, &segment.trace_id, &segment.span_id)
        .await
        .unwrap();
    assert_eq!(read, spans[70..72].to_vec());
}

/// An error event of `project_id` in trace `trace`, while span `span` was active.
fn error_in_trace(project_id: i64, n: u32, trace: &str, span: &str, at: f64) -> NewEvent {
    NewEvent {
        title: "ValueError: bad price".into(),
        culprit: "api.views in price".into(),
        metadata: json!({"type": "ValueError", "value": "bad price"}),
        hashes: vec![format!("hash-{n}")],
        transaction: Some("/api/price".into()),
        trace_id: Some(trace.to_owned()),
        tags: Vec::new(),
        message: "bad price".into(),
        data: json!({"contexts": {"trace": {"trace_id": trace, "span_id": span}}}).into(),
        ..common::error_event(project_id, format!("{:032x}", 0xeee0_0000_u32 + n), at)
    }
}

async fn trace_joins_the_organizations_projects_and_errors(store: &dyn Store) {
    let (org, shop) = project(store, "acme").await;
    let (api_org, api) = {
        let (project, _) = store
            .create_project(org, "api", Some("python"))
            .await
            .unwrap();
        (org, project.id)
    };
    assert_eq!(api_org, org);
    let (other_org, elsewhere) = project(store, "other").await;

    let frontend = transaction(shop, 1, "/checkout/", H + 10.0, 300.0, "ok");
    let call = span(&frontend, 1, "http.client", "GET /api/price", 0.05, 120.0);
    let mut backend = transaction(api, 2, "/api/price", H + 10.06, 100.0, "internal_error");
    backend.trace_id = frontend.trace_id.clone();
    backend.parent_span_id = Some(call.span_id.clone());
    let query_span = span(
        &backend,
        2,
        "db",
        "SELECT price FROM p WHERE id = %s",
        0.01,
        8.0,
    );
    let mut foreign = transaction(elsewhere, 3, "/x", H + 11.0, 50.0, "ok");
    foreign.trace_id = frontend.trace_id.clone();
    let unrelated = transaction(shop, 4, "/checkout/", H + 12.0, 50.0, "ok");
    save(
        store,
        vec![backend.clone(), frontend.clone(), foreign, unrelated],
        vec![query_span.clone(), call.clone()],
    )
    .await;
    let saved = store
        .save_events(vec![
            error_in_trace(api, 1, &frontend.trace_id, &query_span.span_id, H + 10.08),
            error_in_trace(api, 2, &trace_id(99), &query_span.span_id, H + 10.08),
        ])
        .await
        .unwrap();

    let trace = store.trace(org, &frontend.trace_id).await.unwrap();
    let names: Vec<(i64, &str)> = trace
        .transactions
        .iter()
        .map(|t| (t.project_id, t.name.as_str()))
        .collect();
    assert_eq!(names, vec![(shop, "/checkout/"), (api, "/api/price")]);
    assert_eq!(
        trace.transactions[1].parent_span_id.as_deref(),
        Some(call.span_id.as_str())
    );
    let spans: Vec<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(
        spans,
        vec![call.span_id.as_str(), query_span.span_id.as_str()]
    );
    assert_eq!(trace.errors.len(), 1, "{:?}", trace.errors);
    let error = &trace.errors[0];
    assert_eq!(error.project_id, api);
    assert_eq!(error.event_id, saved[0].event_id);
    assert_eq!(error.issue_id, Some(saved[0].issue_id));
    assert_eq!(error.title, "ValueError: bad price");
    assert_eq!(error.level, "error");
    assert_eq!(error.timestamp, H + 10.08);
    assert_eq!(error.span_id.as_deref(), Some(query_span.span_id.as_str()));

    // The other organization sees only its own transaction of the trace.
    let theirs = store.trace(other_org, &frontend.trace_id).await.unwrap();
    assert_eq!(theirs.transactions.len(), 1);
    assert_eq!(theirs.transactions[0].project_id, elsewhere);
    assert!(theirs.spans.is_empty() && theirs.errors.is_empty());
    assert_eq!(
        store.trace(org, &trace_id(12345)).await.unwrap(),
        Default::default()
    );
}

/// Ten `/checkout/` transactions of 100…1000 ms inside hour `H` and two `/cart/` ones.
fn checkout_transactions(project_id: i64) -> Vec<NewTransaction> {
    let status = |n| match n {
        3 | 7 => "internal_error",
        4 => "cancelled",
        5 => "unknown",
        _ => "ok",
    };
    let mut all = transactions_spread(project_id, "/checkout/", 1..=10, (100.0, 100.0), status);
    all.push(transaction(
        project_id,
        11,
        "/cart/",
        H + 5.0,
        40.0,
        "not_found",
    ));
    all.push(transaction(project_id, 12, "/cart/", H + 6.0, 60.0, "ok"));
    all
}

/// A project `shop` of `acme` with the `checkout_transactions` saved: (organization id,
/// project id).
async fn checkout_project(store: &dyn Store) -> (i64, i64) {
    let (org, p) = project(store, "acme").await;
    save(store, checkout_transactions(p), Vec::new()).await;
    (org, p)
}

/// (op, group, count, total ms, transactions) of each of `aggregates`.
fn span_rows(aggregates: &[SpanAggregate]) -> Vec<(&str, &str, u64, f64, u64)> {
    aggregates
        .iter()
        .map(|a| {
            (
                a.op.as_str(),
                a.group.as_str(),
                a.count,
                a.total_ms,
                a.transactions,
            )
        })
        .collect()
}

async fn aggregates_from_rows_are_exact(store: &dyn Store) {
    let (org, p) = checkout_project(store).await;
    // Not a whole hour: read from single rows.
    let q = between(org, H + 1.0, H + 3000.0);
    let checkout = of_name(store, &q, "/checkout/").await;
    assert_eq!(checkout.project_id, Some(p));
    assert_eq!(checkout.count, 10);
    // internal_error counts; ok, cancelled and unknown do not.
    assert_eq!(checkout.failures, 2);
    assert_eq!(checkout.p50_ms, 550.0);
    assert!(close(checkout.p95_ms, 955.0, 1e-9), "{}", checkout.p95_ms);
    assert_eq!(checkout.max_ms, 1000.0);
    assert_eq!(checkout.avg_ms, 550.0);
    assert_eq!(checkout.users, 3);
    assert_eq!(
        (checkout.first_seen, checkout.last_seen),
        (H + 100.0, H + 1000.0)
    );
    assert_eq!((checkout.satisfied, checkout.tolerated), (3, 7));
    let cart = of_name(store, &q, "/cart/").await;
    assert_eq!((cart.count, cart.failures), (2, 1));

    let all = total(store, &q).await;
    assert_eq!((all.count, all.failures, all.users), (12, 3, 3));
    assert_eq!((all.project_id, all.transaction), (None, None));

    // The range's ends: `since` counts, `until` does not.
    let q = between(org, H + 200.0, H + 400.0);
    assert_eq!(total(store, &q).await.count, 2);
    // Nothing matches: no aggregate at all.
    let q = between(org, H + 5000.0, H + 6000.0);
    assert!(store
        .aggregate_transactions(&q, false)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .aggregate_transactions(&q, true)
        .await
        .unwrap()
        .is_empty());
}

async fn aggregates_from_rollups_are_within_five_percent(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    // 100 transactions of 10…1000 ms spread over hour H, one more just after it.
    let status = |n| if n % 10 == 0 { "internal_error" } else { "ok" };
    let mut batch = transactions_spread(p, "/products/", 1..=100, (30.0, 10.0), status);
    batch.push(transaction(
        p,
        101,
        "/products/",
        H + HOUR + 5.0,
        2000.0,
        "ok",
    ));
    save(store, batch, Vec::new()).await;

    // Hour H whole (rollups), plus an edge after it read from rows.
    let q = between(org, H - 10.0, H + HOUR + 10.0);
    let agg = of_name(store, &q, "/products/").await;
    assert_eq!(agg.count, 101);
    assert_eq!(agg.failures, 10);
    assert!(
        close(agg.avg_ms, (50_500.0 + 2000.0) / 101.0, 1e-9),
        "{}",
        agg.avg_ms
    );
    assert_eq!(agg.max_ms, 2000.0);
    assert_eq!(agg.users, 3);
    assert_eq!((agg.first_seen, agg.last_seen), (H + 30.0, H + HOUR + 5.0));
    // Exact: p50 = 510, p95 = 960 (linear between ranks).
    assert!(close(agg.p50_ms, 510.0, 0.05), "p50 {}", agg.p50_ms);
    assert!(close(agg.p95_ms, 960.0, 0.05), "p95 {}", agg.p95_ms);

    // No bounds: everything from rollups.
    let all = total(store, &query(org)).await;
    assert_eq!((all.count, all.failures), (101, 10));
    assert!(close(all.p50_ms, 510.0, 0.05), "p50 {}", all.p50_ms);
    // Only the whole hour.
    let hour = between(org, H, H + HOUR);
    let hour = total(store, &hour).await;
    assert_eq!(hour.count, 100);
    assert_eq!(hour.max_ms, 1000.0);
    // Satisfied: at or under 300 ms (30 of them, give or take the bucket at the threshold).
    assert!((29..=31).contains(&hour.satisfied), "{}", hour.satisfied);
}

async fn apdex_uses_each_projects_threshold(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let (other, _) = store
        .create_project(org, "api", Some("python"))
        .await
        .unwrap();
    save(store, checkout_transactions(p), Vec::new()).await;
    let mut api_batch = checkout_transactions(other.id);
    for (i, t) in api_batch.iter_mut().enumerate() {
        t.event_id = format!("{:032x}", 500 + i);
    }
    save(store, api_batch, Vec::new()).await;
    let strict = PerformanceSettings {
        apdex_threshold_ms: 150.0,
        ..PerformanceSettings::default()
    };
    store.set_performance_settings(p, &strict).await.unwrap();

    for q in [
        // From rows.
        TransactionQuery {
            transaction: Some("/checkout/".into()),
            ..between(org, H + 1.0, H + 3000.0)
        },
        // From rollups.
        named(org, "/checkout/"),
    ] {
        let shop = of_project(store, &q, p).await;
        // 150 ms: 100 satisfied; 200…600 tolerated.
        assert_eq!((shop.satisfied, shop.tolerated), (1, 5), "{q:?}");
        let api = of_project(store, &q, other.id).await;
        // The default 300 ms: 100…300 satisfied; 400…1000 tolerated.
        assert_eq!((api.satisfied, api.tolerated), (3, 7), "{q:?}");
        // Over both projects, each counted against its own threshold.
        let both = total(store, &q).await;
        assert_eq!(both.count, 20);
        assert_eq!((both.satisfied, both.tolerated), (4, 12), "{q:?}");
    }
}

async fn environment_transaction_and_tag_filters(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let mut batch = checkout_transactions(p);
    for t in batch.iter_mut().filter(|t| t.name == "/cart/") {
        t.environment = Some("staging".into());
        t.tags = vec![("browser".into(), "Firefox".into())];
        t.release = Some("shop@2.0".into());
    }
    save(store, batch, Vec::new()).await;
    let count = |q: TransactionQuery| async move { total(store, &q).await.count };

    let staging = TransactionQuery {
        environments: vec!["staging".into()],
        ..query(org)
    };
    assert_eq!(count(staging.clone()).await, 2);
    let bounded = TransactionQuery {
        since: Some(H),
        until: Some(H + 3000.0),
        ..staging
    };
    assert_eq!(count(bounded).await, 2);
    let both = TransactionQuery {
        environments: vec!["staging".into(), "production".into()],
        ..query(org)
    };
    assert_eq!(count(both).await, 12);
    assert_eq!(count(named(org, "/checkout/")).await, 10);
    let condition = |key: &str, value: &str, negated: bool| TransactionQuery {
        conditions: vec![(key.into(), value.into(), negated)],
        ..query(org)
    };
    assert_eq!(count(condition("browser", "Firefox", false)).await, 2);
    assert_eq!(count(condition("browser", "Firefox", true)).await, 10);
    assert_eq!(count(condition("browser", "Safari", false)).await, 0);
    assert_eq!(count(condition("release", "shop@2.0", false)).await, 2);
    assert_eq!(count(condition("release", "shop@2.0", true)).await, 10);
    assert_eq!(
        count(condition("transaction.status", "internal_error", false)).await,
        2
    );
    assert_eq!(
        count(condition("transaction.op", "http.server", false)).await,
        12
    );
    assert_eq!(count(condition("user", "id:1", false)).await, 4);
    assert_eq!(count(condition("environment", "staging", false)).await, 2);
    // Another organization sees none of it.
    let (other, _) = project(store, "other").await;
    assert!(store
        .aggregate_transactions(&query(other), false)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_transactions(&query(other), TransactionSort::Newest, 10, 0)
        .await
        .unwrap()
        .is_empty());
}

async fn slowest_transactions_are_listed_and_paged(store: &dyn Store) {
    let (org, _) = checkout_project(store).await;
    let q = named(org, "/checkout/");
    let page = store
        .list_transactions(&q, TransactionSort::Slowest, 3, 1)
        .await
        .unwrap();
    let durations: Vec<f64> = page.iter().map(|t| t.duration_ms).collect();
    assert_eq!(durations, vec![900.0, 800.0, 700.0]);
    assert!(page.iter().all(|t| t.data.is_null()));
    assert_eq!(page[0].tags, vec![("browser".into(), "Chrome".into())]);
    assert_eq!(page[0].user_tag.as_deref(), Some("id:0"));
    let newest = store
        .list_transactions(&query(org), TransactionSort::Newest, 2, 0)
        .await
        .unwrap();
    let starts: Vec<f64> = newest.iter().map(|t| t.start).collect();
    assert_eq!(starts, vec![H + 1000.0, H + 900.0]);
    let bounded = between(org, H + 250.0, H + 500.0);
    let listed = store
        .list_transactions(&bounded, TransactionSort::Newest, 10, 0)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let conditioned = TransactionQuery {
        conditions: vec![("transaction.status".into(), "ok".into(), true)],
        ..query(org)
    };
    assert_eq!(
        store
            .list_transactions(&conditioned, TransactionSort::Newest, 100, 0)
            .await
            .unwrap()
            .len(),
        5
    );
}

async fn series_has_a_bucket_per_interval_empty_ones_too(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let batch = vec![
        transaction(p, 1, "/a", H + 10.0, 100.0, "ok"),
        transaction(p, 2, "/a", H + 20.0, 300.0, "internal_error"),
        transaction(p, 3, "/a", H + 2.0 * HOUR + 10.0, 500.0, "ok"),
    ];
    save(store, batch, Vec::new()).await;
    // Hour buckets: from rollups.
    let q = between(org, H, H + 4.0 * HOUR);
    let series = store.transaction_series(&q, 3600).await.unwrap();
    let starts: Vec<f64> = series.iter().map(|(at, _)| *at).collect();
    assert_eq!(starts, vec![H, H + HOUR, H + 2.0 * HOUR, H + 3.0 * HOUR]);
    let counts: Vec<u64> = series.iter().map(|(_, a)| a.count).collect();
    assert_eq!(counts, vec![2, 0, 1, 0]);
    assert_eq!(series[0].1.failures, 1);
    assert_eq!(series[0].1.max_ms, 300.0);
    assert_eq!(series[2].1.max_ms, 500.0);

    // Half-hour buckets not on the hour: from rows.
    let q = between(org, H - 900.0, H + 3.0 * 1800.0 - 900.0);
    let series = store.transaction_series(&q, 1800).await.unwrap();
    let counts: Vec<u64> = series.iter().map(|(_, a)| a.count).collect();
    assert_eq!(counts, vec![2, 0, 0]);
    assert_eq!(series[0].1.p50_ms, 200.0);

    // Two-hour buckets from a quarter past: rows at the edges, rollups inside.
    let q = between(org, H - 900.0, H - 900.0 + 4.0 * HOUR);
    let series = store.transaction_series(&q, 7200).await.unwrap();
    let counts: Vec<u64> = series.iter().map(|(_, a)| a.count).collect();
    assert_eq!(counts, vec![2, 1]);
}

async fn histogram_bins_durations_between_fastest_and_slowest(store: &dyn Store) {
    let (org, _) = checkout_project(store).await;
    let q = named(org, "/checkout/");
    // 100…1000 ms in 3 bins. Without a time range the durations come from the daily rollups'
    // histograms, each at its 5% bucket's upper bound: the bins span 100-1000 within 5%, and
    // every transaction is in one, the slowest in the last.
    let bins = store.duration_histogram(&q, 3).await.unwrap();
    assert_eq!(bins.len(), 3);
    assert!(close(bins[0].0, 100.0, 0.05), "{bins:?}");
    assert!(close(bins[2].1, 1000.0, 0.05), "{bins:?}");
    let counts: Vec<u64> = bins.iter().map(|b| b.2).collect();
    assert_eq!(counts.iter().sum::<u64>(), 10, "{bins:?}");
    assert!(counts[2] >= 1, "{bins:?}");
    let none = named(org, "/nothing/");
    assert!(store
        .duration_histogram(&none, 3)
        .await
        .unwrap()
        .iter()
        .all(|b| b.2 == 0));
}

const PRODUCT_QUERY: &str = "SELECT * FROM product WHERE id = %s";

async fn span_aggregates_by_op_and_by_group(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let page = transaction(p, 1, "/products/", H + 100.0, 400.0, "ok");
    let other_page = transaction(p, 2, "/products/", H + 200.0, 300.0, "ok");
    let mut spans: Vec<NewSpan> = (0..10)
        .map(|n| span(&page, n, "db", PRODUCT_QUERY, 0.01 * f64::from(n), 5.0))
        .collect();
    spans.push(span(
        &page,
        20,
        "db.sql.query",
        "SELECT * FROM cart",
        0.5,
        30.0,
    ));
    spans.push(span(
        &page,
        21,
        "http.client",
        "GET https://pay.example/%s",
        0.6,
        100.0,
    ));
    spans.push(span(
        &page,
        22,
        "http.client",
        "GET https://pay.example/%s",
        0.7,
        50.0,
    ));
    spans.push(span(&other_page, 23, "db", PRODUCT_QUERY, 0.1, 7.0));
    save(store, vec![page, other_page], spans).await;

    for q in [
        // From rollups.
        query(org),
        // From rows.
        between(org, H + 1.0, H + 3000.0),
    ] {
        let by_op = store.span_aggregates(&q, false, None, 10).await.unwrap();
        assert_eq!(
            span_rows(&by_op),
            vec![
                ("http.client", "", 2, 150.0, 1),
                ("db", "", 11, 57.0, 2),
                ("db.sql.query", "", 1, 30.0, 1),
            ],
            "{q:?}"
        );

        let by_group = store
            .span_aggregates(&q, true, Some("db"), 10)
            .await
            .unwrap();
        assert_eq!(
            span_rows(&by_group),
            vec![
                ("db", PRODUCT_QUERY, 11, 57.0, 2),
                ("db.sql.query", "SELECT * FROM cart", 1, 30.0, 1),
            ],
            "{q:?}"
        );
        let top = store.span_aggregates(&q, true, None, 1).await.unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].op, "http.client");
    }
    // Filters reach the spans through their transactions.
    let staging = TransactionQuery {
        environments: vec!["staging".into()],
        ..query(org)
    };
    assert!(store
        .span_aggregates(&staging, false, None, 10)
        .await
        .unwrap()
        .is_empty());
    let other_name = named(org, "/cart/");
    assert!(store
        .span_aggregates(&other_name, false, None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn performance_settings_default_then_changed(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    assert_eq!(
        store.performance_settings(p).await.unwrap(),
        PerformanceSettings::default()
    );
    let changed = PerformanceSettings {
        apdex_threshold_ms: 500.0,
        n_plus_one_min_count: 5,
        n_plus_one_min_total_ms: 50.0,
        slow_db_query_ms: 250.0,
    };
    store.set_performance_settings(p, &changed).await.unwrap();
    assert_eq!(store.performance_settings(p).await.unwrap(), changed);
    let again = PerformanceSettings {
        apdex_threshold_ms: 100.0,
        ..changed
    };
    store.set_performance_settings(p, &again).await.unwrap();
    assert_eq!(store.performance_settings(p).await.unwrap(), again);
}

/// Both backends refuse the same settings: a threshold of zero, a negative or non-finite one,
/// and a minimum count of zero; what was stored stays.
async fn performance_settings_a_detector_cannot_use_are_refused(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let good = PerformanceSettings::default();
    let refused = [
        PerformanceSettings {
            apdex_threshold_ms: 0.0,
            ..good
        },
        PerformanceSettings {
            n_plus_one_min_total_ms: -1.0,
            ..good
        },
        PerformanceSettings {
            slow_db_query_ms: f64::NAN,
            ..good
        },
        PerformanceSettings {
            n_plus_one_min_count: 0,
            ..good
        },
    ];
    for settings in refused {
        let result = store.set_performance_settings(p, &settings).await;
        assert!(
            matches!(result, Err(vigil_store::StoreError::Invalid(_))),
            "{settings:?} was not refused: {result:?}"
        );
    }
    assert_eq!(store.performance_settings(p).await.unwrap(), good);
}

async fn a_span_streamed_before_its_segment_is_found_with_it(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let mut segment = transaction(p, 1, "GET /api/products", H + 100.0, 250.0, "ok");
    segment.platform = "javascript".into();
    let child = span(&segment, 1, "db", PRODUCT_QUERY, 0.02, 12.5);
    let early = try_save(store, Vec::new(), vec![child.clone()])
        .await
        .unwrap();
    assert_eq!((early.new_transactions, early.new_spans), (0, 1));
    assert!(stored_transaction(store, p, &segment).await.is_none());
    let late = try_save(store, vec![segment.clone()], Vec::new())
        .await
        .unwrap();
    assert_eq!((late.new_transactions, late.new_spans), (1, 0));

    let stored = stored_transaction(store, p, &segment).await.unwrap();
    assert_eq!(stored.name, "GET /api/products");
    assert_eq!(stored.data, segment.data);
    assert_eq!(stored.platform, "javascript");
    assert_eq!(stored.start, segment.start);
    let spans = store
        .segment_spans(p, &segment.trace_id, &segment.span_id)
        .await
        .unwrap();
    assert_eq!(spans.len(), 1);
    let found = &spans[0];
    assert_eq!(found.span_id, child.span_id);
    assert_eq!(found.description, child.description);
    assert_eq!(found.group, PRODUCT_QUERY);
    assert_eq!(found.duration_ms, 12.5);
    assert_eq!(found.data, child.data);
    assert_eq!(found.transaction, "GET /api/products");
    let trace = store.trace(org, &segment.trace_id).await.unwrap();
    assert_eq!((trace.transactions.len(), trace.spans.len()), (1, 1));
    // Spans of another segment are not its.
    assert!(store
        .segment_spans(p, &segment.trace_id, &span_id(999))
        .await
        .unwrap()
        .is_empty());
}

async fn expired_transactions_and_spans_are_deleted(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let old = transaction(p, 1, "/old", H - 100.0 * 86_400.0, 100.0, "ok");
    let new = transaction(p, 2, "/new", H, 100.0, "ok");
    let old_spans = vec![
        span(&old, 1, "db", "SELECT 1", 0.0, 1.0),
        span(&old, 2, "db", "SELECT 1", 0.0, 1.0),
    ];
    let new_spans = vec![span(&new, 3, "db", "SELECT 1", 0.0, 1.0)];
    save(
        store,
        vec![old.clone(), new.clone()],
        [old_spans, new_spans].concat(),
    )
    .await;

    let pass = store.delete_expired(H - 86_400.0, 100).await.unwrap();
    assert_eq!((pass.transactions, pass.spans), (1, 2));
    assert!(stored_transaction(store, p, &old).await.is_none());
    assert!(stored_transaction(store, p, &new).await.is_some());
    // The old hour's rollups went too.
    let all = store
        .aggregate_transactions(&query(org), true)
        .await
        .unwrap();
    let names: Vec<&str> = all
        .iter()
        .filter_map(|a| a.transaction.as_deref())
        .collect();
    assert_eq!(names, vec!["/new"]);
    let spans = store
        .span_aggregates(&query(org), false, None, 10)
        .await
        .unwrap();
    assert_eq!(spans[0].count, 1);
    let again = store.delete_expired(H - 86_400.0, 100).await.unwrap();
    assert_eq!((again.transactions, again.spans), (0, 0));
}

async fn invalid_spans_are_rejected_before_anything_is_written(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let good = transaction(p, 1, "/ok", H, 100.0, "ok");
    let mut endless = transaction(p, 2, "/bad", H, f64::NAN, "ok");
    endless.duration_ms = f64::INFINITY;
    let result = try_save(store, vec![good.clone(), endless], Vec::new()).await;
    assert!(
        matches!(result, Err(vigil_store::StoreError::Invalid(_))),
        "{result:?}"
    );
    let mut nameless = span(&good, 1, "db", "SELECT 1", 0.0, 1.0);
    nameless.span_id = String::new();
    let result = try_save(store, vec![good], vec![nameless]).await;
    assert!(
        matches!(result, Err(vigil_store::StoreError::Invalid(_))),
        "{result:?}"
    );
    assert!(store
        .aggregate_transactions(&query(org), false)
        .await
        .unwrap()
        .is_empty());
}

/// Batches sharing transactions, spans and rollup rows, written at the same time (on
/// PostgreSQL, on separate connections): every row is stored and counted exactly once.
async fn concurrent_overlapping_batches_count_each_row_once(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let all = transactions_spread(p, "/checkout/", 1..=40, (1.0, 1.0), |_| "ok");
    let spans: Vec<NewSpan> = all
        .iter()
        .enumerate()
        .map(|(i, t)| span(t, i as u32, "db", PRODUCT_QUERY, 0.001, 2.0))
        .collect();
    // Four writers, each with an overlapping half of the rows.
    let batches: Vec<SpanBatch> = (0..4)
        .map(|w| SpanBatch {
            transactions: all[w * 7..(w * 7 + 20).min(40)].to_vec(),
            spans: spans[w * 7..(w * 7 + 20).min(40)].to_vec(),
        })
        .collect();
    let saved = save_at_once(store, batches).await;
    let (mut transactions, mut new_spans) = (0, 0);
    for result in saved {
        let result = result.unwrap();
        transactions += result.new_transactions;
        new_spans += result.new_spans;
    }
    // Every row written once between them.
    assert_eq!((transactions, new_spans), (40, 40));
    let total = total(store, &query(org)).await;
    assert_eq!(total.count, 40);
    // The rollups' histograms merged every batch's durations (1…40 ms) once: none was lost
    // to a concurrent writer.
    assert!(close(total.p50_ms, 20.5, 0.05), "p50 {}", total.p50_ms);
    assert!(close(total.p95_ms, 38.05, 0.05), "p95 {}", total.p95_ms);
    assert_eq!(total.max_ms, 40.0);
    let hour = between(org, H, H + HOUR);
    let hour = of_name(store, &hour, "/checkout/").await;
    assert_eq!(hour.count, 40);
    assert!(close(hour.p50_ms, 20.5, 0.05), "p50 {}", hour.p50_ms);
    assert!(close(hour.p95_ms, 38.05, 0.05), "p95 {}", hour.p95_ms);
    let by_group = store
        .span_aggregates(&query(org), true, None, 10)
        .await
        .unwrap();
    assert_eq!((by_group[0].count, by_group[0].transactions), (40, 40));
}

/// Linear interpolation between closest ranks, as the stores compute exact percentiles.
fn exact_percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

/// A range of 40 days that starts and ends mid-hour reads whole days from the daily rollups,
/// the hours around them from the hourly ones and the partial hours from rows: the counters
/// are exact and the percentiles within the histograms' 5%; so are a daily series on it and
/// one whose buckets start mid-hour.
async fn forty_days_read_from_days_hours_and_rows_are_exact_and_close(store: &dyn Store) {
    const DAY: f64 = 86_400.0;
    let (org, p) = project(store, "acme").await;
    let day0 = (H / DAY).floor() * DAY;
    // 1800 transactions every 2111 s (44 days), at odd offsets into their hours.
    let all: Vec<NewTransaction> = (0..1800u32)
        .map(|n| {
            let status = if n % 7 == 0 { "internal_error" } else { "ok" };
            let duration = 10.0 + f64::from(n * 37 % 1000);
            transaction(
                p,
                n,
                "/report/",
                day0 + f64::from(n) * 2111.0,
                duration,
                status,
            )
        })
        .collect();
    for chunk in all.chunks(500) {
        save(store, chunk.to_vec(), Vec::new()).await;
    }
    let expected = |since: f64, until: f64| -> (u64, u64, Vec<f64>) {
        let inside: Vec<&NewTransaction> = all
            .iter()
            .filter(|t| t.start >= since && t.start < until)
            .collect();
        let failures = inside.iter().filter(|t| t.status != "ok").count() as u64;
        let mut durations: Vec<f64> = inside.iter().map(|t| t.duration_ms).collect();
        durations.sort_by(f64::total_cmp);
        (inside.len() as u64, failures, durations)
    };

    let since = day0 + DAY + 5.5 * HOUR + 17.0;
    let until = since + 40.0 * DAY + 3.25 * HOUR;
    let q = between(org, since, until);
    let (count, failures, durations) = expected(since, until);
    assert!(count > 1500, "{count}");
    let agg = total(store, &q).await;
    assert_eq!((agg.count, agg.failures, agg.users), (count, failures, 3));
    assert_eq!(agg.max_ms, *durations.last().unwrap());
    let sum: f64 = durations.iter().sum();
    assert!(
        close(agg.avg_ms, sum / count as f64, 1e-9),
        "{}",
        agg.avg_ms
    );
    for (q_, actual) in [(0.5, agg.p50_ms), (0.95, agg.p95_ms)] {
        let exact = exact_percentile(&durations, q_);
        assert!(close(actual, exact, 0.05), "p{q_}: {actual} vs {exact}");
    }
    let first = all.iter().find(|t| t.start >= since).unwrap().start;
    let last = all.iter().rev().find(|t| t.start < until).unwrap().start;
    assert_eq!((agg.first_seen, agg.last_seen), (first, last));
    let by_name = of_name(store, &q, "/report/").await;
    assert_eq!((by_name.count, by_name.project_id), (count, Some(p)));

    // Daily buckets on day boundaries: each from its daily rollup.
    let daily = between(org, day0 + DAY, day0 + 41.0 * DAY);
    let series = store.transaction_series(&daily, 86_400).await.unwrap();
    assert_eq!(series.len(), 40);
    for (n, (start, bucket)) in series.iter().enumerate() {
        assert_eq!(*start, day0 + (n as f64 + 1.0) * DAY);
        let (count, failures, durations) = expected(*start, start + DAY);
        assert_eq!(
            (bucket.count, bucket.failures),
            (count, failures),
            "day {n}"
        );
        let exact = exact_percentile(&durations, 0.5);
        assert!(
            close(bucket.p50_ms, exact, 0.05),
            "day {n}: {} vs {exact}",
            bucket.p50_ms
        );
    }
    // Daily buckets starting mid-hour: hours and edge rows per bucket, in one plan.
    let series = store.transaction_series(&q, 86_400).await.unwrap();
    assert_eq!(series.len(), 41);
    let mut seen = 0;
    for (n, (start, bucket)) in series.iter().enumerate() {
        let (count, failures, _) = expected(*start, (start + DAY).min(until));
        assert_eq!(
            (bucket.count, bucket.failures),
            (count, failures),
            "bucket {n}"
        );
        seen += bucket.count;
    }
    assert_eq!(seen, agg.count);
}

/// Many batches of distinct transactions of one hour, written at once: each merges its
/// durations into the same rollup rows (on PostgreSQL under row locks, from separate
/// connections), and none is lost to another's write.
async fn many_writers_of_one_hour_lose_no_duration(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    // 32 batches of 4; batch b holds 4b+1 … 4b+4 ms.
    let batches: Vec<SpanBatch> = (0..32u32)
        .map(|b| SpanBatch {
            transactions: transactions_spread(
                p,
                "/cart/",
                4 * b + 1..=4 * b + 4,
                (1.0, 1.0),
                |_| "ok",
            ),
            spans: Vec::new(),
        })
        .collect();
    let saved = save_at_once(store, batches).await;
    assert!(saved.iter().all(Result::is_ok), "{saved:?}");
    // 1…128 ms: exact p50 64.5, p95 121.65; both tiers hold every duration.
    for q in [query(org), between(org, H, H + HOUR)] {
        let agg = total(store, &q).await;
        assert_eq!((agg.count, agg.max_ms), (128, 128.0));
        assert!(close(agg.p50_ms, 64.5, 0.05), "p50 {}", agg.p50_ms);
        assert!(close(agg.p95_ms, 121.65, 0.05), "p95 {}", agg.p95_ms);
    }
}
