//! Transaction summaries in SQLite: aggregates, series and duration histograms, each read as
//! its [`Plan`] says (rollups for whole hours and days, rows for the edges) with the
//! statements of [`crate::query::transaction_reads`], run one after another on the connection.

use std::collections::HashMap;

use rusqlite::{params_from_iter, Connection, Row};

use super::super::error::DbContext;
use super::super::SqliteStore;
use crate::query::transaction_reads::{
    self, add_durations, duration_read, finish, summary_read, thresholds_sql, RangeSummaries,
    Ranges, Summaries,
};
use crate::query::{Cells, Dialect, Statement};
use crate::rollup::{self, Plan};
use crate::{StoreResult, TransactionAggregate, TransactionQuery, UnixTime};

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
fn summaries(
    conn: &Connection,
    query: &TransactionQuery,
    ranges: &Ranges,
    by_transaction: bool,
) -> StoreResult<RangeSummaries> {
    let apdex = thresholds(conn, query.organization_id)?;
    let plan = Plan::new(ranges, !query.conditions.is_empty());
    let mut summaries = Summaries::new(&plan, ranges, by_transaction, apdex);
    for read in plan.reads() {
        let statement = summary_read(Dialect::Sqlite, query, read);
        for_each_row(conn, &statement, "reading transactions", |row| {
            summaries.add(read, row)
        })?;
    }
    Ok(summaries.into_ranges())
}

pub(in crate::sqlite) async fn aggregate_transactions(
    store: &SqliteStore,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let query = query.clone();
    store
        .read(move |conn| {
            let mut ranges =
                summaries(conn, &query, &[(query.since, query.until)], by_transaction)?;
            Ok(ranges.pop().map(finish).unwrap_or_default())
        })
        .await
}

pub(in crate::sqlite) async fn transaction_series(
    store: &SqliteStore,
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    let buckets = rollup::series_ranges(query, interval_secs)?;
    let query = query.clone();
    store
        .read(move |conn| {
            let ranges = transaction_reads::bucket_ranges(&buckets);
            let summaries = summaries(conn, &query, &ranges, false)?;
            Ok(transaction_reads::series(&buckets, summaries))
        })
        .await
}

pub(in crate::sqlite) async fn duration_histogram(
    store: &SqliteStore,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    transaction_reads::check_histogram_buckets(buckets)?;
    let query = query.clone();
    store
        .read(move |conn| {
            // Durations with their counts: exact from rows, bucket bounds from rollups.
            let mut points: Vec<(f64, u64)> = Vec::new();
            let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
            for read in plan.reads() {
                let statement = duration_read(Dialect::Sqlite, &query, read);
                for_each_row(conn, &statement, "reading durations", |row| {
                    add_durations(&mut points, read, row)
                })?;
            }
            Ok(rollup::equal_width_bins(&points, buckets))
        })
        .await
}
