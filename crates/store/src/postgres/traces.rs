//! Transactions, spans and traces in postgres: rows, rollups and the summaries read from them.
//!
//! The rules are the backend-neutral ones of [`crate::rollup`]: a batch's newly inserted rows
//! (`RETURNING` says which) become a [`RollupDelta`] that is added to the hourly rollup rows with
//! `ON CONFLICT … DO UPDATE` (row locks order it with other nodes' batches), and a summary reads
//! the rollups for the whole hours of its range and single rows only for the edges. A query
//! with tag conditions cannot be answered from rollups, so it reads rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::error::{corrupt, DbContext};
use super::events;
use super::sql::{self, get, sql_int, Pipeline};
use super::PgStore;
use crate::batch::HOUR;
use crate::rollup::{group_hash, segment_environments, whole_hours, RollupDelta, Summary};
use crate::{
    NewSpan, NewTransaction, PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoreError,
    StoreResult, StoredSpan, StoredTransaction, Trace, TraceError, TransactionAggregate,
    TransactionQuery, TransactionSort, UnixTime,
};

/// Longest id (event, trace, span) a row may have: real ones are 16 or 32 hex.
const MAX_ID_LEN: usize = 64;
/// Most buckets a series may have: more is a mistake of the caller, not a chart.
const MAX_SERIES_BUCKETS: u64 = 10_000;
/// Times beyond this many seconds from the epoch (±300 000 years) are clamped, so that hour
/// arithmetic stays in range.
const TIME_LIMIT: f64 = 1e13;

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

/// Adds a batch's delta to the rollup rows, in one round trip.
async fn write_rollups<C: GenericClient>(client: &C, delta: &RollupDelta) -> StoreResult<()> {
    // Transaction rollups, their buckets and users.
    let (mut t_projects, mut t_hours, mut t_names, mut t_envs) = (vec![], vec![], vec![], vec![]);
    let (mut counts, mut failures, mut sums, mut maxima, mut firsts, mut lasts) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut b_projects, mut b_hours, mut b_names, mut b_envs, mut b_buckets, mut b_counts) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut u_projects, mut u_hours, mut u_names, mut u_envs, mut u_users) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (key, d) in &delta.transactions {
        t_projects.push(key.project_id);
        t_hours.push(key.hour);
        t_names.push(key.name.as_str());
        t_envs.push(key.environment.as_str());
        counts.push(d.count);
        failures.push(d.failures);
        sums.push(d.sum_ms);
        maxima.push(d.max_ms);
        firsts.push(d.first_seen);
        lasts.push(d.last_seen);
        for (bucket, count) in &d.buckets {
            b_projects.push(key.project_id);
            b_hours.push(key.hour);
            b_names.push(key.name.as_str());
            b_envs.push(key.environment.as_str());
            b_buckets.push(*bucket);
            b_counts.push(*count);
        }
        for user in &d.users {
            u_projects.push(key.project_id);
            u_hours.push(key.hour);
            u_names.push(key.name.as_str());
            u_envs.push(key.environment.as_str());
            u_users.push(user.as_str());
        }
    }
    // Span groups and span rollups.
    let (mut g_projects, mut g_hashes, mut g_ops, mut g_texts) = (vec![], vec![], vec![], vec![]);
    for ((project_id, hash), (op, text)) in &delta.groups {
        g_projects.push(*project_id);
        g_hashes.push(hash.as_str());
        g_ops.push(op.as_str());
        g_texts.push(text.as_str());
    }
    let (mut s_projects, mut s_hours, mut s_names, mut s_envs, mut s_ops, mut s_hashes) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut s_counts, mut s_totals, mut s_segments) = (vec![], vec![], vec![]);
    for (key, d) in &delta.spans {
        s_projects.push(key.project_id);
        s_hours.push(key.hour);
        s_names.push(key.transaction.as_str());
        s_envs.push(key.environment.as_str());
        s_ops.push(key.op.as_str());
        s_hashes.push(key.group_hash.as_str());
        s_counts.push(d.count);
        s_totals.push(d.total_ms);
        s_segments.push(d.segments.len() as i64);
    }

    let mut pipeline = Pipeline::default();
    if !t_projects.is_empty() {
        pipeline.push(
            "INSERT INTO transaction_rollups AS r (project_id, hour, name, environment, count,
                 failures, sum_ms, max_ms, first_seen, last_seen)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                 $5::BIGINT[], $6::BIGINT[], $7::DOUBLE PRECISION[], $8::DOUBLE PRECISION[],
                 $9::DOUBLE PRECISION[], $10::DOUBLE PRECISION[])
             ON CONFLICT (project_id, hour, name, environment) DO UPDATE SET
                 count = r.count + excluded.count,
                 failures = r.failures + excluded.failures,
                 sum_ms = r.sum_ms + excluded.sum_ms,
                 max_ms = GREATEST(r.max_ms, excluded.max_ms),
                 first_seen = LEAST(r.first_seen, excluded.first_seen),
                 last_seen = GREATEST(r.last_seen, excluded.last_seen)",
            vec![
                &t_projects,
                &t_hours,
                &t_names,
                &t_envs,
                &counts,
                &failures,
                &sums,
                &maxima,
                &firsts,
                &lasts,
            ],
            "counting transactions",
        );
    }
    if !b_projects.is_empty() {
        pipeline.push(
            "INSERT INTO transaction_rollup_buckets AS r (project_id, hour, name, environment,
                 bucket, count)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                 $5::BIGINT[], $6::BIGINT[])
             ON CONFLICT (project_id, hour, name, environment, bucket) DO UPDATE SET
                 count = r.count + excluded.count",
            vec![
                &b_projects,
                &b_hours,
                &b_names,
                &b_envs,
                &b_buckets,
                &b_counts,
            ],
            "counting transaction durations",
        );
    }
    if !u_projects.is_empty() {
        pipeline.push(
            "INSERT INTO transaction_rollup_users (project_id, hour, name, environment, user_tag)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                 $5::TEXT[])
             ON CONFLICT DO NOTHING",
            vec![&u_projects, &u_hours, &u_names, &u_envs, &u_users],
            "counting transaction users",
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
    if !s_projects.is_empty() {
        pipeline.push(
            "INSERT INTO span_rollups AS r (project_id, hour, transaction_name, environment, op,
                 group_hash, count, total_ms, segments)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                 $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::DOUBLE PRECISION[], $9::BIGINT[])
             ON CONFLICT (project_id, hour, transaction_name, environment, op, group_hash)
             DO UPDATE SET
                 count = r.count + excluded.count,
                 total_ms = r.total_ms + excluded.total_ms,
                 segments = r.segments + excluded.segments",
            vec![
                &s_projects,
                &s_hours,
                &s_names,
                &s_envs,
                &s_ops,
                &s_hashes,
                &s_counts,
                &s_totals,
                &s_segments,
            ],
            "counting spans",
        );
    }
    pipeline
        .run(client)
        .await
        .map_err(|failure| failure.into_store_error())?;
    Ok(())
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

/// A WHERE clause under construction, with its parameters numbered as they are bound.
struct Clause {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Clause {
    fn new() -> Clause {
        Clause {
            sql: "TRUE".to_owned(),
            params: Vec::new(),
        }
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

    /// Organization, projects, environments and name: what rows and rollups share.
    /// `project`, `environment` and `name` are the column expressions to test.
    fn scope(&mut self, query: &TransactionQuery, project: &str, environment: &str, name: &str) {
        let org = self.bind(query.organization_id);
        self.and(&format!(
            "{project} IN (SELECT id FROM projects WHERE organization_id = {org})"
        ));
        if !query.project_ids.is_empty() {
            let ids = self.bind(query.project_ids.clone());
            self.and(&format!("{project} = ANY({ids})"));
        }
        if !query.environments.is_empty() {
            let environments = self.bind(query.environments.clone());
            self.and(&format!("{environment} = ANY({environments})"));
        }
        if let Some(transaction) = &query.transaction {
            let transaction = self.bind(transaction.clone());
            self.and(&format!("{name} = {transaction}"));
        }
    }

    /// The tag conditions on transaction `t`'s columns and tags.
    fn conditions(&mut self, query: &TransactionQuery) {
        for (key, value, negated) in &query.conditions {
            let column = match key.as_str() {
                "release" => Some("t.release"),
                "user" => Some("t.user_tag"),
                "transaction.op" => Some("t.op"),
                "transaction.status" => Some("t.status"),
                "environment" => Some("t.environment"),
                _ => None,
            };
            let condition = match column {
                // A row without the value does not have it: `!release:x` keeps it.
                Some(column) => {
                    let value = self.bind(value.clone());
                    if *negated {
                        format!("{column} IS DISTINCT FROM {value}")
                    } else {
                        format!("{column} = {value}")
                    }
                }
                None => {
                    let pair = self.bind(serde_json::json!([[key, value]]).to_string());
                    let test = format!("COALESCE(t.tags @> {pair}::TEXT::JSONB, FALSE)");
                    if *negated {
                        format!("NOT {test}")
                    } else {
                        test
                    }
                }
            };
            self.and(&condition);
        }
    }

    /// Everything of the query on transaction rows `t`, the time range included.
    fn transactions(query: &TransactionQuery) -> Clause {
        let mut clause = Clause::new();
        clause.scope(
            query,
            "t.project_id",
            "COALESCE(t.environment, '')",
            "t.name",
        );
        if let Some(since) = query.since {
            let since = clause.bind(since);
            clause.and(&format!("t.start_ts >= {since}"));
        }
        if let Some(until) = query.until {
            let until = clause.bind(until);
            clause.and(&format!("t.start_ts < {until}"));
        }
        clause.conditions(query);
        clause
    }

    /// Single rows starting inside one of `windows` (`time`: the row's time column).
    fn windows(&mut self, time: &str, windows: &[(f64, f64)]) {
        let lows = self.bind(windows.iter().map(|w| w.0).collect::<Vec<f64>>());
        let highs = self.bind(windows.iter().map(|w| w.1).collect::<Vec<f64>>());
        self.and(&format!(
            "EXISTS (SELECT 1 FROM UNNEST({lows}::DOUBLE PRECISION[], \
             {highs}::DOUBLE PRECISION[]) AS w(lo, hi) WHERE {time} >= w.lo AND {time} < w.hi)"
        ));
    }

    fn hours(&mut self, hour: &str, (first, end): (i64, i64)) {
        let first = self.bind(first);
        let end = self.bind(end);
        self.and(&format!("{hour} >= {first} AND {hour} < {end}"));
    }
}

// --- where a summary reads from ---------------------------------------------------------------

/// The rollup hours and single-row windows that together cover a time range exactly once.
#[derive(Debug, Default)]
struct Sources {
    /// Rollup rows with `first <= hour < end`.
    hours: Option<(i64, i64)>,
    /// Single rows with `lo <= start < hi`, disjoint.
    rows: Vec<(f64, f64)>,
}

fn clamp_time(at: UnixTime) -> UnixTime {
    at.clamp(-TIME_LIMIT, TIME_LIMIT)
}

/// The hour a time falls in, and the first hour starting at or after it.
fn hour_floor(at: UnixTime) -> i64 {
    (clamp_time(at) / HOUR).floor() as i64 * HOUR as i64
}
fn hour_ceil(at: UnixTime) -> i64 {
    (clamp_time(at) / HOUR).ceil() as i64 * HOUR as i64
}

/// Where `[since, until)` is read from: rollups for its whole hours (all hours when it is
/// unbounded), single rows for the edges; single rows only when `exact` (tag conditions,
/// which rollups do not keep).
fn sources(since: Option<UnixTime>, until: Option<UnixTime>, exact: bool) -> Sources {
    let (low, high) = (
        since.unwrap_or(f64::NEG_INFINITY),
        until.unwrap_or(f64::INFINITY),
    );
    if exact {
        return Sources {
            hours: None,
            rows: if low < high {
                vec![(low, high)]
            } else {
                vec![]
            },
        };
    }
    let whole = match (since, until) {
        (None, None) => Some((i64::MIN, i64::MAX)),
        (Some(since), Some(until)) => whole_hours(clamp_time(since), clamp_time(until)),
        (Some(since), None) => Some((hour_ceil(since), i64::MAX)),
        (None, Some(until)) => Some((i64::MIN, hour_floor(until))),
    };
    match whole {
        Some((first, end)) => {
            let mut rows = Vec::new();
            if let Some(since) = since {
                if since < first as f64 {
                    rows.push((since, first as f64));
                }
            }
            if let Some(until) = until {
                if (end as f64) < until {
                    rows.push((end as f64, until));
                }
            }
            Sources {
                hours: Some((first, end)),
                rows,
            }
        }
        None => Sources {
            hours: None,
            rows: if low < high {
                vec![(low, high)]
            } else {
                vec![]
            },
        },
    }
}

/// Joins touching windows, so a series of short buckets reads one range.
fn merge_windows(mut windows: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    windows.retain(|(lo, hi)| lo < hi);
    windows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(windows.len());
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if last.1 >= lo => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

// --- transaction summaries --------------------------------------------------------------------

/// The counters of a rollup row (or of the rows of one project and name summed).
struct RollupPart {
    project_id: i64,
    name: String,
    hour: i64,
    count: i64,
    failures: i64,
    sum_ms: f64,
    max_ms: f64,
    first_seen: f64,
    last_seen: f64,
}

/// A summary's group (`G`) and, by transaction, its project and name.
type SummaryKey<G> = (G, Option<(i64, String)>);

/// What a summary reads: rollup rows (by hour when `by_hour`), and single rows.
#[derive(Default)]
struct Parts {
    rollups: Vec<RollupPart>,
    /// `(project, name, hour, bucket, count)`.
    buckets: Vec<(i64, String, i64, i64, i64)>,
    /// `(project, name, hour, user)`.
    users: Vec<(i64, String, i64, String)>,
    /// `(project, name, start, duration, status, user)`.
    rows: Vec<(i64, String, f64, f64, String, Option<String>)>,
}

async fn read_parts<C: GenericClient>(
    client: &C,
    query: &TransactionQuery,
    sources: &Sources,
    by_hour: bool,
) -> StoreResult<Parts> {
    let mut parts = Parts::default();
    let (hour, group_hour) = if by_hour {
        ("r.hour", ", r.hour")
    } else {
        ("0::BIGINT", "")
    };
    if let Some(hours) = sources.hours {
        let mut clause = Clause::new();
        clause.scope(query, "r.project_id", "r.environment", "r.name");
        clause.hours("r.hour", hours);
        let rollups_sql = format!(
            "SELECT r.project_id, r.name, {hour}, SUM(r.count)::BIGINT, SUM(r.failures)::BIGINT,
                 SUM(r.sum_ms), MAX(r.max_ms), MIN(r.first_seen), MAX(r.last_seen)
             FROM transaction_rollups r WHERE {}
             GROUP BY r.project_id, r.name{group_hour}",
            clause.sql
        );
        let buckets_sql = format!(
            "SELECT r.project_id, r.name, {hour}, r.bucket, SUM(r.count)::BIGINT
             FROM transaction_rollup_buckets r WHERE {}
             GROUP BY r.project_id, r.name, r.bucket{group_hour}",
            clause.sql
        );
        let users_sql = format!(
            "SELECT DISTINCT r.project_id, r.name, {hour}, r.user_tag
             FROM transaction_rollup_users r WHERE {}",
            clause.sql
        );
        let rollups = clause.query(client, &rollups_sql, "reading transaction rollups");
        let buckets = clause.query(client, &buckets_sql, "reading transaction durations");
        let users = clause.query(client, &users_sql, "reading transaction users");
        // One connection pipelines the three.
        let (rollups, buckets, users) = futures_util::try_join!(rollups, buckets, users)?;
        for row in &rollups {
            parts.rollups.push(RollupPart {
                project_id: get(row, 0)?,
                name: get(row, 1)?,
                hour: get(row, 2)?,
                count: get(row, 3)?,
                failures: get(row, 4)?,
                sum_ms: get(row, 5)?,
                max_ms: get(row, 6)?,
                first_seen: get(row, 7)?,
                last_seen: get(row, 8)?,
            });
        }
        for row in &buckets {
            parts.buckets.push((
                get(row, 0)?,
                get(row, 1)?,
                get(row, 2)?,
                get(row, 3)?,
                get(row, 4)?,
            ));
        }
        for row in &users {
            parts
                .users
                .push((get(row, 0)?, get(row, 1)?, get(row, 2)?, get(row, 3)?));
        }
    }
    if !sources.rows.is_empty() {
        let mut clause = Clause::new();
        clause.scope(
            query,
            "t.project_id",
            "COALESCE(t.environment, '')",
            "t.name",
        );
        clause.conditions(query);
        clause.windows("t.start_ts", &sources.rows);
        let rows = clause
            .query(
                client,
                &format!(
                    "SELECT t.project_id, t.name, t.start_ts, t.duration_ms, t.status, t.user_tag
                     FROM transactions t WHERE {}",
                    clause.sql
                ),
                "reading transactions",
            )
            .await?;
        for row in &rows {
            parts.rows.push((
                get(row, 0)?,
                get(row, 1)?,
                get(row, 2)?,
                get(row, 3)?,
                get(row, 4)?,
                get(row, 5)?,
            ));
        }
    }
    Ok(parts)
}

/// Summaries of the parts: by group `G` (a series bucket, or just one), and by project and
/// name when `by_transaction`. `group_of_hour` and `group_of_start` place rollup rows and
/// single rows (`None`: not counted here). Apdex counts each part against its project's
/// threshold.
fn fold<G: Ord>(
    parts: Parts,
    by_transaction: bool,
    thresholds: &HashMap<i64, f64>,
    group_of_hour: impl Fn(i64) -> Option<G>,
    group_of_start: impl Fn(f64) -> Option<G>,
) -> BTreeMap<SummaryKey<G>, Summary> {
    let threshold = |project: i64| {
        thresholds
            .get(&project)
            .copied()
            .unwrap_or(PerformanceSettings::default().apdex_threshold_ms)
    };
    let mut summaries: BTreeMap<SummaryKey<G>, Summary> = BTreeMap::new();
    fn summary<G: Ord>(
        summaries: &mut BTreeMap<SummaryKey<G>, Summary>,
        key: SummaryKey<G>,
    ) -> &mut Summary {
        summaries.entry(key).or_default()
    }
    let key =
        |group: G, project: i64, name: String| (group, by_transaction.then_some((project, name)));
    for part in parts.rollups {
        if let Some(group) = group_of_hour(part.hour) {
            summary(&mut summaries, key(group, part.project_id, part.name)).add_rollup(
                part.count as u64,
                part.failures as u64,
                part.sum_ms,
                part.max_ms,
                part.first_seen,
                part.last_seen,
            );
        }
    }
    for (project, name, hour, bucket, count) in parts.buckets {
        if let Some(group) = group_of_hour(hour) {
            summary(&mut summaries, key(group, project, name)).add_bucket(
                bucket,
                count as u64,
                threshold(project),
            );
        }
    }
    for (project, name, hour, user) in parts.users {
        if let Some(group) = group_of_hour(hour) {
            summary(&mut summaries, key(group, project, name)).add_user(&user);
        }
    }
    for (project, name, start, duration, status, user) in parts.rows {
        if let Some(group) = group_of_start(start) {
            summary(&mut summaries, key(group, project, name)).add_row(
                duration,
                &status,
                start,
                user.as_deref(),
                threshold(project),
            );
        }
    }
    summaries
}

/// The aggregate of one folded summary, named by its key.
fn finish<G>((group, key): SummaryKey<G>, summary: Summary) -> (G, TransactionAggregate) {
    let aggregate = match key {
        Some((project, name)) => summary.finish(Some(project), Some(name)),
        None => summary.finish(None, None),
    };
    (group, aggregate)
}

/// Each project's apdex threshold (the default when it has not set one).
async fn thresholds<C: GenericClient>(
    client: &C,
    query: &TransactionQuery,
) -> StoreResult<HashMap<i64, f64>> {
    let rows = sql::query(
        client,
        "SELECT s.project_id, s.apdex_threshold_ms FROM performance_settings s
         JOIN projects p ON p.id = s.project_id WHERE p.organization_id = $1",
        &[&query.organization_id],
        "reading apdex thresholds",
    )
    .await?;
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

pub(super) async fn aggregate_transactions(
    store: &PgStore,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let client = store.client().await?;
    let sources = sources(query.since, query.until, !query.conditions.is_empty());
    let thresholds = thresholds(&client, query).await?;
    let parts = read_parts(&client, query, &sources, false).await?;
    let mut aggregates: Vec<TransactionAggregate> = fold(
        parts,
        by_transaction,
        &thresholds,
        |_| Some(()),
        |_| Some(()),
    )
    .into_iter()
    .filter(|(_, summary)| !summary.is_empty())
    .map(|(key, summary)| finish(key, summary).1)
    .collect();
    aggregates.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.project_id.cmp(&b.project_id))
            .then_with(|| a.transaction.cmp(&b.transaction))
    });
    Ok(aggregates)
}

pub(super) async fn list_transactions(
    store: &PgStore,
    query: &TransactionQuery,
    sort: TransactionSort,
    limit: u64,
    offset: u64,
) -> StoreResult<Vec<StoredTransaction>> {
    let client = store.client().await?;
    let mut clause = Clause::transactions(query);
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
    let (Some(since), Some(until)) = (query.since, query.until) else {
        return Err(StoreError::Invalid(
            "a transaction series needs a start and an end".into(),
        ));
    };
    if interval_secs == 0 || !since.is_finite() || !until.is_finite() {
        return Err(StoreError::Invalid(
            "a transaction series needs a positive interval and finite bounds".into(),
        ));
    }
    if until <= since {
        return Ok(Vec::new());
    }
    let interval = interval_secs as f64;
    let count = ((until - since) / interval).ceil() as u64;
    if count > MAX_SERIES_BUCKETS {
        return Err(StoreError::Invalid(format!(
            "a transaction series of {count} buckets (at most {MAX_SERIES_BUCKETS})"
        )));
    }
    let starts: Vec<f64> = (0..count).map(|k| since + k as f64 * interval).collect();
    let exact = !query.conditions.is_empty();
    // Each bucket's own sources: rollup hours inside it, single rows for its edges.
    let per_bucket: Vec<Sources> = starts
        .iter()
        .map(|start| sources(Some(*start), Some((start + interval).min(until)), exact))
        .collect();
    let covered: Vec<Option<(i64, i64)>> = per_bucket.iter().map(|s| s.hours).collect();
    let all = Sources {
        hours: covered.iter().flatten().fold(None, |all, (first, end)| {
            Some(all.map_or((*first, *end), |(f, e): (i64, i64)| {
                (f.min(*first), e.max(*end))
            }))
        }),
        rows: merge_windows(per_bucket.into_iter().flat_map(|s| s.rows).collect()),
    };
    let bucket_of = |at: f64| {
        let k = ((at - since) / interval).floor();
        (k >= 0.0 && (k as u64) < count).then_some(k as u64)
    };

    let client = store.client().await?;
    let thresholds = thresholds(&client, query).await?;
    let parts = read_parts(&client, query, &all, true).await?;
    let folded = fold(
        parts,
        false,
        &thresholds,
        // A rollup hour counts in its bucket only when the bucket covers it whole; otherwise
        // its transactions were read as single rows.
        |hour| {
            bucket_of(hour as f64).filter(|k| {
                covered[*k as usize].is_some_and(|(first, end)| first <= hour && hour < end)
            })
        },
        bucket_of,
    );
    let mut found: HashMap<u64, TransactionAggregate> = folded
        .into_iter()
        .map(|(key, summary)| finish(key, summary))
        .collect();
    Ok(starts
        .into_iter()
        .enumerate()
        .map(|(k, start)| {
            let aggregate = found.remove(&(k as u64)).unwrap_or_default();
            (start, aggregate)
        })
        .collect())
}

pub(super) async fn duration_histogram(
    store: &PgStore,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    if buckets == 0 {
        return Ok(Vec::new());
    }
    let client = store.client().await?;
    let clause = Clause::transactions(query);
    let range = clause
        .query(
            &client,
            &format!(
                "SELECT MIN(t.duration_ms), MAX(t.duration_ms), COUNT(*)
                 FROM transactions t WHERE {}",
                clause.sql
            ),
            "measuring transaction durations",
        )
        .await?;
    let Some(row) = range.first() else {
        return Ok(Vec::new());
    };
    let (min, max, total): (Option<f64>, Option<f64>, i64) =
        (get(row, 0)?, get(row, 1)?, get(row, 2)?);
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(Vec::new());
    };
    let width = (max - min) / f64::from(buckets);
    let mut counts = vec![0u64; buckets as usize];
    if width > 0.0 {
        let mut clause = Clause::transactions(query);
        let min_param = clause.bind(min);
        let width_param = clause.bind(width);
        let last = clause.bind(i64::from(buckets) - 1);
        let rows = clause
            .query(
                &client,
                &format!(
                    "SELECT LEAST(FLOOR((t.duration_ms - {min_param}) / {width_param})::BIGINT,
                                  {last}) AS bin, COUNT(*)
                     FROM transactions t WHERE {} GROUP BY bin",
                    clause.sql
                ),
                "binning transaction durations",
            )
            .await?;
        for row in &rows {
            let bin: i64 = get(row, 0)?;
            let count: i64 = get(row, 1)?;
            if let Some(slot) = usize::try_from(bin).ok().and_then(|b| counts.get_mut(b)) {
                *slot += count as u64;
            }
        }
    } else {
        // Every match took the same time.
        counts[0] = total as u64;
    }
    Ok(counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| {
            let from = min + width * i as f64;
            let to = if i + 1 == buckets as usize {
                max
            } else {
                min + width * (i + 1) as f64
            };
            (from, to, count)
        })
        .collect())
}

/// `(op, group hash)`; the hash is `""` when grouped by op only.
type SpanKey = (String, String);
/// `(count, total ms, segments)`.
type SpanTotals = (i64, f64, i64);

pub(super) async fn span_aggregates(
    store: &PgStore,
    query: &TransactionQuery,
    by_group: bool,
    op_prefix: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    let client = store.client().await?;
    let sources = sources(query.since, query.until, !query.conditions.is_empty());
    let (group_column, rollup_group) = if by_group {
        ("s.group_hash", "r.group_hash")
    } else {
        ("''", "''")
    };
    let mut totals: HashMap<SpanKey, SpanTotals> = HashMap::new();
    let mut add = |rows: Vec<Row>| -> StoreResult<()> {
        for row in &rows {
            let entry = totals.entry((get(row, 0)?, get(row, 1)?)).or_default();
            entry.0 += get::<i64>(row, 2)?;
            entry.1 += get::<f64>(row, 3)?;
            entry.2 += get::<i64>(row, 4)?;
        }
        Ok(())
    };
    if let Some(hours) = sources.hours {
        let mut clause = Clause::new();
        clause.scope(query, "r.project_id", "r.environment", "r.transaction_name");
        clause.hours("r.hour", hours);
        if let Some(prefix) = op_prefix {
            let prefix = clause.bind(prefix.to_owned());
            clause.and(&format!("starts_with(r.op, {prefix})"));
        }
        add(clause
            .query(
                &client,
                &format!(
                    "SELECT r.op, {rollup_group}, SUM(r.count)::BIGINT, SUM(r.total_ms),
                         SUM(r.segments)::BIGINT
                     FROM span_rollups r WHERE {} GROUP BY 1, 2",
                    clause.sql
                ),
                "reading span rollups",
            )
            .await?)?;
    }
    if !sources.rows.is_empty() {
        let mut clause = Clause::new();
        clause.scope(
            query,
            "s.project_id",
            "COALESCE(t.environment, '')",
            "s.transaction_name",
        );
        clause.conditions(query);
        clause.windows("s.start_ts", &sources.rows);
        if let Some(prefix) = op_prefix {
            let prefix = clause.bind(prefix.to_owned());
            clause.and(&format!("starts_with(s.op, {prefix})"));
        }
        add(clause
            .query(
                &client,
                &format!(
                    "SELECT s.op, {group_column}, COUNT(*), SUM(s.duration_ms),
                         COUNT(DISTINCT s.trace_id || ':' || s.segment_id)
                     FROM spans s LEFT JOIN transactions t ON t.project_id = s.project_id
                         AND t.trace_id = s.trace_id AND t.span_id = s.segment_id
                     WHERE {} GROUP BY 1, 2",
                    clause.sql
                ),
                "reading spans",
            )
            .await?)?;
    }

    let mut aggregates: Vec<(SpanKey, SpanTotals)> = totals.into_iter().collect();
    aggregates.sort_by(|(a_key, a), (b_key, b)| b.1.total_cmp(&a.1).then_with(|| a_key.cmp(b_key)));
    aggregates.truncate(usize::try_from(limit).unwrap_or(usize::MAX));

    let texts: HashMap<String, String> = if by_group && !aggregates.is_empty() {
        let hashes: Vec<&str> = aggregates
            .iter()
            .map(|((_, hash), _)| hash.as_str())
            .collect();
        sql::query(
            &client,
            "SELECT DISTINCT ON (group_hash) group_hash, normalized FROM span_groups
             WHERE group_hash = ANY($1)
               AND project_id IN (SELECT id FROM projects WHERE organization_id = $2)
             ORDER BY group_hash, project_id",
            &[&hashes, &query.organization_id],
            "naming span groups",
        )
        .await?
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect::<StoreResult<_>>()?
    } else {
        HashMap::new()
    };
    Ok(aggregates
        .into_iter()
        .map(|((op, hash), (count, total_ms, segments))| SpanAggregate {
            op,
            group: texts.get(&hash).cloned().unwrap_or_default(),
            count: count.max(0) as u64,
            total_ms,
            transactions: segments.max(0) as u64,
        })
        .collect())
}

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
