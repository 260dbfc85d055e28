//! Tag values over all issues of a project (the environments a project has seen).

use rusqlite::Connection;

use super::statements::records;
use crate::{StoreResult, TagValueCount};

/// Values of tag `key` in the project's issues, summed over issues, most recently seen first.
pub(crate) fn values(
    conn: &Connection,
    project_id: i64,
    key: &str,
    limit: u64,
) -> StoreResult<Vec<TagValueCount>> {
    // In the order of `TAG_VALUE_COLUMNS`; grouping by the key too changes nothing, it is `key`.
    records(
        conn,
        "SELECT v.key, v.value, sum(v.times_seen), min(v.first_seen), max(v.last_seen)
         FROM issues i JOIN issue_tag_values v ON v.issue_id = i.id AND v.key = ?2
         WHERE i.project_id = ?1
         GROUP BY v.key, v.value ORDER BY max(v.last_seen) DESC, v.value LIMIT ?3",
        rusqlite::params![project_id, key, super::sql_int(limit)],
        "reading a project's tag values",
    )
}
