//! Triage in PostgreSQL: the shared statements of [`crate::query::triage`]; scripts (delete,
//! merge) run in one transaction. The issues a script changes are locked first, in id order,
//! so a concurrent ingest batch (which locks the issues it counts into the same way) waits.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::error::DbContext;
use super::sql;
use super::{now, PgStore};
use crate::query::triage::{self as q, Step};
use crate::query::Dialect;
use crate::rows::Text;
use crate::{IssueActivity, IssueTriage, Snooze, StoreResult, Triage};

async fn run<C: GenericClient>(client: &C, step: &Step, what: &str) -> StoreResult<u64> {
    sql::execute(
        client,
        &step.sql_for(Dialect::Postgres),
        &step.postgres_params(),
        what,
    )
    .await
}

async fn activity<C: GenericClient>(
    client: &C,
    step: &Step,
    what: &str,
) -> StoreResult<Option<IssueActivity>> {
    sql::record_opt(
        client,
        &step.sql_for(Dialect::Postgres),
        &step.postgres_params(),
        what,
    )
    .await
}

/// The statement ingest runs after its tally: lifts the ignores of the batch's issues (`$1`)
/// whose conditions are met at `$2`; the ids of the issues it lifted.
pub(crate) fn lift_snoozes_sql() -> String {
    let met = q::SNOOZE_MET.replace('?', "$");
    format!(
        "UPDATE issues SET {} WHERE issues.id = ANY($1::BIGINT[])
             AND issues.ignore_times_seen IS NOT NULL AND {met}
         RETURNING issues.id",
        q::lift_set()
    )
}

impl PgStore {
    /// Runs `steps` in one transaction after locking `lock` (issue ids) in id order; the rows
    /// the last step changed.
    async fn script(&self, lock: &[i64], steps: &[Step], what: &str) -> StoreResult<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let mut lock = lock.to_vec();
        lock.sort_unstable();
        sql::execute(
            &tx,
            "SELECT id FROM issues WHERE id = ANY($1::BIGINT[]) ORDER BY id FOR NO KEY UPDATE",
            &[&lock],
            what,
        )
        .await?;
        let mut changed = 0;
        for step in steps {
            changed = run(&tx, step, what).await?;
        }
        tx.commit().await.db(what)?;
        Ok(changed)
    }

    async fn one(&self, step: Step, what: &str) -> StoreResult<u64> {
        run(&self.client().await?, &step, what).await
    }
}

#[async_trait]
impl Triage for PgStore {
    async fn issue_triage(
        &self,
        issue_id: i64,
        user_id: Option<i64>,
    ) -> StoreResult<Option<IssueTriage>> {
        let step = q::read_triage(issue_id, user_id);
        sql::record_opt(
            &self.client().await?,
            &step.sql_for(Dialect::Postgres),
            &step.postgres_params(),
            "reading an issue's triage",
        )
        .await
    }

    async fn set_assignee(&self, issue_id: i64, user_id: Option<i64>) -> StoreResult<()> {
        self.one(q::set_assignee(issue_id, user_id), "assigning")
            .await
            .map(drop)
    }

    async fn set_bookmark(&self, issue_id: i64, user_id: i64, on: bool) -> StoreResult<()> {
        self.one(q::set_bookmark(issue_id, user_id, on), "bookmarking")
            .await
            .map(drop)
    }

    async fn set_subscription(
        &self,
        issue_id: i64,
        user_id: i64,
        subscribed: bool,
        reason: &str,
        only_if_unset: bool,
    ) -> StoreResult<()> {
        let step = q::set_subscription(issue_id, user_id, subscribed, reason, only_if_unset);
        self.one(step, "subscribing").await.map(drop)
    }

    async fn set_seen(&self, issue_id: i64, user_id: i64, at: Option<f64>) -> StoreResult<()> {
        self.one(q::set_seen(issue_id, user_id, at), "marking seen")
            .await
            .map(drop)
    }

    async fn set_reviewed(&self, issue_id: i64, at: Option<f64>) -> StoreResult<()> {
        self.one(q::set_reviewed(issue_id, at), "marking reviewed")
            .await
            .map(drop)
    }

    async fn ignore_issue(
        &self,
        issue_id: i64,
        substatus: &str,
        snooze: &Snooze,
    ) -> StoreResult<bool> {
        self.one(q::ignore(issue_id, substatus, snooze), "ignoring an issue")
            .await
            .map(|n| n > 0)
    }

    async fn add_activity(
        &self,
        issue_id: i64,
        kind: &str,
        data: &serde_json::Value,
        user_id: Option<i64>,
    ) -> StoreResult<IssueActivity> {
        let step = q::add_activity(issue_id, kind, data, user_id, now());
        activity(&self.client().await?, &step, "recording activity")
            .await?
            .ok_or_else(|| {
                crate::StoreError::Database("recording activity: no row returned".into())
            })
    }

    async fn activity_by_id(&self, id: i64) -> StoreResult<Option<IssueActivity>> {
        activity(
            &self.client().await?,
            &q::activity_by_id(id),
            "reading an activity",
        )
        .await
    }

    async fn update_activity_data(
        &self,
        id: i64,
        data: &serde_json::Value,
    ) -> StoreResult<Option<IssueActivity>> {
        activity(
            &self.client().await?,
            &q::update_activity_data(id, data),
            "editing an activity",
        )
        .await
    }

    async fn delete_activity(&self, id: i64) -> StoreResult<bool> {
        self.one(q::delete_activity(id), "deleting an activity")
            .await
            .map(|n| n > 0)
    }

    async fn issue_hashes(&self, issue_id: i64) -> StoreResult<Vec<String>> {
        let step = q::issue_hashes(issue_id);
        let rows: Vec<Text> = sql::records(
            &self.client().await?,
            &step.sql_for(Dialect::Postgres),
            &step.postgres_params(),
            "reading an issue's hashes",
        )
        .await?;
        Ok(rows.into_iter().map(|Text(hash)| hash).collect())
    }

    async fn delete_issue(&self, issue_id: i64) -> StoreResult<bool> {
        self.script(&[issue_id], &q::delete_issue(issue_id), "deleting an issue")
            .await
            .map(|n| n > 0)
    }

    async fn merge_issues(&self, primary: i64, children: &[i64]) -> StoreResult<()> {
        let mut steps = Vec::new();
        for &child in children {
            steps.extend(q::merge(primary, child));
        }
        let mut lock = children.to_vec();
        lock.push(primary);
        self.script(&lock, &steps, "merging issues").await.map(drop)
    }

    async fn unmerge_hash(&self, issue_id: i64, hash: &str) -> StoreResult<Option<i64>> {
        let Some((hash, split)) = q::split_of(self, issue_id, hash).await? else {
            return Ok(None);
        };
        let what = "unmerging a hash";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        sql::execute(
            &tx,
            "SELECT id FROM issues WHERE id = $1 FOR NO KEY UPDATE",
            &[&issue_id],
            what,
        )
        .await?;
        let short_id = int(&tx, &q::next_short_id(split.project_id), what).await?;
        let target = int(
            &tx,
            &q::create_split_issue(Dialect::Postgres, issue_id, short_id, &split),
            what,
        )
        .await?;
        for step in q::unmerge(issue_id, target, &hash, &split) {
            run(&tx, &step, what).await?;
        }
        tx.commit().await.db(what)?;
        Ok(Some(target))
    }
}

/// The one integer a `RETURNING` step answers.
async fn int<C: GenericClient>(client: &C, step: &Step, what: &str) -> StoreResult<i64> {
    let row = sql::query_one(
        client,
        &step.sql_for(Dialect::Postgres),
        &step.postgres_params(),
        what,
    )
    .await?;
    sql::get(&row, 0)
}
