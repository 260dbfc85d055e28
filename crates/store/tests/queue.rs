//! The ingest queue's contract, on every backend: durable when `enqueue` returns, concurrent
//! enqueues share commits, claims lease the oldest entries, acks remove them, and what was not
//! acknowledged is there again after a restart.
//!
//! Every case is generic over a [`Backend`] that opens the queue (again, for a restart), and
//! [`queue_suite!`] turns the list of cases into `#[tokio::test]`s for one backend, as the
//! store's suite does. PostgreSQL runs on a fresh database per test on the server
//! `VIGIL_TEST_DATABASE_URL` names (without it those tests fail, never skip). Checks of several
//! PostgreSQL nodes sharing one queue are at the bottom.

use std::future::Future;
use std::sync::Arc;

use tempfile::TempDir;
use vigil_store::postgres::{PgQueue, TestDatabase};
use vigil_store::sqlite::LogQueue;
use vigil_store::{IngestQueue, QueuedEnvelope};

/// Where a queue lives, so that it can be opened again as a restarted process would.
trait Backend {
    type Queue: IngestQueue + Clone;
    /// SQLite's queue file belongs to one process, so a restart voids the leases of the process
    /// before it; on PostgreSQL another node may still hold them, so they stand until they
    /// run out.
    const RESTART_VOIDS_LEASES: bool;
    fn open(&self) -> impl Future<Output = Self::Queue> + Send;
    /// Transactions committed by this queue (group commit).
    fn commits(queue: &Self::Queue) -> u64;
}

struct Sqlite(TempDir);

impl Backend for Sqlite {
    type Queue = LogQueue;
    const RESTART_VOIDS_LEASES: bool = true;
    async fn open(&self) -> LogQueue {
        LogQueue::open(self.0.path()).unwrap()
    }
    fn commits(queue: &LogQueue) -> u64 {
        queue.commits()
    }
}

async fn sqlite_backend() -> Sqlite {
    Sqlite(TempDir::new().unwrap())
}

struct Postgres(TestDatabase);

impl Backend for Postgres {
    type Queue = PgQueue;
    const RESTART_VOIDS_LEASES: bool = false;
    async fn open(&self) -> PgQueue {
        PgQueue::connect(self.0.url()).await.unwrap()
    }
    fn commits(queue: &PgQueue) -> u64 {
        queue.commits()
    }
}

async fn postgres_backend() -> Postgres {
    Postgres(
        TestDatabase::create()
            .await
            .unwrap_or_else(|err| panic!("{err}")),
    )
}

/// One `#[tokio::test]` per case, on the backend `$factory` makes.
macro_rules! queue_suite {
    ($backend:ident, $factory:path) => {
        mod $backend {
            queue_suite!(@cases $factory;
                enqueued_entries_are_claimed_oldest_first_and_acked_away,
                expired_leases_are_claimable_again,
                unacknowledged_entries_survive_a_restart,
                concurrent_enqueues_share_commits,
            );
        }
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $factory().await;
                super::cases::$case(&backend).await;
            }
        )+
    };
}

queue_suite!(sqlite, super::sqlite_backend);
queue_suite!(postgres, super::postgres_backend);

fn envelope(n: usize) -> QueuedEnvelope {
    QueuedEnvelope {
        project_id: 1,
        received: 1_700_000_000.0 + n as f64,
        client_ip: Some("127.0.0.1".into()),
        client_sdk: Some("sentry.python/2.75.0".into()),
        body: format!("{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"hello {n}\"}}\n").into_bytes(),
    }
}

mod cases {
    use super::*;

    pub async fn enqueued_entries_are_claimed_oldest_first_and_acked_away<B: Backend>(backend: &B) {
        let queue = backend.open().await;
        for n in 0..5 {
            queue.enqueue(envelope(n)).await.unwrap();
        }
        let stats = queue.stats().await.unwrap();
        assert_eq!(stats.depth, 5);
        assert!(stats.bytes > 0);
        assert_eq!(stats.oldest_received, Some(1_700_000_000.0));

        let first = queue.claim(3, 60.0).await.unwrap();
        assert_eq!(
            first.iter().map(|c| c.envelope.clone()).collect::<Vec<_>>(),
            (0..3).map(envelope).collect::<Vec<_>>()
        );
        assert!(first.iter().all(|c| c.attempts == 1));
        // Leased entries are not handed out twice.
        let second = queue.claim(10, 60.0).await.unwrap();
        assert_eq!(second.len(), 2);
        assert_eq!(second[0].envelope, envelope(3));

        queue
            .ack(&first.iter().map(|c| c.id).collect::<Vec<_>>())
            .await
            .unwrap();
        let stats = queue.stats().await.unwrap();
        assert_eq!(stats.depth, 2);
        assert_eq!(stats.oldest_received, Some(1_700_000_003.0));
        queue
            .ack(&second.iter().map(|c| c.id).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(queue.stats().await.unwrap().depth, 0);
        assert_eq!(queue.stats().await.unwrap().oldest_received, None);
        assert!(queue.claim(10, 60.0).await.unwrap().is_empty());
    }

    pub async fn expired_leases_are_claimable_again<B: Backend>(backend: &B) {
        let queue = backend.open().await;
        queue.enqueue(envelope(1)).await.unwrap();
        let held = queue.claim(1, 0.0).await.unwrap();
        assert_eq!(held.len(), 1);
        let again = queue.claim(1, 60.0).await.unwrap();
        assert_eq!(again.len(), 1, "a zero-second lease has expired");
        assert_eq!(again[0].id, held[0].id);
        assert_eq!(again[0].attempts, 2);
    }

    pub async fn unacknowledged_entries_survive_a_restart<B: Backend>(backend: &B) {
        {
            let queue = backend.open().await;
            for n in 0..3 {
                queue.enqueue(envelope(n)).await.unwrap();
            }
            let claimed = queue.claim(2, 600.0).await.unwrap();
            queue.ack(&[claimed[0].id]).await.unwrap();
            // claimed[1] is leased for ten minutes, and never acknowledged: the process "dies".
        }
        let queue = backend.open().await;
        assert_eq!(queue.stats().await.unwrap().depth, 2);
        let claimed = queue.claim(10, 60.0).await.unwrap();
        let envelopes: Vec<QueuedEnvelope> = claimed.iter().map(|c| c.envelope.clone()).collect();
        if B::RESTART_VOIDS_LEASES {
            assert_eq!(
                envelopes,
                vec![envelope(1), envelope(2)],
                "the previous process's lease is void"
            );
        } else {
            assert_eq!(
                envelopes,
                vec![envelope(2)],
                "the lease stands until it runs out: its holder may be another live node"
            );
        }
    }

    pub async fn concurrent_enqueues_share_commits<B: Backend>(backend: &B) {
        let queue = Arc::new(backend.open().await);
        let tasks: Vec<_> = (0..400)
            .map(|n| {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.enqueue(envelope(n)).await })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 400, "every enqueue got its own id");
        assert_eq!(queue.stats().await.unwrap().depth, 400);
        let commits = B::commits(&queue);
        assert!(
            commits < 400,
            "group commit: {commits} commits for 400 enqueues"
        );
    }
}

// --- PostgreSQL only ---------------------------------------------------------------------------

/// Two nodes claim from one queue at the same time: every entry is handed to exactly one of
/// them, and each node's stats see the other's work once they are counted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_never_claim_the_same_entry() {
    let backend = postgres_backend().await;
    let (a, b) = (backend.open().await, backend.open().await);
    for n in 0..300 {
        let node = if n % 2 == 0 { &a } else { &b };
        node.enqueue(envelope(n)).await.unwrap();
    }
    let drain = |queue: PgQueue| async move {
        let mut ids = Vec::new();
        loop {
            let claimed = queue.claim(7, 60.0).await.unwrap();
            if claimed.is_empty() {
                return ids;
            }
            ids.extend(claimed.iter().map(|c| c.id));
        }
    };
    let (from_a, from_b) = tokio::join!(drain(a.clone()), drain(b.clone()));
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "both nodes worked"
    );
    let mut all: Vec<i64> = from_a.iter().chain(&from_b).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), from_a.len() + from_b.len(), "no entry twice");
    assert_eq!(all.len(), 300, "every entry once");

    a.ack(&from_a).await.unwrap();
    tokio::time::sleep(vigil_store::postgres::STATS_REFRESH).await;
    assert_eq!(b.stats().await.unwrap().depth, 300 - from_a.len() as u64);
    b.ack(&from_b).await.unwrap();
    assert_eq!(b.stats().await.unwrap().depth, 0);
}

// --- SQLite's log only ---------------------------------------------------------------------------

/// The log's segment files in a data dir, oldest first.
fn segment_files(data_dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("queue"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

async fn claim_all(queue: &LogQueue) -> Vec<QueuedEnvelope> {
    let claimed = queue.claim(100, 60.0).await.unwrap();
    claimed.into_iter().map(|c| c.envelope).collect()
}

/// A crash while a batch was being written leaves part of its record: reopening cuts it off (it
/// was never synced, so never answered), and the log goes on after the whole records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_reopens_after_a_torn_tail() {
    let dir = TempDir::new().unwrap();
    let whole_len = {
        let queue = LogQueue::open(dir.path()).unwrap();
        for n in 0..2 {
            queue.enqueue(envelope(n)).await.unwrap();
        }
        let whole_len = std::fs::metadata(&segment_files(dir.path())[0])
            .unwrap()
            .len();
        queue.enqueue(envelope(2)).await.unwrap();
        whole_len
    };
    let segment = segment_files(dir.path()).pop().unwrap();
    let full_len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(full_len - 7).unwrap();
    drop(file);

    let queue = LogQueue::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        whole_len,
        "the torn record is cut off"
    );
    assert_eq!(queue.stats().await.unwrap().depth, 2);
    queue.enqueue(envelope(3)).await.unwrap();
    drop(queue);
    let queue = LogQueue::open(dir.path()).unwrap();
    assert_eq!(
        claim_all(&queue).await,
        vec![envelope(0), envelope(1), envelope(3)]
    );
}

/// A record damaged on disk is skipped (and logged), not a panic, and the records after it are
/// read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_skips_a_corrupt_record() {
    let dir = TempDir::new().unwrap();
    {
        let queue = LogQueue::open(dir.path()).unwrap();
        for n in 0..3 {
            queue.enqueue(envelope(n)).await.unwrap();
        }
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // The three records are about the same size: the middle byte is in the second.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&segment, &bytes).unwrap();

    let queue = LogQueue::open(dir.path()).unwrap();
    assert_eq!(claim_all(&queue).await, vec![envelope(0), envelope(2)]);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        bytes.len() as u64,
        "a corrupt record before whole ones is no torn tail"
    );
}

/// A data dir of an earlier version, whose queue was `queue.sqlite3`: its entries are moved into
/// the log with their ids and attempts, and the old file (with its WAL) is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_takes_over_the_entries_of_an_old_queue_file() {
    let dir = TempDir::new().unwrap();
    let old = dir.path().join("queue.sqlite3");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE queue (
                 id            INTEGER PRIMARY KEY,
                 project_id    INTEGER NOT NULL,
                 received      REAL    NOT NULL,
                 client_ip     TEXT,
                 client_sdk    TEXT,
                 body          BLOB    NOT NULL,
                 body_size     INTEGER NOT NULL,
                 claimed_until REAL    NOT NULL DEFAULT 0,
                 attempts      INTEGER NOT NULL DEFAULT 0
             ) STRICT;",
        )
        .unwrap();
        for (id, n, attempts) in [(41_i64, 0, 0_i64), (42, 1, 2), (57, 2, 0)] {
            let e = envelope(n);
            conn.execute(
                "INSERT INTO queue (id, project_id, received, client_ip, client_sdk, body,
                                    body_size, claimed_until, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1e12, ?8)",
                rusqlite::params![
                    id,
                    e.project_id,
                    e.received,
                    e.client_ip,
                    e.client_sdk,
                    zstd::bulk::compress(&e.body, 1).unwrap(),
                    e.body.len() as i64,
                    attempts
                ],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM queue WHERE id = 57", []).unwrap();
        // The process "dies" with its WAL not yet checkpointed.
        std::mem::forget(conn);
    }
    assert!(dir.path().join("queue.sqlite3-wal").exists());

    let queue = LogQueue::open(dir.path()).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.path().join(format!("queue.sqlite3{suffix}"));
        assert!(!path.exists(), "{} is removed", path.display());
    }
    let claimed = queue.claim(10, 60.0).await.unwrap();
    let moved: Vec<(i64, i64, QueuedEnvelope)> = claimed
        .into_iter()
        .map(|c| (c.id, c.attempts, c.envelope))
        .collect();
    assert_eq!(
        moved,
        vec![(41, 1, envelope(0)), (42, 3, envelope(1))],
        "ids and attempts kept, the old leases void"
    );
    assert!(queue.enqueue(envelope(3)).await.unwrap() > 42);
    drop(queue);
    let queue = LogQueue::open(dir.path()).unwrap();
    assert_eq!(queue.stats().await.unwrap().depth, 3, "moved for good");
}
