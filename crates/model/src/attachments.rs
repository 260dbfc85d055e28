//! What the SDKs send about an event besides the event: files (`attachment` items, Sentry's
//! event attachments) and what a user wrote about the error (user reports: the old-style
//! `user_report` item, the new-style `feedback` item and the `user-feedback/` API).
//!
//! Both are kept by the event id they name, not by the event's row, so that one arriving
//! before its event (or in an envelope of its own after it) is kept all the same and is found
//! with the event once the event is stored.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// An attachment item as the worker hands it to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAttachment {
    pub project_id: i64,
    /// The event it belongs to (32 lowercase hex digits), the envelope's `event_id`.
    pub event_id: String,
    /// The item header `filename`.
    pub name: String,
    /// The item header `content_type` (`application/octet-stream` when the SDK sent none).
    pub content_type: String,
    /// The item header `attachment_type` (`event.attachment` when the SDK sent none).
    pub attachment_type: String,
    /// SHA-1 of the bytes, in hex, as Sentry lists it.
    pub sha1: String,
    pub received: UnixTime,
    pub payload: Vec<u8>,
    /// Where the item came from (its queue entry and index): the same key is stored once.
    pub dedup_key: Option<String>,
}

/// An attachment as listed: everything but its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAttachment {
    pub id: i64,
    pub project_id: i64,
    pub event_id: String,
    pub name: String,
    pub content_type: String,
    pub attachment_type: String,
    /// Bytes.
    pub size: i64,
    pub sha1: String,
    /// When it was received (Sentry's `dateCreated`).
    pub received: UnixTime,
}

/// A user report before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUserReport {
    pub project_id: i64,
    /// The event the report is about (32 lowercase hex digits); for new-style feedback without
    /// an associated event, the feedback's own event id.
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub comments: String,
    pub received: UnixTime,
    /// Where the item came from (its queue entry and index): the same key is stored once.
    /// `None` for reports posted to the API.
    pub dedup_key: Option<String>,
}

/// A stored user report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserReport {
    pub id: i64,
    pub project_id: i64,
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub comments: String,
    /// When it was received (Sentry's `dateCreated`).
    pub received: UnixTime,
    /// The issue of the event it is about, once that event is stored (read through the event,
    /// so a report that arrived first links when its event does, and follows a merge).
    pub issue_id: Option<i64>,
}

/// Sentry's window in which a second report on the same event replaces the first instead of
/// being refused (`project_user_reports`: five minutes).
pub const USER_REPORT_EDIT_WINDOW: UnixTime = 300.0;
