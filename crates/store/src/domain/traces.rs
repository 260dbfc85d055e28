//! Performance: transactions, spans, traces and their aggregates, and each project's thresholds.

use async_trait::async_trait;

use crate::query::trace_queries::{self, RunReads};
use crate::{
    PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreResult, StoredSpan,
    StoredTransaction, Trace, TransactionAggregate, TransactionQuery, TransactionSort, UnixTime,
};

/// The backend's reads that the trace queries run on (see [`Traces::trace_reads`]).
pub struct TraceReads<'a>(&'a dyn RunReads);

impl<'a> TraceReads<'a> {
    pub(crate) fn new(reads: &'a dyn RunReads) -> TraceReads<'a> {
        TraceReads(reads)
    }
}

/// Performance: transactions, spans, traces and their aggregates, and each project's thresholds.
///
/// What is the same on both backends is provided, written once over the reads and writes each
/// backend runs its own way: the queries answered from summaries (aggregates, a page, a series,
/// a histogram, span totals), saving a batch, a transaction and a segment's spans.
#[async_trait]
pub trait Traces: Send + Sync {
    /// What the provided queries read through; a backend hands itself over.
    #[doc(hidden)]
    fn trace_reads(&self) -> TraceReads<'_>;

    /// Writes a batch of transactions and spans in one database transaction. Idempotent: a
    /// transaction already stored under its project and event id, or a span under its project,
    /// trace and span id, is skipped (and not counted again in any aggregate).
    async fn save_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans> {
        trace_queries::save_spans(self.trace_reads().0, batch).await
    }
    async fn transaction_by_event_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredTransaction>> {
        trace_queries::transaction_by_event_id(self.trace_reads().0, project_id, event_id).await
    }
    /// The spans of one segment, by start time.
    async fn segment_spans(
        &self,
        project_id: i64,
        trace_id: &str,
        segment_id: &str,
    ) -> StoreResult<Vec<StoredSpan>> {
        trace_queries::segment_spans(self.trace_reads().0, project_id, trace_id, segment_id).await
    }
    /// Every transaction, span and error event of a trace in the organization's projects.
    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace>;
    /// Aggregates per project and transaction name (`by_transaction`), else one over all that
    /// match (none when nothing matches). Apdex uses each project's threshold.
    async fn aggregate_transactions(
        &self,
        query: &TransactionQuery,
        by_transaction: bool,
    ) -> StoreResult<Vec<TransactionAggregate>> {
        trace_queries::aggregate_transactions(self.trace_reads().0, query, by_transaction).await
    }
    /// Transactions that match, without `data`.
    async fn list_transactions(
        &self,
        query: &TransactionQuery,
        sort: TransactionSort,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredTransaction>> {
        trace_queries::list_transactions(self.trace_reads().0, query, sort, limit, offset).await
    }
    /// One aggregate per `interval_secs` bucket from `query.since` to `query.until` (both
    /// required), oldest first, empty buckets included (count 0).
    async fn transaction_series(
        &self,
        query: &TransactionQuery,
        interval_secs: u64,
    ) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
        trace_queries::transaction_series(self.trace_reads().0, query, interval_secs).await
    }
    /// Durations in `buckets` equal-width bins between the fastest and slowest match:
    /// `(from_ms, to_ms, count)`.
    async fn duration_histogram(
        &self,
        query: &TransactionQuery,
        buckets: u32,
    ) -> StoreResult<Vec<(f64, f64, u64)>> {
        trace_queries::duration_histogram(self.trace_reads().0, query, buckets).await
    }
    /// Time spent in spans of the matching transactions, by op (`by_group` false) or by op
    /// and normalized description (`by_group` true; only ops starting with `op_prefix` when
    /// given), most total time first.
    async fn span_aggregates(
        &self,
        query: &TransactionQuery,
        by_group: bool,
        op_prefix: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SpanAggregate>> {
        trace_queries::span_aggregates(self.trace_reads().0, query, by_group, op_prefix, limit)
            .await
    }
    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings>;
    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()>;
}
