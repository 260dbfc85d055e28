//! The durable ingest queue between accepting a request and processing it.
//!
//! An SDK is answered 200 only once its envelope is in this queue, committed and synced; the
//! workers that process entries remove them only after their results are committed to the
//! store. A crash between any two steps therefore loses nothing, and, because writing events is
//! idempotent by `(project_id, event_id)`, an entry processed twice counts once. The queue is a
//! trait of its own so that each backend keeps it where its writes do not contend with
//! processing's (single node: an append-only log of its own; PostgreSQL: a table claimed with
//! `FOR UPDATE SKIP LOCKED`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{StoreResult, UnixTime};

/// One accepted envelope and what processing needs to know about its request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEnvelope {
    pub project_id: i64,
    pub received: UnixTime,
    /// The client's address, for `{{auto}}` IPs.
    pub client_ip: Option<String>,
    /// `name/version` of the SDK from the request (`sentry_client` or `User-Agent`).
    pub client_sdk: Option<String>,
    /// The envelope as parsed at accept time (decompressed), with its event id settled.
    pub body: Vec<u8>,
}

/// An entry handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEnvelope {
    pub id: i64,
    /// How often it has been claimed, this time included: an entry that keeps failing can be
    /// set aside instead of blocking the queue.
    pub attempts: i64,
    pub envelope: QueuedEnvelope,
}

/// How full the queue is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStats {
    /// Entries not yet acknowledged.
    pub depth: u64,
    /// Their stored (compressed) bytes.
    pub bytes: u64,
    /// Receive time of the oldest entry: processing lag is now minus this.
    pub oldest_received: Option<UnixTime>,
}

#[async_trait]
pub trait IngestQueue: Send + Sync + 'static {
    /// Adds an envelope; durable (committed and synced) when it returns. Concurrent calls share
    /// one transaction and one sync (group commit). Returns the entry's id.
    async fn enqueue(&self, envelope: QueuedEnvelope) -> StoreResult<i64>;

    /// Up to `max` of the oldest entries that no worker holds, each held by the caller for
    /// `lease_secs` (after which another worker may take it, e.g. when the first one died).
    async fn claim(&self, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>>;

    /// Removes entries whose results are committed.
    async fn ack(&self, ids: &[i64]) -> StoreResult<()>;

    async fn stats(&self) -> StoreResult<QueueStats>;
}
