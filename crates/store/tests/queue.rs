//! The ingest queue's contract on SQLite: durable when `enqueue` returns, concurrent enqueues
//! share commits, claims lease the oldest entries, acks remove them, and what was not
//! acknowledged is there again after a restart.

use std::sync::Arc;

use tempfile::TempDir;
use vigil_store::sqlite::SqliteQueue;
use vigil_store::{IngestQueue, QueuedEnvelope};

fn envelope(n: usize) -> QueuedEnvelope {
    QueuedEnvelope {
        project_id: 1,
        received: 1_700_000_000.0 + n as f64,
        client_ip: Some("127.0.0.1".into()),
        client_sdk: Some("sentry.python/2.75.0".into()),
        body: format!("{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"hello {n}\"}}\n").into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueued_entries_are_claimed_oldest_first_and_acked_away() {
    let dir = TempDir::new().unwrap();
    let queue = SqliteQueue::open(&dir.path().join("queue.sqlite3")).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_are_claimable_again() {
    let dir = TempDir::new().unwrap();
    let queue = SqliteQueue::open(&dir.path().join("queue.sqlite3")).unwrap();
    queue.enqueue(envelope(1)).await.unwrap();
    let held = queue.claim(1, 0.0).await.unwrap();
    assert_eq!(held.len(), 1);
    let again = queue.claim(1, 60.0).await.unwrap();
    assert_eq!(again.len(), 1, "a zero-second lease has expired");
    assert_eq!(again[0].id, held[0].id);
    assert_eq!(again[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_entries_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("queue.sqlite3");
    {
        let queue = SqliteQueue::open(&path).unwrap();
        for n in 0..3 {
            queue.enqueue(envelope(n)).await.unwrap();
        }
        let claimed = queue.claim(2, 600.0).await.unwrap();
        queue.ack(&[claimed[0].id]).await.unwrap();
        // claimed[1] is leased for ten minutes, and never acknowledged: the process "dies".
    }
    let queue = SqliteQueue::open(&path).unwrap();
    assert_eq!(queue.stats().await.unwrap().depth, 2);
    let claimed = queue.claim(10, 60.0).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|c| c.envelope.clone())
            .collect::<Vec<_>>(),
        vec![envelope(1), envelope(2)],
        "the previous process's lease is void"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_commits() {
    let dir = TempDir::new().unwrap();
    let queue = Arc::new(SqliteQueue::open(&dir.path().join("queue.sqlite3")).unwrap());
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
    assert!(
        queue.commits() < 400,
        "group commit: {} commits for 400 enqueues",
        queue.commits()
    );
}
