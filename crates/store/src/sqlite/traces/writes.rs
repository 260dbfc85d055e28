//! Writing a span batch in SQLite: its new transaction and span rows, and what they add to the
//! hourly and daily rollups, in one transaction on the single writer.
//!
//! Rows are inserted one statement each (`INSERT OR IGNORE`: a row sent twice counts once);
//! transaction rollups hold blobs that only Rust merges, so each key's row is read, merged and
//! upserted. Nothing else writes meanwhile, so no lock order is needed.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::super::error::{corrupt, DbContext};
use super::super::SqliteStore;
use crate::rollup::{self, Histogram, RollupDelta, UserSketch};
use crate::{NewSpan, NewTransaction, SavedSpans, SpanBatch, StoreError, StoreResult};

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
