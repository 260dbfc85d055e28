//! The ingest queue on SQLite, in a database file of its own (`queue.sqlite3`).
//!
//! SQLite has one writer per file. With the queue in the events' file, every accepted request
//! would wait behind the worker's batch transaction; in its own file, accepting and processing
//! write in parallel. One thread owns the queue's connection and applies commands in batches:
//! whatever enqueues, claims and acks are waiting when it wakes go into one transaction and one
//! sync (group commit), so a thousand concurrent requests cost a handful of fsyncs, not a
//! thousand. Bodies are zstd-compressed by the caller before they reach that thread (on its own
//! task for typical sizes, on the blocking pool for large ones), so compression runs in parallel
//! too.
//!
//! The file belongs to one process: leases left by a previous process are void at open, and
//! everything not acknowledged is claimable again.

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::connection;
use super::error::DbContext;
use super::now;
use crate::payload::{compress_envelope, EnvelopeDecoder};
use crate::queue::{ClaimedEnvelope, IngestQueue, QueueStats, QueuedEnvelope};
use crate::{StoreError, StoreResult};

/// Commands applied in one transaction at most.
const MAX_COMMANDS_PER_COMMIT: usize = 1024;

/// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;
/// How often a drained queue's file may be shrunk at most.
const SHRINK_INTERVAL: Duration = Duration::from_secs(5);
/// Free pages (4 KiB each) below which a drained queue's file is left as it is.
const SHRINK_MIN_FREE_PAGES: i64 = 1024;

/// Bodies up to this size are compressed on the caller's task.
const INLINE_COMPRESSION_BYTES: usize = 128 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL,
    received      REAL    NOT NULL,
    client_ip     TEXT,
    client_sdk    TEXT,
    body          BLOB    NOT NULL,
    body_size     INTEGER NOT NULL,
    claimed_until REAL    NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// [`IngestQueue`] on its own SQLite file.
#[derive(Clone)]
pub struct SqliteQueue {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

/// Counters the writer thread keeps and readers read without touching the database.
struct Shared {
    depth: AtomicU64,
    bytes: AtomicU64,
    commits: AtomicU64,
    /// Receive time of the oldest entry, as f64 bits; NaN bits when empty.
    oldest_received: AtomicI64,
}

struct Encoded {
    envelope: QueuedEnvelope,
    compressed: Vec<u8>,
}

enum Command {
    Enqueue(Box<Encoded>, oneshot::Sender<StoreResult<i64>>),
    Claim(
        usize,
        f64,
        oneshot::Sender<StoreResult<Vec<ClaimedEnvelope>>>,
    ),
    Ack(Vec<i64>, oneshot::Sender<StoreResult<()>>),
}

impl SqliteQueue {
    /// Opens (creating) the queue file and starts its writer thread. Blocking: call at start.
    pub fn open(path: &Path) -> StoreResult<SqliteQueue> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("creating the directory {}: {e}", dir.display()))
            })?;
        }
        let writer = connection::open_writer(path)?;
        // Incremental auto-vacuum lets the file shrink back once a backlog has drained; it can
        // only be turned on before the first table exists, or by rewriting the file (below).
        let auto_vacuum: i64 = writer
            .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
            .db("reading auto_vacuum")?;
        if auto_vacuum != AUTO_VACUUM_INCREMENTAL {
            writer
                .pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)
                .db("setting auto_vacuum")?;
        }
        writer
            .execute_batch(SCHEMA)
            .db("creating the queue table")?;
        // Leases of a previous process are void: this process owns the file now.
        writer
            .execute(
                "UPDATE queue SET claimed_until = 0 WHERE claimed_until > 0",
                [],
            )
            .db("releasing old leases")?;
        let (depth, bytes): (i64, i64) = writer
            .query_row(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM queue",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .db("measuring the queue")?;
        let shared = Arc::new(Shared {
            depth: AtomicU64::new(u64::try_from(depth).unwrap_or(0)),
            bytes: AtomicU64::new(u64::try_from(bytes).unwrap_or(0)),
            commits: AtomicU64::new(0),
            oldest_received: AtomicI64::new(0),
        });
        if auto_vacuum != AUTO_VACUUM_INCREMENTAL && depth == 0 {
            // A queue file made before auto-vacuum: rewriting it is quick while it is empty.
            writer.execute_batch("VACUUM").db("vacuuming the queue")?;
        }
        refresh_oldest(&writer, &shared)?;
        let (commands, receiver) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("vigil-queue-writer".into())
            .spawn(move || run_writer(writer, receiver, &thread_shared))
            .map_err(|e| StoreError::Database(format!("starting the queue writer: {e}")))?;
        Ok(SqliteQueue { commands, shared })
    }

    /// Transactions committed since open (each one sync): fewer than enqueues under
    /// concurrency, which is the point of group commit.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Command,
    ) -> StoreResult<oneshot::Receiver<StoreResult<T>>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| StoreError::Database("the queue writer has stopped".into()))?;
        Ok(answer)
    }
}

async fn answer<T>(receiver: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
    receiver
        .await
        .map_err(|_| StoreError::Database("the queue writer stopped before answering".into()))?
}

#[async_trait]
impl IngestQueue for SqliteQueue {
    async fn enqueue(&self, envelope: QueuedEnvelope) -> StoreResult<i64> {
        let inline = envelope.body.len() <= INLINE_COMPRESSION_BYTES;
        let encode = move || -> StoreResult<Encoded> {
            let compressed = compress_envelope(&envelope.body)?;
            Ok(Encoded {
                envelope,
                compressed,
            })
        };
        // A typical envelope compresses in microseconds, less than a hop to the blocking pool
        // costs; large ones go there so they do not stall the caller's runtime thread.
        let encoded = if inline {
            encode()?
        } else {
            tokio::task::spawn_blocking(encode)
                .await
                .map_err(|e| StoreError::Database(format!("queue task failed: {e}")))??
        };
        answer(self.send(|reply| Command::Enqueue(Box::new(encoded), reply))?).await
    }

    async fn claim(&self, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>> {
        answer(self.send(|reply| Command::Claim(max, lease_secs, reply))?).await
    }

    async fn ack(&self, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        answer(self.send(|reply| Command::Ack(ids.to_vec(), reply))?).await
    }

    async fn stats(&self) -> StoreResult<QueueStats> {
        let oldest = f64::from_bits(self.shared.oldest_received.load(Ordering::Relaxed) as u64);
        Ok(QueueStats {
            depth: self.shared.depth.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
            oldest_received: (!oldest.is_nan() && self.shared.depth.load(Ordering::Relaxed) > 0)
                .then_some(oldest),
        })
    }
}

/// The writer thread: waits for a command, takes every other one already waiting, applies
/// them in one transaction, answers them all.
fn run_writer(mut conn: Connection, receiver: mpsc::Receiver<Command>, shared: &Shared) {
    let mut last_shrink: Option<Instant> = None;
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_COMMANDS_PER_COMMIT {
            match receiver.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        apply_batch(&mut conn, batch, shared);
        let due = last_shrink.is_none_or(|at| at.elapsed() >= SHRINK_INTERVAL);
        if due && shared.depth.load(Ordering::Relaxed) == 0 {
            match shrink(&conn) {
                Ok(true) => last_shrink = Some(Instant::now()),
                Ok(false) => {}
                Err(err) => {
                    last_shrink = Some(Instant::now());
                    tracing::warn!(%err, "shrinking the queue file");
                }
            }
        }
    }
}

/// Gives the free pages of a drained queue back to the file system, when there are enough of
/// them to matter: after a burst, the file would otherwise keep its peak size for good. `true`
/// when it did.
fn shrink(conn: &Connection) -> StoreResult<bool> {
    let free_pages: i64 = conn
        .query_row("PRAGMA freelist_count", [], |row| row.get(0))
        .db("reading the queue's free pages")?;
    if free_pages >= SHRINK_MIN_FREE_PAGES {
        // The pragma frees one page per step: run it to the end.
        conn.prepare("PRAGMA incremental_vacuum")
            .and_then(|mut stmt| {
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
                Ok(())
            })
            .db("vacuuming the queue")?;
        // The file shrinks when the WAL is copied back into it.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .db("checkpointing the queue")?;
        tracing::debug!(free_pages, "queue file shrunk");
        return Ok(true);
    }
    Ok(false)
}

/// What one command produced inside the transaction, sent once it is committed.
enum Outcome {
    Enqueued(i64),
    Claimed(Vec<ClaimedEnvelope>),
    Acked,
}

fn apply_batch(conn: &mut Connection, batch: Vec<Command>, shared: &Shared) {
    let mut depth_delta: i64 = 0;
    let mut bytes_delta: i64 = 0;
    let result = (|| -> StoreResult<Vec<Outcome>> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db("starting a queue transaction")?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for command in &batch {
            let outcome = match command {
                Command::Enqueue(encoded, _) => {
                    let id = insert(&tx, encoded)?;
                    depth_delta += 1;
                    bytes_delta += encoded.compressed.len() as i64;
                    Outcome::Enqueued(id)
                }
                Command::Claim(max, lease, _) => Outcome::Claimed(claim(&tx, *max, *lease)?),
                Command::Ack(ids, _) => {
                    let (count, bytes) = ack(&tx, ids)?;
                    depth_delta -= count;
                    bytes_delta -= bytes;
                    Outcome::Acked
                }
            };
            outcomes.push(outcome);
        }
        tx.commit().db("committing the queue")?;
        Ok(outcomes)
    })();
    shared.commits.fetch_add(1, Ordering::Relaxed);
    let outcomes = match result {
        Ok(outcomes) => outcomes,
        Err(err) => {
            tracing::error!(%err, "queue transaction failed");
            let message = err.to_string();
            let error = || StoreError::Database(message.clone());
            for command in batch {
                match command {
                    Command::Enqueue(_, reply) => drop(reply.send(Err(error()))),
                    Command::Claim(_, _, reply) => drop(reply.send(Err(error()))),
                    Command::Ack(_, reply) => drop(reply.send(Err(error()))),
                }
            }
            return;
        }
    };
    add(&shared.depth, depth_delta);
    add(&shared.bytes, bytes_delta);
    if let Err(err) = refresh_oldest(conn, shared) {
        tracing::warn!(%err, "reading the oldest queue entry");
    }
    for (command, outcome) in batch.into_iter().zip(outcomes) {
        // A receiver that went away (its request was cancelled) is not an error: the work is
        // committed either way.
        match (command, outcome) {
            (Command::Enqueue(_, reply), Outcome::Enqueued(id)) => drop(reply.send(Ok(id))),
            (Command::Claim(_, _, reply), Outcome::Claimed(claimed)) => {
                drop(reply.send(Ok(claimed)))
            }
            (Command::Ack(_, reply), _) => drop(reply.send(Ok(()))),
            (Command::Enqueue(_, reply), _) => {
                drop(reply.send(Err(StoreError::Database("queue outcome mismatch".into()))))
            }
            (Command::Claim(_, _, reply), _) => {
                drop(reply.send(Err(StoreError::Database("queue outcome mismatch".into()))))
            }
        }
    }
}

fn insert(tx: &Connection, encoded: &Encoded) -> StoreResult<i64> {
    let e = &encoded.envelope;
    tx.prepare_cached(
        "INSERT INTO queue (project_id, received, client_ip, client_sdk, body, body_size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                e.project_id,
                e.received,
                e.client_ip,
                e.client_sdk,
                encoded.compressed,
                i64::try_from(e.body.len()).unwrap_or(i64::MAX)
            ],
            |row| row.get(0),
        )
    })
    .db("queueing an envelope")
}

/// Leases the oldest free entries and reads them back decompressed.
fn claim(tx: &Connection, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>> {
    let now = now();
    let mut stmt = tx
        .prepare_cached(
            "UPDATE queue SET claimed_until = ?1, attempts = attempts + 1
             WHERE id IN (SELECT id FROM queue WHERE claimed_until <= ?2 ORDER BY id LIMIT ?3)
             RETURNING id, attempts, project_id, received, client_ip, client_sdk, body, body_size",
        )
        .db("claiming queue entries")?;
    let rows = stmt
        .query_map(
            params![
                now + lease_secs,
                now,
                i64::try_from(max).unwrap_or(i64::MAX)
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, f64>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Vec<u8>>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            },
        )
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .db("claiming queue entries")?;
    // One zstd context for the whole claim.
    let mut decoder = EnvelopeDecoder::new()?;
    let mut claimed = rows
        .into_iter()
        .map(
            |(id, attempts, project_id, received, client_ip, client_sdk, compressed, size)| {
                let body = decoder.decode(id, &compressed, size)?;
                Ok(ClaimedEnvelope {
                    id,
                    attempts,
                    envelope: QueuedEnvelope {
                        project_id,
                        received,
                        client_ip,
                        client_sdk,
                        body,
                    },
                })
            },
        )
        .collect::<StoreResult<Vec<_>>>()?;
    // RETURNING does not promise an order.
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Deletes acknowledged entries; returns how many there were and their stored bytes.
fn ack(tx: &Connection, ids: &[i64]) -> StoreResult<(i64, i64)> {
    let mut stmt = tx
        .prepare_cached("DELETE FROM queue WHERE id = ?1 RETURNING length(body)")
        .db("acknowledging queue entries")?;
    let (mut count, mut bytes) = (0, 0);
    for id in ids {
        let removed: Option<i64> = stmt
            .query_row([id], |row| row.get(0))
            .optional()
            .db("acknowledging queue entries")?;
        if let Some(size) = removed {
            count += 1;
            bytes += size;
        }
    }
    Ok((count, bytes))
}

fn add(counter: &AtomicU64, delta: i64) {
    if delta >= 0 {
        counter.fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
    } else {
        counter.fetch_sub(
            delta.unsigned_abs().min(counter.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
}

/// Reads the oldest entry's receive time into the shared counters.
fn refresh_oldest(conn: &Connection, shared: &Shared) -> StoreResult<()> {
    let oldest: Option<f64> = conn
        .query_row(
            "SELECT received FROM queue ORDER BY id LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .db("reading the oldest queue entry")?;
    shared.oldest_received.store(
        oldest.unwrap_or(f64::NAN).to_bits() as i64,
        Ordering::Relaxed,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(body: Vec<u8>) -> QueuedEnvelope {
        QueuedEnvelope {
            project_id: 1,
            received: 0.0,
            client_ip: None,
            client_sdk: None,
            body,
        }
    }

    /// Bytes that zstd cannot shrink, so that the queue file grows by their size.
    fn incompressible(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drained_queue_gives_its_pages_back() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("queue.sqlite3");
        let queue = SqliteQueue::open(&path).expect("open");
        for seed in 0..400 {
            queue
                .enqueue(envelope(incompressible(seed, 16 * 1024)))
                .await
                .expect("enqueue");
        }
        let grown = std::fs::metadata(&path).expect("file").len()
            + std::fs::metadata(dir.path().join("queue.sqlite3-wal")).map_or(0, |m| m.len());
        assert!(grown > 6 << 20, "400 × 16 KiB queued: {grown} bytes");
        let claimed = queue.claim(1000, 60.0).await.expect("claim");
        assert_eq!(claimed.len(), 400);
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        queue.ack(&ids).await.expect("ack");
        // The writer shrinks after the command that drained the queue, before the next one.
        queue.claim(1, 60.0).await.expect("claim");
        let shrunk = std::fs::metadata(&path).expect("file").len()
            + std::fs::metadata(dir.path().join("queue.sqlite3-wal")).map_or(0, |m| m.len());
        assert!(shrunk < 1 << 20, "drained queue still takes {shrunk} bytes");
        assert_eq!(queue.stats().await.expect("stats").depth, 0);
    }
}
