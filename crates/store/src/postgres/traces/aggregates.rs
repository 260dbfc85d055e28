//! Running the trace queries' reads in PostgreSQL ([`RunReads`]): the statements of
//! [`crate::query::transaction_reads`] for a plan (the daily rollups for whole days, the
//! hourly ones for the other whole hours, rows only for the edges), all pipelined on one
//! connection, their rows handed over when they have all arrived.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::super::sql::{self, get};
use super::super::PgStore;
use super::{span_aggregates, writes, SPAN_GROUP, TRANSACTION_COLUMNS};
use crate::query::trace_queries::{
    plan_of, GroupNames, RunReads, SpanReads, SpanTotalsByGroup, SummaryReads,
};
use crate::query::transaction_reads::{
    add_durations, duration_read, summary_read, thresholds_sql, RangeSummaries, Summaries,
};
use crate::query::{Cells, Dialect, Statement};
use crate::rollup::Read;
use crate::rows::{Record, TransactionWithData};
use crate::{SavedSpans, SpanBatch, StoreResult, StoredSpan, StoredTransaction, TransactionQuery};

impl Cells for Row {
    fn int(&self, index: usize) -> StoreResult<i64> {
        get(self, index)
    }
    fn real(&self, index: usize) -> StoreResult<f64> {
        get(self, index)
    }
    fn text(&self, index: usize) -> StoreResult<String> {
        get(self, index)
    }
    fn optional_text(&self, index: usize) -> StoreResult<Option<String>> {
        get(self, index)
    }
    fn blob(&self, index: usize) -> StoreResult<Vec<u8>> {
        get(self, index)
    }
}

/// Each project's apdex threshold, where it set one.
async fn thresholds<C: GenericClient>(
    client: &C,
    organization_id: i64,
) -> StoreResult<HashMap<i64, f64>> {
    let rows = sql::query(
        client,
        &thresholds_sql(Dialect::Postgres),
        &[&organization_id],
        "reading apdex thresholds",
    )
    .await?;
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

/// Runs every statement at once, each with what it is for: one connection pipelines them.
pub(super) async fn run_reads<C: GenericClient>(
    client: &C,
    statements: &[(Statement, &str)],
) -> StoreResult<Vec<Vec<Row>>> {
    futures_util::future::try_join_all(statements.iter().map(|(statement, what)| async move {
        sql::query(client, &statement.sql, &statement.postgres_params(), what).await
    }))
    .await
}

/// The statement of each read, with what it is for: `what[0]` reading rows, `what[1]`
/// rollups.
pub(super) fn plan_statements(
    reads: &[Read],
    statement: impl Fn(Read) -> Statement,
    what: [&'static str; 2],
) -> Vec<(Statement, &'static str)> {
    reads
        .iter()
        .map(|read| {
            let what = match read {
                Read::Rows { .. } => what[0],
                Read::Rollup { .. } => what[1],
            };
            (statement(*read), what)
        })
        .collect()
}

/// One summary per group per range: the reads of the ranges' plan, each row given to its
/// range.
async fn summaries<C: GenericClient>(
    client: &C,
    reads: &SummaryReads,
) -> StoreResult<RangeSummaries> {
    let query = &reads.query;
    let plan = reads.plan();
    let plan_reads = plan.reads();
    let statements = plan_statements(
        &plan_reads,
        |read| summary_read(Dialect::Postgres, query, read),
        ["reading transactions", "reading transaction rollups"],
    );
    let (apdex, results) = futures_util::try_join!(
        thresholds(client, query.organization_id),
        run_reads(client, &statements)
    )?;
    let mut summaries = Summaries::new(&plan, &reads.ranges, reads.by_transaction, apdex);
    for (read, rows) in plan_reads.iter().zip(results) {
        for row in &rows {
            summaries.add(*read, row)?;
        }
    }
    Ok(summaries.into_ranges())
}

/// Durations with their counts: exact from rows, bucket bounds from rollups.
async fn durations<C: GenericClient>(
    client: &C,
    query: &TransactionQuery,
) -> StoreResult<Vec<(f64, u64)>> {
    let plan_reads = plan_of(query).reads();
    let statements = plan_statements(
        &plan_reads,
        |read| duration_read(Dialect::Postgres, query, read),
        ["reading durations", "reading rollup histograms"],
    );
    let results = run_reads(client, &statements).await?;
    let mut points: Vec<(f64, u64)> = Vec::new();
    for (read, rows) in plan_reads.iter().zip(results) {
        for row in &rows {
            add_durations(&mut points, *read, row)?;
        }
    }
    Ok(points)
}

/// The records of a statement.
async fn statement_records<T: Record>(
    store: &PgStore,
    statement: Statement,
    what: &str,
) -> StoreResult<Vec<T>> {
    sql::records(
        &store.client().await?,
        &statement.sql,
        &statement.postgres_params(),
        what,
    )
    .await
}

#[async_trait]
impl RunReads for PgStore {
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
        summaries(&self.client().await?, &reads).await
    }

    async fn read_durations(&self, query: TransactionQuery) -> StoreResult<Vec<(f64, u64)>> {
        durations(&self.client().await?, &query).await
    }

    async fn read_transactions(&self, page: Statement) -> StoreResult<Vec<StoredTransaction>> {
        statement_records(self, page, "listing transactions").await
    }

    async fn read_span_totals(&self, reads: SpanReads) -> StoreResult<SpanTotalsByGroup> {
        span_aggregates::totals(&self.client().await?, &reads).await
    }

    async fn read_span_group_names(&self, groups: Vec<(i64, String)>) -> StoreResult<GroupNames> {
        span_aggregates::group_names(&self.client().await?, &groups).await
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn transaction_columns(&self) -> &'static str {
        TRANSACTION_COLUMNS
    }

    fn span_group(&self) -> &'static str {
        SPAN_GROUP
    }
}
