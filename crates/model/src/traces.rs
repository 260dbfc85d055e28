//! Performance data in the store's terms: transactions (segments), their spans, and the
//! aggregates the performance pages and Sentry's `events/` query API read.
//!
//! Python's `transaction` items and the JS SDKs' streamed `span` items land in one model: a
//! [`NewTransaction`] is a segment (a Python transaction, or a span with `is_segment`), a
//! [`NewSpan`] is any span below one, keyed by trace, segment and span id so that spans streamed
//! before or after their segment still find it.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// One segment: a request, a task, a page load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTransaction {
    pub project_id: i64,
    /// 32 lowercase hex: the transaction event's id (derived from trace and span ids for a
    /// streamed segment span, which has none).
    pub event_id: String,
    /// 32 lowercase hex.
    pub trace_id: String,
    /// 16 lowercase hex: the segment's root span.
    pub span_id: String,
    /// The span this segment continues (another service's, or a Celery task's enqueuer).
    pub parent_span_id: Option<String>,
    /// The transaction name (`/checkout/`, `GET /api/products`, `shop.tasks.send_invoice`).
    pub name: String,
    /// `http.server`, `celery.task`, `pageload`, …
    pub op: String,
    /// Span status (`ok`, `internal_error`, `not_found`, …); `unknown` when none was sent.
    pub status: String,
    pub start: UnixTime,
    pub duration_ms: f64,
    pub received: UnixTime,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// The `user` tag value, as on error events (`id:7`, `email:a@b`).
    pub user_tag: Option<String>,
    pub platform: String,
    /// Tags as on error events, keys without `sentry:`.
    pub tags: Vec<(String, String)>,
    /// The normalized transaction event without its `spans` (they are stored as [`NewSpan`]s):
    /// contexts, request, measurements, sdk, breadcrumbs.
    pub data: serde_json::Value,
}

/// One span below a segment (never the segment's own root span).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSpan {
    pub project_id: i64,
    pub trace_id: String,
    /// The segment's root span id ([`NewTransaction::span_id`]).
    pub segment_id: String,
    /// The segment's name, for per-transaction span aggregates.
    pub transaction: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// `db`, `db.sql.query`, `http.client`, `template.render`, `cache.get`, …
    pub op: String,
    /// The statement, URL or name as sent.
    pub description: String,
    /// The description with its literals replaced (`SELECT … WHERE id = %s`): spans of one
    /// group are "the same query".
    pub group: String,
    pub status: String,
    pub start: UnixTime,
    pub duration_ms: f64,
    /// `data` (v1) or `attributes` (v2) of the span, as sent; `Null` when empty.
    pub data: serde_json::Value,
}

/// What processing made of one envelope's transactions and spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanBatch {
    pub transactions: Vec<NewTransaction>,
    pub spans: Vec<NewSpan>,
}

/// A transaction as read back: the record that was saved, except that `data` is `Null` when it
/// is read in a list (its spans are read with the store's `segment_spans`).
pub type StoredTransaction = NewTransaction;

/// A span as read back: the record that was saved.
pub type StoredSpan = NewSpan;

/// The error events of a trace, to place on its waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceError {
    pub project_id: i64,
    pub event_id: String,
    pub issue_id: Option<i64>,
    pub title: String,
    pub level: String,
    pub timestamp: UnixTime,
    /// The span that was active when the error happened (`contexts.trace.span_id`).
    pub span_id: Option<String>,
}

/// Everything stored under one trace id in an organization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// By start time.
    pub transactions: Vec<StoredTransaction>,
    /// By start time.
    pub spans: Vec<StoredSpan>,
    /// By timestamp.
    pub errors: Vec<TraceError>,
}

/// Which transactions an aggregate or a list covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionQuery {
    pub organization_id: i64,
    /// Empty: every project of the organization.
    pub project_ids: Vec<i64>,
    /// Empty: every environment.
    pub environments: Vec<String>,
    /// Only this transaction name.
    pub transaction: Option<String>,
    /// `start >= since`.
    pub since: Option<UnixTime>,
    /// `start < until`.
    pub until: Option<UnixTime>,
    /// Tag conditions (`key`, `value`, `negated`); `release`, `user`, `transaction.op`
    /// (the op) and `transaction.status` are answered from columns, the rest from tags.
    pub conditions: Vec<(String, String, bool)>,
}

/// Aggregates of the transactions of one group (one transaction name, or all of a query).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionAggregate {
    /// The project and transaction name of the group; `None` when not grouped by them.
    pub project_id: Option<i64>,
    pub transaction: Option<String>,
    pub count: u64,
    /// Sentry's failure: status other than `ok`, `cancelled` and `unknown`.
    pub failures: u64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Duration at or under the threshold …
    pub satisfied: u64,
    /// … at or under four times the threshold.
    pub tolerated: u64,
    pub users: u64,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
}

/// Time by span op, or one normalized statement's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanAggregate {
    pub op: String,
    /// Empty when grouped by op only.
    pub group: String,
    pub count: u64,
    pub total_ms: f64,
    /// Transactions (segments) these spans appeared in.
    pub transactions: u64,
}

/// Sentry's span statuses that do not make a transaction fail.
pub fn is_failure_status(status: &str) -> bool {
    !matches!(status, "ok" | "cancelled" | "unknown" | "")
}

/// How the store's `save_spans` went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSpans {
    /// Transactions written now (not already stored under their project and event id).
    pub new_transactions: usize,
    /// Spans written now (not already stored under their project, trace and span id).
    pub new_spans: usize,
}

/// Order of a transaction list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionSort {
    /// Newest start first.
    #[default]
    Newest,
    /// Longest duration first.
    Slowest,
}

/// A project's performance thresholds (Sentry's defaults unless changed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerformanceSettings {
    /// Apdex T: satisfied at or under it, tolerated at or under 4 T.
    pub apdex_threshold_ms: f64,
    /// N+1 queries: at least this many similar DB spans …
    pub n_plus_one_min_count: u32,
    /// … taking at least this long together.
    pub n_plus_one_min_total_ms: f64,
    /// A single DB span at least this long is a slow query.
    pub slow_db_query_ms: f64,
}

impl Default for PerformanceSettings {
    fn default() -> Self {
        PerformanceSettings {
            apdex_threshold_ms: 300.0,
            n_plus_one_min_count: 10,
            n_plus_one_min_total_ms: 100.0,
            slow_db_query_ms: 1000.0,
        }
    }
}
