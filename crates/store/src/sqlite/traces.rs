//! Transactions, spans and traces in SQLite: rows, rollups and the summaries read from them.
//!
//! A batch writes its new rows and adds what they count to the hourly rollups in the same
//! transaction ([`crate::rollup`] does the arithmetic), so summaries read a few rollup rows per
//! hour and transaction name instead of every transaction. Ranges that do not cover whole hours
//! read their edges from the rows themselves; queries with tag conditions read rows only.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::error::{corrupt, DbContext};
use super::{events, sql_int, SqliteStore};
use crate::rollup::{self, Histogram, Plan, Read, RollupDelta, Summary, UserSketch};
use crate::Traces;
use crate::{
    NewSpan, NewTransaction, PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreError,
    StoreResult, StoredSpan, StoredTransaction, Trace, TraceError, TransactionAggregate,
    TransactionQuery, TransactionSort, UnixTime,
};

/// Rows a trace read returns at most, per kind.
const MAX_TRACE_ROWS: i64 = 10_000;

const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
     t.parent_span_id, t.name, t.op, t.status, t.start_ts, t.duration_ms, t.received, \
     t.environment, t.release, t.user_tag, t.platform, t.tags";

const SPAN_COLUMNS: &str = "s.project_id, s.trace_id, s.segment_id, s.transaction_name, \
     s.span_id, s.parent_span_id, s.op, s.description, s.status, s.start_ts, s.duration_ms, \
     s.data, COALESCE(g.normalized, s.description)";

// --- writing ------------------------------------------------------------------------------

pub(super) async fn save_spans(store: &SqliteStore, batch: SpanBatch) -> StoreResult<SavedSpans> {
    if batch.transactions.is_empty() && batch.spans.is_empty() {
        return Ok(SavedSpans::default());
    }
    batch
        .transactions
        .iter()
        .try_for_each(validate_transaction)?;
    batch.spans.iter().try_for_each(validate_span)?;
    // Compress before taking the writer.
    let encoded: Vec<(Vec<u8>, String)> = batch
        .transactions
        .iter()
        .map(|t| {
            let json = serde_json::to_vec(&t.data)
                .map_err(|e| StoreError::Invalid(format!("transaction data: {e}")))?;
            let data = zstd::bulk::compress(&json, 3)
                .map_err(|e| StoreError::Database(format!("compressing a transaction: {e}")))?;
            let tags = serde_json::to_string(&t.tags)
                .map_err(|e| StoreError::Invalid(format!("transaction tags: {e}")))?;
            Ok((data, tags))
        })
        .collect::<StoreResult<_>>()?;
    store
        .write(move |conn| {
            let tx = conn.transaction().db("starting a span batch")?;
            let saved = write_batch(&tx, &batch, &encoded)?;
            tx.commit().db("committing a span batch")?;
            Ok(saved)
        })
        .await
}

fn validate_transaction(t: &NewTransaction) -> StoreResult<()> {
    if t.event_id.is_empty() || t.trace_id.is_empty() || t.span_id.is_empty() {
        return Err(StoreError::Invalid(format!(
            "transaction {:?} lacks an event, trace or span id",
            t.name
        )));
    }
    if !(t.start.is_finite() && t.duration_ms.is_finite() && t.received.is_finite()) {
        return Err(StoreError::Invalid(format!(
            "transaction {} has a time that is not a number",
            t.event_id
        )));
    }
    Ok(())
}

fn validate_span(s: &NewSpan) -> StoreResult<()> {
    if s.trace_id.is_empty() || s.span_id.is_empty() || s.segment_id.is_empty() {
        return Err(StoreError::Invalid(
            "a span lacks its trace, segment or span id".into(),
        ));
    }
    if !(s.start.is_finite() && s.duration_ms.is_finite()) {
        return Err(StoreError::Invalid(format!(
            "span {} has a time that is not a number",
            s.span_id
        )));
    }
    Ok(())
}

fn write_batch(
    conn: &Connection,
    batch: &SpanBatch,
    encoded: &[(Vec<u8>, String)],
) -> StoreResult<SavedSpans> {
    let mut saved = SavedSpans::default();
    let mut delta = RollupDelta::default();
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO transactions (project_id, event_id, trace_id, span_id,
                     parent_span_id, name, op, status, start_ts, duration_ms, received,
                     environment, release, user_tag, platform, tags, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .db("preparing a transaction insert")?;
        for (t, (data, tags)) in batch.transactions.iter().zip(encoded) {
            let inserted = insert
                .execute(params![
                    t.project_id,
                    t.event_id,
                    t.trace_id,
                    t.span_id,
                    t.parent_span_id,
                    t.name,
                    t.op,
                    t.status,
                    t.start,
                    t.duration_ms,
                    t.received,
                    t.environment,
                    t.release,
                    t.user_tag,
                    t.platform,
                    tags,
                    data,
                ])
                .db(&format!("transaction {}", t.event_id))?;
            if inserted == 1 {
                saved.new_transactions += 1;
                delta.add_transaction(t);
            }
        }
    }
    let environments = rollup::segment_environments(&batch.transactions);
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO spans (project_id, trace_id, segment_id, span_id,
                     parent_span_id, transaction_name, op, description, group_hash, status,
                     start_ts, duration_ms, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .db("preparing a span insert")?;
        let mut segment_environment = conn
            .prepare_cached(
                "SELECT environment FROM transactions
                 WHERE trace_id = ?1 AND span_id = ?2 AND project_id = ?3",
            )
            .db("preparing a segment lookup")?;
        let mut looked_up: HashMap<(i64, &str, &str), String> = HashMap::new();
        for span in &batch.spans {
            let data = match &span.data {
                Value::Null => None,
                Value::Object(map) if map.is_empty() => None,
                other => Some(other.to_string()),
            };
            let inserted = insert
                .execute(params![
                    span.project_id,
                    span.trace_id,
                    span.segment_id,
                    span.span_id,
                    span.parent_span_id,
                    span.transaction,
                    span.op,
                    span.description,
                    rollup::group_hash(&span.group),
                    span.status,
                    span.start,
                    span.duration_ms,
                    data,
                ])
                .db(&format!("span {}", span.span_id))?;
            if inserted != 1 {
                continue;
            }
            saved.new_spans += 1;
            let key = (
                span.project_id,
                span.trace_id.as_str(),
                span.segment_id.as_str(),
            );
            let environment = match environments.get(&key) {
                Some(environment) => (*environment).to_owned(),
                None => match looked_up.get(&key) {
                    Some(environment) => environment.clone(),
                    None => {
                        let found: Option<Option<String>> = segment_environment
                            .query_row(params![key.1, key.2, key.0], |row| row.get(0))
                            .optional()
                            .db("looking up a span's segment")?;
                        let environment = found.flatten().unwrap_or_default();
                        looked_up.insert(key, environment.clone());
                        environment
                    }
                },
            };
            delta.add_span(span, &environment);
        }
    }
    write_rollups(conn, &delta)?;
    Ok(saved)
}

fn write_rollups(conn: &Connection, delta: &RollupDelta) -> StoreResult<()> {
    let mut existing = conn
        .prepare_cached(
            "SELECT histogram, users FROM transaction_rollups
             WHERE project_id = ?1 AND granularity = ?2 AND start = ?3 AND name = ?4
               AND environment = ?5",
        )
        .db("preparing a rollup read")?;
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO transaction_rollups (project_id, granularity, start, name, environment,
                 count, failures, sum_ms, max_ms, first_seen, last_seen, histogram, users)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (project_id, granularity, start, name, environment) DO UPDATE SET
                 count = count + excluded.count,
                 failures = failures + excluded.failures,
                 sum_ms = sum_ms + excluded.sum_ms,
                 max_ms = max(max_ms, excluded.max_ms),
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen),
                 histogram = excluded.histogram,
                 users = excluded.users",
        )
        .db("preparing a rollup upsert")?;
    for (key, d) in &delta.transactions {
        let key_params = params![
            key.project_id,
            key.granularity,
            key.start,
            key.name,
            key.environment
        ];
        let stored: Option<(Vec<u8>, Vec<u8>)> = existing
            .query_row(key_params, |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .db("reading a rollup")?;
        let (mut histogram, mut users) = match stored {
            Some((histogram, users)) => (
                Histogram::decode(&histogram).map_err(|e| corrupt("a rollup histogram", e))?,
                UserSketch::decode(&users).map_err(|e| corrupt("a rollup's users", e))?,
            ),
            None => (Histogram::default(), UserSketch::default()),
        };
        histogram.merge(&d.histogram);
        users.merge(&d.users);
        upsert
            .execute(params![
                key.project_id,
                key.granularity,
                key.start,
                key.name,
                key.environment,
                d.count,
                d.failures,
                d.sum_ms,
                d.max_ms,
                d.first_seen,
                d.last_seen,
                histogram.encode(),
                users.encode(),
            ])
            .db("adding to a transaction rollup")?;
    }
    let mut span_rollup = conn
        .prepare_cached(
            "INSERT INTO span_rollups (project_id, granularity, start, transaction_name,
                 environment, op, group_hash, count, total_ms, segments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (project_id, granularity, start, transaction_name, environment, op,
                          group_hash)
             DO UPDATE SET count = count + excluded.count,
                           total_ms = total_ms + excluded.total_ms,
                           segments = segments + excluded.segments",
        )
        .db("preparing a span rollup upsert")?;
    for (key, d) in &delta.spans {
        span_rollup
            .execute(params![
                key.project_id,
                key.granularity,
                key.start,
                key.transaction,
                key.environment,
                key.op,
                key.group_hash,
                d.count,
                d.total_ms,
                d.segments.len() as i64,
            ])
            .db("adding to a span rollup")?;
    }
    let mut group = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO span_groups (project_id, group_hash, op, normalized)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .db("preparing a span group insert")?;
    for ((project_id, hash), (op, normalized)) in &delta.groups {
        group
            .execute(params![project_id, hash, op, normalized])
            .db("adding a span group")?;
    }
    Ok(())
}

// --- reading single rows --------------------------------------------------------------------

pub(super) async fn transaction_by_event_id(
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

pub(super) async fn segment_spans(
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

pub(super) async fn trace(
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
            let errors = events::of_trace(conn, organization_id, &trace_id)?
                .into_iter()
                .map(|event| TraceError {
                    span_id: event
                        .data
                        .pointer("/contexts/trace/span_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    project_id: event.project_id,
                    event_id: event.event_id,
                    issue_id: event.issue_id,
                    title: event.title,
                    level: event.level,
                    timestamp: event.timestamp,
                })
                .collect();
            Ok(Trace {
                transactions,
                spans,
                errors,
            })
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

// --- query scope ------------------------------------------------------------------------------

/// The columns a scope filters on, per table.
struct Columns {
    project: &'static str,
    environment: &'static str,
    name: &'static str,
}

const TRANSACTION_ROWS: Columns = Columns {
    project: "t.project_id",
    environment: "t.environment",
    name: "t.name",
};
const SPAN_ROWS: Columns = Columns {
    project: "s.project_id",
    environment: "t.environment",
    name: "s.transaction_name",
};
const TRANSACTION_ROLLUPS: Columns = Columns {
    project: "r.project_id",
    environment: "r.environment",
    name: "r.name",
};
const SPAN_ROLLUPS: Columns = Columns {
    project: "r.project_id",
    environment: "r.environment",
    name: "r.transaction_name",
};

/// A WHERE clause and its parameters.
struct Scope {
    sql: String,
    params: Vec<Sql>,
}

impl Scope {
    /// The query's organization, projects, environments and transaction name.
    fn new(query: &TransactionQuery, columns: &Columns) -> Scope {
        let mut scope = Scope {
            sql: "p.organization_id = ?".into(),
            params: vec![Sql::Integer(query.organization_id)],
        };
        if !query.project_ids.is_empty() {
            scope
                .sql
                .push_str(&format!(" AND {} IN (", columns.project));
            scope.list(query.project_ids.iter().map(|id| Sql::Integer(*id)));
            scope.sql.push(')');
        }
        if !query.environments.is_empty() {
            scope
                .sql
                .push_str(&format!(" AND COALESCE({}, '') IN (", columns.environment));
            scope.list(query.environments.iter().map(|e| Sql::Text(e.clone())));
            scope.sql.push(')');
        }
        if let Some(transaction) = &query.transaction {
            scope.sql.push_str(&format!(" AND {} = ?", columns.name));
            scope.params.push(Sql::Text(transaction.clone()));
        }
        scope
    }

    /// Transaction rows (`t`) in `[from, to)` that meet the query's conditions.
    fn rows(query: &TransactionQuery, from: Option<UnixTime>, to: Option<UnixTime>) -> Scope {
        let mut scope = Scope::new(query, &TRANSACTION_ROWS);
        scope.time("t.start_ts", from, to);
        scope.conditions(query);
        scope
    }

    /// Span rows (`s`, their segment `t`) in `[from, to)` whose segment meets the conditions.
    fn span_rows(query: &TransactionQuery, from: Option<UnixTime>, to: Option<UnixTime>) -> Scope {
        let mut scope = Scope::new(query, &SPAN_ROWS);
        scope.time("s.start_ts", from, to);
        scope.conditions(query);
        scope
    }

    /// Rollup rows (`r`) of one granularity starting in `[first, end)`.
    fn rollups(
        query: &TransactionQuery,
        columns: &Columns,
        granularity: i64,
        first: i64,
        end: i64,
    ) -> Scope {
        let mut scope = Scope::new(query, columns);
        scope
            .sql
            .push_str(" AND r.granularity = ? AND r.start >= ? AND r.start < ?");
        scope.params.extend([
            Sql::Integer(granularity),
            Sql::Integer(first),
            Sql::Integer(end),
        ]);
        scope
    }

    fn time(&mut self, column: &str, from: Option<UnixTime>, to: Option<UnixTime>) {
        if let Some(from) = from {
            self.sql.push_str(&format!(" AND {column} >= ?"));
            self.params.push(Sql::Real(from));
        }
        if let Some(to) = to {
            self.sql.push_str(&format!(" AND {column} < ?"));
            self.params.push(Sql::Real(to));
        }
    }

    fn conditions(&mut self, query: &TransactionQuery) {
        for (key, value, negated) in &query.conditions {
            let column = match key.as_str() {
                "release" => Some("t.release"),
                "user" => Some("t.user_tag"),
                "transaction.op" => Some("t.op"),
                "transaction.status" => Some("t.status"),
                "environment" => Some("t.environment"),
                "transaction" => Some("t.name"),
                "platform" => Some("t.platform"),
                _ => None,
            };
            let test = match column {
                Some(column) => {
                    self.params.push(Sql::Text(value.clone()));
                    format!("COALESCE({column}, '') = ?")
                }
                None => {
                    self.params.push(Sql::Text(key.clone()));
                    self.params.push(Sql::Text(value.clone()));
                    "EXISTS (SELECT 1 FROM json_each(t.tags) j
                             WHERE j.value ->> 0 = ? AND j.value ->> 1 = ?)"
                        .to_owned()
                }
            };
            self.sql
                .push_str(if *negated { " AND NOT " } else { " AND " });
            self.sql.push_str(&test);
        }
    }

    fn list(&mut self, values: impl Iterator<Item = Sql>) {
        for (n, value) in values.enumerate() {
            self.sql.push_str(if n == 0 { "?" } else { ", ?" });
            self.params.push(value);
        }
    }
}

fn thresholds(conn: &Connection, organization_id: i64) -> StoreResult<HashMap<i64, f64>> {
    conn.prepare_cached(
        "SELECT s.project_id, s.apdex_threshold_ms FROM performance_settings s
         JOIN projects p ON p.id = s.project_id WHERE p.organization_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_map([organization_id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
    })
    .db("reading apdex thresholds")
}

// --- aggregates -------------------------------------------------------------------------------

type GroupKey = (Option<i64>, Option<String>);
type Ranges = [(Option<UnixTime>, Option<UnixTime>)];

/// One summary per group per range: the reads of the ranges' plan, each row given to its
/// range.
fn summaries(
    conn: &Connection,
    query: &TransactionQuery,
    ranges: &Ranges,
    by_transaction: bool,
) -> StoreResult<Vec<BTreeMap<GroupKey, Summary>>> {
    let apdex = thresholds(conn, query.organization_id)?;
    let default_apdex = PerformanceSettings::default().apdex_threshold_ms;
    let apdex_of = |project_id: i64| apdex.get(&project_id).copied().unwrap_or(default_apdex);
    let key_of = |project_id: i64, name: String| -> GroupKey {
        if by_transaction {
            (Some(project_id), Some(name))
        } else {
            (None, None)
        }
    };
    let plan = Plan::new(ranges, !query.conditions.is_empty());
    let mut out: Vec<BTreeMap<GroupKey, Summary>> =
        ranges.iter().map(|_| BTreeMap::new()).collect();
    for read in plan.reads() {
        match read {
            Read::Rows { from, to } => {
                let scope = Scope::rows(query, from, to);
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT t.project_id, t.name, t.duration_ms, t.status, t.start_ts,
                                t.user_tag
                         FROM transactions t JOIN projects p ON p.id = t.project_id WHERE {}",
                        scope.sql
                    ))
                    .db("preparing a transaction scan")?;
                let mut rows = stmt
                    .query(params_from_iter(scope.params.iter()))
                    .db("scanning transactions")?;
                while let Some(row) = rows.next().db("scanning transactions")? {
                    let start: f64 = row.get(4).db("transaction start")?;
                    let Some(range) = plan.range_of_row(start) else {
                        continue;
                    };
                    let project_id: i64 = row.get(0).db("transaction project")?;
                    let name: String = row.get(1).db("transaction name")?;
                    let duration: f64 = row.get(2).db("transaction duration")?;
                    let status: String = row.get(3).db("transaction status")?;
                    let user: Option<String> = row.get(5).db("transaction user")?;
                    out[range]
                        .entry(key_of(project_id, name))
                        .or_default()
                        .add_row(
                            duration,
                            &status,
                            start,
                            user.as_deref(),
                            apdex_of(project_id),
                        );
                }
            }
            Read::Rollup {
                granularity,
                first,
                end,
            } => {
                let scope = Scope::rollups(query, &TRANSACTION_ROLLUPS, granularity, first, end);
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT r.project_id, r.name, r.start, r.count, r.failures, r.sum_ms,
                                r.max_ms, r.first_seen, r.last_seen, r.histogram, r.users
                         FROM transaction_rollups r JOIN projects p ON p.id = r.project_id
                         WHERE {}",
                        scope.sql
                    ))
                    .db("preparing a rollup read")?;
                let mut rows = stmt
                    .query(params_from_iter(scope.params.iter()))
                    .db("reading rollups")?;
                while let Some(row) = rows.next().db("reading rollups")? {
                    let start: i64 = row.get(2).db("rollup start")?;
                    let Some(range) = plan.range_of_rollup(granularity, start) else {
                        continue;
                    };
                    let project_id: i64 = row.get(0).db("rollup project")?;
                    let name: String = row.get(1).db("rollup name")?;
                    let count: i64 = row.get(3).db("rollup count")?;
                    let failures: i64 = row.get(4).db("rollup failures")?;
                    let histogram: Vec<u8> = row.get(9).db("rollup histogram")?;
                    let users: Vec<u8> = row.get(10).db("rollup users")?;
                    let histogram = Histogram::decode(&histogram)
                        .map_err(|e| corrupt("a rollup histogram", e))?;
                    let users =
                        UserSketch::decode(&users).map_err(|e| corrupt("a rollup's users", e))?;
                    out[range]
                        .entry(key_of(project_id, name))
                        .or_default()
                        .add_rollup(
                            count.max(0) as u64,
                            failures.max(0) as u64,
                            row.get(5).db("rollup sum")?,
                            row.get(6).db("rollup max")?,
                            row.get(7).db("rollup first seen")?,
                            row.get(8).db("rollup last seen")?,
                            &histogram,
                            &users,
                            apdex_of(project_id),
                        );
                }
            }
        }
    }
    Ok(out)
}

fn finish(groups: BTreeMap<GroupKey, Summary>) -> Vec<TransactionAggregate> {
    groups
        .into_iter()
        .filter(|(_, summary)| !summary.is_empty())
        .map(|((project_id, name), summary)| summary.finish(project_id, name))
        .collect()
}

pub(super) async fn aggregate_transactions(
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

pub(super) async fn list_transactions(
    store: &SqliteStore,
    query: &TransactionQuery,
    sort: TransactionSort,
    limit: u64,
    offset: u64,
) -> StoreResult<Vec<StoredTransaction>> {
    let query = query.clone();
    store
        .read(move |conn| {
            let mut scope = Scope::rows(&query, query.since, query.until);
            let order = match sort {
                TransactionSort::Newest => "t.start_ts DESC, t.id DESC",
                TransactionSort::Slowest => "t.duration_ms DESC, t.id DESC",
            };
            scope.params.push(Sql::Integer(sql_int(limit)));
            scope.params.push(Sql::Integer(sql_int(offset)));
            conn.prepare_cached(&format!(
                "SELECT {TRANSACTION_COLUMNS} FROM transactions t
                 JOIN projects p ON p.id = t.project_id
                 WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
                scope.sql
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params_from_iter(scope.params.iter()), transaction_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .db("listing transactions")?
            .into_iter()
            .map(|row| row.finish(None))
            .collect()
        })
        .await
}

pub(super) async fn transaction_series(
    store: &SqliteStore,
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    let buckets = rollup::series_ranges(query, interval_secs)?;
    let query = query.clone();
    store
        .read(move |conn| {
            let ranges: Vec<_> = buckets.iter().map(|(a, b)| (Some(*a), Some(*b))).collect();
            let summaries = summaries(conn, &query, &ranges, false)?;
            Ok(buckets
                .iter()
                .zip(summaries)
                .map(|((start, _), groups)| {
                    (
                        *start,
                        finish(groups).into_iter().next().unwrap_or_default(),
                    )
                })
                .collect())
        })
        .await
}

pub(super) async fn duration_histogram(
    store: &SqliteStore,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    if buckets == 0 || buckets > 1_000 {
        return Err(StoreError::Invalid(
            "a histogram has 1 to 1000 buckets".into(),
        ));
    }
    let query = query.clone();
    store
        .read(move |conn| {
            // Durations with their counts: exact from rows, bucket bounds from rollups.
            let mut points: Vec<(f64, u64)> = Vec::new();
            let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
            for read in plan.reads() {
                match read {
                    Read::Rows { from, to } => {
                        let scope = Scope::rows(&query, from, to);
                        conn.prepare_cached(&format!(
                            "SELECT t.duration_ms FROM transactions t
                             JOIN projects p ON p.id = t.project_id WHERE {}",
                            scope.sql
                        ))
                        .and_then(|mut stmt| {
                            let mut rows = stmt.query(params_from_iter(scope.params.iter()))?;
                            while let Some(row) = rows.next()? {
                                points.push((row.get(0)?, 1));
                            }
                            Ok(())
                        })
                        .db("reading durations")?;
                    }
                    Read::Rollup {
                        granularity,
                        first,
                        end,
                    } => {
                        let scope =
                            Scope::rollups(&query, &TRANSACTION_ROLLUPS, granularity, first, end);
                        let blobs: Vec<Vec<u8>> = conn
                            .prepare_cached(&format!(
                                "SELECT r.histogram FROM transaction_rollups r
                                 JOIN projects p ON p.id = r.project_id WHERE {}",
                                scope.sql
                            ))
                            .and_then(|mut stmt| {
                                stmt.query_map(params_from_iter(scope.params.iter()), |row| {
                                    row.get(0)
                                })?
                                .collect()
                            })
                            .db("reading rollup histograms")?;
                        for blob in blobs {
                            let histogram = Histogram::decode(&blob)
                                .map_err(|e| corrupt("a rollup histogram", e))?;
                            points.extend(
                                histogram
                                    .0
                                    .iter()
                                    .map(|(b, n)| (rollup::bucket_upper_ms(*b), *n)),
                            );
                        }
                    }
                }
            }
            Ok(rollup::equal_width_bins(&points, buckets))
        })
        .await
}

#[derive(Default)]
struct SpanTotals {
    project_id: i64,
    count: u64,
    total_ms: f64,
    segments: u64,
    seen_segments: std::collections::HashSet<String>,
}

pub(super) async fn span_aggregates(
    store: &SqliteStore,
    query: &TransactionQuery,
    by_group: bool,
    op_prefix: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    let query = query.clone();
    let op_prefix = op_prefix.map(str::to_owned);
    store
        .read(move |conn| {
            let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
            let mut groups: BTreeMap<(String, String), SpanTotals> = BTreeMap::new();
            let key_of =
                |op: String, hash: String| (op, if by_group { hash } else { String::new() });
            let wanted = |op: &str| {
                op_prefix
                    .as_deref()
                    .is_none_or(|prefix| op.starts_with(prefix))
            };
            for read in plan.reads() {
                match read {
                    Read::Rows { from, to } => {
                        let scope = Scope::span_rows(&query, from, to);
                        // By time: the planner would otherwise walk every span of the project
                        // through the (project, trace, span) index.
                        let index = if from.is_some() || to.is_some() {
                            "INDEXED BY spans_start"
                        } else {
                            ""
                        };
                        let mut stmt = conn
                            .prepare_cached(&format!(
                                "SELECT s.project_id, s.op, s.group_hash, s.duration_ms,
                                        s.trace_id || s.segment_id, s.start_ts
                                 FROM spans s {index}
                                 LEFT JOIN transactions t ON t.trace_id = s.trace_id
                                     AND t.span_id = s.segment_id AND t.project_id = s.project_id
                                 JOIN projects p ON p.id = s.project_id
                                 WHERE {}",
                                scope.sql
                            ))
                            .db("preparing a span scan")?;
                        let mut rows = stmt
                            .query(params_from_iter(scope.params.iter()))
                            .db("scanning spans")?;
                        while let Some(row) = rows.next().db("scanning spans")? {
                            let start: f64 = row.get(5).db("span start")?;
                            if plan.range_of_row(start).is_none() {
                                continue;
                            }
                            let op: String = row.get(1).db("span op")?;
                            if !wanted(&op) {
                                continue;
                            }
                            let totals = groups
                                .entry(key_of(op, row.get(2).db("span group")?))
                                .or_default();
                            totals.project_id = row.get(0).db("span project")?;
                            totals.count += 1;
                            totals.total_ms += row.get::<_, f64>(3).db("span duration")?;
                            if totals.seen_segments.insert(row.get(4).db("span segment")?) {
                                totals.segments += 1;
                            }
                        }
                    }
                    Read::Rollup {
                        granularity,
                        first,
                        end,
                    } => {
                        let scope = Scope::rollups(&query, &SPAN_ROLLUPS, granularity, first, end);
                        let mut stmt = conn
                            .prepare_cached(&format!(
                                "SELECT r.project_id, r.op, r.group_hash, r.count, r.total_ms,
                                        r.segments, r.start
                                 FROM span_rollups r JOIN projects p ON p.id = r.project_id
                                 WHERE {}",
                                scope.sql
                            ))
                            .db("preparing a span rollup read")?;
                        let mut rows = stmt
                            .query(params_from_iter(scope.params.iter()))
                            .db("reading span rollups")?;
                        while let Some(row) = rows.next().db("reading span rollups")? {
                            let start: i64 = row.get(6).db("span rollup start")?;
                            if plan.range_of_rollup(granularity, start).is_none() {
                                continue;
                            }
                            let op: String = row.get(1).db("span rollup op")?;
                            if !wanted(&op) {
                                continue;
                            }
                            let totals = groups
                                .entry(key_of(op, row.get(2).db("span rollup group")?))
                                .or_default();
                            totals.project_id = row.get(0).db("span rollup project")?;
                            totals.count +=
                                row.get::<_, i64>(3).db("span rollup count")?.max(0) as u64;
                            totals.total_ms += row.get::<_, f64>(4).db("span rollup total")?;
                            totals.segments +=
                                row.get::<_, i64>(5).db("span rollup segments")?.max(0) as u64;
                        }
                    }
                }
            }
            let mut ranked: Vec<((String, String), SpanTotals)> = groups.into_iter().collect();
            ranked.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms));
            ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let mut normalized = conn
                .prepare_cached(
                    "SELECT normalized FROM span_groups WHERE project_id = ?1 AND group_hash = ?2",
                )
                .db("preparing a span group read")?;
            ranked
                .into_iter()
                .map(|((op, hash), totals)| {
                    let group = if by_group {
                        normalized
                            .query_row(params![totals.project_id, hash], |row| row.get(0))
                            .optional()
                            .db("reading a span group")?
                            .unwrap_or_default()
                    } else {
                        String::new()
                    };
                    Ok(SpanAggregate {
                        op,
                        group,
                        count: totals.count,
                        total_ms: totals.total_ms,
                        transactions: totals.segments,
                    })
                })
                .collect()
        })
        .await
}

// --- settings ---------------------------------------------------------------------------------

pub(super) async fn performance_settings(
    store: &SqliteStore,
    project_id: i64,
) -> StoreResult<PerformanceSettings> {
    store
        .read(move |conn| {
            let settings = conn
                .prepare_cached(
                    "SELECT apdex_threshold_ms, n_plus_one_min_count, n_plus_one_min_total_ms,
                            slow_db_query_ms
                     FROM performance_settings WHERE project_id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([project_id], |row| {
                        Ok(PerformanceSettings {
                            apdex_threshold_ms: row.get(0)?,
                            n_plus_one_min_count: row.get(1)?,
                            n_plus_one_min_total_ms: row.get(2)?,
                            slow_db_query_ms: row.get(3)?,
                        })
                    })
                    .optional()
                })
                .db("reading performance settings")?;
            Ok(settings.unwrap_or_default())
        })
        .await
}

pub(super) async fn set_performance_settings(
    store: &SqliteStore,
    project_id: i64,
    settings: &PerformanceSettings,
) -> StoreResult<()> {
    let s = *settings;
    let valid = [
        s.apdex_threshold_ms,
        s.n_plus_one_min_total_ms,
        s.slow_db_query_ms,
    ]
    .iter()
    .all(|v| v.is_finite() && *v > 0.0)
        && s.n_plus_one_min_count > 0;
    if !valid {
        return Err(StoreError::Invalid(
            "performance thresholds must be positive numbers".into(),
        ));
    }
    store
        .write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO performance_settings (project_id, apdex_threshold_ms,
                     n_plus_one_min_count, n_plus_one_min_total_ms, slow_db_query_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (project_id) DO UPDATE SET
                     apdex_threshold_ms = excluded.apdex_threshold_ms,
                     n_plus_one_min_count = excluded.n_plus_one_min_count,
                     n_plus_one_min_total_ms = excluded.n_plus_one_min_total_ms,
                     slow_db_query_ms = excluded.slow_db_query_ms",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    project_id,
                    s.apdex_threshold_ms,
                    s.n_plus_one_min_count,
                    s.n_plus_one_min_total_ms,
                    s.slow_db_query_ms
                ])
            })
            .db("saving performance settings")?;
            Ok(())
        })
        .await
}

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
