//! Sentry's Discover over error events and spans (`dataset=errors`, `dataset=spans`).

use async_trait::async_trait;

use crate::{
    ErrorBucket, ErrorColumn, ErrorGroup, ErrorOrder, ErrorQuery, SpanOrder, SpanQuery, SpanRow,
    StoreResult, StoredEvent,
};

/// Sentry's Discover over error events and spans: lists, groups and series that the
/// `events/` and `events-stats/` API answers with.
#[async_trait]
pub trait Discover: Send + Sync {
    /// Error events that match, `limit` of them from `offset`, with their data.
    async fn error_events(
        &self,
        query: &ErrorQuery,
        order: ErrorOrder,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Aggregates per group of the `by` columns' values (at most
    /// [`crate::MAX_GROUP_COLUMNS`]); one group over everything for none (count 0 when
    /// nothing matches).
    async fn error_groups(
        &self,
        query: &ErrorQuery,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorGroup>>;
    /// Events per `interval_secs` bucket from `query.since` (and per group of `by`); buckets
    /// with no events are left out.
    async fn error_series(
        &self,
        query: &ErrorQuery,
        interval_secs: u64,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorBucket>>;
    /// Whether any issue of the projects (every one of the organization's for none) has
    /// seen the tag `key`.
    async fn error_tag_key_exists(
        &self,
        organization_id: i64,
        project_ids: &[i64],
        key: &str,
    ) -> StoreResult<bool>;
    /// Spans (segment root spans and the spans below them) that match.
    async fn span_rows(
        &self,
        query: &SpanQuery,
        order: SpanOrder,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<SpanRow>>;
}
