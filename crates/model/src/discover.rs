//! Sentry's Discover over error events (`dataset=errors`) and over spans (`dataset=spans`):
//! which events or spans a query covers, and the groups an aggregate query answers with.
//!
//! The server turns `field=`, `query=` and the time range into these; the store answers them
//! in SQL on both backends, so a filter never widens an answer by being dropped.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// A column of an error event that can be filtered or grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorColumn {
    EventId,
    Title,
    Message,
    IssueId,
    ProjectId,
    Level,
    Culprit,
    Environment,
    Release,
    Transaction,
    /// The `user` tag (`id:7`, `email:a@b`).
    User,
    Trace,
    Platform,
    /// `error`, `default`, `csp`, …
    EventType,
    /// The issue's status (`unresolved`, `resolved`, `ignored`).
    IssueStatus,
    /// The issue's exception type (Sentry's `error.type` of the event's main exception).
    ErrorType,
    /// The issue's exception value.
    ErrorValue,
    /// A tag by key (`browser`, `tags[browser]`).
    Tag(String),
}

/// One condition of an error query; all must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ErrorCondition {
    /// The column is one of `values` (exactly), or none of them when negated.
    Equals {
        column: ErrorColumn,
        values: Vec<String>,
        negated: bool,
    },
    /// The column matches `pattern`, where `*` is any text (case-insensitive).
    Matches {
        column: ErrorColumn,
        pattern: String,
        negated: bool,
    },
    /// The column has a value that is not empty (`has:`), or none (`!has:`).
    Has { column: ErrorColumn, negated: bool },
    /// Issues by short id: `(project id, per-project number)` pairs.
    Issues {
        short_ids: Vec<(i64, i64)>,
        negated: bool,
    },
    /// Free text, in the title or the message (case-insensitive).
    Text(String),
}

/// Which error events a query covers: `timestamp` in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorQuery {
    pub organization_id: i64,
    /// Empty: every project of the organization.
    pub project_ids: Vec<i64>,
    pub since: UnixTime,
    pub until: UnixTime,
    pub conditions: Vec<ErrorCondition>,
}

/// How a list of error events is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorOrder {
    Newest,
    Oldest,
}

/// The most columns one aggregate query groups by.
pub const MAX_GROUP_COLUMNS: usize = 8;

/// One group of error events: its values of the grouped columns (in the order asked, `None`
/// for no value) and its aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    pub keys: Vec<Option<String>>,
    pub count: u64,
    /// Distinct `user` tag values.
    pub users: u64,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
}

/// One bucket of an error series: its start, the group's keys and the events counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBucket {
    pub bucket: UnixTime,
    pub keys: Vec<Option<String>>,
    pub count: u64,
}

/// A column of a span (a segment's root span or a span below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpanColumn {
    SpanId,
    Trace,
    Op,
    Description,
    Transaction,
    Status,
    ProjectId,
    /// `true` for a segment (transaction) root span.
    IsTransaction,
}

/// One condition of a span query; all must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SpanCondition {
    Equals {
        column: SpanColumn,
        values: Vec<String>,
        negated: bool,
    },
    Matches {
        column: SpanColumn,
        pattern: String,
        negated: bool,
    },
    /// `span.duration:>100` and the like, in milliseconds.
    Duration { op: Comparison, ms: f64 },
}

/// A numeric comparison of a search term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

/// Which spans a query covers: started in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanQuery {
    pub organization_id: i64,
    pub project_ids: Vec<i64>,
    pub since: UnixTime,
    pub until: UnixTime,
    pub conditions: Vec<SpanCondition>,
}

/// How a list of spans is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpanOrder {
    Newest,
    Oldest,
    Slowest,
    Fastest,
}

/// A span as Discover lists it: a segment's root span (`is_transaction`) or a span below one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    pub project_id: i64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub op: String,
    pub description: String,
    pub transaction: String,
    pub status: String,
    pub start: UnixTime,
    pub duration_ms: f64,
    pub is_transaction: bool,
}
