//! The statements of event attachments and user reports, the same on both backends but for
//! their placeholders. An item stored once under its `dedup_key` is skipped when its envelope
//! is processed again; a user report's issue is read through its event
//! ([`USER_REPORT_COLUMNS`]), never stored with it.

use super::Dialect;
use crate::rows::{ATTACHMENT_COLUMNS, USER_REPORT_COLUMNS};

/// Placeholders `1..=n`, comma-separated.
fn placeholders(dialect: Dialect, n: usize) -> String {
    (1..=n)
        .map(|i| dialect.placeholder(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes one attachment: project_id, event_id, name, content_type, attachment_type, size,
/// sha1, received, payload, dedup_key.
pub(crate) fn insert_attachment_sql(dialect: Dialect) -> String {
    format!(
        "INSERT INTO event_attachments (project_id, event_id, name, content_type,
             attachment_type, size, sha1, received, payload, dedup_key)
         VALUES ({})
         ON CONFLICT (project_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
        placeholders(dialect, 10)
    )
}

/// The attachments of event (project_id, event_id), in the order they arrived.
pub(crate) fn event_attachments_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM event_attachments
         WHERE project_id = {} AND event_id = {} ORDER BY id",
        dialect.placeholder(1),
        dialect.placeholder(2)
    )
}

/// The condition "of event (project_id, event_id) with id": parameters 1 to 3.
fn one_attachment(dialect: Dialect) -> String {
    format!(
        "project_id = {} AND event_id = {} AND id = {}",
        dialect.placeholder(1),
        dialect.placeholder(2),
        dialect.placeholder(3)
    )
}

/// One attachment of an event, without its bytes.
pub(crate) fn attachment_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM event_attachments WHERE {}",
        one_attachment(dialect)
    )
}

/// The bytes of one attachment of an event.
pub(crate) fn payload_sql(dialect: Dialect) -> String {
    format!(
        "SELECT payload FROM event_attachments WHERE {}",
        one_attachment(dialect)
    )
}

/// Deletes one attachment of an event.
pub(crate) fn delete_attachment_sql(dialect: Dialect) -> String {
    format!(
        "DELETE FROM event_attachments WHERE {}",
        one_attachment(dialect)
    )
}

/// The attachments of the events of issue (project_id, issue_id), newest first, at most
/// parameter 3.
pub(crate) fn issue_attachments_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM event_attachments a
         WHERE a.project_id = {p} AND EXISTS (
             SELECT 1 FROM events e
             WHERE e.project_id = a.project_id AND e.event_id = a.event_id AND e.issue_id = {i})
         ORDER BY a.id DESC LIMIT {l}",
        p = dialect.placeholder(1),
        i = dialect.placeholder(2),
        l = dialect.placeholder(3)
    )
}

/// Writes one user report: project_id, event_id, name, email, comments, received, dedup_key;
/// returns its id (none when its key was stored already).
pub(crate) fn insert_user_report_sql(dialect: Dialect) -> String {
    format!(
        "INSERT INTO user_reports (project_id, event_id, name, email, comments, received,
             dedup_key)
         VALUES ({})
         ON CONFLICT (project_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
         RETURNING id",
        placeholders(dialect, 7)
    )
}

/// Replaces what report (id) says: name, email, comments, received.
pub(crate) fn update_user_report_sql(dialect: Dialect) -> String {
    format!(
        "UPDATE user_reports SET name = {}, email = {}, comments = {}, received = {}
         WHERE id = {}",
        dialect.placeholder(2),
        dialect.placeholder(3),
        dialect.placeholder(4),
        dialect.placeholder(5),
        dialect.placeholder(1)
    )
}

/// One report by id.
pub(crate) fn user_report_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {USER_REPORT_COLUMNS} FROM user_reports r WHERE r.id = {}",
        dialect.placeholder(1)
    )
}

/// The reports on event (project_id, event_id), oldest first.
pub(crate) fn event_user_reports_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {USER_REPORT_COLUMNS} FROM user_reports r
         WHERE r.project_id = {} AND r.event_id = {} ORDER BY r.id",
        dialect.placeholder(1),
        dialect.placeholder(2)
    )
}

/// A project's reports, newest first (limit parameter 2, offset 3); with `unresolved_only`,
/// those on an unresolved issue or on an event not stored (yet).
pub(crate) fn project_user_reports_sql(dialect: Dialect, unresolved_only: bool) -> String {
    let filter = if unresolved_only {
        "AND NOT EXISTS (SELECT 1 FROM events e JOIN issues i ON i.id = e.issue_id
                         WHERE e.project_id = r.project_id AND e.event_id = r.event_id
                           AND i.status <> 'unresolved')"
    } else {
        ""
    };
    format!(
        "SELECT {USER_REPORT_COLUMNS} FROM user_reports r
         WHERE r.project_id = {} {filter}
         ORDER BY r.received DESC, r.id DESC LIMIT {} OFFSET {}",
        dialect.placeholder(1),
        dialect.placeholder(2),
        dialect.placeholder(3)
    )
}

/// The reports on the events of issue (project_id, issue_id), newest first (limit parameter
/// 3, offset 4).
pub(crate) fn issue_user_reports_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {USER_REPORT_COLUMNS} FROM user_reports r
         WHERE r.project_id = {p} AND EXISTS (
             SELECT 1 FROM events e
             WHERE e.project_id = r.project_id AND e.event_id = r.event_id AND e.issue_id = {i})
         ORDER BY r.received DESC, r.id DESC LIMIT {l} OFFSET {o}",
        p = dialect.placeholder(1),
        i = dialect.placeholder(2),
        l = dialect.placeholder(3),
        o = dialect.placeholder(4)
    )
}
