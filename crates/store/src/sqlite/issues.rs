//! Issue rows: reading them, changing their status, their tag values.
//!
//! Issues are created and counted by [`super::ingest`] and searched by
//! [`super::issue_search`]; both read rows through [`from_row`] and [`COLUMNS`].

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::columns::{enum_column, json_column};
use super::error::DbContext;
use super::now;
use super::SqliteStore;
use crate::{Issue, IssueStatus, StoreResult, TagValueCount};
use crate::{Issues, UnixTime};

/// The columns [`from_row`] reads, of `issues` aliased `i`.
pub(crate) const COLUMNS: &str = "i.id, i.project_id, i.short_id, i.status, i.substatus, i.level, \
                                  i.event_type, i.title, i.culprit, i.metadata, i.platform, \
                                  i.first_seen, i.last_seen, i.times_seen, i.user_count, \
                                  i.first_release, i.is_unhandled, i.resolved_at";

pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Issue> {
    Ok(Issue {
        id: row.get(0)?,
        project_id: row.get(1)?,
        short_id: row.get(2)?,
        status: enum_column(row, 3, "issue status", IssueStatus::parse)?,
        substatus: row.get(4)?,
        level: row.get(5)?,
        event_type: row.get(6)?,
        title: row.get(7)?,
        culprit: row.get(8)?,
        metadata: json_column(row, 9)?,
        platform: row.get(10)?,
        first_seen: row.get(11)?,
        last_seen: row.get(12)?,
        times_seen: row.get(13)?,
        user_count: row.get(14)?,
        first_release: row.get(15)?,
        is_unhandled: row.get(16)?,
        resolved_at: row.get(17)?,
    })
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Issue>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM issues i WHERE i.id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], from_row).optional())
        .db("reading an issue")
}

/// The substatus that goes with a status set by hand, as Sentry sets them: resolving clears
/// it, ignoring without a condition is `archived_forever`, reopening makes it `ongoing`.
fn substatus_for(status: IssueStatus) -> &'static str {
    match status {
        IssueStatus::Resolved => "",
        IssueStatus::Ignored => "archived_forever",
        IssueStatus::Unresolved => "ongoing",
    }
}

/// Sets status and substatus; `resolved_at` is the time of the first resolve (resolving twice
/// keeps it) and is cleared by any other status. A snooze (`ignored_until`) ends: a status set
/// by hand holds until changed again.
pub(crate) fn set_status(
    conn: &Connection,
    id: i64,
    status: IssueStatus,
) -> StoreResult<Option<Issue>> {
    let resolved_at = (status == IssueStatus::Resolved).then(now);
    let changed = conn
        .prepare_cached(
            "UPDATE issues SET status = ?2, substatus = ?3, ignored_until = NULL,
                 resolved_at = CASE WHEN ?4 IS NULL THEN NULL ELSE coalesce(resolved_at, ?4) END
             WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                id,
                status.as_str(),
                substatus_for(status),
                resolved_at
            ])
        })
        .db("updating an issue's status")?;
    if changed == 0 {
        return Ok(None);
    }
    by_id(conn, id)
}

/// Hourly event counts of the issues since `since` (hour starts in seconds).
pub(crate) fn hourly_counts(
    conn: &Connection,
    issue_ids: &[i64],
    since: f64,
) -> StoreResult<Vec<(i64, i64, i64)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT issue_id, hour, count FROM issue_hourly WHERE issue_id = ?1 AND hour >= ?2 ORDER BY hour",
        )
        .db("reading hourly counts")?;
    let since_hour = ((since / 3600.0).floor() * 3600.0) as i64;
    let mut out = Vec::new();
    for issue_id in issue_ids {
        let rows = stmt
            .query_map(rusqlite::params![issue_id, since_hour], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .db("reading hourly counts")?;
        out.extend(rows);
    }
    Ok(out)
}

/// Tag values of an issue: by key, then most seen first.
pub(crate) fn tag_values(conn: &Connection, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
    conn.prepare_cached(
        "SELECT key, value, times_seen, first_seen, last_seen FROM issue_tag_values
         WHERE issue_id = ?1 ORDER BY key, times_seen DESC, value",
    )
    .and_then(|mut stmt| {
        stmt.query_map([issue_id], |row| {
            Ok(TagValueCount {
                key: row.get(0)?,
                value: row.get(1)?,
                times_seen: row.get(2)?,
                first_seen: row.get(3)?,
                last_seen: row.get(4)?,
            })
        })?
        .collect()
    })
    .db("reading an issue's tag values")
}

#[async_trait]
impl Issues for SqliteStore {
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        self.read(move |conn| by_id(conn, id)).await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        self.write(move |conn| set_status(conn, id, status)).await
    }

    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>> {
        super::alerts::snooze_issue(self, id, until).await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        let issue_ids = issue_ids.to_vec();
        self.read(move |conn| hourly_counts(conn, &issue_ids, since))
            .await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        self.read(move |conn| tag_values(conn, issue_id)).await
    }

    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>> {
        let key = key.to_owned();
        self.read(move |conn| super::project_tags::values(conn, project_id, &key, limit))
            .await
    }
}
