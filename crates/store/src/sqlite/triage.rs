//! Triage in SQLite: the shared statements of [`crate::query::triage`], each write in its own
//! transaction.

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};

use super::error::DbContext;
use super::now;
use super::statements::{record_opt, records};
use super::SqliteStore;
use crate::query::triage::{self as q, Step};
use crate::query::Dialect;
use crate::rows::Text;
use crate::{IssueActivity, IssueTriage, Snooze, StoreResult, Triage};

fn run(conn: &Connection, step: &Step, what: &str) -> StoreResult<usize> {
    conn.prepare_cached(&step.sql_for(Dialect::Sqlite))
        .and_then(|mut stmt| stmt.execute(params_from_iter(step.params.iter())))
        .db(what)
}

fn activity(conn: &Connection, step: &Step, what: &str) -> StoreResult<Option<IssueActivity>> {
    record_opt(
        conn,
        &step.sql_for(Dialect::Sqlite),
        params_from_iter(step.params.iter()),
        what,
    )
}

/// Runs `steps` in one transaction; the rows the last one changed.
fn script(conn: &mut Connection, steps: &[Step], what: &str) -> StoreResult<usize> {
    let tx = conn.transaction().db(what)?;
    let mut changed = 0;
    for step in steps {
        changed = run(&tx, step, what)?;
    }
    tx.commit().db(what)?;
    Ok(changed)
}

/// Lifts the ignores of `issue_ids` whose conditions the batch just counted met; called by
/// ingest in its transaction after the tally. The ids of the issues it lifted.
pub(crate) fn lift_snoozes(tx: &Connection, issue_ids: &[i64], at: f64) -> StoreResult<Vec<i64>> {
    let sql = format!(
        "UPDATE issues SET {} WHERE issues.id = ?1 AND issues.ignore_times_seen IS NOT NULL
             AND {} RETURNING id",
        q::lift_set(),
        q::SNOOZE_MET
    );
    let mut stmt = tx.prepare_cached(&sql).db("lifting ignores")?;
    let mut lifted = Vec::new();
    for &id in issue_ids {
        let mut rows = stmt
            .query(rusqlite::params![id, at])
            .db("lifting ignores")?;
        while let Some(row) = rows.next().db("lifting ignores")? {
            lifted.push(row.get::<_, i64>(0).db("lifting ignores")?);
        }
    }
    Ok(lifted)
}

/// An activity by nobody about the event `event_id` (what ingest did to the issue).
pub(crate) fn record_activity(
    tx: &Connection,
    issue_id: i64,
    kind: &str,
    event_id: &str,
    at: f64,
) -> StoreResult<()> {
    let data = serde_json::json!({ "event_id": event_id });
    activity(
        tx,
        &q::add_activity(issue_id, kind, &data, None, at),
        "recording an issue's activity",
    )
    .map(drop)
}

#[async_trait]
impl Triage for SqliteStore {
    async fn issue_triage(
        &self,
        issue_id: i64,
        user_id: Option<i64>,
    ) -> StoreResult<Option<IssueTriage>> {
        self.read(move |conn| {
            let step = q::read_triage(issue_id, user_id);
            record_opt(
                conn,
                &step.sql_for(Dialect::Sqlite),
                params_from_iter(step.params.iter()),
                "reading an issue's triage",
            )
        })
        .await
    }

    async fn set_assignee(&self, issue_id: i64, user_id: Option<i64>) -> StoreResult<()> {
        self.write(move |conn| run(conn, &q::set_assignee(issue_id, user_id), "assigning"))
            .await
            .map(drop)
    }

    async fn set_bookmark(&self, issue_id: i64, user_id: i64, on: bool) -> StoreResult<()> {
        self.write(move |conn| run(conn, &q::set_bookmark(issue_id, user_id, on), "bookmarking"))
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
        self.write(move |conn| run(conn, &step, "subscribing"))
            .await
            .map(drop)
    }

    async fn set_seen(&self, issue_id: i64, user_id: i64, at: Option<f64>) -> StoreResult<()> {
        self.write(move |conn| run(conn, &q::set_seen(issue_id, user_id, at), "marking seen"))
            .await
            .map(drop)
    }

    async fn set_reviewed(&self, issue_id: i64, at: Option<f64>) -> StoreResult<()> {
        self.write(move |conn| run(conn, &q::set_reviewed(issue_id, at), "marking reviewed"))
            .await
            .map(drop)
    }

    async fn ignore_issue(
        &self,
        issue_id: i64,
        substatus: &str,
        snooze: &Snooze,
    ) -> StoreResult<bool> {
        let step = q::ignore(issue_id, substatus, snooze);
        self.write(move |conn| run(conn, &step, "ignoring an issue"))
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
        self.write(move |conn| {
            activity(conn, &step, "recording activity")?.ok_or_else(|| {
                crate::StoreError::Database("recording activity: no row returned".into())
            })
        })
        .await
    }

    async fn activity_by_id(&self, id: i64) -> StoreResult<Option<IssueActivity>> {
        self.read(move |conn| activity(conn, &q::activity_by_id(id), "reading an activity"))
            .await
    }

    async fn update_activity_data(
        &self,
        id: i64,
        data: &serde_json::Value,
    ) -> StoreResult<Option<IssueActivity>> {
        let step = q::update_activity_data(id, data);
        self.write(move |conn| activity(conn, &step, "editing an activity"))
            .await
    }

    async fn delete_activity(&self, id: i64) -> StoreResult<bool> {
        self.write(move |conn| run(conn, &q::delete_activity(id), "deleting an activity"))
            .await
            .map(|n| n > 0)
    }

    async fn issue_hashes(&self, issue_id: i64) -> StoreResult<Vec<String>> {
        self.read(move |conn| {
            let step = q::issue_hashes(issue_id);
            let rows: Vec<Text> = records(
                conn,
                &step.sql_for(Dialect::Sqlite),
                params_from_iter(step.params.iter()),
                "reading an issue's hashes",
            )?;
            Ok(rows.into_iter().map(|Text(hash)| hash).collect())
        })
        .await
    }

    async fn delete_issue(&self, issue_id: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            let mut steps = q::delete_issue(issue_id);
            // New issues must not take the id, and so the permalinks, of a deleted one.
            steps.insert(
                0,
                Step {
                    sql: "UPDATE issue_id_floor SET id = max(id, ?1)".into(),
                    params: vec![q::Value::Int(issue_id)],
                },
            );
            script(conn, &steps, "deleting an issue")
        })
        .await
        .map(|n| n > 0)
    }

    async fn merge_issues(&self, primary: i64, children: &[i64]) -> StoreResult<()> {
        let children = children.to_vec();
        self.write(move |conn| {
            let mut steps = Vec::new();
            for &child in &children {
                steps.push(Step {
                    sql: "UPDATE issue_id_floor SET id = max(id, ?1)".into(),
                    params: vec![q::Value::Int(child)],
                });
                steps.extend(q::merge(primary, child));
            }
            script(conn, &steps, "merging issues").map(drop)
        })
        .await
    }

    async fn unmerge_hash(&self, issue_id: i64, hash: &str) -> StoreResult<Option<i64>> {
        let Some((hash, split)) = q::split_of(self, issue_id, hash).await? else {
            return Ok(None);
        };
        self.write(move |conn| {
            let what = "unmerging a hash";
            let tx = conn.transaction().db(what)?;
            let short_id = int(&tx, &q::next_short_id(split.project_id), what)?;
            let target = int(
                &tx,
                &q::create_split_issue(Dialect::Sqlite, issue_id, short_id, &split),
                what,
            )?;
            for step in q::unmerge(issue_id, target, &hash, &split) {
                run(&tx, &step, what)?;
            }
            tx.commit().db(what)?;
            Ok(Some(target))
        })
        .await
    }
}

/// The one integer a `RETURNING` step answers.
fn int(conn: &Connection, step: &Step, what: &str) -> StoreResult<i64> {
    conn.prepare_cached(&step.sql_for(Dialect::Sqlite))
        .and_then(|mut stmt| stmt.query_row(params_from_iter(step.params.iter()), |row| row.get(0)))
        .db(what)
}
