//! Events: processing's output as written, what a write did, an event as read back, and the
//! envelope items kept raw.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

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
    /// The whole normalized event, as processing wrote it.
    pub data: crate::JsonText,
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

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPass {
    /// Events older than the cutoff.
    pub events: u64,
    /// Issues left without events, with their hashes, counts and reference events.
    pub issues: u64,
    /// Envelope items kept raw, older than the cutoff.
    pub raw_items: u64,
    /// Event attachments received before the cutoff (their events expire with them).
    pub attachments: u64,
    /// User reports received before the cutoff.
    pub user_reports: u64,
    /// Transactions that started before the cutoff.
    pub transactions: u64,
    /// Spans that started before the cutoff.
    pub spans: u64,
}
