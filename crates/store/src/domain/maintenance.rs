//! Liveness, cluster-wide periodic jobs and retention.

use async_trait::async_trait;

use crate::{RetentionPass, StoreResult, UnixTime};

/// Liveness, cluster-wide periodic jobs and retention.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;
    /// Claims the current run of a periodic job for the caller: `true` for exactly one caller
    /// among every process sharing the database once the job is due, which makes it due again
    /// `interval_secs` later. How cluster-wide chores (retention) run once, not once per node.
    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool>;
    /// One retention batch, in one transaction: deletes up to `limit` events with a timestamp
    /// before `before` and takes what they counted off their issues (count, hourly buckets, tag
    /// values, users), deletes the issues left without events (with their hashes), and deletes
    /// raw items received before `before`, the outcome hours ended by then and the outcome keys
    /// added more than a day ago. Called until it deletes nothing.
    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass>;
}
