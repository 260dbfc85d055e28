//! Reading transactions, spans and traces back from PostgreSQL: one transaction with its data,
//! a segment's spans, a trace (its transactions, spans and errors), a page of transactions.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::super::error::corrupt;
use super::super::events;
use super::super::sql::{self, get};
use super::super::PgStore;
use crate::query::{transaction_reads, Statement};
use crate::{StoreResult, StoredSpan, StoredTransaction, Trace};

/// A transaction's columns, `data` last (index 16) when wanted.
pub(super) const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
    t.parent_span_id, t.name, t.op, t.status, t.start_ts, t.duration_ms, t.received, \
    t.environment, t.release, t.user_tag, t.platform, t.tags::TEXT";

fn read_transaction(row: &Row, with_data: bool) -> StoreResult<StoredTransaction> {
    let event_id: String = get(row, 1)?;
    let tags: String = get(row, 15)?;
    let tags = serde_json::from_str(&tags)
        .map_err(|e| corrupt(&format!("tags of transaction {event_id}"), e))?;
    let data = if with_data {
        let data: Vec<u8> = get(row, 16)?;
        decompress(&event_id, &data)?
    } else {
        serde_json::Value::Null
    };
    Ok(StoredTransaction {
        project_id: get(row, 0)?,
        event_id,
        trace_id: get(row, 2)?,
        span_id: get(row, 3)?,
        parent_span_id: get(row, 4)?,
        name: get(row, 5)?,
        op: get(row, 6)?,
        status: get(row, 7)?,
        start: get(row, 8)?,
        duration_ms: get(row, 9)?,
        received: get(row, 10)?,
        environment: get(row, 11)?,
        release: get(row, 12)?,
        user_tag: get(row, 13)?,
        platform: get(row, 14)?,
        tags,
        data,
    })
}

/// A span's columns, with its group's normalized text (`FROM spans s LEFT JOIN span_groups g`).
const SPAN_COLUMNS: &str = "s.project_id, s.trace_id, s.segment_id, s.transaction_name, \
    s.span_id, s.parent_span_id, s.op, s.description, COALESCE(g.normalized, ''), s.status, \
    s.start_ts, s.duration_ms, s.data";
const SPAN_FROM: &str = "spans s LEFT JOIN span_groups g \
    ON g.project_id = s.project_id AND g.group_hash = s.group_hash";

fn read_span(row: &Row) -> StoreResult<StoredSpan> {
    let span_id: String = get(row, 4)?;
    let data: Option<String> = get(row, 12)?;
    let data = match data {
        None => serde_json::Value::Null,
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| corrupt(&format!("data of span {span_id}"), e))?,
    };
    Ok(StoredSpan {
        project_id: get(row, 0)?,
        trace_id: get(row, 1)?,
        segment_id: get(row, 2)?,
        transaction: get(row, 3)?,
        span_id,
        parent_span_id: get(row, 5)?,
        op: get(row, 6)?,
        description: get(row, 7)?,
        group: get(row, 8)?,
        status: get(row, 9)?,
        start: get(row, 10)?,
        duration_ms: get(row, 11)?,
        data,
    })
}

pub(in crate::postgres) async fn transaction_by_event_id(
    store: &PgStore,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<StoredTransaction>> {
    let client = store.client().await?;
    let row = sql::query_opt(
        &client,
        &format!(
            "SELECT {TRANSACTION_COLUMNS}, t.data FROM transactions t
             WHERE t.project_id = $1 AND t.event_id = $2"
        ),
        &[&project_id, &event_id],
        "reading a transaction",
    )
    .await?;
    row.map(|row| read_transaction(&row, true)).transpose()
}

pub(in crate::postgres) async fn segment_spans(
    store: &PgStore,
    project_id: i64,
    trace_id: &str,
    segment_id: &str,
) -> StoreResult<Vec<StoredSpan>> {
    let client = store.client().await?;
    let rows = sql::query(
        &client,
        &format!(
            "SELECT {SPAN_COLUMNS} FROM {SPAN_FROM}
             WHERE s.trace_id = $2 AND s.segment_id = $3 AND s.project_id = $1
             ORDER BY s.start_ts, s.id"
        ),
        &[&project_id, &trace_id, &segment_id],
        "reading a segment's spans",
    )
    .await?;
    rows.iter().map(read_span).collect()
}

pub(in crate::postgres) async fn trace(
    store: &PgStore,
    organization_id: i64,
    trace_id: &str,
) -> StoreResult<Trace> {
    let client = store.client().await?;
    let in_organization = "IN (SELECT id FROM projects WHERE organization_id = $2)";
    let transactions = sql::query(
        &client,
        &format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions t
             WHERE t.trace_id = $1 AND t.project_id {in_organization}
             ORDER BY t.start_ts, t.id"
        ),
        &[&trace_id, &organization_id],
        "reading a trace's transactions",
    )
    .await?
    .iter()
    // Without `data`, as in a list: a trace can hold many transactions.
    .map(|row| read_transaction(row, false))
    .collect::<StoreResult<Vec<_>>>()?;
    let spans = sql::query(
        &client,
        &format!(
            "SELECT {SPAN_COLUMNS} FROM {SPAN_FROM}
             WHERE s.trace_id = $1 AND s.project_id {in_organization}
             ORDER BY s.start_ts, s.id"
        ),
        &[&trace_id, &organization_id],
        "reading a trace's spans",
    )
    .await?
    .iter()
    .map(read_span)
    .collect::<StoreResult<Vec<_>>>()?;
    let event_rows = sql::query(
        &client,
        &format!(
            "SELECT {} FROM events
             WHERE trace_id = $1 AND project_id {in_organization}
             ORDER BY timestamp, id",
            events::COLUMNS
        ),
        &[&trace_id, &organization_id],
        "reading a trace's errors",
    )
    .await?;
    let events = events::decode(&client, event_rows).await?;
    Ok(transaction_reads::trace(transactions, spans, events))
}

fn decompress(event_id: &str, data: &[u8]) -> StoreResult<serde_json::Value> {
    let what = || format!("transaction {event_id}");
    let json = zstd::stream::decode_all(data).map_err(|e| corrupt(&what(), e))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(&what(), e))
}

/// The transactions (without data) of a page statement.
pub(super) async fn transactions<C: GenericClient>(
    client: &C,
    page: &Statement,
) -> StoreResult<Vec<StoredTransaction>> {
    sql::query(
        client,
        &page.sql,
        &page.postgres_params(),
        "listing transactions",
    )
    .await?
    .iter()
    .map(|row| read_transaction(row, false))
    .collect()
}
