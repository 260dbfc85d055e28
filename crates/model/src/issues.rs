//! Issues (Sentry's groups) and the queries that list them.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    Ignored,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<IssueStatus> {
        match s {
            "unresolved" => Some(IssueStatus::Unresolved),
            "resolved" => Some(IssueStatus::Resolved),
            "ignored" | "muted" | "archived" => Some(IssueStatus::Ignored),
            _ => None,
        }
    }
}

/// Sentry's "group": all events that share a grouping hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: i64,
    pub project_id: i64,
    /// Per-project sequence number; the API shows it as `SLUG-<base 32>`.
    pub short_id: i64,
    pub status: IssueStatus,
    /// `new`, `ongoing`, `regressed`, `archived_forever`, …
    pub substatus: String,
    pub level: String,
    /// Event type that made the issue: `error`, `default`, `csp`, …
    pub event_type: String,
    pub title: String,
    pub culprit: String,
    /// Sentry's `metadata` object (`type`, `value`, `filename`, `function` or `title`).
    pub metadata: serde_json::Value,
    pub platform: String,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
    pub times_seen: i64,
    pub user_count: i64,
    /// Release of the first event, if it had one.
    pub first_release: Option<String>,
    pub is_unhandled: bool,
    pub resolved_at: Option<UnixTime>,
}

/// Per-issue count of one tag value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagValueCount {
    pub key: String,
    pub value: String,
    pub times_seen: i64,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
}

/// Order of an issue list, with Sentry's `sort=` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IssueSort {
    /// `date`: last seen, newest first.
    #[default]
    LastSeen,
    /// `new`: first seen, newest first.
    FirstSeen,
    /// `freq`: event count.
    Events,
    /// `user`: distinct users.
    Users,
}

impl IssueSort {
    pub fn parse(s: &str) -> Option<IssueSort> {
        match s {
            "date" | "" => Some(IssueSort::LastSeen),
            "new" => Some(IssueSort::FirstSeen),
            "freq" => Some(IssueSort::Events),
            "user" => Some(IssueSort::Users),
            _ => None,
        }
    }
}

/// A filtered, sorted page of issues.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IssueQuery {
    pub organization_id: i64,
    /// Empty: every project of the organization.
    pub project_ids: Vec<i64>,
    /// Parsed Sentry search (`is:unresolved level:error …`).
    pub search: crate::search::SearchQuery,
    /// `environment=` query parameters (any of them).
    pub environments: Vec<String>,
    /// Only issues seen at or after this time.
    pub seen_since: Option<UnixTime>,
    /// Only issues seen at or before this time.
    pub seen_until: Option<UnixTime>,
    /// Who searches: what `me` means in `assigned:me`, `bookmarks:me`, `is:for_review` (none:
    /// those match nothing).
    pub viewer: Option<i64>,
    /// Only issues assigned to this user ("Assigned to me").
    pub assigned_to: Option<i64>,
    /// Only issues this user bookmarked ("My bookmarks").
    pub bookmarked_by: Option<i64>,
    /// Only unresolved issues not reviewed yet, unassigned or assigned to this user (Sentry's
    /// "For Review": `is:for_review assigned_or_suggested:[me, none]`).
    pub for_review_by: Option<i64>,
    pub sort: IssueSort,
    pub offset: u64,
    pub limit: u64,
}

/// Sentry's GroupSnooze: what lifts an ignore. All `None`: ignored until changed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Snooze {
    /// Until this time (`ignoreUntil`, or now plus `ignoreDuration`).
    pub until: Option<UnixTime>,
    /// Until this many more events (`ignoreCount`) ...
    pub count: Option<i64>,
    /// ... within this many minutes (`ignoreWindow`).
    pub window: Option<i64>,
    /// Until this many more distinct users (`ignoreUserCount`) ...
    pub user_count: Option<i64>,
    /// ... within this many minutes (`ignoreUserWindow`).
    pub user_window: Option<i64>,
}

impl Snooze {
    pub fn is_empty(&self) -> bool {
        *self == Snooze::default()
    }
}

/// The triage state of an issue: shared (assignee, ignore conditions, review) and what one
/// user marked on it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IssueTriage {
    pub assignee_id: Option<i64>,
    pub snooze: Snooze,
    /// Events and users counted when it was ignored: the conditions count from there.
    pub snooze_times_seen: Option<i64>,
    pub snooze_users_seen: Option<i64>,
    pub reviewed_at: Option<UnixTime>,
    pub bookmarked: bool,
    /// `None`: never set; `Some(false)`: unsubscribed.
    pub subscribed: Option<bool>,
    pub subscription_reason: Option<String>,
    /// When the user last opened it.
    pub seen_at: Option<UnixTime>,
}
