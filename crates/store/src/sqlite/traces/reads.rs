//! Reading transactions, spans and traces back from SQLite: one transaction with its data, a
//! segment's spans, a trace (its transactions, spans and errors), a page of transactions.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::super::error::{corrupt, DbContext};
use super::super::{events, SqliteStore};
use crate::query::{transaction_reads, Statement};
use crate::{StoreResult, StoredSpan, StoredTransaction, Trace};

/// Rows a trace read returns at most, per kind.
const MAX_TRACE_ROWS: i64 = 10_000;

pub(super) const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
     t.parent_span_id, t.name, t.op, t.status, t.start_ts, t.duration_ms, t.received, \
     t.environment, t.release, t.user_tag, t.platform, t.tags";

const SPAN_COLUMNS: &str = "s.project_id, s.trace_id, s.segment_id, s.transaction_name, \
     s.span_id, s.parent_span_id, s.op, s.description, s.status, s.start_ts, s.duration_ms, \
     s.data, COALESCE(g.normalized, s.description)";

pub(in crate::sqlite) async fn transaction_by_event_id(
    store: &SqliteStore,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<StoredTransaction>> {
    let event_id = event_id.to_owned();
    store
        .read(move |conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {TRANSACTION_COLUMNS}, t.data FROM transactions t
                     WHERE t.project_id = ?1 AND t.event_id = ?2"
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params![project_id, event_id], |row| {
                        Ok((transaction_row(row)?, row.get::<_, Vec<u8>>(16)?))
                    })
                    .optional()
                })
                .db("reading a transaction")?;
            row.map(|(row, data)| row.finish(Some(&data))).transpose()
        })
        .await
}

pub(in crate::sqlite) async fn segment_spans(
    store: &SqliteStore,
    project_id: i64,
    trace_id: &str,
    segment_id: &str,
) -> StoreResult<Vec<StoredSpan>> {
    let (trace_id, segment_id) = (trace_id.to_owned(), segment_id.to_owned());
    store
        .read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {SPAN_COLUMNS} FROM spans s
                 LEFT JOIN span_groups g
                     ON g.project_id = s.project_id AND g.group_hash = s.group_hash
                 WHERE s.trace_id = ?1 AND s.segment_id = ?2 AND s.project_id = ?3
                 ORDER BY s.start_ts, s.id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![trace_id, segment_id, project_id], span_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .db("reading a segment's spans")?
            .into_iter()
            .collect()
        })
        .await
}

pub(in crate::sqlite) async fn trace(
    store: &SqliteStore,
    organization_id: i64,
    trace_id: &str,
) -> StoreResult<Trace> {
    let trace_id = trace_id.to_owned();
    store
        .read(move |conn| {
            let transactions = conn
                .prepare_cached(&format!(
                    "SELECT {TRANSACTION_COLUMNS} FROM transactions t
                     JOIN projects p ON p.id = t.project_id
                     WHERE t.trace_id = ?1 AND p.organization_id = ?2
                     ORDER BY t.start_ts LIMIT ?3"
                ))
                .and_then(|mut stmt| {
                    stmt.query_map(
                        params![trace_id, organization_id, MAX_TRACE_ROWS],
                        transaction_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .db("reading a trace's transactions")?
                .into_iter()
                .map(|row| row.finish(None))
                .collect::<StoreResult<Vec<_>>>()?;
            let spans = conn
                .prepare_cached(&format!(
                    "SELECT {SPAN_COLUMNS} FROM spans s
                     JOIN projects p ON p.id = s.project_id
                     LEFT JOIN span_groups g
                         ON g.project_id = s.project_id AND g.group_hash = s.group_hash
                     WHERE s.trace_id = ?1 AND p.organization_id = ?2
                     ORDER BY s.start_ts, s.id LIMIT ?3"
                ))
                .and_then(|mut stmt| {
                    stmt.query_map(params![trace_id, organization_id, MAX_TRACE_ROWS], span_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .db("reading a trace's spans")?
                .into_iter()
                .collect::<StoreResult<Vec<_>>>()?;
            let events = events::of_trace(conn, organization_id, &trace_id)?;
            Ok(transaction_reads::trace(transactions, spans, events))
        })
        .await
}

/// A transaction row before its tags (and data) are decoded.
struct TransactionRow {
    transaction: StoredTransaction,
    tags_json: String,
}

impl TransactionRow {
    fn finish(mut self, data_zstd: Option<&[u8]>) -> StoreResult<StoredTransaction> {
        self.transaction.tags = serde_json::from_str(&self.tags_json)
            .map_err(|e| corrupt("a transaction's tags", e))?;
        if let Some(data) = data_zstd {
            let json =
                zstd::stream::decode_all(data).map_err(|e| corrupt("a transaction's data", e))?;
            self.transaction.data =
                serde_json::from_slice(&json).map_err(|e| corrupt("a transaction's data", e))?;
        }
        Ok(self.transaction)
    }
}

fn transaction_row(row: &Row<'_>) -> rusqlite::Result<TransactionRow> {
    Ok(TransactionRow {
        transaction: StoredTransaction {
            project_id: row.get(0)?,
            event_id: row.get(1)?,
            trace_id: row.get(2)?,
            span_id: row.get(3)?,
            parent_span_id: row.get(4)?,
            name: row.get(5)?,
            op: row.get(6)?,
            status: row.get(7)?,
            start: row.get(8)?,
            duration_ms: row.get(9)?,
            received: row.get(10)?,
            environment: row.get(11)?,
            release: row.get(12)?,
            user_tag: row.get(13)?,
            platform: row.get(14)?,
            tags: Vec::new(),
            data: Value::Null,
        },
        tags_json: row.get(15)?,
    })
}

fn span_row(row: &Row<'_>) -> rusqlite::Result<StoreResult<StoredSpan>> {
    let data: Option<String> = row.get(11)?;
    let data = match data {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("a span's data", e)),
    };
    let span = StoredSpan {
        project_id: row.get(0)?,
        trace_id: row.get(1)?,
        segment_id: row.get(2)?,
        transaction: row.get(3)?,
        span_id: row.get(4)?,
        parent_span_id: row.get(5)?,
        op: row.get(6)?,
        description: row.get(7)?,
        status: row.get(8)?,
        start: row.get(9)?,
        duration_ms: row.get(10)?,
        group: row.get(12)?,
        data: Value::Null,
    };
    Ok(data.map(|data| StoredSpan { data, ..span }))
}

/// The transactions (without data) of a page statement.
pub(super) fn transactions(
    conn: &Connection,
    page: &Statement,
) -> StoreResult<Vec<StoredTransaction>> {
    conn.prepare_cached(&page.sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(page.params.iter()), transaction_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .db("listing transactions")?
        .into_iter()
        .map(|row| row.finish(None))
        .collect()
}
