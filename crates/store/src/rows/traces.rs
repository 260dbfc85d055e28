//! Transactions, spans and a project's performance settings.

use serde_json::Value;

use super::{unreadable, Columns, Record};
use crate::{PerformanceSettings, StoreResult, StoredSpan, StoredTransaction};

/// From a backend's transaction columns ([`crate::query::trace_queries::RunReads`]), `tags`
/// (index 15) as JSON text; without its data, as lists and traces show it.
impl Record for StoredTransaction {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(StoredTransaction {
            project_id: row.column(0)?,
            event_id: row.column(1)?,
            trace_id: row.column(2)?,
            span_id: row.column(3)?,
            parent_span_id: row.column(4)?,
            name: row.column(5)?,
            op: row.column(6)?,
            status: row.column(7)?,
            start: row.column(8)?,
            duration_ms: row.column(9)?,
            received: row.column(10)?,
            environment: row.column(11)?,
            release: row.column(12)?,
            user_tag: row.column(13)?,
            platform: row.column(14)?,
            tags: row.json(15, "a transaction's tags")?,
            data: Value::Null,
        })
    }
}

/// A transaction with its data: the transaction columns, then `t.data` (index 16), the JSON
/// compressed with zstd.
pub(crate) struct TransactionWithData(pub StoredTransaction);

impl Record for TransactionWithData {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let mut transaction = StoredTransaction::read(row)?;
        let compressed: Vec<u8> = row.column(16)?;
        let what = || format!("data of transaction {}", transaction.event_id);
        let json =
            zstd::stream::decode_all(compressed.as_slice()).map_err(|e| unreadable(&what(), e))?;
        transaction.data = serde_json::from_slice(&json).map_err(|e| unreadable(&what(), e))?;
        Ok(TransactionWithData(transaction))
    }
}

/// A span's columns (`FROM spans s LEFT JOIN span_groups g`) before its group's text, which
/// each backend adds last (index 12) as it words it.
pub(crate) const SPAN_COLUMNS: &str = "s.project_id, s.trace_id, s.segment_id, \
    s.transaction_name, s.span_id, s.parent_span_id, s.op, s.description, s.status, s.start_ts, \
    s.duration_ms, s.data";

/// From [`SPAN_COLUMNS`] and the group's text; `data` (index 11) is JSON text or NULL.
impl Record for StoredSpan {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let data: Option<String> = row.column(11)?;
        let data = match data {
            None => Value::Null,
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| unreadable("a span's data", e))?
            }
        };
        Ok(StoredSpan {
            project_id: row.column(0)?,
            trace_id: row.column(1)?,
            segment_id: row.column(2)?,
            transaction: row.column(3)?,
            span_id: row.column(4)?,
            parent_span_id: row.column(5)?,
            op: row.column(6)?,
            description: row.column(7)?,
            status: row.column(8)?,
            start: row.column(9)?,
            duration_ms: row.column(10)?,
            group: row.column(12)?,
            data,
        })
    }
}

/// From [`crate::query::performance_settings::select_sql`]'s columns.
impl Record for PerformanceSettings {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(PerformanceSettings {
            apdex_threshold_ms: row.column(0)?,
            n_plus_one_min_count: row.count(1, "the N+1 minimum count")?,
            n_plus_one_min_total_ms: row.column(2)?,
            slow_db_query_ms: row.column(3)?,
        })
    }
}
