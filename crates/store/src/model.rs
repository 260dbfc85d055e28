//! The domain records the store keeps and hands out: plain data, no behaviour.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC), with sub-second precision.
pub type UnixTime = f64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub date_created: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: i64,
    pub organization_id: i64,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub date_created: UnixTime,
}

impl Project {
    /// `SHOP-1A`: an issue's short id, the slug upper-cased and the per-project number in
    /// Sentry's base 32 (Crockford's alphabet: no I, L, O or U, so a short id read aloud or
    /// copied by hand cannot be mistaken for another).
    pub fn short_id(&self, number: i64) -> String {
        const DIGITS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut n = u64::try_from(number).unwrap_or(0);
        let mut digits = Vec::new();
        loop {
            digits.push(char::from(DIGITS[(n % 32) as usize]));
            n /= 32;
            if n == 0 {
                break;
            }
        }
        let number: String = digits.iter().rev().collect();
        format!("{}-{number}", self.slug.to_ascii_uppercase())
    }
}

/// A DSN key ("client key") of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub id: i64,
    pub project_id: i64,
    /// 32 lowercase hex chars: the user part of the DSN.
    pub public_key: String,
    /// 32 lowercase hex chars; deprecated in DSNs, kept for Sentry's API shape.
    pub secret_key: String,
    pub label: String,
    pub is_active: bool,
    pub date_created: UnixTime,
    /// At most this many events per window, or no limit.
    pub rate_limit: Option<KeyRateLimit>,
}

/// Sentry's per-key rate limit: `count` events per `window_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRateLimit {
    pub count: i64,
    pub window_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub date_created: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub scopes: Vec<String>,
    pub date_created: UnixTime,
}

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

/// One event ready to be written: processing's output in the store's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub project_id: i64,
    /// 32 lowercase hex chars.
    pub event_id: String,
    /// `error`, `default`, `csp`, … (transactions are not issues' events).
    pub event_type: String,
    pub timestamp: UnixTime,
    pub received: UnixTime,
    pub level: String,
    pub platform: String,
    pub title: String,
    pub culprit: String,
    pub metadata: serde_json::Value,
    /// Grouping hashes, the one the event groups by first.
    pub hashes: Vec<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub transaction: Option<String>,
    /// The `user` tag value (`id:7`, `email:a@b`, `ip:1.2.3.4`), for distinct-user counts.
    pub user_tag: Option<String>,
    /// `contexts.trace.trace_id`: the trace the error happened in.
    pub trace_id: Option<String>,
    /// All tags of the event (Sentry's derived tags included), keys without `sentry:`.
    pub tags: Vec<(String, String)>,
    /// Any mechanism says `handled: false`.
    pub is_unhandled: bool,
    /// Searchable text: message / exception values.
    pub message: String,
    /// The whole normalized event.
    pub data: serde_json::Value,
}

/// What became of one `NewEvent` in `save_events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedEvent {
    pub event_id: String,
    pub issue_id: i64,
    /// The issue was created by this event.
    pub new_issue: bool,
    /// A resolved issue became unresolved because of this event.
    pub regressed: bool,
    /// An issue ignored until a time (see `Store::snooze_issue`) became unresolved because of
    /// this event.
    pub reappeared: bool,
    /// The event was already stored (same project and event id): nothing was counted again,
    /// and `new_issue`, `regressed` and `reappeared` are what they were when it was first
    /// stored, so an envelope processed twice makes the same alerts fire (once: firings are
    /// recorded by key).
    pub duplicate: bool,
}

/// An event as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub project_id: i64,
    pub event_id: String,
    pub issue_id: Option<i64>,
    pub event_type: String,
    pub timestamp: UnixTime,
    pub received: UnixTime,
    pub level: String,
    pub platform: String,
    pub title: String,
    pub culprit: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub transaction: Option<String>,
    pub user_tag: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The whole normalized event, decompressed.
    pub data: serde_json::Value,
    /// Bytes of the normalized JSON before compression.
    pub size: i64,
}

/// An envelope item kept as it arrived until its own pipeline exists (sessions, transactions,
/// check-ins, attachments, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawItem {
    pub project_id: i64,
    /// Envelope item type, e.g. `session`, `transaction`, `attachment`.
    pub item_type: String,
    /// The envelope's event id, when it had one.
    pub event_id: Option<String>,
    pub received: UnixTime,
    /// The item headers as JSON.
    pub headers: serde_json::Value,
    pub payload: Vec<u8>,
    /// Where the item came from (its queue entry and index): the same key is stored once.
    pub dedup_key: Option<String>,
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
    pub sort: IssueSort,
    pub offset: u64,
    pub limit: u64,
}

/// A version of the code, as `sentry-cli releases new` and events' `release` name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub organization_id: i64,
    pub version: String,
    /// The VCS reference (`ref` in Sentry's API).
    pub reference: Option<String>,
    pub url: Option<String>,
    pub date_created: UnixTime,
    pub date_started: Option<UnixTime>,
    pub date_released: Option<UnixTime>,
    /// Timestamps of the oldest and newest events with this release.
    pub first_event: Option<UnixTime>,
    pub last_event: Option<UnixTime>,
    /// Issues first seen with this release, over all its projects.
    pub new_groups: i64,
    /// `(project_id, new_groups)` of each project the release belongs to, by project id.
    pub projects: Vec<(i64, i64)>,
    pub deploy_count: i64,
    pub last_deploy: Option<Deploy>,
}

/// What a create or update of a release sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseFields {
    pub reference: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    pub date_released: Option<UnixTime>,
}

/// A release going out to an environment (`sentry-cli deploys new`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub id: i64,
    pub release_id: i64,
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    pub date_finished: UnixTime,
}

/// A deploy to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeploy {
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    /// Defaults to now when absent.
    pub date_finished: Option<UnixTime>,
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPass {
    /// Events older than the cutoff.
    pub events: u64,
    /// Issues left without events, with their hashes, counts and reference events.
    pub issues: u64,
    /// Envelope items kept raw, older than the cutoff.
    pub raw_items: u64,
    /// Transactions that started before the cutoff.
    pub transactions: u64,
    /// Spans that started before the cutoff.
    pub spans: u64,
}
