//! Issue rows: reading them, changing their status, their tag values and hourly counts.
//!
//! Issues are created and counted by [`super::ingest`] and searched by
//! [`super::issue_search`]; rows are read as [`Issue`] records of [`COLUMNS`].

use async_trait::async_trait;

use super::now;
use super::sql;
use super::PgStore;
use crate::batch::hour_of;
use crate::query::triage::CLEAR_SNOOZE;
use crate::shared::{substatus_for, TAG_VALUE_COLUMNS};
use crate::{Issue, IssueStatus, StoreResult, TagValueCount};
use crate::{Issues, UnixTime};

use crate::shared::ISSUE_COLUMNS as COLUMNS;

#[async_trait]
impl Issues for PgStore {
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        sql::record_opt(
            &self.client().await?,
            &format!("SELECT {COLUMNS} FROM issues i WHERE i.id = $1"),
            &[&id],
            "reading an issue",
        )
        .await
    }

    async fn issue_by_short_id(
        &self,
        project_id: i64,
        short_id: i64,
    ) -> StoreResult<Option<Issue>> {
        sql::record_opt(
            &self.client().await?,
            &format!("SELECT {COLUMNS} FROM issues i WHERE i.project_id = $1 AND i.short_id = $2"),
            &[&project_id, &short_id],
            "reading an issue by short id",
        )
        .await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        let resolved_at = (status == IssueStatus::Resolved).then(now);
        sql::record_opt(
            &self.client().await?,
            &format!(
                "UPDATE issues i SET status = $2, substatus = $3, ignored_until = NULL,
                     resolved_at = CASE WHEN $4::DOUBLE PRECISION IS NULL THEN NULL
                                        ELSE coalesce(i.resolved_at, $4) END,
                     {CLEAR_SNOOZE}
                 WHERE i.id = $1
                 RETURNING {COLUMNS}"
            ),
            &[&id, &status.as_str(), &substatus_for(status), &resolved_at],
            "updating an issue's status",
        )
        .await
    }

    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>> {
        sql::record_opt(
            &self.client().await?,
            &format!(
                "UPDATE issues i SET status = 'ignored', substatus = 'archived_until_condition_met',
                     resolved_at = NULL, ignored_until = $2
                 WHERE i.id = $1
                 RETURNING {COLUMNS}"
            ),
            &[&id, &until],
            "snoozing an issue",
        )
        .await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        sql::records(
            &self.client().await?,
            "SELECT h.issue_id, h.hour, h.count
             FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS u(issue_id, n)
             JOIN issue_hourly h ON h.issue_id = u.issue_id
             WHERE h.hour >= $2
             ORDER BY u.n, h.hour",
            &[&issue_ids, &hour_of(since)],
            "reading hourly counts",
        )
        .await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        sql::records(
            &self.client().await?,
            &format!(
                "SELECT {TAG_VALUE_COLUMNS} FROM issue_tag_values
                 WHERE issue_id = $1 ORDER BY key, times_seen DESC, value"
            ),
            &[&issue_id],
            "reading an issue's tag values",
        )
        .await
    }

    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>> {
        super::project_tags::values(&self.client().await?, project_id, key, limit).await
    }
}
