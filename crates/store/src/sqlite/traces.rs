//! Transactions, spans and traces in SQLite: rows, rollups and the summaries read from them.
//!
//! A batch writes its new rows and adds what they count to the hourly rollups in the same
//! transaction ([`crate::rollup`] does the arithmetic), so summaries read a few rollup rows per
//! hour and transaction name instead of every transaction. Ranges that do not cover whole hours
//! read their edges from the rows themselves; queries with tag conditions read rows only.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::error::{corrupt, DbContext};
use super::{events, sql_int, SqliteStore};
use crate::rollup::{self, RollupDelta, Summary};
use crate::{
    NewSpan, NewTransaction, PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreError,
    StoreResult, StoredSpan, StoredTransaction, Trace, TraceError, TransactionAggregate,
    TransactionQuery, TransactionSort, UnixTime,
};

/// Buckets a series may have: more is a query mistake, not a chart.
const MAX_SERIES_BUCKETS: u64 = 10_000;
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
    let mut rollup = conn
        .prepare_cached(
            "INSERT INTO transaction_rollups (project_id, name, environment, hour, count,
                 failures, sum_ms, max_ms, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (project_id, hour, name, environment) DO UPDATE SET
                 count = count + excluded.count,
                 failures = failures + excluded.failures,
                 sum_ms = sum_ms + excluded.sum_ms,
                 max_ms = max(max_ms, excluded.max_ms),
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen)",
        )
        .db("preparing a rollup upsert")?;
    let mut bucket = conn
        .prepare_cached(
            "INSERT INTO transaction_rollup_buckets (project_id, name, environment, hour, bucket,
                 count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (project_id, hour, name, environment, bucket) DO UPDATE SET
                 count = count + excluded.count",
        )
        .db("preparing a bucket upsert")?;
    let mut user = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO transaction_rollup_users (project_id, name, environment,
                 hour, user_tag)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .db("preparing a rollup user insert")?;
    for (key, d) in &delta.transactions {
        rollup
            .execute(params![
                key.project_id,
                key.name,
                key.environment,
                key.hour,
                d.count,
                d.failures,
                d.sum_ms,
                d.max_ms,
                d.first_seen,
                d.last_seen,
            ])
            .db("adding to a transaction rollup")?;
        for (b, n) in &d.buckets {
            bucket
                .execute(params![
                    key.project_id,
                    key.name,
                    key.environment,
                    key.hour,
                    b,
                    n
                ])
                .db("adding to a duration bucket")?;
        }
        for u in &d.users {
            user.execute(params![
                key.project_id,
                key.name,
                key.environment,
                key.hour,
                u
            ])
            .db("adding a rollup user")?;
        }
    }
    let mut span_rollup = conn
        .prepare_cached(
            "INSERT INTO span_rollups (project_id, hour, transaction_name, environment, op,
                 group_hash, count, total_ms, segments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (project_id, hour, transaction_name, environment, op, group_hash)
             DO UPDATE SET count = count + excluded.count,
                           total_ms = total_ms + excluded.total_ms,
                           segments = segments + excluded.segments",
        )
        .db("preparing a span rollup upsert")?;
    for (key, d) in &delta.spans {
        span_rollup
            .execute(params![
                key.project_id,
                key.hour,
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

/// A WHERE clause over `transactions t JOIN projects p` and its parameters.
struct Scope {
    sql: String,
    params: Vec<Sql>,
}

impl Scope {
    /// The query's filters over rows, within `[since, until)` (overriding the query's own).
    fn rows(query: &TransactionQuery, since: Option<UnixTime>, until: Option<UnixTime>) -> Scope {
        let mut scope = Scope {
            sql: "p.organization_id = ?".into(),
            params: vec![Sql::Integer(query.organization_id)],
        };
        scope.common(query, "t.project_id", "t.environment", "t.name");
        if let Some(since) = since {
            scope.sql.push_str(" AND t.start_ts >= ?");
            scope.params.push(Sql::Real(since));
        }
        if let Some(until) = until {
            scope.sql.push_str(" AND t.start_ts < ?");
            scope.params.push(Sql::Real(until));
        }
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
                    scope.params.push(Sql::Text(value.clone()));
                    format!("COALESCE({column}, '') = ?")
                }
                None => {
                    scope.params.push(Sql::Text(key.clone()));
                    scope.params.push(Sql::Text(value.clone()));
                    "EXISTS (SELECT 1 FROM json_each(t.tags) j
                             WHERE j.value ->> 0 = ? AND j.value ->> 1 = ?)"
                        .to_owned()
                }
            };
            scope
                .sql
                .push_str(if *negated { " AND NOT " } else { " AND " });
            scope.sql.push_str(&test);
        }
        scope
    }

    /// The query's filters over a rollup table aliased `r`, for hours in `[first, end)`.
    fn rollups(query: &TransactionQuery, name_column: &str, first: i64, end: i64) -> Scope {
        let mut scope = Scope {
            sql: "p.organization_id = ? AND r.hour >= ? AND r.hour < ?".into(),
            params: vec![
                Sql::Integer(query.organization_id),
                Sql::Integer(first),
                Sql::Integer(end),
            ],
        };
        scope.common(query, "r.project_id", "r.environment", name_column);
        scope
    }

    fn common(&mut self, query: &TransactionQuery, project: &str, environment: &str, name: &str) {
        if !query.project_ids.is_empty() {
            self.sql.push_str(&format!(" AND {project} IN ("));
            self.list(query.project_ids.iter().map(|id| Sql::Integer(*id)));
            self.sql.push(')');
        }
        if !query.environments.is_empty() {
            self.sql
                .push_str(&format!(" AND COALESCE({environment}, '') IN ("));
            self.list(query.environments.iter().map(|e| Sql::Text(e.clone())));
            self.sql.push(')');
        }
        if let Some(transaction) = &query.transaction {
            self.sql.push_str(&format!(" AND {name} = ?"));
            self.params.push(Sql::Text(transaction.clone()));
        }
    }

    fn list(&mut self, values: impl Iterator<Item = Sql>) {
        for (n, value) in values.enumerate() {
            self.sql.push_str(if n == 0 { "?" } else { ", ?" });
            self.params.push(value);
        }
    }
}

/// How a range splits into rollup hours and row-read edges.
struct Plan {
    /// Hours `[first, end)` read from rollups.
    hours: Option<(i64, i64)>,
    /// Ranges read from rows.
    edges: Vec<(Option<UnixTime>, Option<UnixTime>)>,
}

fn plan(query: &TransactionQuery) -> Plan {
    if !query.conditions.is_empty() {
        return Plan {
            hours: None,
            edges: vec![(query.since, query.until)],
        };
    }
    let first = query
        .since
        .map_or(i64::MIN, |since| (since / 3600.0).ceil() as i64 * 3600);
    let end = query
        .until
        .map_or(i64::MAX, |until| (until / 3600.0).floor() as i64 * 3600);
    if first >= end {
        return Plan {
            hours: None,
            edges: vec![(query.since, query.until)],
        };
    }
    let mut edges = Vec::new();
    if let Some(since) = query.since {
        if since < first as f64 {
            edges.push((Some(since), Some(first as f64)));
        }
    }
    if let Some(until) = query.until {
        if until > end as f64 {
            edges.push((Some(end as f64), Some(until)));
        }
    }
    Plan {
        hours: Some((first, end)),
        edges,
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

fn aggregate(
    conn: &Connection,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
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
    let mut groups: BTreeMap<GroupKey, Summary> = BTreeMap::new();
    let plan = plan(query);
    if let Some((first, end)) = plan.hours {
        let scope = Scope::rollups(query, "r.name", first, end);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT r.project_id, r.name, SUM(r.count), SUM(r.failures), SUM(r.sum_ms),
                        MAX(r.max_ms), MIN(r.first_seen), MAX(r.last_seen)
                 FROM transaction_rollups r JOIN projects p ON p.id = r.project_id
                 WHERE {} GROUP BY r.project_id, r.name",
                scope.sql
            ))
            .db("preparing a rollup read")?;
        let mut rows = stmt
            .query(params_from_iter(scope.params.iter()))
            .db("reading rollups")?;
        while let Some(row) = rows.next().db("reading rollups")? {
            let project_id: i64 = row.get(0).db("rollup project")?;
            let name: String = row.get(1).db("rollup name")?;
            let count: i64 = row.get(2).db("rollup count")?;
            let failures: i64 = row.get(3).db("rollup failures")?;
            groups
                .entry(key_of(project_id, name))
                .or_default()
                .add_rollup(
                    count.max(0) as u64,
                    failures.max(0) as u64,
                    row.get(4).db("rollup sum")?,
                    row.get(5).db("rollup max")?,
                    row.get(6).db("rollup first seen")?,
                    row.get(7).db("rollup last seen")?,
                );
        }
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT r.project_id, r.name, r.bucket, SUM(r.count)
                 FROM transaction_rollup_buckets r JOIN projects p ON p.id = r.project_id
                 WHERE {} GROUP BY r.project_id, r.name, r.bucket",
                scope.sql
            ))
            .db("preparing a bucket read")?;
        let mut rows = stmt
            .query(params_from_iter(scope.params.iter()))
            .db("reading buckets")?;
        while let Some(row) = rows.next().db("reading buckets")? {
            let project_id: i64 = row.get(0).db("bucket project")?;
            let name: String = row.get(1).db("bucket name")?;
            let bucket: i64 = row.get(2).db("bucket")?;
            let count: i64 = row.get(3).db("bucket count")?;
            groups
                .entry(key_of(project_id, name))
                .or_default()
                .add_bucket(bucket, count.max(0) as u64, apdex_of(project_id));
        }
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT DISTINCT r.project_id, r.name, r.user_tag
                 FROM transaction_rollup_users r JOIN projects p ON p.id = r.project_id
                 WHERE {}",
                scope.sql
            ))
            .db("preparing a rollup user read")?;
        let mut rows = stmt
            .query(params_from_iter(scope.params.iter()))
            .db("reading rollup users")?;
        while let Some(row) = rows.next().db("reading rollup users")? {
            let project_id: i64 = row.get(0).db("user project")?;
            let name: String = row.get(1).db("user name")?;
            let user: String = row.get(2).db("user")?;
            groups
                .entry(key_of(project_id, name))
                .or_default()
                .add_user(&user);
        }
    }
    for (since, until) in plan.edges {
        let scope = Scope::rows(query, since, until);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT t.project_id, t.name, t.duration_ms, t.status, t.start_ts, t.user_tag
                 FROM transactions t JOIN projects p ON p.id = t.project_id WHERE {}",
                scope.sql
            ))
            .db("preparing a transaction scan")?;
        let mut rows = stmt
            .query(params_from_iter(scope.params.iter()))
            .db("scanning transactions")?;
        while let Some(row) = rows.next().db("scanning transactions")? {
            let project_id: i64 = row.get(0).db("transaction project")?;
            let name: String = row.get(1).db("transaction name")?;
            let duration: f64 = row.get(2).db("transaction duration")?;
            let status: String = row.get(3).db("transaction status")?;
            let start: f64 = row.get(4).db("transaction start")?;
            let user: Option<String> = row.get(5).db("transaction user")?;
            groups.entry(key_of(project_id, name)).or_default().add_row(
                duration,
                &status,
                start,
                user.as_deref(),
                apdex_of(project_id),
            );
        }
    }
    Ok(groups
        .into_iter()
        .filter(|(_, summary)| !summary.is_empty())
        .map(|((project_id, name), summary)| summary.finish(project_id, name))
        .collect())
}

pub(super) async fn aggregate_transactions(
    store: &SqliteStore,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let query = query.clone();
    store
        .read(move |conn| aggregate(conn, &query, by_transaction))
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
    let (Some(since), Some(until)) = (query.since, query.until) else {
        return Err(StoreError::Invalid(
            "a series needs both ends of its range".into(),
        ));
    };
    if interval_secs == 0 || until <= since {
        return Err(StoreError::Invalid(
            "a series needs a positive interval and range".into(),
        ));
    }
    let buckets = ((until - since) / interval_secs as f64).ceil() as u64;
    if buckets > MAX_SERIES_BUCKETS {
        return Err(StoreError::Invalid(format!(
            "a series of {buckets} buckets is too long (at most {MAX_SERIES_BUCKETS})"
        )));
    }
    let query = query.clone();
    store
        .read(move |conn| {
            (0..buckets)
                .map(|n| {
                    let start = since + (n * interval_secs) as f64;
                    let end = (start + interval_secs as f64).min(until);
                    let bucket = TransactionQuery {
                        since: Some(start),
                        until: Some(end),
                        ..query.clone()
                    };
                    let aggregate = aggregate(conn, &bucket, false)?
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    Ok((start, aggregate))
                })
                .collect()
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
            let scope = Scope::rows(&query, query.since, query.until);
            let (low, high): (Option<f64>, Option<f64>) = conn
                .prepare_cached(&format!(
                    "SELECT MIN(t.duration_ms), MAX(t.duration_ms)
                     FROM transactions t JOIN projects p ON p.id = t.project_id WHERE {}",
                    scope.sql
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params_from_iter(scope.params.iter()), |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                })
                .db("reading a duration range")?;
            let (Some(low), Some(high)) = (low, high) else {
                return Ok(Vec::new());
            };
            let width = ((high - low) / f64::from(buckets)).max(f64::EPSILON);
            let mut counts = vec![0u64; buckets as usize];
            let mut params = vec![
                Sql::Real(low),
                Sql::Real(width),
                Sql::Integer(i64::from(buckets) - 1),
            ];
            params.extend(scope.params.iter().cloned());
            conn.prepare_cached(&format!(
                "SELECT min(CAST((t.duration_ms - ?) / ? AS INTEGER), ?), COUNT(*)
                 FROM transactions t JOIN projects p ON p.id = t.project_id WHERE {}
                 GROUP BY 1",
                scope.sql
            ))
            .and_then(|mut stmt| {
                let mut rows = stmt.query(params_from_iter(params.iter()))?;
                while let Some(row) = rows.next()? {
                    let bin: i64 = row.get(0)?;
                    let count: i64 = row.get(1)?;
                    if let Some(slot) = counts.get_mut(bin.max(0) as usize) {
                        *slot += count.max(0) as u64;
                    }
                }
                Ok(())
            })
            .db("reading a duration histogram")?;
            Ok(counts
                .into_iter()
                .enumerate()
                .map(|(n, count)| {
                    let from = low + width * n as f64;
                    (from, from + width, count)
                })
                .collect())
        })
        .await
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
            let group_columns = if by_group { "op, group_hash" } else { "op" };
            let (inner, mut params) = if query.conditions.is_empty() {
                // Rollup hours that overlap the range.
                let first = query
                    .since
                    .map_or(i64::MIN, |since| (since / 3600.0).floor() as i64 * 3600);
                let end = query.until.map_or(i64::MAX, |until| until.ceil() as i64);
                let scope = Scope::rollups(&query, "r.transaction_name", first, end);
                (
                    format!(
                        "SELECT r.project_id AS project_id, r.op AS op, r.group_hash AS group_hash,
                                r.count AS n, r.total_ms AS total, r.segments AS segments,
                                NULL AS segment
                         FROM span_rollups r JOIN projects p ON p.id = r.project_id
                         WHERE {}",
                        scope.sql
                    ),
                    scope.params,
                )
            } else {
                let scope = Scope::rows(&query, query.since, query.until);
                (
                    format!(
                        "SELECT s.project_id AS project_id, s.op AS op, s.group_hash AS group_hash,
                                1 AS n, s.duration_ms AS total, 0 AS segments,
                                s.trace_id || s.segment_id AS segment
                         FROM spans s
                         JOIN transactions t ON t.trace_id = s.trace_id
                             AND t.span_id = s.segment_id AND t.project_id = s.project_id
                         JOIN projects p ON p.id = t.project_id
                         WHERE {}",
                        scope.sql
                    ),
                    scope.params,
                )
            };
            let mut grouped = format!(
                "SELECT op, group_hash, MIN(project_id) AS project_id, SUM(n) AS n,
                        SUM(total) AS total, SUM(segments) + COUNT(DISTINCT segment) AS segments
                 FROM ({inner}) AS x"
            );
            if let Some(prefix) = &op_prefix {
                grouped.push_str(" WHERE substr(op, 1, length(?)) = ?");
                params.push(Sql::Text(prefix.clone()));
                params.push(Sql::Text(prefix.clone()));
            }
            let sql = format!(
                "SELECT a.op, a.group_hash, COALESCE(g.normalized, ''), a.n, a.total, a.segments
                 FROM ({grouped} GROUP BY {group_columns}) AS a
                 LEFT JOIN span_groups g
                     ON g.project_id = a.project_id AND g.group_hash = a.group_hash
                 ORDER BY a.total DESC LIMIT ?"
            );
            params.push(Sql::Integer(sql_int(limit)));
            conn.prepare_cached(&sql)
                .and_then(|mut stmt| {
                    stmt.query_map(params_from_iter(params.iter()), |row| {
                        let count: i64 = row.get(3)?;
                        let segments: i64 = row.get(5)?;
                        Ok(SpanAggregate {
                            op: row.get(0)?,
                            group: if by_group { row.get(2)? } else { String::new() },
                            count: count.max(0) as u64,
                            total_ms: row.get(4)?,
                            transactions: segments.max(0) as u64,
                        })
                    })?
                    .collect()
                })
                .db("reading span aggregates")
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
