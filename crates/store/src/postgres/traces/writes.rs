//! Writing a span batch in PostgreSQL: its new transaction and span rows, and what they add to
//! the hourly and daily rollups, in one transaction that several nodes may run at once.
//!
//! Rows go in as columns (`UNNEST`, one statement per table, pipelined); `RETURNING` says which
//! rows were new, and only those become the [`RollupDelta`] added to the rollup rows under row
//! locks taken in key order (so nodes writing the same rows wait on each other, never in a
//! cycle).

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::super::error::{corrupt, DbContext};
use super::super::sql::{self, get, Pipeline};
use super::super::PgStore;
use crate::rollup::{
    self, segment_environments, CountedSpan, GroupHashes, Histogram, RollupDelta, SpanDelta,
    TransactionDelta, TransactionKey, UserSketch,
};
use crate::{NewSpan, NewTransaction, SavedSpans, SpanBatch, StoreError, StoreResult};

/// Longest id (event, trace, span) a row may have: real ones are 16 or 32 hex.
const MAX_ID_LEN: usize = 64;

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
    group_hashes: Vec<&'a str>,
    statuses: Vec<&'a str>,
    starts: Vec<f64>,
    durations: Vec<f64>,
    data: Vec<Option<String>>,
}

impl<'a> SpanRows<'a> {
    fn new(spans: &[&'a NewSpan], hashes: &'a GroupHashes) -> SpanRows<'a> {
        let mut rows = SpanRows::default();
        for (n, s) in spans.iter().enumerate() {
            rows.project_ids.push(s.project_id);
            rows.trace_ids.push(&s.trace_id);
            rows.segment_ids.push(&s.segment_id);
            rows.span_ids.push(&s.span_id);
            rows.parent_span_ids.push(s.parent_span_id.as_deref());
            rows.transactions.push(&s.transaction);
            rows.ops.push(&s.op);
            rows.descriptions.push(&s.description);
            rows.group_hashes.push(hashes.get(n));
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

pub(in crate::postgres) async fn save_spans(
    store: &PgStore,
    batch: SpanBatch,
) -> StoreResult<SavedSpans> {
    validate(&batch)?;
    // Rows in key order: two batches sharing rows take their locks in the same order.
    let mut transactions: Vec<&NewTransaction> = batch.transactions.iter().collect();
    transactions.sort_by(|a, b| (a.project_id, &a.event_id).cmp(&(b.project_id, &b.event_id)));
    let mut spans: Vec<&NewSpan> = batch.spans.iter().collect();
    spans.sort_by(|a, b| {
        (a.project_id, &a.trace_id, &a.span_id).cmp(&(b.project_id, &b.trace_id, &b.span_id))
    });
    let transaction_rows = TransactionRows::new(&transactions)?;
    let hashes = GroupHashes::new(spans.iter().copied());
    let span_rows = SpanRows::new(&spans, &hashes);

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
    // With the index of each in `spans` (and `hashes`).
    let new_spans: Vec<(usize, &NewSpan)> = spans
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, s)| {
            new_span_keys.remove(&(s.project_id, s.trace_id.clone(), s.span_id.clone()))
        })
        .collect();

    let environments = span_environments(&tx, &batch.transactions, &new_spans).await?;
    let mut delta = RollupDelta::default();
    for t in &new_transactions {
        delta.add_transaction(t);
    }
    delta.add_spans(new_spans.iter().map(|(n, span)| {
        let key = (
            span.project_id,
            span.trace_id.clone(),
            span.segment_id.clone(),
        );
        CountedSpan {
            span,
            group_hash: hashes.get(*n),
            environment: environments.get(&key).map_or("", String::as_str),
        }
    }));
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
    spans: &[(usize, &NewSpan)],
) -> StoreResult<HashMap<(i64, String, String), String>> {
    let in_batch = segment_environments(batch);
    let mut found = HashMap::new();
    let mut missing: Vec<(i64, &str, &str)> = Vec::new();
    for (_, span) in spans {
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
        self.segments.push(delta.segments);
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
