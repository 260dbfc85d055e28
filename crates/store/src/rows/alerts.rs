//! Alert rules, notifications, issue activity, and what a backend is asked to read of the
//! outbox and the issue counts.

use super::{Columns, Record};
use crate::{AlertRule, IssueActivity, Notification, NotificationStatus, StoreResult};

/// An alert rule's columns, as [`AlertRule`]'s reader takes them.
pub(crate) const RULE_COLUMNS: &str = "id, project_id, name, environment, frequency_minutes, \
    action_match, filter_match, conditions, filters, actions, created_by, date_created";

/// A notification's columns, as [`Notification`]'s reader takes them.
pub(crate) const NOTIFICATION_COLUMNS: &str =
    "id, rule_id, project_id, issue_id, event_id, trigger, kind, target, payload, status, \
     attempts, next_attempt, last_error, created, sent_at";

/// From [`RULE_COLUMNS`].
impl Record for AlertRule {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(AlertRule {
            id: row.column(0)?,
            project_id: row.column(1)?,
            name: row.column(2)?,
            environment: row.column(3)?,
            frequency_minutes: row.count(4, "an alert rule's frequency")?,
            action_match: row.column(5)?,
            filter_match: row.column(6)?,
            conditions: row.json(7, "an alert rule's conditions")?,
            filters: row.json(8, "an alert rule's filters")?,
            actions: row.json(9, "an alert rule's actions")?,
            created_by: row.column(10)?,
            date_created: row.column(11)?,
        })
    }
}

/// From [`NOTIFICATION_COLUMNS`].
impl Record for Notification {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Notification {
            id: row.column(0)?,
            rule_id: row.column(1)?,
            project_id: row.column(2)?,
            issue_id: row.column(3)?,
            event_id: row.column(4)?,
            trigger: row.column(5)?,
            kind: row.column(6)?,
            target: row.column(7)?,
            payload: row.json(8, "a notification's payload")?,
            status: row.named(9, "notification status", NotificationStatus::parse)?,
            attempts: row.count(10, "a notification's attempts")?,
            next_attempt: row.column(11)?,
            last_error: row.column(12)?,
            created: row.column(13)?,
            sent_at: row.column(14)?,
        })
    }
}

/// From `id, issue_id, kind, data, user_id, date_created`.
impl Record for IssueActivity {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(IssueActivity {
            id: row.column(0)?,
            issue_id: row.column(1)?,
            kind: row.column(2)?,
            data: row.json(3, "an issue's activity")?,
            user_id: row.column(4)?,
            date_created: row.column(5)?,
        })
    }
}

/// What the issue's `notification` activity says of a notification just sent.
pub(crate) struct SentNotification {
    pub issue_id: i64,
    rule_id: i64,
    kind: String,
    target: String,
    trigger: String,
}

impl SentNotification {
    /// The notification's columns this reads, in order.
    pub(crate) const COLUMNS: &'static str = "issue_id, rule_id, kind, target, trigger";

    /// The activity's `data` for notification `id`.
    pub(crate) fn activity_data(&self, id: i64) -> String {
        serde_json::json!({
            "rule_id": self.rule_id,
            "kind": self.kind,
            "target": self.target,
            "trigger": self.trigger,
            "notification_id": id,
        })
        .to_string()
    }
}

/// From [`SentNotification::COLUMNS`].
impl Record for SentNotification {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(SentNotification {
            issue_id: row.column(0)?,
            rule_id: row.column(1)?,
            kind: row.column(2)?,
            target: row.column(3)?,
            trigger: row.column(4)?,
        })
    }
}
