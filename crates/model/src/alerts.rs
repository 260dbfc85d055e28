//! Issue alerts in the store's terms: rules, their firings, the outbox of notifications to
//! deliver, and the issue activity that records what was sent.
//!
//! The store keeps a rule's conditions, filters and actions as Sentry's JSON (the `alerts`
//! crate parses and evaluates them); what it guarantees is the bookkeeping: a firing is
//! recorded once (by its dedup key) and not more often than its rule's frequency per issue, its
//! notifications are written in the same transaction, and each notification is claimed by one
//! sender at a time until it is sent, retried later, or given up.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// A rule as Sentry's issue-alert API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// Only events of this environment; `None`: all.
    pub environment: Option<String>,
    /// Minutes between two firings for one issue (5–43,200).
    pub frequency_minutes: u32,
    /// `all`, `any` (or `none`): how the conditions combine.
    pub action_match: String,
    /// `all`, `any` or `none`: how the filters combine.
    pub filter_match: String,
    /// Sentry's JSON arrays of `{"id": …, …}` objects.
    pub conditions: serde_json::Value,
    pub filters: serde_json::Value,
    pub actions: serde_json::Value,
    pub created_by: Option<i64>,
    pub date_created: UnixTime,
}

/// What a rule is made of when created or replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlertRule {
    pub project_id: i64,
    pub name: String,
    pub environment: Option<String>,
    pub frequency_minutes: u32,
    pub action_match: String,
    pub filter_match: String,
    pub conditions: serde_json::Value,
    pub filters: serde_json::Value,
    pub actions: serde_json::Value,
    pub created_by: Option<i64>,
}

/// One notification to deliver: one email to one address, one webhook or Slack post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    /// `email`, `webhook` or `slack`.
    pub kind: String,
    /// The email address or the URL.
    pub target: String,
    /// What to send, rendered when the rule fired: `{"subject", "text", "html"}` for email,
    /// the JSON body for webhooks and Slack.
    pub payload: serde_json::Value,
}

/// A rule firing for an issue, with the notifications it sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    pub rule_id: i64,
    pub project_id: i64,
    pub issue_id: i64,
    /// The event that made the rule fire.
    pub event_id: String,
    /// `first_seen`, `regression`, `reappeared`, `frequency`, `unique_users`.
    pub trigger: String,
    /// When it fired (the event's receive time, so that re-processing gives the same answer).
    pub at: UnixTime,
    /// The rule's frequency: no second firing for the same rule and issue within it.
    pub frequency_secs: f64,
    /// The same key is recorded once: re-processing an envelope cannot fire twice.
    pub dedup_key: String,
    pub notifications: Vec<NewNotification>,
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Waiting for its next attempt.
    Pending,
    Sent,
    /// Retried until the retry window ended; `last_error` says why.
    Failed,
    /// Could not be sent at all (e.g. no SMTP server configured); `last_error` says why.
    Undeliverable,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Undeliverable => "undeliverable",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationStatus> {
        Some(match s {
            "pending" => NotificationStatus::Pending,
            "sent" => NotificationStatus::Sent,
            "failed" => NotificationStatus::Failed,
            "undeliverable" => NotificationStatus::Undeliverable,
            _ => return None,
        })
    }
}

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub rule_id: i64,
    pub project_id: i64,
    pub issue_id: i64,
    pub event_id: String,
    pub trigger: String,
    pub kind: String,
    pub target: String,
    pub payload: serde_json::Value,
    pub status: NotificationStatus,
    /// Attempts made so far (postponing a digest is not an attempt).
    pub attempts: u32,
    pub next_attempt: UnixTime,
    pub last_error: Option<String>,
    pub created: UnixTime,
    pub sent_at: Option<UnixTime>,
}

/// What became of a claimed notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NotificationOutcome {
    /// Delivered at this time: recorded on the issue's activity.
    Sent { at: UnixTime },
    /// Failed this time; try again at `next_attempt` (the attempt is counted).
    Retry {
        error: String,
        next_attempt: UnixTime,
    },
    /// Not now, and not a failure (a digest waits for its minute): due again at `until`.
    Postpone { until: UnixTime },
    /// Given up after retrying: the attempt is counted, `error` kept.
    Failed { error: String },
    /// Cannot be sent at all, for this reason.
    Undeliverable { reason: String },
}

/// One entry of an issue's activity (Sentry's `GET /api/0/issues/{id}/activities/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueActivity {
    pub id: i64,
    pub issue_id: i64,
    /// Sentry's activity type, e.g. `notification` for an alert sent.
    pub kind: String,
    pub data: serde_json::Value,
    pub user_id: Option<i64>,
    pub date_created: UnixTime,
}

/// Events and distinct users of an issue since a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCounts {
    pub issue_id: i64,
    pub events: u64,
    pub users: u64,
}

/// Sentry's default rule of a new project (`DEFAULT_RULE_LABEL`/`DEFAULT_RULE_DATA` of
/// `sentry.receivers.rules`, in the version whose condition is a new issue): email the issue
/// owners, falling through to the active members, at most every 30 minutes per issue. Both
/// backends create it with each project, and their migrations for the projects before them.
pub fn default_rule(project_id: i64) -> NewAlertRule {
    NewAlertRule {
        project_id,
        name: "Send a notification for new issues".to_owned(),
        environment: None,
        frequency_minutes: 30,
        action_match: "all".to_owned(),
        filter_match: "all".to_owned(),
        conditions: serde_json::json!([
            {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}
        ]),
        filters: serde_json::json!([]),
        actions: serde_json::json!([{
            "id": "sentry.mail.actions.NotifyEmailAction",
            "targetType": "IssueOwners",
            "targetIdentifier": null,
            "fallthroughType": "ActiveMembers",
        }]),
        created_by: None,
    }
}
