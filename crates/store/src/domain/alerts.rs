//! Issue alerts: rules, their firings, the outbox of notifications, and issue activity.

use async_trait::async_trait;

use crate::{
    AlertRule, Firing, IssueActivity, IssueCounts, NewAlertRule, Notification, NotificationOutcome,
    StoreResult, UnixTime,
};

/// Issue alerts: rules, their firings, the outbox of notifications, and issue activity.
///
/// The checks and ordering of a claim and of the issue counts are provided, written once over
/// what each backend runs its own way ([`Alerts::claim_due`], [`Alerts::count_issues`]).
#[async_trait]
pub trait Alerts: Send + Sync {
    async fn create_alert_rule(&self, rule: &NewAlertRule) -> StoreResult<AlertRule>;
    /// Replaces a rule's fields; `None` when there is no such rule.
    async fn update_alert_rule(
        &self,
        id: i64,
        rule: &NewAlertRule,
    ) -> StoreResult<Option<AlertRule>>;
    /// Deletes a rule (its firings and pending notifications go with it).
    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool>;
    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRule>>;
    /// A project's rules, by id.
    async fn alert_rules(&self, project_id: i64) -> StoreResult<Vec<AlertRule>>;
    /// Records firings in one transaction. A firing is skipped (`false`) when its dedup key was
    /// recorded before, or when its rule fired for the same issue less than `frequency_secs`
    /// before `at`; otherwise it is recorded with its notifications, due at once (`true`).
    async fn record_firings(&self, firings: Vec<Firing>) -> StoreResult<Vec<bool>>;
    /// Claims up to `limit` pending notifications of these kinds due at `now` that no other
    /// sender holds, holding them for `lease_secs`; oldest first.
    async fn claim_notifications(
        &self,
        kinds: &[&str],
        now: UnixTime,
        limit: u64,
        lease_secs: f64,
    ) -> StoreResult<Vec<Notification>> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let claim = NotificationClaim {
            kinds,
            now,
            limit,
            leased_until: now + lease_secs,
        };
        let mut claimed = self.claim_due(claim).await?;
        // The backends' `UPDATE … RETURNING` gives no order.
        claimed.sort_by_key(|n| n.id);
        Ok(claimed)
    }
    /// Leases what the claim asks for, in any order.
    #[doc(hidden)]
    async fn claim_due(&self, claim: NotificationClaim<'_>) -> StoreResult<Vec<Notification>>;
    /// Ends a claim. `Sent` also adds a `notification` entry to the issue's activity.
    async fn finish_notification(&self, id: i64, outcome: NotificationOutcome) -> StoreResult<()>;
    /// A project's notifications, newest first (attempts and last errors are visible).
    async fn list_notifications(
        &self,
        project_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Notification>>;
    /// When a notification of this rule, kind and target was last sent (digests wait a minute).
    async fn last_sent(
        &self,
        rule_id: i64,
        kind: &str,
        target: &str,
    ) -> StoreResult<Option<UnixTime>>;
    /// When each `(rule_id, issue_id)` last fired (`None`: never), in the order asked: the
    /// worker skips rendering what the rule's frequency would refuse anyway.
    async fn last_fired(&self, pairs: &[(i64, i64)]) -> StoreResult<Vec<Option<UnixTime>>>;
    /// An issue's activity, newest first.
    async fn issue_activities(&self, issue_id: i64) -> StoreResult<Vec<IssueActivity>>;
    /// Events of each issue with `timestamp >= since`, and their distinct users when
    /// `with_users` (0 otherwise: users are read from the events, which only unique-user
    /// conditions need). One entry per issue asked for, in that order.
    ///
    /// Events come from counters ingest keeps, not from the events: per-minute buckets for the
    /// rest of `since`'s hour, per-hour buckets after. So they include the events of `since`'s
    /// minute before `since` (at most a minute's worth); and when `since` lies more than about
    /// two hours back, where the minute buckets are gone, the events of its whole hour.
    async fn issue_counts(
        &self,
        issue_ids: &[i64],
        since: UnixTime,
        with_users: bool,
    ) -> StoreResult<Vec<IssueCounts>> {
        if issue_ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = IssueCountQuery {
            issue_ids,
            since,
            with_users,
        };
        self.count_issues(query).await
    }
    /// The counts of each issue asked for, in that order.
    #[doc(hidden)]
    async fn count_issues(&self, query: IssueCountQuery<'_>) -> StoreResult<Vec<IssueCounts>>;
}

/// A claim of pending notifications as a backend runs it (see [`crate::Alerts::claim_notifications`]):
/// at least one kind and a limit above zero.
pub struct NotificationClaim<'a> {
    pub(crate) kinds: &'a [&'a str],
    pub(crate) now: UnixTime,
    pub(crate) limit: u64,
    pub(crate) leased_until: UnixTime,
}

/// The counts a backend reads for [`crate::Alerts::issue_counts`]: at least one issue.
pub struct IssueCountQuery<'a> {
    pub(crate) issue_ids: &'a [i64],
    pub(crate) since: UnixTime,
    pub(crate) with_users: bool,
}
