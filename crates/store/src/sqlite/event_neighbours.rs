//! The events before and after one event of an issue, for stepping through an issue's events
//! without reading them all.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::DbContext;
use crate::StoreResult;

/// `(older, newer)` event ids next to `event_id` within its issue, in the order of
/// `issue_events` (timestamp, then received, then storage order).
pub(crate) fn neighbours(
    conn: &Connection,
    issue_id: i64,
    project_id: i64,
    event_id: &str,
) -> StoreResult<(Option<String>, Option<String>)> {
    let step = |comparison: &str, order: &str| -> StoreResult<Option<String>> {
        conn.prepare_cached(&format!(
            "SELECT e.event_id FROM events e,
                 (SELECT timestamp, received, id FROM events
                  WHERE project_id = ?2 AND event_id = ?3 AND issue_id = ?1) AS this
             WHERE e.issue_id = ?1
               AND (e.timestamp, e.received, e.id) {comparison} (this.timestamp, this.received, this.id)
             ORDER BY e.timestamp {order}, e.received {order}, e.id {order} LIMIT 1"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![issue_id, project_id, event_id], |row| row.get(0))
                .optional()
        })
        .db("reading an event's neighbours")
    };
    Ok((step("<", "DESC")?, step(">", "ASC")?))
}
