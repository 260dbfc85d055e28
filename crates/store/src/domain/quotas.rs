//! Ingest quotas: a project's rate limits and spike protection, the shared counters several
//! nodes lease their slices of a limit from, and the hourly volume spike protection reads.

use async_trait::async_trait;

use crate::{HourlyVolume, ProjectQuotas, QuotaLease, StoreResult};

/// Ingest quotas and the counts behind them.
#[async_trait]
pub trait Quotas: Send + Sync {
    /// Whether several nodes may serve from this store (PostgreSQL): then ingest leases its
    /// rate-limit counts from [`Quotas::lease_quota`]; on one node (SQLite) it counts in memory.
    fn is_shared(&self) -> bool;
    /// The project's rate limits and spike protection; no limits and protection on until set.
    async fn project_quotas(&self, project_id: i64) -> StoreResult<ProjectQuotas>;
    /// Replaces the project's quotas. `Invalid` for a limit with a window under one second or
    /// a negative count.
    async fn set_project_quotas(&self, project_id: i64, quotas: &ProjectQuotas) -> StoreResult<()>;
    /// Takes up to `lease.want` units of the counter's window, never past `lease.limit` in
    /// total however many callers ask at once: the units granted (0 when the window is spent).
    async fn lease_quota(&self, lease: &QuotaLease) -> StoreResult<i64>;
    /// Adds accepted counts to their hours.
    async fn add_hourly_volume(&self, counts: &[HourlyVolume]) -> StoreResult<()>;
    /// The project's accepted counts of `category` for the hours in `[from, to)` (unix
    /// seconds), oldest first; hours without any are left out.
    async fn hourly_volume(
        &self,
        project_id: i64,
        category: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<HourlyVolume>>;
    /// Deletes counter windows that ended before `now` and hourly counts older than
    /// `volume_before`; the rows deleted.
    async fn prune_quotas(&self, now: i64, volume_before: i64) -> StoreResult<u64>;
}
