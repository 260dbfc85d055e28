//! Performance data: transactions and spans as the performance pages store them, and the
//! performance problems (N+1 queries, slow queries) Sentry's detectors find in them.
//!
//! Two SDK families send the same thing in two shapes. Python sends a `transaction` item: an
//! event whose `contexts.trace` is the root span and whose `spans` are the rest
//! ([`process_transaction`]). The JS SDKs stream `span` items (span v2: typed attributes,
//! `is_segment` on the root) and send no transaction at all ([`process_span_item`]). Both land
//! in the domain model's records, ready for the store: a [`NewTransaction`] per segment and a
//! [`NewSpan`] per span below one, keyed by trace, segment and span id, so spans that arrive
//! before or after their segment still find it. Span descriptions are grouped ([`span_group`])
//! the way Sentry groups them.
//!
//! Both pipelines end with problem detection: [`detect_problems`] looks for Sentry's database
//! performance issues in each segment of the item, among the spans that came with it, with the
//! project's [`Thresholds`]; what it finds comes back with the item as [`ProcessedSpans::problems`],
//! so one call turns an item into everything the store keeps of it.
//!
//! Nothing here does I/O; the caller names the project the item was sent to, and the records
//! come out as the store writes them.

mod description;
mod detect;
mod span_v2;
mod transaction;

use md5::{Digest, Md5};
use vigil_model::{NewSpan, NewTransaction};
use vigil_protocol::timestamp::parse_timestamp_text;

use crate::json::Json;
pub(crate) use crate::normalize::hex_id;
use crate::ProcessedEvent;

pub use description::span_group;
pub use detect::{detect_problems, Thresholds, N_PLUS_ONE_DB_QUERIES, SLOW_DB_QUERY};
pub use span_v2::process_span_item;
pub use transaction::process_transaction;

/// What one `transaction` or `span` item holds, and the performance problems found in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessedSpans {
    pub transactions: Vec<NewTransaction>,
    pub spans: Vec<NewSpan>,
    /// The problems of each segment in `transactions`, found among the spans of this item
    /// (a segment whose spans arrive in other items is not looked at again).
    pub problems: Vec<PerformanceProblem>,
    /// Streamed segments the project's inbound filters dropped, each with the spans dropped
    /// with it (the segment and its children in the same item): not in `transactions` or
    /// `spans`, counted as filtered.
    pub filtered: Vec<(crate::filter::FilterId, usize)>,
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
pub(crate) fn text_or(value: Option<&Json<'_>>, default: &str) -> String {
    value
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// A time as unix seconds, as `vigil_protocol::timestamp::parse_timestamp` reads one: a finite
/// number, or a string holding a number or an RFC 3339 date-time.
pub(crate) fn timestamp(value: &Json<'_>) -> Option<f64> {
    match value {
        Json::Number(number) => number.as_f64().filter(|secs| secs.is_finite()),
        Json::String(text) => parse_timestamp_text(text),
        _ => None,
    }
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
