//! Transactions, spans and traces in postgres: rows, rollups and the summaries read from them.
//!
//! The rules are the backend-neutral ones of [`crate::rollup`]: a batch's newly inserted rows
//! (`RETURNING` says which) become a [`RollupDelta`] that is added to the hourly and daily
//! rollup rows under row locks taken in key order (so nodes writing the same rows wait on each
//! other, never in a cycle), and a summary reads what [`Plan`] says: the daily rollups for the
//! whole days of its range, the hourly ones for the other whole hours and single rows only for
//! the edges. A query with tag conditions cannot be answered from rollups, so it reads rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::error::{corrupt, DbContext};
use super::events;
use super::sql::{self, get, sql_int, Pipeline};
use super::PgStore;
use crate::rollup::{
    self, group_hash, segment_environments, Histogram, Plan, Read, RollupDelta, SpanDelta, Summary,
    TransactionDelta, TransactionKey, UserSketch,
};
use crate::Traces;
use crate::{
    NewSpan, NewTransaction, PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreError,
    StoreResult, StoredSpan, StoredTransaction, Trace, TraceError, TransactionAggregate,
    TransactionQuery, TransactionSort, UnixTime,
};

/// Longest id (event, trace, span) a row may have: real ones are 16 or 32 hex.
const MAX_ID_LEN: usize = 64;

// --- writing ----------------------------------------------------------------------------------

/// Rejects, before anything is written, what the schema cannot hold or sort.
fn validate(batch: &SpanBatch) -> StoreResult<()> {
    let id_ok = |id: &str| !id.is_empty() && id.len() <= MAX_ID_LEN;
    for t in &batch.transactions {
        let invalid = |why: &str| {
            Err(StoreError::Invalid(format!(
                "transaction {}: {why}",
                t.event_id
            )))
        };
        if !id_ok(&t.event_id) || !id_ok(&t.trace_id) || !id_ok(&t.span_id) {
            return invalid("event, trace or span id is empty or too long");
        }
        if !t.start.is_finite() || !t.received.is_finite() || !t.duration_ms.is_finite() {
            return invalid("start, received or duration is not a finite number");
        }
    }
    for s in &batch.spans {
        let invalid = |why: &str| Err(StoreError::Invalid(format!("span {}: {why}", s.span_id)));
        if !id_ok(&s.trace_id) || !id_ok(&s.segment_id) || !id_ok(&s.span_id) {
            return invalid("trace, segment or span id is empty or too long");
        }
        if !s.start.is_finite() || !s.duration_ms.is_finite() {
            return invalid("start or duration is not a finite number");
        }
    }
    Ok(())
}

/// The transactions to insert, as columns.
#[derive(Default)]
struct TransactionRows<'a> {
    project_ids: Vec<i64>,
    event_ids: Vec<&'a str>,
    trace_ids: Vec<&'a str>,
    span_ids: Vec<&'a str>,
    parent_span_ids: Vec<Option<&'a str>>,
    names: Vec<&'a str>,
    ops: Vec<&'a str>,
    statuses: Vec<&'a str>,
    starts: Vec<f64>,
    durations: Vec<f64>,
    received: Vec<f64>,
    environments: Vec<Option<&'a str>>,
    releases: Vec<Option<&'a str>>,
    user_tags: Vec<Option<&'a str>>,
    platforms: Vec<&'a str>,
    tags: Vec<String>,
    data: Vec<Vec<u8>>,
}

impl<'a> TransactionRows<'a> {
    fn new(transactions: &[&'a NewTransaction]) -> StoreResult<TransactionRows<'a>> {
        let mut rows = TransactionRows::default();
        for t in transactions {
            rows.project_ids.push(t.project_id);
            rows.event_ids.push(&t.event_id);
            rows.trace_ids.push(&t.trace_id);
            rows.span_ids.push(&t.span_id);
            rows.parent_span_ids.push(t.parent_span_id.as_deref());
            rows.names.push(&t.name);
            rows.ops.push(&t.op);
            rows.statuses.push(&t.status);
            rows.starts.push(t.start);
            rows.durations.push(t.duration_ms);
            rows.received.push(t.received);
            rows.environments.push(t.environment.as_deref());
            rows.releases.push(t.release.as_deref());
            rows.user_tags.push(t.user_tag.as_deref());
            rows.platforms.push(&t.platform);
            rows.tags.push(
                serde_json::to_string(&t.tags)
                    .map_err(|e| StoreError::Invalid(format!("tags of {}: {e}", t.event_id)))?,
            );
            rows.data.push(compress(&t.data)?);
        }
        Ok(rows)
    }
}

/// The spans to insert, as columns.
#[derive(Default)]
struct SpanRows<'a> {
    project_ids: Vec<i64>,
    trace_ids: Vec<&'a str>,
    segment_ids: Vec<&'a str>,
    span_ids: Vec<&'a str>,
    parent_span_ids: Vec<Option<&'a str>>,
    transactions: Vec<&'a str>,
    ops: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    group_hashes: Vec<String>,
    statuses: Vec<&'a str>,
    starts: Vec<f64>,
    durations: Vec<f64>,
    data: Vec<Option<String>>,
}

impl<'a> SpanRows<'a> {
    fn new(spans: &[&'a NewSpan]) -> SpanRows<'a> {
        let mut rows = SpanRows::default();
        for s in spans {
            rows.project_ids.push(s.project_id);
            rows.trace_ids.push(&s.trace_id);
            rows.segment_ids.push(&s.segment_id);
            rows.span_ids.push(&s.span_id);
            rows.parent_span_ids.push(s.parent_span_id.as_deref());
            rows.transactions.push(&s.transaction);
            rows.ops.push(&s.op);
            rows.descriptions.push(&s.description);
            rows.group_hashes.push(group_hash(&s.group));
            rows.statuses.push(&s.status);
            rows.starts.push(s.start);
            rows.durations.push(s.duration_ms);
            rows.data
                .push((!s.data.is_null()).then(|| s.data.to_string()));
        }
        rows
    }
}

/// The transaction's JSON, zstd-compressed.
fn compress(data: &serde_json::Value) -> StoreResult<Vec<u8>> {
    let json = serde_json::to_vec(data)
        .map_err(|e| StoreError::Invalid(format!("transaction data: {e}")))?;
    zstd::bulk::compress(&json, 3)
        .map_err(|e| StoreError::Database(format!("compressing a transaction: {e}")))
}

fn decompress(event_id: &str, data: &[u8]) -> StoreResult<serde_json::Value> {
    let what = || format!("transaction {event_id}");
    let json = zstd::stream::decode_all(data).map_err(|e| corrupt(&what(), e))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(&what(), e))
}

pub(super) async fn save_spans(store: &PgStore, batch: SpanBatch) -> StoreResult<SavedSpans> {
    validate(&batch)?;
    if batch.transactions.is_empty() && batch.spans.is_empty() {
        return Ok(SavedSpans::default());
    }
    // Rows in key order: two batches sharing rows take their locks in the same order.
    let mut transactions: Vec<&NewTransaction> = batch.transactions.iter().collect();
    transactions.sort_by(|a, b| (a.project_id, &a.event_id).cmp(&(b.project_id, &b.event_id)));
    let mut spans: Vec<&NewSpan> = batch.spans.iter().collect();
    spans.sort_by(|a, b| {
        (a.project_id, &a.trace_id, &a.span_id).cmp(&(b.project_id, &b.trace_id, &b.span_id))
    });
    let transaction_rows = TransactionRows::new(&transactions)?;
    let span_rows = SpanRows::new(&spans);

    let mut client = store.client().await?;
    let tx = client.transaction().await.db("saving spans")?;

    let mut pipeline = Pipeline::default();
    let r = &transaction_rows;
    let inserted_transactions = pipeline.push(
        "INSERT INTO transactions (project_id, event_id, trace_id, span_id, parent_span_id, name,
             op, status, start_ts, duration_ms, received, environment, release, user_tag,
             platform, tags, data)
         SELECT u.project_id, u.event_id, u.trace_id, u.span_id, u.parent_span_id, u.name, u.op,
             u.status, u.start_ts, u.duration_ms, u.received, u.environment, u.release,
             u.user_tag, u.platform, u.tags::JSONB, u.data
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                     $7::TEXT[], $8::TEXT[], $9::DOUBLE PRECISION[], $10::DOUBLE PRECISION[],
                     $11::DOUBLE PRECISION[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
                     $15::TEXT[], $16::TEXT[], $17::BYTEA[])
              AS u(project_id, event_id, trace_id, span_id, parent_span_id, name, op, status,
                   start_ts, duration_ms, received, environment, release, user_tag, platform,
                   tags, data)
         ON CONFLICT (project_id, event_id) DO NOTHING
         RETURNING project_id, event_id",
        vec![
            &r.project_ids,
            &r.event_ids,
            &r.trace_ids,
            &r.span_ids,
            &r.parent_span_ids,
            &r.names,
            &r.ops,
            &r.statuses,
            &r.starts,
            &r.durations,
            &r.received,
            &r.environments,
            &r.releases,
            &r.user_tags,
            &r.platforms,
            &r.tags,
            &r.data,
        ],
        "storing transactions",
    );
    let s = &span_rows;
    let inserted_spans = pipeline.push(
        "INSERT INTO spans (project_id, trace_id, segment_id, span_id, parent_span_id,
             transaction_name, op, description, group_hash, status, start_ts, duration_ms, data)
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                              $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[],
                              $11::DOUBLE PRECISION[], $12::DOUBLE PRECISION[], $13::TEXT[])
         ON CONFLICT (project_id, trace_id, span_id) DO NOTHING
         RETURNING project_id, trace_id, span_id",
        vec![
            &s.project_ids,
            &s.trace_ids,
            &s.segment_ids,
            &s.span_ids,
            &s.parent_span_ids,
            &s.transactions,
            &s.ops,
            &s.descriptions,
            &s.group_hashes,
            &s.statuses,
            &s.starts,
            &s.durations,
            &s.data,
        ],
        "storing spans",
    );
    let results = pipeline
        .run(&tx)
        .await
        .map_err(|failure| failure.into_store_error())?;

    // Only what this batch inserted counts; a row given twice in the batch counts once.
    let mut new_keys: HashSet<(i64, String)> = results[inserted_transactions]
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect::<StoreResult<_>>()?;
    let new_transactions: Vec<&NewTransaction> = transactions
        .iter()
        .copied()
        .filter(|t| new_keys.remove(&(t.project_id, t.event_id.clone())))
        .collect();
    let mut new_span_keys: HashSet<(i64, String, String)> = results[inserted_spans]
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)))
        .collect::<StoreResult<_>>()?;
    let new_spans: Vec<&NewSpan> = spans
        .iter()
        .copied()
        .filter(|s| new_span_keys.remove(&(s.project_id, s.trace_id.clone(), s.span_id.clone())))
        .collect();

    let environments = span_environments(&tx, &batch.transactions, &new_spans).await?;
    let mut delta = RollupDelta::default();
    for t in &new_transactions {
        delta.add_transaction(t);
    }
    for span in &new_spans {
        let key = (
            span.project_id,
            span.trace_id.clone(),
            span.segment_id.clone(),
        );
        let environment = environments.get(&key).map_or("", String::as_str);
        delta.add_span(span, environment);
    }
    write_rollups(&tx, &delta).await?;
    tx.commit().await.db("committing spans")?;
    Ok(SavedSpans {
        new_transactions: new_transactions.len(),
        new_spans: new_spans.len(),
    })
}

/// The environment of each new span's segment: from the batch, else from the stored segment
/// (`""` when the segment has not arrived yet).
async fn span_environments<C: GenericClient>(
    client: &C,
    batch: &[NewTransaction],
    spans: &[&NewSpan],
) -> StoreResult<HashMap<(i64, String, String), String>> {
    let in_batch = segment_environments(batch);
    let mut found = HashMap::new();
    let mut missing: Vec<(i64, &str, &str)> = Vec::new();
    for span in spans {
        let key = (
            span.project_id,
            span.trace_id.as_str(),
            span.segment_id.as_str(),
        );
        match in_batch.get(&key) {
            Some(environment) => {
                found.insert(
                    (key.0, key.1.to_owned(), key.2.to_owned()),
                    (*environment).to_owned(),
                );
            }
            None => missing.push(key),
        }
    }
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(found);
    }
    let projects: Vec<i64> = missing.iter().map(|k| k.0).collect();
    let traces: Vec<&str> = missing.iter().map(|k| k.1).collect();
    let segments: Vec<&str> = missing.iter().map(|k| k.2).collect();
    let rows = sql::query(
        client,
        "SELECT u.p, u.t, u.s, COALESCE(t.environment, '')
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) AS u(p, t, s)
         JOIN transactions t ON t.trace_id = u.t AND t.span_id = u.s AND t.project_id = u.p",
        &[&projects, &traces, &segments],
        "looking up the segments of spans",
    )
    .await?;
    for row in &rows {
        found.insert((get(row, 0)?, get(row, 1)?, get(row, 2)?), get(row, 3)?);
    }
    Ok(found)
}

/// A batch's transaction rollup rows, as columns.
#[derive(Default)]
struct TransactionRollupRows<'a> {
    project_ids: Vec<i64>,
    granularities: Vec<i64>,
    starts: Vec<i64>,
    names: Vec<&'a str>,
    environments: Vec<&'a str>,
    counts: Vec<i64>,
    failures: Vec<i64>,
    sums: Vec<f64>,
    maxima: Vec<f64>,
    firsts: Vec<f64>,
    lasts: Vec<f64>,
    histograms: Vec<Vec<u8>>,
    users: Vec<Vec<u8>>,
}

impl<'a> TransactionRollupRows<'a> {
    /// One row: the delta's counters with the blobs to store.
    fn push(
        &mut self,
        key: &'a TransactionKey,
        delta: &TransactionDelta,
        histogram: &Histogram,
        users: &UserSketch,
    ) {
        self.project_ids.push(key.project_id);
        self.granularities.push(key.granularity);
        self.starts.push(key.start);
        self.names.push(&key.name);
        self.environments.push(&key.environment);
        self.counts.push(delta.count);
        self.failures.push(delta.failures);
        self.sums.push(delta.sum_ms);
        self.maxima.push(delta.max_ms);
        self.firsts.push(delta.first_seen);
        self.lasts.push(delta.last_seen);
        self.histograms.push(histogram.encode());
        self.users.push(users.encode());
    }

    fn is_empty(&self) -> bool {
        self.project_ids.is_empty()
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.project_ids,
            &self.granularities,
            &self.starts,
            &self.names,
            &self.environments,
            &self.counts,
            &self.failures,
            &self.sums,
            &self.maxima,
            &self.firsts,
            &self.lasts,
            &self.histograms,
            &self.users,
        ]
    }
}

/// The rows of a batch's transaction rollups as a table `u`, the blobs bound as `bytea`: a
/// macro so that the statements using it stay `&'static str`.
macro_rules! transaction_rollup_unnest {
    () => {
        "UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[],
             $6::BIGINT[], $7::BIGINT[], $8::DOUBLE PRECISION[], $9::DOUBLE PRECISION[],
             $10::DOUBLE PRECISION[], $11::DOUBLE PRECISION[], $12::BYTEA[], $13::BYTEA[])
         AS u(project_id, granularity, start, name, environment, count, failures, sum_ms,
              max_ms, first_seen, last_seen, histogram, users)"
    };
}

/// Inserts the keys new to the table with the delta's own blobs; returns which.
const INSERT_TRANSACTION_ROLLUPS: &str = concat!(
    "INSERT INTO transaction_rollups (project_id, granularity, start, name, environment, count,
         failures, sum_ms, max_ms, first_seen, last_seen, histogram, users)
     SELECT * FROM ",
    transaction_rollup_unnest!(),
    " ON CONFLICT (project_id, granularity, start, name, environment) DO NOTHING
     RETURNING project_id, granularity, start, name, environment"
);

/// Locks the batch's rows in key order and reads their blobs (the ones just inserted too).
const LOCK_TRANSACTION_ROLLUPS: &str = "SELECT r.project_id, r.granularity, r.start, r.name,
         r.environment, r.histogram, r.users
     FROM transaction_rollups r
     JOIN UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[])
         AS u(project_id, granularity, start, name, environment)
         ON r.project_id = u.project_id AND r.granularity = u.granularity AND r.start = u.start
        AND r.name = u.name AND r.environment = u.environment
     ORDER BY r.project_id, r.granularity, r.start, r.name, r.environment
     FOR UPDATE OF r";

/// Adds the batch's counters to locked rows and stores their merged blobs.
const MERGE_TRANSACTION_ROLLUPS: &str = concat!(
    "UPDATE transaction_rollups r SET
         count = r.count + u.count,
         failures = r.failures + u.failures,
         sum_ms = r.sum_ms + u.sum_ms,
         max_ms = GREATEST(r.max_ms, u.max_ms),
         first_seen = LEAST(r.first_seen, u.first_seen),
         last_seen = GREATEST(r.last_seen, u.last_seen),
         histogram = u.histogram,
         users = u.users
     FROM ",
    transaction_rollup_unnest!(),
    " WHERE r.project_id = u.project_id AND r.granularity = u.granularity
       AND r.start = u.start AND r.name = u.name AND r.environment = u.environment"
);

/// A transaction rollup row's key as read back.
fn rollup_key(row: &Row) -> StoreResult<TransactionKey> {
    Ok(TransactionKey {
        project_id: get(row, 0)?,
        granularity: get(row, 1)?,
        start: get(row, 2)?,
        name: get(row, 3)?,
        environment: get(row, 4)?,
    })
}

/// Adds a batch's delta to the rollup rows.
///
/// Transaction rollups hold blobs that only Rust can merge, so they are read, merged and
/// written back under row locks: the keys new to the table are inserted with the delta's own
/// blobs (a concurrent insert of the same key waits for the other batch to commit), then the
/// rest are locked with `FOR UPDATE`, merged and updated. Both go in key order, as every node
/// does, so two batches sharing rows never wait on each other in a cycle. Span rollups and
/// groups only add up, so they are plain upserts.
async fn write_rollups<C: GenericClient>(client: &C, delta: &RollupDelta) -> StoreResult<()> {
    let mut fresh = TransactionRollupRows::default();
    for (key, d) in &delta.transactions {
        fresh.push(key, d, &d.histogram, &d.users);
    }
    let mut merged = TransactionRollupRows::default();
    if !fresh.is_empty() {
        let params = fresh.params();
        let mut pipeline = Pipeline::default();
        let inserted = pipeline.push(
            INSERT_TRANSACTION_ROLLUPS,
            params.clone(),
            "adding transaction rollups",
        );
        let locked = pipeline.push(
            LOCK_TRANSACTION_ROLLUPS,
            params[..5].to_vec(),
            "locking transaction rollups",
        );
        let results = pipeline
            .run(client)
            .await
            .map_err(|failure| failure.into_store_error())?;
        let inserted: HashSet<TransactionKey> = results[inserted]
            .iter()
            .map(rollup_key)
            .collect::<StoreResult<_>>()?;
        for row in &results[locked] {
            let key = rollup_key(row)?;
            if inserted.contains(&key) {
                continue;
            }
            let Some((key, d)) = delta.transactions.get_key_value(&key) else {
                continue;
            };
            let histogram: Vec<u8> = get(row, 5)?;
            let users: Vec<u8> = get(row, 6)?;
            let mut histogram =
                Histogram::decode(&histogram).map_err(|e| corrupt("a rollup histogram", e))?;
            let mut users =
                UserSketch::decode(&users).map_err(|e| corrupt("a rollup's users", e))?;
            histogram.merge(&d.histogram);
            users.merge(&d.users);
            merged.push(key, d, &histogram, &users);
        }
    }

    let (mut g_projects, mut g_hashes, mut g_ops, mut g_texts) = (vec![], vec![], vec![], vec![]);
    for ((project_id, hash), (op, text)) in &delta.groups {
        g_projects.push(*project_id);
        g_hashes.push(hash.as_str());
        g_ops.push(op.as_str());
        g_texts.push(text.as_str());
    }
    let mut spans = SpanRollupRows::default();
    for (key, d) in &delta.spans {
        spans.push(key, d);
    }

    let mut pipeline = Pipeline::default();
    if !merged.is_empty() {
        pipeline.push(
            MERGE_TRANSACTION_ROLLUPS,
            merged.params(),
            "merging transaction rollups",
        );
    }
    if !g_projects.is_empty() {
        pipeline.push(
            "INSERT INTO span_groups (project_id, group_hash, op, normalized)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[])
             ON CONFLICT DO NOTHING",
            vec![&g_projects, &g_hashes, &g_ops, &g_texts],
            "naming span groups",
        );
    }
    if !spans.project_ids.is_empty() {
        pipeline.push(
            "INSERT INTO span_rollups AS r (project_id, granularity, start, transaction_name,
                 environment, op, group_hash, count, total_ms, segments)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[],
                 $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::DOUBLE PRECISION[],
                 $10::BIGINT[])
             ON CONFLICT (project_id, granularity, start, transaction_name, environment, op,
                          group_hash)
             DO UPDATE SET
                 count = r.count + excluded.count,
                 total_ms = r.total_ms + excluded.total_ms,
                 segments = r.segments + excluded.segments",
            spans.params(),
            "counting spans",
        );
    }
    pipeline
        .run(client)
        .await
        .map_err(|failure| failure.into_store_error())?;
    Ok(())
}

/// A batch's span rollup rows, as columns, in key order.
#[derive(Default)]
struct SpanRollupRows<'a> {
    project_ids: Vec<i64>,
    granularities: Vec<i64>,
    starts: Vec<i64>,
    transactions: Vec<&'a str>,
    environments: Vec<&'a str>,
    ops: Vec<&'a str>,
    hashes: Vec<&'a str>,
    counts: Vec<i64>,
    totals: Vec<f64>,
    segments: Vec<i64>,
}

impl<'a> SpanRollupRows<'a> {
    fn push(&mut self, key: &'a rollup::SpanKey, delta: &SpanDelta) {
        self.project_ids.push(key.project_id);
        self.granularities.push(key.granularity);
        self.starts.push(key.start);
        self.transactions.push(&key.transaction);
        self.environments.push(&key.environment);
        self.ops.push(&key.op);
        self.hashes.push(&key.group_hash);
        self.counts.push(delta.count);
        self.totals.push(delta.total_ms);
        self.segments.push(delta.segments.len() as i64);
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.project_ids,
            &self.granularities,
            &self.starts,
            &self.transactions,
            &self.environments,
            &self.ops,
            &self.hashes,
            &self.counts,
            &self.totals,
            &self.segments,
        ]
    }
}

// --- reading rows -----------------------------------------------------------------------------

/// A transaction's columns, `data` last (index 16) when wanted.
const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
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

pub(super) async fn transaction_by_event_id(
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

pub(super) async fn segment_spans(
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

pub(super) async fn trace(
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
    let errors = events::decode(&client, event_rows)
        .await?
        .into_iter()
        .map(|event| TraceError {
            span_id: event
                .data
                .pointer("/contexts/trace/span_id")
                .and_then(|v| v.as_str())
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
    environment: "COALESCE(t.environment, '')",
    name: "t.name",
};
const SPAN_ROWS: Columns = Columns {
    project: "s.project_id",
    environment: "COALESCE(t.environment, '')",
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

/// A WHERE clause under construction, with its parameters numbered as they are bound.
struct Clause {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Clause {
    /// The query's organization, projects, environments and transaction name.
    fn new(query: &TransactionQuery, columns: &Columns) -> Clause {
        let mut clause = Clause {
            sql: "TRUE".to_owned(),
            params: Vec::new(),
        };
        let Columns {
            project,
            environment,
            name,
        } = columns;
        let org = clause.bind(query.organization_id);
        clause.and(&format!(
            "{project} IN (SELECT id FROM projects WHERE organization_id = {org})"
        ));
        if !query.project_ids.is_empty() {
            let ids = clause.bind(query.project_ids.clone());
            clause.and(&format!("{project} = ANY({ids})"));
        }
        if !query.environments.is_empty() {
            let environments = clause.bind(query.environments.clone());
            clause.and(&format!("{environment} = ANY({environments})"));
        }
        if let Some(transaction) = &query.transaction {
            let transaction = clause.bind(transaction.clone());
            clause.and(&format!("{name} = {transaction}"));
        }
        clause
    }

    /// Transaction rows (`t`) in `[from, to)` that meet the query's conditions.
    fn rows(query: &TransactionQuery, from: Option<UnixTime>, to: Option<UnixTime>) -> Clause {
        let mut clause = Clause::new(query, &TRANSACTION_ROWS);
        clause.time("t.start_ts", from, to);
        clause.conditions(query);
        clause
    }

    /// Span rows (`s`, their segment `t`) in `[from, to)` whose segment meets the conditions.
    fn span_rows(query: &TransactionQuery, from: Option<UnixTime>, to: Option<UnixTime>) -> Clause {
        let mut clause = Clause::new(query, &SPAN_ROWS);
        clause.time("s.start_ts", from, to);
        clause.conditions(query);
        clause
    }

    /// Rollup rows (`r`) of one granularity starting in `[first, end)`.
    fn rollups(
        query: &TransactionQuery,
        columns: &Columns,
        granularity: i64,
        first: i64,
        end: i64,
    ) -> Clause {
        let mut clause = Clause::new(query, columns);
        let granularity = clause.bind(granularity);
        let first = clause.bind(first);
        let end = clause.bind(end);
        clause.and(&format!(
            "r.granularity = {granularity} AND r.start >= {first} AND r.start < {end}"
        ));
        clause
    }

    /// The placeholder of a new parameter.
    fn bind<T: ToSql + Sync + Send + 'static>(&mut self, value: T) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn and(&mut self, condition: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
    }

    fn time(&mut self, column: &str, from: Option<UnixTime>, to: Option<UnixTime>) {
        if let Some(from) = from {
            let from = self.bind(from);
            self.and(&format!("{column} >= {from}"));
        }
        if let Some(to) = to {
            let to = self.bind(to);
            self.and(&format!("{column} < {to}"));
        }
    }

    /// The tag conditions on transaction `t`'s columns and tags. A row without the column's
    /// value has `""`, as on SQLite: `!release:x` keeps it.
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
                    let value = self.bind(value.clone());
                    format!("COALESCE({column}, '') = {value}")
                }
                None => {
                    let pair = self.bind(serde_json::json!([[key, value]]).to_string());
                    format!("COALESCE(t.tags @> {pair}::TEXT::JSONB, FALSE)")
                }
            };
            self.and(&if *negated {
                format!("NOT {test}")
            } else {
                test
            });
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    async fn query<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
        what: &str,
    ) -> StoreResult<Vec<Row>> {
        sql::query(client, sql, &self.params(), what).await
    }
}

/// Each project's apdex threshold (the default when it has not set one).
async fn thresholds<C: GenericClient>(
    client: &C,
    organization_id: i64,
) -> StoreResult<HashMap<i64, f64>> {
    let rows = sql::query(
        client,
        "SELECT s.project_id, s.apdex_threshold_ms FROM performance_settings s
         JOIN projects p ON p.id = s.project_id WHERE p.organization_id = $1",
        &[&organization_id],
        "reading apdex thresholds",
    )
    .await?;
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

/// The statement of one read of a plan, with its clause and what it is for.
struct Statement {
    read: Read,
    clause: Clause,
    sql: String,
    what: &'static str,
}

/// Runs every read of a plan at once: one connection pipelines them.
async fn run_reads<C: GenericClient>(
    client: &C,
    statements: &[Statement],
) -> StoreResult<Vec<Vec<Row>>> {
    futures_util::future::try_join_all(
        statements
            .iter()
            .map(|s| s.clause.query(client, &s.sql, s.what)),
    )
    .await
}

// --- aggregates -------------------------------------------------------------------------------

/// A summary's project and transaction name, when grouped by them.
type GroupKey = (Option<i64>, Option<String>);
type Ranges = [(Option<UnixTime>, Option<UnixTime>)];
/// One summary per group, per range.
type RangeSummaries = Vec<BTreeMap<GroupKey, Summary>>;

/// One summary per group per range: the reads of the ranges' plan, each row given to its
/// range.
async fn summaries<C: GenericClient>(
    client: &C,
    query: &TransactionQuery,
    ranges: &Ranges,
    by_transaction: bool,
) -> StoreResult<RangeSummaries> {
    let plan = Plan::new(ranges, !query.conditions.is_empty());
    let statements: Vec<Statement> = plan
        .reads()
        .into_iter()
        .map(|read| match read {
            Read::Rows { from, to } => {
                let clause = Clause::rows(query, from, to);
                let sql = format!(
                    "SELECT t.project_id, t.name, t.duration_ms, t.status, t.start_ts, t.user_tag
                     FROM transactions t WHERE {}",
                    clause.sql
                );
                Statement {
                    read,
                    clause,
                    sql,
                    what: "reading transactions",
                }
            }
            Read::Rollup {
                granularity,
                first,
                end,
            } => {
                let clause = Clause::rollups(query, &TRANSACTION_ROLLUPS, granularity, first, end);
                let sql = format!(
                    "SELECT r.project_id, r.name, r.start, r.count, r.failures, r.sum_ms,
                         r.max_ms, r.first_seen, r.last_seen, r.histogram, r.users
                     FROM transaction_rollups r WHERE {}",
                    clause.sql
                );
                Statement {
                    read,
                    clause,
                    sql,
                    what: "reading transaction rollups",
                }
            }
        })
        .collect();
    let (apdex, results) = futures_util::try_join!(
        thresholds(client, query.organization_id),
        run_reads(client, &statements)
    )?;
    let default_apdex = PerformanceSettings::default().apdex_threshold_ms;
    let apdex_of = |project_id: i64| apdex.get(&project_id).copied().unwrap_or(default_apdex);
    let key_of = |project_id: i64, name: String| -> GroupKey {
        if by_transaction {
            (Some(project_id), Some(name))
        } else {
            (None, None)
        }
    };
    let mut out: RangeSummaries = ranges.iter().map(|_| BTreeMap::new()).collect();
    for (statement, rows) in statements.iter().zip(results) {
        match statement.read {
            Read::Rows { .. } => {
                for row in &rows {
                    let start: f64 = get(row, 4)?;
                    let Some(range) = plan.range_of_row(start) else {
                        continue;
                    };
                    let project_id: i64 = get(row, 0)?;
                    let status: String = get(row, 3)?;
                    let user: Option<String> = get(row, 5)?;
                    out[range]
                        .entry(key_of(project_id, get(row, 1)?))
                        .or_default()
                        .add_row(
                            get(row, 2)?,
                            &status,
                            start,
                            user.as_deref(),
                            apdex_of(project_id),
                        );
                }
            }
            Read::Rollup { granularity, .. } => {
                for row in &rows {
                    let start: i64 = get(row, 2)?;
                    let Some(range) = plan.range_of_rollup(granularity, start) else {
                        continue;
                    };
                    let project_id: i64 = get(row, 0)?;
                    let count: i64 = get(row, 3)?;
                    let failures: i64 = get(row, 4)?;
                    let histogram: Vec<u8> = get(row, 9)?;
                    let users: Vec<u8> = get(row, 10)?;
                    let histogram = Histogram::decode(&histogram)
                        .map_err(|e| corrupt("a rollup histogram", e))?;
                    let users =
                        UserSketch::decode(&users).map_err(|e| corrupt("a rollup's users", e))?;
                    out[range]
                        .entry(key_of(project_id, get(row, 1)?))
                        .or_default()
                        .add_rollup(
                            count.max(0) as u64,
                            failures.max(0) as u64,
                            get(row, 5)?,
                            get(row, 6)?,
                            get(row, 7)?,
                            get(row, 8)?,
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

/// The aggregates of a range's non-empty groups, by project and name.
fn finish(groups: BTreeMap<GroupKey, Summary>) -> Vec<TransactionAggregate> {
    groups
        .into_iter()
        .filter(|(_, summary)| !summary.is_empty())
        .map(|((project_id, name), summary)| summary.finish(project_id, name))
        .collect()
}

pub(super) async fn aggregate_transactions(
    store: &PgStore,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let client = store.client().await?;
    let mut ranges = summaries(
        &client,
        query,
        &[(query.since, query.until)],
        by_transaction,
    )
    .await?;
    Ok(ranges.pop().map(finish).unwrap_or_default())
}

pub(super) async fn list_transactions(
    store: &PgStore,
    query: &TransactionQuery,
    sort: TransactionSort,
    limit: u64,
    offset: u64,
) -> StoreResult<Vec<StoredTransaction>> {
    let client = store.client().await?;
    let mut clause = Clause::rows(query, query.since, query.until);
    let order = match sort {
        TransactionSort::Newest => "t.start_ts DESC, t.id DESC",
        TransactionSort::Slowest => "t.duration_ms DESC, t.id DESC",
    };
    let limit = clause.bind(sql_int(limit));
    let offset = clause.bind(sql_int(offset));
    let rows = clause
        .query(
            &client,
            &format!(
                "SELECT {TRANSACTION_COLUMNS} FROM transactions t WHERE {}
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                clause.sql
            ),
            "listing transactions",
        )
        .await?;
    rows.iter()
        .map(|row| read_transaction(row, false))
        .collect()
}

pub(super) async fn transaction_series(
    store: &PgStore,
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    let buckets = rollup::series_ranges(query, interval_secs)?;
    let ranges: Vec<_> = buckets.iter().map(|(a, b)| (Some(*a), Some(*b))).collect();
    let client = store.client().await?;
    let summaries = summaries(&client, query, &ranges, false).await?;
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
}

pub(super) async fn duration_histogram(
    store: &PgStore,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    if buckets == 0 || buckets > 1_000 {
        return Err(StoreError::Invalid(
            "a histogram has 1 to 1000 buckets".into(),
        ));
    }
    let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
    // Every row and rollup read belongs to the one range: no need to place them.
    let statements: Vec<Statement> = plan
        .reads()
        .into_iter()
        .map(|read| match read {
            Read::Rows { from, to } => {
                let clause = Clause::rows(query, from, to);
                let sql = format!(
                    "SELECT t.duration_ms FROM transactions t WHERE {}",
                    clause.sql
                );
                Statement {
                    read,
                    clause,
                    sql,
                    what: "reading durations",
                }
            }
            Read::Rollup {
                granularity,
                first,
                end,
            } => {
                let clause = Clause::rollups(query, &TRANSACTION_ROLLUPS, granularity, first, end);
                let sql = format!(
                    "SELECT r.histogram FROM transaction_rollups r WHERE {}",
                    clause.sql
                );
                Statement {
                    read,
                    clause,
                    sql,
                    what: "reading rollup histograms",
                }
            }
        })
        .collect();
    let client = store.client().await?;
    let results = run_reads(&client, &statements).await?;
    // Durations with their counts: exact from rows, bucket bounds from rollups.
    let mut points: Vec<(f64, u64)> = Vec::new();
    for (statement, rows) in statements.iter().zip(results) {
        match statement.read {
            Read::Rows { .. } => {
                for row in &rows {
                    points.push((get(row, 0)?, 1));
                }
            }
            Read::Rollup { .. } => {
                for row in &rows {
                    let blob: Vec<u8> = get(row, 0)?;
                    let histogram =
                        Histogram::decode(&blob).map_err(|e| corrupt("a rollup histogram", e))?;
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
}

/// A span group's totals; `project_id` names the group's text.
#[derive(Default)]
struct SpanTotals {
    project_id: i64,
    count: u64,
    total_ms: f64,
    segments: u64,
}

/// `(op, group hash)`; the hash is `""` when grouped by op only.
type SpanGroup = (String, String);

pub(super) async fn span_aggregates(
    store: &PgStore,
    query: &TransactionQuery,
    by_group: bool,
    op_prefix: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
    // One range: every read belongs to it, so each read is summed by the database.
    let statements: Vec<Statement> = plan
        .reads()
        .into_iter()
        .map(|read| {
            let (mut clause, alias) = match read {
                Read::Rows { from, to } => (Clause::span_rows(query, from, to), "s"),
                Read::Rollup {
                    granularity,
                    first,
                    end,
                } => (
                    Clause::rollups(query, &SPAN_ROLLUPS, granularity, first, end),
                    "r",
                ),
            };
            if let Some(prefix) = op_prefix {
                let prefix = clause.bind(prefix.to_owned());
                clause.and(&format!("starts_with({alias}.op, {prefix})"));
            }
            let group = if by_group {
                format!("{alias}.group_hash")
            } else {
                "''".to_owned()
            };
            let (sql, what) = match read {
                Read::Rows { .. } => (
                    format!(
                        "SELECT s.op, {group}, MIN(s.project_id), COUNT(*)::BIGINT,
                             SUM(s.duration_ms),
                             COUNT(DISTINCT s.trace_id || ':' || s.segment_id)::BIGINT
                         FROM spans s LEFT JOIN transactions t
                             ON t.project_id = s.project_id AND t.trace_id = s.trace_id
                            AND t.span_id = s.segment_id
                         WHERE {} GROUP BY 1, 2",
                        clause.sql
                    ),
                    "reading spans",
                ),
                Read::Rollup { .. } => (
                    format!(
                        "SELECT r.op, {group}, MIN(r.project_id), SUM(r.count)::BIGINT,
                             SUM(r.total_ms), SUM(r.segments)::BIGINT
                         FROM span_rollups r WHERE {} GROUP BY 1, 2",
                        clause.sql
                    ),
                    "reading span rollups",
                ),
            };
            Statement {
                read,
                clause,
                sql,
                what,
            }
        })
        .collect();
    let client = store.client().await?;
    let results = run_reads(&client, &statements).await?;
    let mut groups: BTreeMap<SpanGroup, SpanTotals> = BTreeMap::new();
    for rows in results {
        for row in &rows {
            let totals = groups.entry((get(row, 0)?, get(row, 1)?)).or_default();
            totals.project_id = get(row, 2)?;
            totals.count += get::<i64>(row, 3)?.max(0) as u64;
            totals.total_ms += get::<f64>(row, 4)?;
            totals.segments += get::<i64>(row, 5)?.max(0) as u64;
        }
    }
    let mut ranked: Vec<(SpanGroup, SpanTotals)> = groups.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms));
    ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));

    let texts: HashMap<(i64, String), String> = if by_group && !ranked.is_empty() {
        let projects: Vec<i64> = ranked.iter().map(|(_, t)| t.project_id).collect();
        let hashes: Vec<&str> = ranked.iter().map(|((_, hash), _)| hash.as_str()).collect();
        sql::query(
            &client,
            "SELECT g.project_id, g.group_hash, g.normalized
             FROM span_groups g JOIN UNNEST($1::BIGINT[], $2::TEXT[]) AS u(project_id, hash)
                 ON g.project_id = u.project_id AND g.group_hash = u.hash",
            &[&projects, &hashes],
            "naming span groups",
        )
        .await?
        .iter()
        .map(|row| Ok(((get(row, 0)?, get(row, 1)?), get(row, 2)?)))
        .collect::<StoreResult<_>>()?
    } else {
        HashMap::new()
    };
    Ok(ranked
        .into_iter()
        .map(|((op, hash), totals)| SpanAggregate {
            group: texts
                .get(&(totals.project_id, hash))
                .cloned()
                .unwrap_or_default(),
            op,
            count: totals.count,
            total_ms: totals.total_ms,
            transactions: totals.segments,
        })
        .collect())
}

// --- settings ---------------------------------------------------------------------------------

pub(super) async fn performance_settings(
    store: &PgStore,
    project_id: i64,
) -> StoreResult<PerformanceSettings> {
    let client = store.client().await?;
    let row = sql::query_opt(
        &client,
        "SELECT apdex_threshold_ms, n_plus_one_min_count, n_plus_one_min_total_ms,
             slow_db_query_ms
         FROM performance_settings WHERE project_id = $1",
        &[&project_id],
        "reading performance settings",
    )
    .await?;
    let Some(row) = row else {
        return Ok(PerformanceSettings::default());
    };
    let min_count: i64 = get(&row, 1)?;
    Ok(PerformanceSettings {
        apdex_threshold_ms: get(&row, 0)?,
        n_plus_one_min_count: u32::try_from(min_count)
            .map_err(|e| corrupt("performance settings", e))?,
        n_plus_one_min_total_ms: get(&row, 2)?,
        slow_db_query_ms: get(&row, 3)?,
    })
}

pub(super) async fn set_performance_settings(
    store: &PgStore,
    project_id: i64,
    settings: &PerformanceSettings,
) -> StoreResult<()> {
    let values = [
        settings.apdex_threshold_ms,
        settings.n_plus_one_min_total_ms,
        settings.slow_db_query_ms,
    ];
    if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(StoreError::Invalid(
            "performance thresholds must be finite and not negative".into(),
        ));
    }
    let client = store.client().await?;
    sql::execute(
        &client,
        "INSERT INTO performance_settings (project_id, apdex_threshold_ms, n_plus_one_min_count,
             n_plus_one_min_total_ms, slow_db_query_ms)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (project_id) DO UPDATE SET
             apdex_threshold_ms = excluded.apdex_threshold_ms,
             n_plus_one_min_count = excluded.n_plus_one_min_count,
             n_plus_one_min_total_ms = excluded.n_plus_one_min_total_ms,
             slow_db_query_ms = excluded.slow_db_query_ms",
        &[
            &project_id,
            &settings.apdex_threshold_ms,
            &i64::from(settings.n_plus_one_min_count),
            &settings.n_plus_one_min_total_ms,
            &settings.slow_db_query_ms,
        ],
        "saving performance settings",
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Traces for PgStore {
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
