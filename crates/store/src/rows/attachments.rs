//! Event attachments and user reports.

use super::{Columns, Record};
use crate::{EventAttachment, StoreResult, UserReport};

/// The columns [`EventAttachment`] is read from (never the bytes).
pub(crate) const ATTACHMENT_COLUMNS: &str =
    "id, project_id, event_id, name, content_type, attachment_type, size, sha1, received";

/// From [`ATTACHMENT_COLUMNS`].
impl Record for EventAttachment {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(EventAttachment {
            id: row.column(0)?,
            project_id: row.column(1)?,
            event_id: row.column(2)?,
            name: row.column(3)?,
            content_type: row.column(4)?,
            attachment_type: row.column(5)?,
            size: row.column(6)?,
            sha1: row.column(7)?,
            received: row.column(8)?,
        })
    }
}

/// The columns [`UserReport`] is read from, of `user_reports r`; the last is the issue of the
/// event the report is about, when that event is stored.
pub(crate) const USER_REPORT_COLUMNS: &str =
    "r.id, r.project_id, r.event_id, r.name, r.email, r.comments, r.received,
     (SELECT e.issue_id FROM events e WHERE e.project_id = r.project_id AND e.event_id = r.event_id)";

/// From [`USER_REPORT_COLUMNS`].
impl Record for UserReport {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(UserReport {
            id: row.column(0)?,
            project_id: row.column(1)?,
            event_id: row.column(2)?,
            name: row.column(3)?,
            email: row.column(4)?,
            comments: row.column(5)?,
            received: row.column(6)?,
            issue_id: row.column(7)?,
        })
    }
}
