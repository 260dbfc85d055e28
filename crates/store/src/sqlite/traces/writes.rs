//! Writing a span batch in SQLite: its new transaction and span rows, and what they add to the
//! hourly and daily rollups, in one transaction on the single writer.
//!
//! Rows go in [`ROWS_PER_INSERT`] to a statement (`INSERT OR IGNORE`: a row sent twice counts
//! once), each a prepared multi-row `VALUES`: a 30-span transaction is one statement step
//! rather than 30. Which rows were new comes from the row ids: the writer is alone, so every
//! row a batch inserts has an id above the table's largest before it, and only when a
//! statement ignored some are those read back. Transaction rollups hold blobs that only Rust
//! merges, so each key's row is read, merged and upserted. Nothing else writes meanwhile, so
//! no lock order is needed.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rusqlite::{params, Connection, OptionalExtension, Statement};
use serde_json::Value;

use super::super::error::{corrupt, DbContext};
use super::super::SqliteStore;
use crate::rollup::{self, CountedSpan, GroupHashes, Histogram, RollupDelta, UserSketch};
use crate::{NewSpan, NewTransaction, SavedSpans, SpanBatch, StoreError, StoreResult};

/// Rows per multi-row `INSERT`: 32 spans of 13 columns bind 416 parameters, well under
/// SQLite's limit, and a batch's rows take few steps.
const ROWS_PER_INSERT: usize = 32;

/// A transaction row's columns, in the order [`bind_transaction`] binds them.
const TRANSACTION_INSERT: &str = "INSERT OR IGNORE INTO transactions (project_id, event_id,
     trace_id, span_id, parent_span_id, name, op, status, start_ts, duration_ms, received,
     environment, release, user_tag, platform, tags, data) VALUES ";
const TRANSACTION_COLUMNS: usize = 17;

/// A span row's columns, in the order [`bind_span`] binds them.
const SPAN_INSERT: &str = "INSERT OR IGNORE INTO spans (project_id, trace_id, segment_id,
     span_id, parent_span_id, transaction_name, op, description, group_hash, status, start_ts,
     duration_ms, data) VALUES ";
const SPAN_COLUMNS: usize = 13;

/// A transaction made ready for its row: compressed data and tags as JSON text.
struct EncodedTransaction {
    data: Vec<u8>,
    tags: String,
}

/// What the spans' rows hold beyond the record: their group hash and data as JSON text.
struct EncodedSpans {
    hashes: GroupHashes,
    data: Vec<Option<String>>,
}

/// Writes a batch that is not empty.
pub(in crate::sqlite) async fn save_spans(
    store: &SqliteStore,
    batch: SpanBatch,
) -> StoreResult<SavedSpans> {
    batch
        .transactions
        .iter()
        .try_for_each(validate_transaction)?;
    batch.spans.iter().try_for_each(validate_span)?;
    // Encode before taking the writer.
    let transactions: Vec<EncodedTransaction> = batch
        .transactions
        .iter()
        .map(|t| {
            let json = serde_json::to_vec(&t.data)
                .map_err(|e| StoreError::Invalid(format!("transaction data: {e}")))?;
            let data = zstd::bulk::compress(&json, 3)
                .map_err(|e| StoreError::Database(format!("compressing a transaction: {e}")))?;
            let tags = serde_json::to_string(&t.tags)
                .map_err(|e| StoreError::Invalid(format!("transaction tags: {e}")))?;
            Ok(EncodedTransaction { data, tags })
        })
        .collect::<StoreResult<_>>()?;
    let spans = EncodedSpans {
        hashes: GroupHashes::new(&batch.spans),
        data: batch
            .spans
            .iter()
            .map(|span| match &span.data {
                Value::Null => None,
                Value::Object(map) if map.is_empty() => None,
                other => Some(other.to_string()),
            })
            .collect(),
    };
    let (saved, written) = store
        .write(move |conn| {
            let tx = conn.transaction().db("starting a span batch")?;
            let saved = write_batch(&tx, &batch, &transactions, &spans)?;
            tx.commit().db("committing a span batch")?;
            // Handed back so that freeing it (thousands of JSON values) does not hold the
            // single writer.
            Ok((saved, (batch, transactions, spans)))
        })
        .await?;
    drop(written);
    Ok(saved)
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

/// `prefix` followed by `rows` groups of `columns` numbered placeholders.
fn multi_row_sql(prefix: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * columns * 6);
    sql.push_str(prefix);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('?');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Inserts `rows` with `bind` (which binds row `n` at a 1-based parameter offset): full chunks
/// through the multi-row statement `chunk_sql`, the rest one row each. Returns how many rows
/// were inserted.
fn insert_rows(
    conn: &Connection,
    prefix: &str,
    columns: usize,
    chunk_sql: &'static OnceLock<String>,
    rows: usize,
    what: &str,
    mut bind: impl FnMut(&mut Statement<'_>, usize, usize) -> rusqlite::Result<()>,
) -> StoreResult<usize> {
    let mut inserted = 0;
    let full = rows / ROWS_PER_INSERT * ROWS_PER_INSERT;
    if full > 0 {
        let sql = chunk_sql.get_or_init(|| multi_row_sql(prefix, columns, ROWS_PER_INSERT));
        let mut chunk = conn.prepare_cached(sql).db(what)?;
        for first in (0..full).step_by(ROWS_PER_INSERT) {
            for n in 0..ROWS_PER_INSERT {
                bind(&mut chunk, first + n, n * columns + 1).db(what)?;
            }
            inserted += chunk.raw_execute().db(what)?;
        }
    }
    if full < rows {
        let mut single = conn
            .prepare_cached(&multi_row_sql(prefix, columns, 1))
            .db(what)?;
        for n in full..rows {
            bind(&mut single, n, 1).db(what)?;
            inserted += single.raw_execute().db(what)?;
        }
    }
    Ok(inserted)
}

fn bind_transaction(
    stmt: &mut Statement<'_>,
    at: usize,
    t: &NewTransaction,
    encoded: &EncodedTransaction,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(at, t.project_id)?;
    stmt.raw_bind_parameter(at + 1, &t.event_id)?;
    stmt.raw_bind_parameter(at + 2, &t.trace_id)?;
    stmt.raw_bind_parameter(at + 3, &t.span_id)?;
    stmt.raw_bind_parameter(at + 4, &t.parent_span_id)?;
    stmt.raw_bind_parameter(at + 5, &t.name)?;
    stmt.raw_bind_parameter(at + 6, &t.op)?;
    stmt.raw_bind_parameter(at + 7, &t.status)?;
    stmt.raw_bind_parameter(at + 8, t.start)?;
    stmt.raw_bind_parameter(at + 9, t.duration_ms)?;
    stmt.raw_bind_parameter(at + 10, t.received)?;
    stmt.raw_bind_parameter(at + 11, &t.environment)?;
    stmt.raw_bind_parameter(at + 12, &t.release)?;
    stmt.raw_bind_parameter(at + 13, &t.user_tag)?;
    stmt.raw_bind_parameter(at + 14, &t.platform)?;
    stmt.raw_bind_parameter(at + 15, &encoded.tags)?;
    stmt.raw_bind_parameter(at + 16, &encoded.data)
}

fn bind_span(
    stmt: &mut Statement<'_>,
    at: usize,
    span: &NewSpan,
    group_hash: &str,
    data: &Option<String>,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(at, span.project_id)?;
    stmt.raw_bind_parameter(at + 1, &span.trace_id)?;
    stmt.raw_bind_parameter(at + 2, &span.segment_id)?;
    stmt.raw_bind_parameter(at + 3, &span.span_id)?;
    stmt.raw_bind_parameter(at + 4, &span.parent_span_id)?;
    stmt.raw_bind_parameter(at + 5, &span.transaction)?;
    stmt.raw_bind_parameter(at + 6, &span.op)?;
    stmt.raw_bind_parameter(at + 7, &span.description)?;
    stmt.raw_bind_parameter(at + 8, group_hash)?;
    stmt.raw_bind_parameter(at + 9, &span.status)?;
    stmt.raw_bind_parameter(at + 10, span.start)?;
    stmt.raw_bind_parameter(at + 11, span.duration_ms)?;
    stmt.raw_bind_parameter(at + 12, data)
}

/// The largest row id of `table` (0 when empty): rows inserted after this have larger ones.
fn largest_id(conn: &Connection, table: &str) -> StoreResult<i64> {
    conn.prepare_cached(&format!("SELECT coalesce(max(id), 0) FROM {table}"))
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .db("reading the largest row id")
}

/// Which of `count` rows were inserted, when only `inserted` were: the keys `key_sql` reads of
/// the rows with ids above `before`, matched in order by `key_of` (a key given twice is new
/// once).
fn new_rows<K: std::hash::Hash + Eq>(
    conn: &Connection,
    key_sql: &str,
    before: i64,
    count: usize,
    inserted: usize,
    read_key: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<K>,
    key_of: impl Fn(usize) -> K,
) -> StoreResult<Vec<bool>> {
    if inserted == count {
        return Ok(vec![true; count]);
    }
    let mut keys: HashSet<K> = conn
        .prepare_cached(key_sql)
        .and_then(|mut stmt| stmt.query_map([before], |row| read_key(row))?.collect())
        .db("reading which rows a batch inserted")?;
    Ok((0..count).map(|n| keys.remove(&key_of(n))).collect())
}

fn write_batch(
    conn: &Connection,
    batch: &SpanBatch,
    encoded: &[EncodedTransaction],
    spans: &EncodedSpans,
) -> StoreResult<SavedSpans> {
    static TRANSACTION_CHUNK: OnceLock<String> = OnceLock::new();
    static SPAN_CHUNK: OnceLock<String> = OnceLock::new();
    let mut delta = RollupDelta::default();

    let transactions = &batch.transactions;
    let before = largest_id(conn, "transactions")?;
    let inserted = insert_rows(
        conn,
        TRANSACTION_INSERT,
        TRANSACTION_COLUMNS,
        &TRANSACTION_CHUNK,
        transactions.len(),
        "storing transactions",
        |stmt, n, at| bind_transaction(stmt, at, &transactions[n], &encoded[n]),
    )?;
    let new_transactions = new_rows(
        conn,
        "SELECT project_id, event_id FROM transactions WHERE id > ?1",
        before,
        transactions.len(),
        inserted,
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
        |n| (transactions[n].project_id, transactions[n].event_id.clone()),
    )?;
    for (t, _) in transactions
        .iter()
        .zip(&new_transactions)
        .filter(|(_, new)| **new)
    {
        delta.add_transaction(t);
    }

    let before = largest_id(conn, "spans")?;
    let inserted = insert_rows(
        conn,
        SPAN_INSERT,
        SPAN_COLUMNS,
        &SPAN_CHUNK,
        batch.spans.len(),
        "storing spans",
        |stmt, n, at| {
            bind_span(
                stmt,
                at,
                &batch.spans[n],
                spans.hashes.get(n),
                &spans.data[n],
            )
        },
    )?;
    let new_spans = new_rows(
        conn,
        "SELECT project_id, trace_id, span_id FROM spans WHERE id > ?1",
        before,
        batch.spans.len(),
        inserted,
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        },
        |n| {
            let span = &batch.spans[n];
            (span.project_id, span.trace_id.clone(), span.span_id.clone())
        },
    )?;
    let environments = span_environments(conn, batch, &new_spans)?;
    delta.add_spans(
        batch
            .spans
            .iter()
            .enumerate()
            .filter(|(n, _)| new_spans[*n])
            .map(|(n, span)| CountedSpan {
                span,
                group_hash: spans.hashes.get(n),
                environment: environments
                    .get(&(
                        span.project_id,
                        span.trace_id.as_str(),
                        span.segment_id.as_str(),
                    ))
                    .map_or("", |environment| environment.as_ref()),
            }),
    );
    write_rollups(conn, &delta)?;
    Ok(SavedSpans {
        new_transactions: new_transactions.iter().filter(|new| **new).count(),
        new_spans: new_spans.iter().filter(|new| **new).count(),
    })
}

/// Project, trace and segment id.
type SegmentKey<'a> = (i64, &'a str, &'a str);

/// The environment of each new span's segment, by (project, trace, segment): from the batch,
/// else from the stored segment (absent when it has none or has not arrived yet).
fn span_environments<'a>(
    conn: &Connection,
    batch: &'a SpanBatch,
    new_spans: &[bool],
) -> StoreResult<HashMap<SegmentKey<'a>, Cow<'a, str>>> {
    let mut environments: HashMap<_, Cow<'a, str>> =
        rollup::segment_environments(&batch.transactions)
            .into_iter()
            .map(|(key, environment)| (key, Cow::Borrowed(environment)))
            .collect();
    let mut segment_environment = conn
        .prepare_cached(
            "SELECT environment FROM transactions
             WHERE trace_id = ?1 AND span_id = ?2 AND project_id = ?3",
        )
        .db("preparing a segment lookup")?;
    for (span, _) in batch.spans.iter().zip(new_spans).filter(|(_, new)| **new) {
        let key = (
            span.project_id,
            span.trace_id.as_str(),
            span.segment_id.as_str(),
        );
        if environments.contains_key(&key) {
            continue;
        }
        let found: Option<Option<String>> = segment_environment
            .query_row(params![key.1, key.2, key.0], |row| row.get(0))
            .optional()
            .db("looking up a span's segment")?;
        environments.insert(key, Cow::Owned(found.flatten().unwrap_or_default()));
    }
    Ok(environments)
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
                d.segments,
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
