//! Transactions, spans and traces in sqlite: rows, rollups and the summaries read from them.

use super::SqliteStore;
use crate::{
    PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreError, StoreResult, StoredSpan,
    StoredTransaction, Trace, TransactionAggregate, TransactionQuery, TransactionSort, UnixTime,
};

fn unbuilt() -> StoreError {
    StoreError::Invalid("performance data is not stored by this backend yet".into())
}

pub(super) async fn save_spans(_store: &SqliteStore, _batch: SpanBatch) -> StoreResult<SavedSpans> {
    Err(unbuilt())
}

pub(super) async fn transaction_by_event_id(
    _store: &SqliteStore,
    _project_id: i64,
    _event_id: &str,
) -> StoreResult<Option<StoredTransaction>> {
    Err(unbuilt())
}

pub(super) async fn segment_spans(
    _store: &SqliteStore,
    _project_id: i64,
    _trace_id: &str,
    _segment_id: &str,
) -> StoreResult<Vec<StoredSpan>> {
    Err(unbuilt())
}

pub(super) async fn trace(
    _store: &SqliteStore,
    _organization_id: i64,
    _trace_id: &str,
) -> StoreResult<Trace> {
    Err(unbuilt())
}

pub(super) async fn aggregate_transactions(
    _store: &SqliteStore,
    _query: &TransactionQuery,
    _by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    Err(unbuilt())
}

pub(super) async fn list_transactions(
    _store: &SqliteStore,
    _query: &TransactionQuery,
    _sort: TransactionSort,
    _limit: u64,
    _offset: u64,
) -> StoreResult<Vec<StoredTransaction>> {
    Err(unbuilt())
}

pub(super) async fn transaction_series(
    _store: &SqliteStore,
    _query: &TransactionQuery,
    _interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    Err(unbuilt())
}

pub(super) async fn duration_histogram(
    _store: &SqliteStore,
    _query: &TransactionQuery,
    _buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    Err(unbuilt())
}

pub(super) async fn span_aggregates(
    _store: &SqliteStore,
    _query: &TransactionQuery,
    _by_group: bool,
    _op_prefix: Option<&str>,
    _limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    Err(unbuilt())
}

pub(super) async fn performance_settings(
    _store: &SqliteStore,
    _project_id: i64,
) -> StoreResult<PerformanceSettings> {
    Err(unbuilt())
}

pub(super) async fn set_performance_settings(
    _store: &SqliteStore,
    _project_id: i64,
    _settings: &PerformanceSettings,
) -> StoreResult<()> {
    Err(unbuilt())
}
