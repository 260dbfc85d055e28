//! Tag values over all issues of a project (the environments a project has seen).

use rusqlite::Connection;

use super::error::DbContext;
use crate::{StoreResult, TagValueCount};

/// Values of tag `key` in the project's issues, summed over issues, most recently seen first.
pub(crate) fn values(
    conn: &Connection,
    project_id: i64,
    key: &str,
    limit: u64,
) -> StoreResult<Vec<TagValueCount>> {
    conn.prepare_cached(
        "SELECT v.value, sum(v.times_seen), min(v.first_seen), max(v.last_seen)
         FROM issues i JOIN issue_tag_values v ON v.issue_id = i.id AND v.key = ?2
         WHERE i.project_id = ?1
         GROUP BY v.value ORDER BY max(v.last_seen) DESC, v.value LIMIT ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_map(
            rusqlite::params![project_id, key, super::sql_int(limit)],
            |row| {
                Ok(TagValueCount {
                    key: key.to_string(),
                    value: row.get(0)?,
                    times_seen: row.get(1)?,
                    first_seen: row.get(2)?,
                    last_seen: row.get(3)?,
                })
            },
        )?
        .collect()
    })
    .db("reading a project's tag values")
}
