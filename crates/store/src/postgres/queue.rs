//! The ingest queue on PostgreSQL: a table that every node enqueues into and claims from.
//!
//! - **Enqueue** is durable when it returns: the row is in a committed transaction, and every
//!   connection runs with `synchronous_commit=on` (see `pool.rs`). Concurrent enqueues share a
//!   transaction (group commit): a few writer tasks each take every envelope waiting when they
//!   wake and insert them with one statement, so a thousand concurrent requests cost a handful
//!   of commits, not a thousand. Bodies are zstd-compressed on the blocking pool first, as on
//!   SQLite.
//! - **Claim** leases the oldest free rows to one worker on any node with
//!   `FOR UPDATE SKIP LOCKED` (workers never wait for each other's rows) and a `lease_until` on
//!   the database's clock, which all nodes share. A lease that runs out (its worker died, or its
//!   node was killed) makes the row claimable again; unlike SQLite's single-process file,
//!   leases are not voided when a node starts, since another node may still hold them.
//! - **Leases are short and renewed.** The database holds a claim for [`HELD_LEASE`] at a time,
//!   and a task of the claiming node extends it every [`LEASE_RENEWAL`] until the worker acks or
//!   the lease the worker asked for (minutes) runs out. A batch stuck in a live node is still
//!   held as long as the worker asked; the batches of a node killed with `kill -9` (or losing
//!   its database connection) are claimable by the other nodes seconds later, not minutes.
//!   Renewal losing a race (a pause longer than `HELD_LEASE`) costs work, not correctness: the
//!   batch is processed twice and counted once, since writing events is idempotent.
//! - **Ack** deletes the rows.
//! - **Stats** are counted in the database at most once a second per node
//!   ([`STATS_REFRESH`]), and moved in between by this node's own enqueues and acks: the
//!   accept path asks for them on every request, and `count(*)` over a deep queue is not free.
//!   Other nodes' changes show up within a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::error::DbContext;
use super::sql::{self, get, Pipeline};
use crate::payload::{compress_envelope, EnvelopeDecoder};
use crate::queue::{ClaimedEnvelope, IngestQueue, QueueStats, QueuedEnvelope};
use crate::{StoreError, StoreResult};

/// Envelopes inserted by one statement at most.
const MAX_PER_COMMIT: usize = 1024;
/// Writer tasks: while one commits, another gathers the next group.
const WRITERS: usize = 2;
/// Envelopes waiting for a writer before `enqueue` itself waits.
const CHANNEL_CAPACITY: usize = 8192;
/// How old the database's count may be before `stats` counts again.
pub const STATS_REFRESH: Duration = Duration::from_secs(1);
/// How far ahead a claim's lease runs in the database at a time (while the claiming node lives,
/// it is renewed): how long a dead node's batch waits before another node may take it.
pub(crate) const HELD_LEASE: Duration = Duration::from_secs(15);
/// How often a node renews the leases of its held claims: several renewals fit in a
/// [`HELD_LEASE`], so a slow round trip or two do not lose one.
pub(crate) const LEASE_RENEWAL: Duration = Duration::from_secs(3);

/// [`IngestQueue`] on a PostgreSQL table shared by every node.
#[derive(Clone)]
pub struct PgQueue {
    enqueues: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

/// What the writer tasks and the callers share.
struct Shared {
    pool: Pool,
    stats: Mutex<CachedStats>,
    /// Held while counting, so that concurrent `stats` calls count once.
    counting: tokio::sync::Mutex<()>,
    commits: AtomicU64,
    /// Rows this node claimed and has not acknowledged, with when the lease the worker asked
    /// for ends: renewed until then.
    held: Mutex<HashMap<i64, Instant>>,
}

#[derive(Default)]
struct CachedStats {
    stats: QueueStats,
    counted_at: Option<Instant>,
}

/// An envelope waiting for a writer.
struct Pending {
    envelope: QueuedEnvelope,
    compressed: Vec<u8>,
    reply: oneshot::Sender<StoreResult<i64>>,
}

impl PgQueue {
    /// A queue on the database of `pool`, whose schema must be migrated (the store's
    /// `connect` does that). Starts the writer tasks: call it inside the tokio runtime.
    pub(crate) async fn start(pool: Pool) -> StoreResult<PgQueue> {
        let shared = Arc::new(Shared {
            pool,
            stats: Mutex::new(CachedStats::default()),
            counting: tokio::sync::Mutex::new(()),
            commits: AtomicU64::new(0),
            held: Mutex::default(),
        });
        count(&shared).await?;
        tokio::spawn(renew_leases(Arc::downgrade(&shared)));
        let (enqueues, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(run_writer(Arc::clone(&receiver), Arc::clone(&shared)));
        }
        Ok(PgQueue { enqueues, shared })
    }

    /// Insert transactions committed by this node's writers: fewer than enqueues under
    /// concurrency, which is the point of group commit.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl IngestQueue for PgQueue {
    async fn enqueue(&self, envelope: QueuedEnvelope) -> StoreResult<i64> {
        let (envelope, compressed) = tokio::task::spawn_blocking(move || {
            compress_envelope(&envelope.body).map(|compressed| (envelope, compressed))
        })
        .await
        .map_err(|e| StoreError::Database(format!("queue task failed: {e}")))??;
        let (reply, answer) = oneshot::channel();
        self.enqueues
            .send(Pending {
                envelope,
                compressed,
                reply,
            })
            .await
            .map_err(|_| StoreError::Database("the queue writers have stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the queue writer stopped before answering".into()))?
    }

    async fn claim(&self, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>> {
        let client = self.shared.pool.get().await.db("claiming queue entries")?;
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        // A NaN or negative lease ends at once.
        let lease_secs = lease_secs.max(0.0);
        let held_secs = lease_secs.min(HELD_LEASE.as_secs_f64());
        let asked_at = Instant::now();
        let rows = sql::query(
            &client,
            "WITH picked AS (
                 SELECT id FROM ingest_queue WHERE lease_until <= now()
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
             )
             UPDATE ingest_queue q SET
                 lease_until = now() + make_interval(secs => $2),
                 attempts = q.attempts + 1
             FROM picked WHERE q.id = picked.id
             RETURNING q.id, q.attempts, q.project_id, q.received, q.client_ip, q.client_sdk,
                       q.body, q.body_size",
            &[&max, &held_secs],
            "claiming queue entries",
        )
        .await?;
        drop(client);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        if lease_secs > held_secs {
            // An infinite lease (or one past the clock's range) is renewed for as long as the
            // node lives.
            let forever = asked_at + Duration::from_secs(100 * 365 * 24 * 3600);
            let until = Duration::try_from_secs_f64(lease_secs)
                .ok()
                .and_then(|lease| asked_at.checked_add(lease))
                .unwrap_or(forever);
            let mut held = lock(&self.shared.held);
            for row in &rows {
                held.insert(get(row, 0)?, until);
            }
        }
        tokio::task::spawn_blocking(move || {
            // One zstd context for the whole claim.
            let mut decoder = EnvelopeDecoder::new()?;
            let mut claimed = rows
                .iter()
                .map(|row| {
                    let id: i64 = get(row, 0)?;
                    let compressed: &[u8] = get(row, 6)?;
                    Ok(ClaimedEnvelope {
                        id,
                        attempts: get(row, 1)?,
                        envelope: QueuedEnvelope {
                            project_id: get(row, 2)?,
                            received: get(row, 3)?,
                            client_ip: get(row, 4)?,
                            client_sdk: get(row, 5)?,
                            body: decoder.decode(id, compressed, get(row, 7)?)?,
                        },
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            // RETURNING does not promise an order.
            claimed.sort_by_key(|c| c.id);
            Ok(claimed)
        })
        .await
        .map_err(|e| StoreError::Database(format!("queue task failed: {e}")))?
    }

    async fn ack(&self, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        {
            let mut held = lock(&self.shared.held);
            for id in ids {
                held.remove(id);
            }
        }
        let client = self
            .shared
            .pool
            .get()
            .await
            .db("acknowledging queue entries")?;
        // Two statements, each its own transaction, in one round trip: the second sees the
        // first's deletes.
        let mut pipeline = Pipeline::default();
        pipeline.push(
            "DELETE FROM ingest_queue WHERE id = ANY($1::BIGINT[]) RETURNING stored_size",
            vec![&ids],
            "acknowledging queue entries",
        );
        pipeline.push(
            "SELECT received FROM ingest_queue ORDER BY id LIMIT 1",
            vec![],
            "reading the oldest queue entry",
        );
        let results = pipeline
            .run(&client)
            .await
            .map_err(|failure| failure.into_store_error())?;
        let removed = results[0].len() as u64;
        let bytes = results[0]
            .iter()
            .map(|row| get::<i64>(row, 0))
            .sum::<StoreResult<i64>>()?;
        let oldest = results[1].first().map(|row| get(row, 0)).transpose()?;
        let mut cached = lock(&self.shared.stats);
        let stats = &mut cached.stats;
        stats.depth = stats.depth.saturating_sub(removed);
        stats.bytes = stats
            .bytes
            .saturating_sub(u64::try_from(bytes).unwrap_or(0));
        stats.oldest_received = oldest;
        Ok(())
    }

    async fn stats(&self) -> StoreResult<QueueStats> {
        let fresh = |cached: &CachedStats| {
            cached
                .counted_at
                .is_some_and(|at| at.elapsed() < STATS_REFRESH)
        };
        if !fresh(&lock(&self.shared.stats)) {
            let _counting = self.shared.counting.lock().await;
            // Another caller may have counted while this one waited.
            if !fresh(&lock(&self.shared.stats)) {
                count(&self.shared).await?;
            }
        }
        Ok(lock(&self.shared.stats).stats)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is plain numbers, valid even if a holder panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Extends the database leases of this node's held claims every [`LEASE_RENEWAL`], each by
/// [`HELD_LEASE`] at most and never past the end of the lease its worker asked for. Ends when
/// the queue is dropped.
async fn renew_leases(shared: Weak<Shared>) {
    let mut ticks = tokio::time::interval(LEASE_RENEWAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let (ids, secs): (Vec<i64>, Vec<f64>) = {
            let mut held = lock(&shared.held);
            held.retain(|_, until| *until > now);
            held.iter()
                .map(|(id, until)| {
                    let left = until.saturating_duration_since(now).min(HELD_LEASE);
                    (*id, left.as_secs_f64())
                })
                .unzip()
        };
        if ids.is_empty() {
            continue;
        }
        if let Err(err) = renew(&shared, &ids, &secs).await {
            // The next tick tries again; until the lease runs out, nothing is lost.
            tracing::warn!(%err, claims = ids.len(), "renewing queue leases failed");
        }
    }
}

/// Sets each row's lease to end `secs` from now on the database's clock.
async fn renew(shared: &Shared, ids: &[i64], secs: &[f64]) -> StoreResult<()> {
    let client = shared.pool.get().await.db("renewing queue leases")?;
    sql::execute(
        &client,
        // SKIP LOCKED: a row being acknowledged (or claimed elsewhere) needs no renewal, and
        // never waiting for a row lock means never waiting in a cycle with an ack.
        "WITH free AS (
             SELECT id FROM ingest_queue WHERE id = ANY($1::BIGINT[])
             FOR UPDATE SKIP LOCKED
         )
         UPDATE ingest_queue q SET lease_until = now() + make_interval(secs => u.secs)
         FROM free JOIN UNNEST($1::BIGINT[], $2::DOUBLE PRECISION[]) AS u(id, secs)
              ON u.id = free.id
         WHERE q.id = free.id",
        &[&ids, &secs],
        "renewing queue leases",
    )
    .await?;
    Ok(())
}

/// Counts the queue in the database into the cached stats.
async fn count(shared: &Shared) -> StoreResult<()> {
    let client = shared.pool.get().await.db("measuring the queue")?;
    let row = sql::query_one(
        &client,
        "SELECT count(*), coalesce(sum(stored_size), 0)::BIGINT,
                (SELECT received FROM ingest_queue ORDER BY id LIMIT 1)
         FROM ingest_queue",
        &[],
        "measuring the queue",
    )
    .await?;
    let stats = QueueStats {
        depth: u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0),
        bytes: u64::try_from(get::<i64>(&row, 1)?).unwrap_or(0),
        oldest_received: get(&row, 2)?,
    };
    *lock(&shared.stats) = CachedStats {
        stats,
        counted_at: Some(Instant::now()),
    };
    Ok(())
}

/// A writer task: waits for an envelope, takes every other one already waiting, inserts them
/// in one transaction, answers them all. Ends when every [`PgQueue`] is dropped.
async fn run_writer(
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    shared: Arc<Shared>,
) {
    loop {
        let group = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_PER_COMMIT {
                match receiver.try_recv() {
                    Ok(pending) => group.push(pending),
                    Err(_) => break,
                }
            }
            group
        };
        match insert(&shared, &group).await {
            Ok(ids) => {
                {
                    let mut cached = lock(&shared.stats);
                    let stats = &mut cached.stats;
                    stats.depth += group.len() as u64;
                    stats.bytes += group.iter().map(|p| p.compressed.len() as u64).sum::<u64>();
                    let oldest = group.iter().map(|p| p.envelope.received).reduce(f64::min);
                    stats.oldest_received = match (stats.oldest_received, oldest) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                // A caller that went away (its request was cancelled) is not an error: the
                // envelope is committed either way.
                for (pending, id) in group.into_iter().zip(ids) {
                    drop(pending.reply.send(Ok(id)));
                }
            }
            Err(err) => {
                tracing::error!(%err, envelopes = group.len(), "queueing envelopes failed");
                let message = err.to_string();
                for pending in group {
                    drop(
                        pending
                            .reply
                            .send(Err(StoreError::Database(message.clone()))),
                    );
                }
            }
        }
    }
}

/// Inserts a group with one statement (so one transaction and one commit); the new ids in the
/// group's order. The ids are drawn first, numbered by position, so each caller gets its own.
async fn insert(shared: &Shared, group: &[Pending]) -> StoreResult<Vec<i64>> {
    let project_ids: Vec<i64> = group.iter().map(|p| p.envelope.project_id).collect();
    let received: Vec<f64> = group.iter().map(|p| p.envelope.received).collect();
    let client_ips: Vec<Option<&str>> = group
        .iter()
        .map(|p| p.envelope.client_ip.as_deref())
        .collect();
    let client_sdks: Vec<Option<&str>> = group
        .iter()
        .map(|p| p.envelope.client_sdk.as_deref())
        .collect();
    let bodies: Vec<&[u8]> = group.iter().map(|p| p.compressed.as_slice()).collect();
    let body_sizes: Vec<i64> = group
        .iter()
        .map(|p| i64::try_from(p.envelope.body.len()).unwrap_or(i64::MAX))
        .collect();
    let client = shared.pool.get().await.db("queueing envelopes")?;
    let rows = sql::query(
        &client,
        "WITH ids AS MATERIALIZED (
             SELECT nextval(pg_get_serial_sequence('ingest_queue', 'id')) AS id, n
             FROM generate_series(1, cardinality($1::BIGINT[])) AS n
         ), inserted AS (
             INSERT INTO ingest_queue (id, project_id, received, client_ip, client_sdk, body,
                                       body_size, stored_size)
             SELECT ids.id, u.project_id, u.received, u.client_ip, u.client_sdk, u.body,
                    u.body_size, octet_length(u.body)
             FROM UNNEST($1::BIGINT[], $2::DOUBLE PRECISION[], $3::TEXT[], $4::TEXT[],
                         $5::BYTEA[], $6::BIGINT[])
                  WITH ORDINALITY AS u(project_id, received, client_ip, client_sdk, body,
                                       body_size, n)
             JOIN ids ON ids.n = u.n
         )
         SELECT id FROM ids ORDER BY n",
        &[
            &project_ids,
            &received,
            &client_ips,
            &client_sdks,
            &bodies,
            &body_sizes,
        ],
        "queueing envelopes",
    )
    .await?;
    shared.commits.fetch_add(1, Ordering::Relaxed);
    let ids = rows
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<Vec<i64>>>()?;
    if ids.len() != group.len() {
        return Err(StoreError::Database(format!(
            "queueing envelopes: {} ids for {} envelopes",
            ids.len(),
            group.len()
        )));
    }
    Ok(ids)
}
