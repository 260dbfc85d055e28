//! Issue rows: reading them, changing their status, their tag values.
//!
//! Issues are created and counted by [`super::ingest`] and searched by
//! [`super::issue_search`]; rows are read as [`Issue`] records of [`ISSUE_COLUMNS`].

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::error::DbContext;
use super::now;
use super::statements::{record_opt, records};
use super::SqliteStore;
use crate::batch::hour_of;
use crate::query::triage::CLEAR_SNOOZE;
use crate::shared::{substatus_for, ISSUE_COLUMNS, TAG_VALUE_COLUMNS};
use crate::{Issue, IssueStatus, StoreResult, TagValueCount};
use crate::{Issues, UnixTime};

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Issue>> {
    record_opt(
        conn,
        &format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.id = ?1"),
        [id],
        "reading an issue",
    )
}

#[async_trait]
impl Issues for SqliteStore {
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        self.read(move |conn| by_id(conn, id)).await
    }

    async fn issue_by_short_id(
        &self,
        project_id: i64,
        short_id: i64,
    ) -> StoreResult<Option<Issue>> {
        self.read(move |conn| {
            record_opt(
                conn,
                &format!(
                    "SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.project_id = ?1 AND i.short_id = ?2"
                ),
                [project_id, short_id],
                "reading an issue by short id",
            )
        })
        .await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        let resolved_at = (status == IssueStatus::Resolved).then(now);
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(&format!(
                    "UPDATE issues SET status = ?2, substatus = ?3, ignored_until = NULL,
                         resolved_at = CASE WHEN ?4 IS NULL THEN NULL ELSE coalesce(resolved_at, ?4) END,
                         {CLEAR_SNOOZE}
                     WHERE id = ?1"
                ))
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
        })
        .await
    }

    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE issues SET status = 'ignored',
                         substatus = 'archived_until_condition_met', ignored_until = ?2,
                         resolved_at = NULL
                     WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![id, until]))
                .db("snoozing an issue")?;
            if changed == 0 {
                return Ok(None);
            }
            by_id(conn, id)
        })
        .await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        let issue_ids = issue_ids.to_vec();
        let since_hour = hour_of(since);
        self.read(move |conn| {
            let mut out = Vec::new();
            for issue_id in issue_ids {
                out.extend(records::<(i64, i64, i64)>(
                    conn,
                    "SELECT issue_id, hour, count FROM issue_hourly
                     WHERE issue_id = ?1 AND hour >= ?2 ORDER BY hour",
                    params![issue_id, since_hour],
                    "reading hourly counts",
                )?);
            }
            Ok(out)
        })
        .await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        self.read(move |conn| {
            records(
                conn,
                &format!(
                    "SELECT {TAG_VALUE_COLUMNS} FROM issue_tag_values
                     WHERE issue_id = ?1 ORDER BY key, times_seen DESC, value"
                ),
                [issue_id],
                "reading an issue's tag values",
            )
        })
        .await
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
