//! Performance data: transactions and spans as the performance pages store them, and the
//! performance problems (N+1 queries, slow queries) Sentry's detectors find in them.
//!
//! Two SDK families send the same thing in two shapes. Python sends a `transaction` item: an
//! event whose `contexts.trace` is the root span and whose `spans` are the rest
//! ([`process_transaction`]). The JS SDKs stream `span` items (span v2: typed attributes,
//! `is_segment` on the root) and send no transaction at all ([`process_span_item`]). Both land
//! in one model: a [`ProcessedTransaction`] per segment and a [`ProcessedSpan`] per span below
//! one, keyed by trace, segment and span id, so spans that arrive before or after their segment
//! still find it. Span descriptions are grouped ([`span_group`]) the way Sentry groups them.
//!
//! Both pipelines end with problem detection: [`detect_problems`] looks for Sentry's database
//! performance issues in each segment of the item, among the spans that came with it, with the
//! project's [`Thresholds`]; what it finds comes back with the item as [`ProcessedSpans::problems`],
//! so one call turns an item into everything the store keeps of it.
//!
//! Nothing here does I/O; the server converts these types to the store's field by field.

mod description;
mod detect;
mod span_v2;
mod transaction;

use md5::{Digest, Md5};
use serde_json::Value;

pub(crate) use crate::normalize::hex_id;
use crate::ProcessedEvent;

pub use description::span_group;
pub use detect::{detect_problems, Thresholds, N_PLUS_ONE_DB_QUERIES, SLOW_DB_QUERY};
pub use span_v2::process_span_item;
pub use transaction::process_transaction;

/// One segment: a request, a task, a page load (a Python transaction, or a span with
/// `is_segment`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedTransaction {
    /// 32 lowercase hex; derived from trace and span id for a streamed segment, which has none.
    pub event_id: String,
    /// 32 lowercase hex.
    pub trace_id: String,
    /// 16 lowercase hex: the segment's root span.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// `http.server`, `celery.task`, `pageload`, …; `default` when none was sent.
    pub op: String,
    /// Span status (`ok`, `internal_error`, …); `unknown` when none was sent.
    pub status: String,
    /// Unix seconds.
    pub start: f64,
    pub duration_ms: f64,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub user_tag: Option<String>,
    pub platform: String,
    pub tags: Vec<(String, String)>,
    /// The normalized transaction event without `spans`.
    pub data: Value,
}

/// One span below a segment (never the segment's root span).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedSpan {
    pub trace_id: String,
    /// The root span id of the span's segment.
    pub segment_id: String,
    /// The segment's name.
    pub transaction: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub op: String,
    /// The statement, URL or name as sent.
    pub description: String,
    /// The description with its variable parts replaced ([`span_group`]).
    pub group: String,
    pub status: String,
    /// Unix seconds.
    pub start: f64,
    pub duration_ms: f64,
    /// `data` (v1) or the flattened `attributes` (v2); `Null` when empty.
    pub data: Value,
}

/// What one `transaction` or `span` item holds, and the performance problems found in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessedSpans {
    pub transactions: Vec<ProcessedTransaction>,
    pub spans: Vec<ProcessedSpan>,
    /// The problems of each segment in `transactions`, found among the spans of this item
    /// (a segment whose spans arrive in other items is not looked at again).
    pub problems: Vec<PerformanceProblem>,
}

/// A performance problem found in one segment: the issue occurrence the store keeps for it.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformanceProblem {
    /// The segment's trace, which the occurrence belongs to.
    pub trace_id: String,
    /// An event of the problem's issue type (see [`detect_problems`]).
    pub occurrence: ProcessedEvent,
}

/// A non-empty string value, or `default` (Sentry's `default` op, `unknown` status) when it is
/// absent, empty or not a string.
pub(crate) fn text_or(value: Option<&Value>, default: &str) -> String {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// 32 lowercase hex digits of the MD5 of `parts`, each followed by a separator so that
/// `("ab", "c")` and `("a", "bc")` differ. Used for ids that must come out the same when the
/// same data is processed twice.
pub(crate) fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

/// Milliseconds between two unix times; a span that ends before it starts lasted nothing.
pub(crate) fn duration_ms(start: f64, end: f64) -> f64 {
    let ms = (end - start) * 1000.0;
    if ms.is_finite() && ms > 0.0 {
        ms
    } else {
        0.0
    }
}

/// Sentry's span statuses (`SpanStatus` in Relay); anything else a v2 span sends with
/// `status: "error"` becomes `internal_error`.
pub(crate) const SPAN_STATUSES: &[&str] = &[
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal_error",
    "unavailable",
    "data_loss",
    "unauthenticated",
];
