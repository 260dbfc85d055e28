//! Triage: assignee, bookmarks, subscriptions, seen, ignore conditions, review, notes and
//! other activity, deleting and merging issues.

use async_trait::async_trait;

use crate::{IssueActivity, IssueTriage, Snooze, StoreResult};

/// Triage of issues. Status changes by hand stay in [`crate::Issues`]; these are the rest.
#[async_trait]
pub trait Triage: Send + Sync {
    /// The issue's triage state, with the marks of `user_id` (none for `None`); `None` when
    /// there is no such issue.
    async fn issue_triage(
        &self,
        issue_id: i64,
        user_id: Option<i64>,
    ) -> StoreResult<Option<IssueTriage>>;
    async fn set_assignee(&self, issue_id: i64, user_id: Option<i64>) -> StoreResult<()>;
    async fn set_bookmark(&self, issue_id: i64, user_id: i64, on: bool) -> StoreResult<()>;
    /// Subscribes (with Sentry's reason: `commented`, `assigned`, `bookmarked`,
    /// `status_change`, `unknown`) or unsubscribes. With `only_if_unset` it subscribes a user
    /// who never chose and leaves a choice alone (participating subscribes, but does not undo
    /// an unsubscribe).
    async fn set_subscription(
        &self,
        issue_id: i64,
        user_id: i64,
        subscribed: bool,
        reason: &str,
        only_if_unset: bool,
    ) -> StoreResult<()>;
    /// Marks the issue seen by the user now, or unseen (`None`).
    async fn set_seen(&self, issue_id: i64, user_id: i64, at: Option<f64>) -> StoreResult<()>;
    /// Marks the issue reviewed now, or for review again (`None`).
    async fn set_reviewed(&self, issue_id: i64, at: Option<f64>) -> StoreResult<()>;
    /// Ignores the issue until its conditions are met (counted from its counts now); ingest
    /// makes it unresolved again when they are. `false` when there is no such issue.
    async fn ignore_issue(
        &self,
        issue_id: i64,
        substatus: &str,
        snooze: &Snooze,
    ) -> StoreResult<bool>;
    async fn add_activity(
        &self,
        issue_id: i64,
        kind: &str,
        data: &serde_json::Value,
        user_id: Option<i64>,
    ) -> StoreResult<IssueActivity>;
    async fn activity_by_id(&self, id: i64) -> StoreResult<Option<IssueActivity>>;
    /// Replaces an activity's data (an edited note).
    async fn update_activity_data(
        &self,
        id: i64,
        data: &serde_json::Value,
    ) -> StoreResult<Option<IssueActivity>>;
    async fn delete_activity(&self, id: i64) -> StoreResult<bool>;
    /// The grouping hashes that lead to the issue.
    async fn issue_hashes(&self, issue_id: i64) -> StoreResult<Vec<String>>;
    /// Deletes the issue and everything of it; `false` when there was none.
    async fn delete_issue(&self, issue_id: i64) -> StoreResult<bool>;
    /// Merges `children` into `primary` (events, hashes, counts, activity); the children are
    /// gone afterwards.
    async fn merge_issues(&self, primary: i64, children: &[i64]) -> StoreResult<()>;
    /// Sentry's unmerge: the events of the issue whose primary hash is `hash` move, with the
    /// hash and what they counted, to a new issue; its id, or `None` when no event of the
    /// issue has that primary hash. Refused (`Invalid`) for the issue's only hash.
    async fn unmerge_hash(&self, issue_id: i64, hash: &str) -> StoreResult<Option<i64>>;
}
