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
