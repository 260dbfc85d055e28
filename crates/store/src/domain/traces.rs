//! Performance: transactions, spans, traces and their aggregates, and each project's thresholds.

use async_trait::async_trait;

use crate::{
    PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreResult, StoredSpan,
    StoredTransaction, Trace, TransactionAggregate, TransactionQuery, TransactionSort, UnixTime,
};

/// Performance: transactions, spans, traces and their aggregates, and each project's thresholds.
#[async_trait]
pub trait Traces: Send + Sync {
    /// Writes a batch of transactions and spans in one database transaction. Idempotent: a
    /// transaction already stored under its project and event id, or a span under its project,
    /// trace and span id, is skipped (and not counted again in any aggregate).
    async fn save_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans>;
    async fn transaction_by_event_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredTransaction>>;
    /// The spans of one segment, by start time.
    async fn segment_spans(
        &self,
        project_id: i64,
        trace_id: &str,
        segment_id: &str,
    ) -> StoreResult<Vec<StoredSpan>>;
    /// Every transaction, span and error event of a trace in the organization's projects.
    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace>;
    /// Aggregates per project and transaction name (`by_transaction`), else one over all that
    /// match (none when nothing matches). Apdex uses each project's threshold.
    async fn aggregate_transactions(
        &self,
        query: &TransactionQuery,
        by_transaction: bool,
    ) -> StoreResult<Vec<TransactionAggregate>>;
    /// Transactions that match, without `data`.
    async fn list_transactions(
        &self,
        query: &TransactionQuery,
        sort: TransactionSort,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredTransaction>>;
    /// One aggregate per `interval_secs` bucket from `query.since` to `query.until` (both
    /// required), oldest first, empty buckets included (count 0).
    async fn transaction_series(
        &self,
        query: &TransactionQuery,
        interval_secs: u64,
    ) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>>;
    /// Durations in `buckets` equal-width bins between the fastest and slowest match:
    /// `(from_ms, to_ms, count)`.
    async fn duration_histogram(
        &self,
        query: &TransactionQuery,
        buckets: u32,
    ) -> StoreResult<Vec<(f64, f64, u64)>>;
    /// Time spent in spans of the matching transactions, by op (`by_group` false) or by op
    /// and normalized description (`by_group` true; only ops starting with `op_prefix` when
    /// given), most total time first.
    async fn span_aggregates(
        &self,
        query: &TransactionQuery,
        by_group: bool,
        op_prefix: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SpanAggregate>>;
    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings>;
    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()>;
}
