//! Issue rows: reading them, changing their status, their tag values and hourly counts.
//!
//! Issues are created and counted by [`super::ingest`] and searched by
//! [`super::issue_search`]; both read rows through [`from_row`] and [`COLUMNS`].

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::now;
use super::sql::{self, get, json_column, status_column};
use super::PgStore;
use crate::{Issue, IssueStatus, StoreResult, TagValueCount};
use crate::{Issues, UnixTime};

/// The columns [`from_row`] reads, of `issues` aliased `i`.
pub(crate) const COLUMNS: &str = "i.id, i.project_id, i.short_id, i.status, i.substatus, i.level, \
                                  i.event_type, i.title, i.culprit, i.metadata, i.platform, \
                                  i.first_seen, i.last_seen, i.times_seen, i.user_count, \
                                  i.first_release, i.is_unhandled, i.resolved_at";

pub(crate) fn from_row(row: &Row) -> StoreResult<Issue> {
    Ok(Issue {
        id: get(row, 0)?,
        project_id: get(row, 1)?,
        short_id: get(row, 2)?,
        status: status_column(row, 3, "issue status", IssueStatus::parse)?,
        substatus: get(row, 4)?,
        level: get(row, 5)?,
        event_type: get(row, 6)?,
        title: get(row, 7)?,
        culprit: get(row, 8)?,
        metadata: json_column(row, 9, "issue metadata")?,
        platform: get(row, 10)?,
        first_seen: get(row, 11)?,
        last_seen: get(row, 12)?,
        times_seen: get(row, 13)?,
        user_count: get(row, 14)?,
        first_release: get(row, 15)?,
        is_unhandled: get(row, 16)?,
        resolved_at: get(row, 17)?,
    })
}

pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<Issue>> {
    sql::query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM issues i WHERE i.id = $1"),
        &[&id],
        "reading an issue",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
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
pub(crate) async fn set_status<C: GenericClient>(
    client: &C,
    id: i64,
    status: IssueStatus,
) -> StoreResult<Option<Issue>> {
    let resolved_at = (status == IssueStatus::Resolved).then(now);
    sql::query_opt(
        client,
        &format!(
            "UPDATE issues i SET status = $2, substatus = $3, ignored_until = NULL,
                 resolved_at = CASE WHEN $4::DOUBLE PRECISION IS NULL THEN NULL
                                    ELSE coalesce(i.resolved_at, $4) END
             WHERE i.id = $1
             RETURNING {COLUMNS}"
        ),
        &[&id, &status.as_str(), &substatus_for(status), &resolved_at],
        "updating an issue's status",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Hourly event counts of the issues since `since` (hour starts in seconds), in the order of
/// `issue_ids`, then by hour.
pub(crate) async fn hourly_counts<C: GenericClient>(
    client: &C,
    issue_ids: &[i64],
    since: f64,
) -> StoreResult<Vec<(i64, i64, i64)>> {
    let since_hour = ((since / 3600.0).floor() * 3600.0) as i64;
    sql::query(
        client,
        "SELECT h.issue_id, h.hour, h.count
         FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS u(issue_id, n)
         JOIN issue_hourly h ON h.issue_id = u.issue_id
         WHERE h.hour >= $2
         ORDER BY u.n, h.hour",
        &[&issue_ids, &since_hour],
        "reading hourly counts",
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)))
    .collect()
}

/// Tag values of an issue: by key, then most seen first.
pub(crate) async fn tag_values<C: GenericClient>(
    client: &C,
    issue_id: i64,
) -> StoreResult<Vec<TagValueCount>> {
    sql::query(
        client,
        "SELECT key, value, times_seen, first_seen, last_seen FROM issue_tag_values
         WHERE issue_id = $1 ORDER BY key, times_seen DESC, value",
        &[&issue_id],
        "reading an issue's tag values",
    )
    .await?
    .iter()
    .map(|row| {
        Ok(TagValueCount {
            key: get(row, 0)?,
            value: get(row, 1)?,
            times_seen: get(row, 2)?,
            first_seen: get(row, 3)?,
            last_seen: get(row, 4)?,
        })
    })
    .collect()
}

#[async_trait]
impl Issues for PgStore {
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        by_id(&self.client().await?, id).await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        set_status(&self.client().await?, id, status).await
    }

    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>> {
        super::alerts::snooze_issue(self, id, until).await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        hourly_counts(&self.client().await?, issue_ids, since).await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        tag_values(&self.client().await?, issue_id).await
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
