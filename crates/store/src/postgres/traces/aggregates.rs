//! Transaction summaries in PostgreSQL: aggregates, series and duration histograms, each read
//! as its [`Plan`] says (the daily rollups for whole days, the hourly ones for the other whole
//! hours, rows only for the edges) with the statements of
//! [`crate::query::transaction_reads`], all of a plan's reads pipelined on one connection.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::super::sql::{self, get};
use super::super::PgStore;
use crate::query::transaction_reads::{
    self, add_durations, duration_read, finish, summary_read, thresholds_sql, RangeSummaries,
    Ranges, Summaries,
};
use crate::query::{Cells, Dialect, Statement};
use crate::rollup::{self, Plan, Read};
use crate::{StoreResult, TransactionAggregate, TransactionQuery, UnixTime};

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
    query: &TransactionQuery,
    ranges: &Ranges,
    by_transaction: bool,
) -> StoreResult<RangeSummaries> {
    let plan = Plan::new(ranges, !query.conditions.is_empty());
    let reads = plan.reads();
    let statements = plan_statements(
        &reads,
        |read| summary_read(Dialect::Postgres, query, read),
        ["reading transactions", "reading transaction rollups"],
    );
    let (apdex, results) = futures_util::try_join!(
        thresholds(client, query.organization_id),
        run_reads(client, &statements)
    )?;
    let mut summaries = Summaries::new(&plan, ranges, by_transaction, apdex);
    for (read, rows) in reads.iter().zip(results) {
        for row in &rows {
            summaries.add(*read, row)?;
        }
    }
    Ok(summaries.into_ranges())
}

pub(in crate::postgres) async fn aggregate_transactions(
    store: &PgStore,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let client = store.client().await?;
    let range = [(query.since, query.until)];
    let mut ranges = summaries(&client, query, &range, by_transaction).await?;
    Ok(ranges.pop().map(finish).unwrap_or_default())
}

pub(in crate::postgres) async fn transaction_series(
    store: &PgStore,
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    let buckets = rollup::series_ranges(query, interval_secs)?;
    let ranges = transaction_reads::bucket_ranges(&buckets);
    let client = store.client().await?;
    let summaries = summaries(&client, query, &ranges, false).await?;
    Ok(transaction_reads::series(&buckets, summaries))
}

pub(in crate::postgres) async fn duration_histogram(
    store: &PgStore,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    transaction_reads::check_histogram_buckets(buckets)?;
    let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
    // Every row and rollup read belongs to the one range: no need to place them.
    let reads = plan.reads();
    let statements = plan_statements(
        &reads,
        |read| duration_read(Dialect::Postgres, query, read),
        ["reading durations", "reading rollup histograms"],
    );
    let client = store.client().await?;
    let results = run_reads(&client, &statements).await?;
    // Durations with their counts: exact from rows, bucket bounds from rollups.
    let mut points: Vec<(f64, u64)> = Vec::new();
    for (read, rows) in reads.iter().zip(results) {
        for row in &rows {
            add_durations(&mut points, *read, row)?;
        }
    }
    Ok(rollup::equal_width_bins(&points, buckets))
}
