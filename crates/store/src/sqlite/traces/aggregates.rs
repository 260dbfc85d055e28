//! Running the trace queries' reads in SQLite ([`RunReads`]): the statements of
//! [`crate::query::transaction_reads`], run one after another on a reader connection, their
//! rows handed over as they are stepped through.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection, Row};

use super::super::error::DbContext;
use super::super::statements::records;
use super::super::SqliteStore;
use super::{span_aggregates, writes, SPAN_GROUP, TRANSACTION_COLUMNS};
use crate::query::trace_queries::{
    plan_of, GroupNames, RunReads, SpanReads, SpanTotalsByGroup, SummaryReads,
};
use crate::query::transaction_reads::{
    add_durations, duration_read, summary_read, thresholds_sql, RangeSummaries, Summaries,
};
use crate::query::{Cells, Dialect, Statement};
use crate::rows::{Record, TransactionWithData};
use crate::{SavedSpans, SpanBatch, StoreResult, StoredSpan, StoredTransaction, TransactionQuery};

impl Cells for Row<'_> {
    fn int(&self, index: usize) -> StoreResult<i64> {
        self.get(index).db("reading a column")
    }
    fn real(&self, index: usize) -> StoreResult<f64> {
        self.get(index).db("reading a column")
    }
    fn text(&self, index: usize) -> StoreResult<String> {
        self.get(index).db("reading a column")
    }
    fn optional_text(&self, index: usize) -> StoreResult<Option<String>> {
        self.get(index).db("reading a column")
    }
    fn blob(&self, index: usize) -> StoreResult<Vec<u8>> {
        self.get(index).db("reading a column")
    }
}

/// Runs `statement`, handing each row to `add`; `what` it reads names its errors.
pub(super) fn for_each_row(
    conn: &Connection,
    statement: &Statement,
    what: &str,
    mut add: impl FnMut(&Row<'_>) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(&statement.sql).db(what)?;
    let mut rows = stmt
        .query(params_from_iter(statement.params.iter()))
        .db(what)?;
    while let Some(row) = rows.next().db(what)? {
        add(row)?;
    }
    Ok(())
}

/// Each project's apdex threshold, where it set one.
fn thresholds(conn: &Connection, organization_id: i64) -> StoreResult<HashMap<i64, f64>> {
    conn.prepare_cached(&thresholds_sql(Dialect::Sqlite))
        .and_then(|mut stmt| {
            stmt.query_map([organization_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .db("reading apdex thresholds")
}

/// One summary per group per range: the reads of the ranges' plan, each row given to its
/// range.
fn summaries(conn: &Connection, reads: &SummaryReads) -> StoreResult<RangeSummaries> {
    let query = &reads.query;
    let apdex = thresholds(conn, query.organization_id)?;
    let plan = reads.plan();
    let mut summaries = Summaries::new(&plan, &reads.ranges, reads.by_transaction, apdex);
    for read in plan.reads() {
        let statement = summary_read(Dialect::Sqlite, query, read);
        for_each_row(conn, &statement, "reading transactions", |row| {
            summaries.add(read, row)
        })?;
    }
    Ok(summaries.into_ranges())
}

/// Durations with their counts: exact from rows, bucket bounds from rollups.
fn durations(conn: &Connection, query: &TransactionQuery) -> StoreResult<Vec<(f64, u64)>> {
    let mut points: Vec<(f64, u64)> = Vec::new();
    let plan = plan_of(query);
    for read in plan.reads() {
        let statement = duration_read(Dialect::Sqlite, query, read);
        for_each_row(conn, &statement, "reading durations", |row| {
            add_durations(&mut points, read, row)
        })?;
    }
    Ok(points)
}

/// The records of a statement, read on a reader connection.
async fn statement_records<T: Record + Send + 'static>(
    store: &SqliteStore,
    statement: Statement,
    what: &'static str,
) -> StoreResult<Vec<T>> {
    store
        .read(move |conn| {
            records(
                conn,
                &statement.sql,
                params_from_iter(statement.params.iter()),
                what,
            )
        })
        .await
}

#[async_trait]
impl RunReads for SqliteStore {
    async fn write_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans> {
        writes::save_spans(self, batch).await
    }

    async fn read_transactions_with_data(
        &self,
        statement: Statement,
    ) -> StoreResult<Vec<TransactionWithData>> {
        statement_records(self, statement, "reading a transaction").await
    }

    async fn read_spans(&self, statement: Statement) -> StoreResult<Vec<StoredSpan>> {
        statement_records(self, statement, "reading spans").await
    }

    async fn read_summaries(&self, reads: SummaryReads) -> StoreResult<RangeSummaries> {
        self.read(move |conn| summaries(conn, &reads)).await
    }

    async fn read_durations(&self, query: TransactionQuery) -> StoreResult<Vec<(f64, u64)>> {
        self.read(move |conn| durations(conn, &query)).await
    }

    async fn read_transactions(&self, page: Statement) -> StoreResult<Vec<StoredTransaction>> {
        statement_records(self, page, "listing transactions").await
    }

    async fn read_span_totals(&self, reads: SpanReads) -> StoreResult<SpanTotalsByGroup> {
        self.read(move |conn| span_aggregates::totals(conn, &reads))
            .await
    }

    async fn read_span_group_names(&self, groups: Vec<(i64, String)>) -> StoreResult<GroupNames> {
        self.read(move |conn| span_aggregates::group_names(conn, &groups))
            .await
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn transaction_columns(&self) -> &'static str {
        TRANSACTION_COLUMNS
    }

    fn span_group(&self) -> &'static str {
        SPAN_GROUP
    }
}
