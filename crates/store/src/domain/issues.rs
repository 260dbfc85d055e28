//! Issues: one by id, its status, its counts and tag values.

use async_trait::async_trait;

use crate::{Issue, IssueStatus, StoreResult, TagValueCount, UnixTime};

/// Issues: one by id, its status, its counts and tag values.
#[async_trait]
pub trait Issues: Send + Sync {
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>>;
    /// The project's issue with this per-project number (what its short id `SHOP-1A` says).
    async fn issue_by_short_id(&self, project_id: i64, short_id: i64)
        -> StoreResult<Option<Issue>>;
    /// Sets the status and the substatus that goes with it; `None` when no such issue.
    /// `resolved_at` is the time of the first resolve (resolving twice keeps it) and is cleared
    /// by any other status. A snooze (`ignored_until`) ends: a status set by hand holds until
    /// changed again.
    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>>;
    /// Ignores an issue until a time: its first event at or after it makes it unresolved
    /// again, reported as `reappeared` (Sentry's "ignore for N minutes").
    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>>;
    /// Events per hour of each issue since `since`: `(issue_id, hour start, count)`, for the
    /// `stats` of issue lists and charts, in the order of `issue_ids`, then by hour. Hours
    /// without events are absent.
    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: UnixTime,
    ) -> StoreResult<Vec<(i64, i64, i64)>>;
    /// Tag values of an issue with their counts, most seen first within each key.
    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>>;
    /// Values of one tag over all issues of a project (counts summed), most recently seen
    /// first, at most `limit`: the environments a project has seen.
    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>>;
}
