//! Transactions, spans and traces in SQLite: rows, rollups and the summaries read from them.
//!
//! A batch writes its new rows and adds what they count to the hourly rollups in the same
//! transaction ([`crate::rollup`] does the arithmetic), so summaries read a few rollup rows per
//! hour and transaction name instead of every transaction. Ranges that do not cover whole hours
//! read their edges from the rows themselves; queries with tag conditions read rows only.
//!
//! The statements of every read and the queries answered from them (list, aggregates,
//! series, histogram, span totals) are the backend-neutral ones of [`crate::query`]; this
//! module's files are what SQLite does its own way: writing ([`writes`]), reading rows
//! back ([`reads`]), running the summaries' reads ([`aggregates`], [`span_aggregates`]) and
//! the thresholds ([`settings`]).

use super::SqliteStore;
use crate::{
    PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreResult, StoredSpan,
    StoredTransaction, Trace, Traces, TransactionAggregate, TransactionQuery, TransactionSort,
    UnixTime,
};
use async_trait::async_trait;

mod aggregates;
mod reads;
mod settings;
mod span_aggregates;
mod writes;

pub(super) use crate::query::trace_queries::{
    aggregate_transactions, duration_histogram, list_transactions, span_aggregates,
    transaction_series,
};
pub(super) use reads::{segment_spans, trace, transaction_by_event_id};
pub(super) use settings::{performance_settings, set_performance_settings};
pub(super) use writes::save_spans;

#[async_trait]
impl Traces for SqliteStore {
    async fn save_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans> {
        save_spans(self, batch).await
    }

    async fn transaction_by_event_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredTransaction>> {
        transaction_by_event_id(self, project_id, event_id).await
    }

    async fn segment_spans(
        &self,
        project_id: i64,
        trace_id: &str,
        segment_id: &str,
    ) -> StoreResult<Vec<StoredSpan>> {
        segment_spans(self, project_id, trace_id, segment_id).await
    }

    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace> {
        trace(self, organization_id, trace_id).await
    }

    async fn aggregate_transactions(
        &self,
        query: &TransactionQuery,
        by_transaction: bool,
    ) -> StoreResult<Vec<TransactionAggregate>> {
        aggregate_transactions(self, query, by_transaction).await
    }

    async fn list_transactions(
        &self,
        query: &TransactionQuery,
        sort: TransactionSort,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredTransaction>> {
        list_transactions(self, query, sort, limit, offset).await
    }

    async fn transaction_series(
        &self,
        query: &TransactionQuery,
        interval_secs: u64,
    ) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
        transaction_series(self, query, interval_secs).await
    }

    async fn duration_histogram(
        &self,
        query: &TransactionQuery,
        buckets: u32,
    ) -> StoreResult<Vec<(f64, f64, u64)>> {
        duration_histogram(self, query, buckets).await
    }

    async fn span_aggregates(
        &self,
        query: &TransactionQuery,
        by_group: bool,
        op_prefix: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SpanAggregate>> {
        span_aggregates(self, query, by_group, op_prefix, limit).await
    }

    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings> {
        performance_settings(self, project_id).await
    }

    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()> {
        set_performance_settings(self, project_id, settings).await
    }
}
