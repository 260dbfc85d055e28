//! The reads behind transaction summaries and traces, the same on both backends: the statement
//! of each read a [`Plan`] asks for, and what the rows read add up to (one [`Summary`] per
//! group and range, a histogram's points, span totals). A backend runs the statements its own
//! way (SQLite one after another on its connection, PostgreSQL pipelined) and hands each row
//! over through [`Cells`].

use std::collections::{BTreeMap, HashMap};

use super::transaction_filter::{Filter, Table};
use super::{sql_int, Cells, Dialect, Statement};
use crate::rollup::{self, Histogram, Plan, Read, Summary, UserSketch};
use crate::{
    PerformanceSettings, StoreError, StoreResult, StoredEvent, StoredSpan, StoredTransaction,
    Trace, TraceError, TransactionAggregate, TransactionQuery, TransactionSort, UnixTime,
};

/// A summary's project and transaction name, when grouped by them.
pub(crate) type GroupKey = (Option<i64>, Option<String>);
/// The time ranges summarized together (a series' buckets, or one range).
pub(crate) type Ranges = [(Option<UnixTime>, Option<UnixTime>)];
/// One summary per group, per range.
pub(crate) type RangeSummaries = Vec<BTreeMap<GroupKey, Summary>>;

/// The statement of one read of transactions: `rows` columns of `transactions t`, or `rollups`
/// columns of `transaction_rollups r`.
fn transaction_read(
    dialect: Dialect,
    query: &TransactionQuery,
    read: Read,
    rows: &str,
    rollups: &str,
) -> Statement {
    let filter = Filter::of_read(dialect, query, Table::Transactions, read);
    let (columns, table) = match read {
        Read::Rows { .. } => (rows, filter.from("transactions t")),
        Read::Rollup { .. } => (rollups, filter.from("transaction_rollups r")),
    };
    filter.statement(|filter| format!("SELECT {columns} FROM {table} WHERE {filter}"))
}

/// The statement of one read of a summary's plan, whose rows [`Summaries::add`] takes.
pub(crate) fn summary_read(dialect: Dialect, query: &TransactionQuery, read: Read) -> Statement {
    transaction_read(
        dialect,
        query,
        read,
        "t.project_id, t.name, t.duration_ms, t.status, t.start_ts, t.user_tag",
        "r.project_id, r.name, r.start, r.count, r.failures, r.sum_ms, r.max_ms, \
         r.first_seen, r.last_seen, r.histogram, r.users",
    )
}

/// The statement of one read of a duration histogram, whose rows [`add_durations`] takes.
pub(crate) fn duration_read(dialect: Dialect, query: &TransactionQuery, read: Read) -> Statement {
    transaction_read(dialect, query, read, "t.duration_ms", "r.histogram")
}

/// One page of the query's transaction rows, of the backend's `columns` (of `t`).
pub(crate) fn list(
    dialect: Dialect,
    columns: &str,
    query: &TransactionQuery,
    sort: TransactionSort,
    limit: u64,
    offset: u64,
) -> Statement {
    let read = Read::Rows {
        from: query.since,
        to: query.until,
    };
    let mut filter = Filter::of_read(dialect, query, Table::Transactions, read);
    let order = match sort {
        TransactionSort::Newest => "t.start_ts DESC, t.id DESC",
        TransactionSort::Slowest => "t.duration_ms DESC, t.id DESC",
    };
    let limit = filter.bind(sql_int(limit));
    let offset = filter.bind(sql_int(offset));
    let table = filter.from("transactions t");
    filter.statement(|filter| {
        format!(
            "SELECT {columns} FROM {table} WHERE {filter} \
             ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        )
    })
}

/// Each project of the organization (the first parameter) that set its apdex threshold, with
/// the threshold.
pub(crate) fn thresholds_sql(dialect: Dialect) -> String {
    format!(
        "SELECT s.project_id, s.apdex_threshold_ms FROM performance_settings s \
         JOIN projects p ON p.id = s.project_id WHERE p.organization_id = {}",
        dialect.placeholder(1)
    )
}

/// The summaries of a plan's ranges as its rows arrive, each row given to its range and group.
pub(crate) struct Summaries<'a> {
    plan: &'a Plan,
    by_transaction: bool,
    apdex: HashMap<i64, f64>,
    ranges: RangeSummaries,
}

impl<'a> Summaries<'a> {
    /// `apdex`: the thresholds projects set (the others have the default).
    pub(crate) fn new(
        plan: &'a Plan,
        ranges: &Ranges,
        by_transaction: bool,
        apdex: HashMap<i64, f64>,
    ) -> Summaries<'a> {
        Summaries {
            plan,
            by_transaction,
            apdex,
            ranges: ranges.iter().map(|_| BTreeMap::new()).collect(),
        }
    }

    fn apdex_of(&self, project_id: i64) -> f64 {
        self.apdex
            .get(&project_id)
            .copied()
            .unwrap_or(PerformanceSettings::default().apdex_threshold_ms)
    }

    fn group(&mut self, range: usize, project_id: i64, name: String) -> &mut Summary {
        let key = if self.by_transaction {
            (Some(project_id), Some(name))
        } else {
            (None, None)
        };
        self.ranges[range].entry(key).or_default()
    }

    /// A row of the [`summary_read`] of `read`.
    pub(crate) fn add(&mut self, read: Read, row: &impl Cells) -> StoreResult<()> {
        match read {
            Read::Rows { .. } => {
                let start = row.real(4)?;
                let Some(range) = self.plan.range_of_row(start) else {
                    return Ok(());
                };
                let project_id = row.int(0)?;
                let apdex = self.apdex_of(project_id);
                let user = row.optional_text(5)?;
                self.group(range, project_id, row.text(1)?).add_row(
                    row.real(2)?,
                    &row.text(3)?,
                    start,
                    user.as_deref(),
                    apdex,
                );
            }
            Read::Rollup { granularity, .. } => {
                let Some(range) = self.plan.range_of_rollup(granularity, row.int(2)?) else {
                    return Ok(());
                };
                let histogram = Histogram::decode(&row.blob(9)?)
                    .map_err(|e| corrupt("a rollup histogram", e))?;
                let users = UserSketch::decode(&row.blob(10)?)
                    .map_err(|e| corrupt("a rollup's users", e))?;
                let project_id = row.int(0)?;
                let apdex = self.apdex_of(project_id);
                self.group(range, project_id, row.text(1)?).add_rollup(
                    row.int(3)?.max(0) as u64,
                    row.int(4)?.max(0) as u64,
                    row.real(5)?,
                    row.real(6)?,
                    row.real(7)?,
                    row.real(8)?,
                    &histogram,
                    &users,
                    apdex,
                );
            }
        }
        Ok(())
    }

    pub(crate) fn into_ranges(self) -> RangeSummaries {
        self.ranges
    }
}

/// The aggregates of a range's non-empty groups, by project and name.
pub(crate) fn finish(groups: BTreeMap<GroupKey, Summary>) -> Vec<TransactionAggregate> {
    groups
        .into_iter()
        .filter(|(_, summary)| !summary.is_empty())
        .map(|((project_id, name), summary)| summary.finish(project_id, name))
        .collect()
}

/// A series: each bucket's start with the aggregate of its range's summaries.
pub(crate) fn series(
    buckets: &[(UnixTime, UnixTime)],
    summaries: RangeSummaries,
) -> Vec<(UnixTime, TransactionAggregate)> {
    buckets
        .iter()
        .zip(summaries)
        .map(|((start, _), groups)| {
            (
                *start,
                finish(groups).into_iter().next().unwrap_or_default(),
            )
        })
        .collect()
}

/// The ranges of a series' buckets, as a plan takes them.
pub(crate) fn bucket_ranges(
    buckets: &[(UnixTime, UnixTime)],
) -> Vec<(Option<UnixTime>, Option<UnixTime>)> {
    buckets.iter().map(|(a, b)| (Some(*a), Some(*b))).collect()
}

/// A histogram has 1 to 1000 buckets.
pub(crate) fn check_histogram_buckets(buckets: u32) -> StoreResult<()> {
    if buckets == 0 || buckets > 1_000 {
        return Err(StoreError::Invalid(
            "a histogram has 1 to 1000 buckets".into(),
        ));
    }
    Ok(())
}

/// Adds a row of the [`duration_read`] of `read` to a histogram's points: a row's duration
/// once, a rollup histogram's counts at their buckets' upper bounds.
pub(crate) fn add_durations(
    points: &mut Vec<(f64, u64)>,
    read: Read,
    row: &impl Cells,
) -> StoreResult<()> {
    match read {
        Read::Rows { .. } => points.push((row.real(0)?, 1)),
        Read::Rollup { .. } => {
            let histogram =
                Histogram::decode(&row.blob(0)?).map_err(|e| corrupt("a rollup histogram", e))?;
            points.extend(
                histogram
                    .0
                    .iter()
                    .map(|(b, n)| (rollup::bucket_upper_ms(*b), *n)),
            );
        }
    }
    Ok(())
}

/// A span group's totals; `project_id` names the group's text.
#[derive(Debug, Default)]
pub(crate) struct SpanTotals {
    pub project_id: i64,
    pub count: u64,
    pub total_ms: f64,
    pub segments: u64,
}

impl SpanTotals {
    /// Adds sums of span rows or rollups: `(…, …, project_id, count, total_ms, segments)`.
    pub(crate) fn add_sums(&mut self, row: &impl Cells) -> StoreResult<()> {
        self.project_id = row.int(2)?;
        self.count += row.int(3)?.max(0) as u64;
        self.total_ms += row.real(4)?;
        self.segments += row.int(5)?.max(0) as u64;
        Ok(())
    }
}

/// `(op, group hash)`; the hash is `""` when grouped by op only.
pub(crate) type SpanGroup = (String, String);

/// The `limit` groups with the most time in them, most first.
pub(crate) fn rank_spans(
    groups: BTreeMap<SpanGroup, SpanTotals>,
    limit: u64,
) -> Vec<(SpanGroup, SpanTotals)> {
    let mut ranked: Vec<(SpanGroup, SpanTotals)> = groups.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms));
    ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    ranked
}

/// A trace: its transactions, spans and error events, each error on the span it happened in.
pub(crate) fn trace(
    transactions: Vec<StoredTransaction>,
    spans: Vec<StoredSpan>,
    events: Vec<StoredEvent>,
) -> Trace {
    Trace {
        transactions,
        spans,
        errors: events.into_iter().map(trace_error).collect(),
    }
}

fn trace_error(event: StoredEvent) -> TraceError {
    TraceError {
        span_id: event
            .data
            .pointer("/contexts/trace/span_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        project_id: event.project_id,
        event_id: event.event_id,
        issue_id: event.issue_id,
        title: event.title,
        level: event.level,
        timestamp: event.timestamp,
    }
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Cell {
        Int(i64),
        Real(f64),
        Text(Option<String>),
    }

    /// A row as a backend would hand it over.
    struct TestRow(Vec<Cell>);

    impl Cells for TestRow {
        fn int(&self, index: usize) -> StoreResult<i64> {
            match self.0[index] {
                Cell::Int(v) => Ok(v),
                _ => Err(corrupt("test row", index)),
            }
        }
        fn real(&self, index: usize) -> StoreResult<f64> {
            match self.0[index] {
                Cell::Real(v) => Ok(v),
                _ => Err(corrupt("test row", index)),
            }
        }
        fn text(&self, index: usize) -> StoreResult<String> {
            self.optional_text(index)?
                .ok_or_else(|| corrupt("test row", index))
        }
        fn optional_text(&self, index: usize) -> StoreResult<Option<String>> {
            match &self.0[index] {
                Cell::Text(v) => Ok(v.clone()),
                _ => Err(corrupt("test row", index)),
            }
        }
        fn blob(&self, index: usize) -> StoreResult<Vec<u8>> {
            Err(corrupt("test row", index))
        }
    }

    fn query() -> TransactionQuery {
        TransactionQuery {
            organization_id: 1,
            project_ids: vec![],
            environments: vec![],
            transaction: None,
            since: Some(0.0),
            until: Some(10.0),
            conditions: vec![],
        }
    }

    #[test]
    fn summary_reads_have_the_columns_the_rows_are_read_in() {
        let rows = summary_read(
            Dialect::Postgres,
            &query(),
            Read::Rows {
                from: Some(0.0),
                to: Some(5.0),
            },
        );
        assert!(rows.sql.starts_with(
            "SELECT t.project_id, t.name, t.duration_ms, t.status, t.start_ts, t.user_tag \
             FROM transactions t WHERE"
        ));
        assert_eq!(rows.params.len(), 3);
        let rollups = summary_read(
            Dialect::Sqlite,
            &query(),
            Read::Rollup {
                granularity: 3600,
                first: 0,
                end: 7200,
            },
        );
        assert!(rollups.sql.contains(
            "FROM transaction_rollups r JOIN projects p ON p.id = r.project_id \
             WHERE p.organization_id = ?1 AND r.granularity = ?2"
        ));
    }

    #[test]
    fn list_binds_its_page_after_the_filter() {
        let statement = list(
            Dialect::Sqlite,
            "t.event_id",
            &query(),
            TransactionSort::Slowest,
            25,
            50,
        );
        assert_eq!(
            statement.sql,
            "SELECT t.event_id FROM transactions t JOIN projects p ON p.id = t.project_id \
             WHERE p.organization_id = ?1 AND t.start_ts >= ?2 AND t.start_ts < ?3 \
             ORDER BY t.duration_ms DESC, t.id DESC LIMIT ?4 OFFSET ?5"
        );
        assert_eq!(
            statement.params[3..],
            [super::super::Param::Int(25), super::super::Param::Int(50)]
        );
    }

    #[test]
    fn rows_go_to_their_range_and_group() {
        let ranges = [(Some(0.0), Some(5.0)), (Some(5.0), Some(10.0))];
        let plan = Plan::new(&ranges, true);
        let mut summaries = Summaries::new(&plan, &ranges, true, HashMap::new());
        for (start, name) in [(1.0, "a"), (6.0, "a"), (7.0, "b"), (11.0, "a")] {
            let row = TestRow(vec![
                Cell::Int(1),
                Cell::Text(Some(name.into())),
                Cell::Real(10.0),
                Cell::Text(Some("ok".into())),
                Cell::Real(start),
                Cell::Text(None),
            ]);
            summaries
                .add(
                    Read::Rows {
                        from: None,
                        to: None,
                    },
                    &row,
                )
                .expect("a transaction row");
        }
        let ranges = summaries.into_ranges();
        let counts: Vec<Vec<u64>> = ranges
            .into_iter()
            .map(|groups| finish(groups).iter().map(|a| a.count).collect())
            .collect();
        assert_eq!(counts, [vec![1], vec![1, 1]]);
    }

    #[test]
    fn spans_rank_by_total_time_and_keep_the_limit() {
        let groups: BTreeMap<SpanGroup, SpanTotals> = [("a", 1.0), ("b", 3.0), ("c", 2.0)]
            .into_iter()
            .map(|(op, total_ms)| {
                (
                    (op.to_owned(), String::new()),
                    SpanTotals {
                        total_ms,
                        ..SpanTotals::default()
                    },
                )
            })
            .collect();
        let ranked: Vec<String> = rank_spans(groups, 2)
            .into_iter()
            .map(|((op, _), _)| op)
            .collect();
        assert_eq!(ranked, ["b", "c"]);
    }
}
