//! User reports on SQLite (statements in `query/attachments.rs`).

use async_trait::async_trait;
use rusqlite::{params, TransactionBehavior};

use super::error::DbContext;
use super::statements::{record_opt, records};
use super::{sql_int, SqliteStore};
use crate::query::attachments::{
    event_user_reports_sql, insert_user_report_sql, issue_user_reports_sql,
    project_user_reports_sql, update_user_report_sql, user_report_sql,
};
use crate::query::Dialect;
use crate::{NewUserReport, StoreResult, UserReport, UserReports};

const SQL: Dialect = Dialect::Sqlite;

#[async_trait]
impl UserReports for SqliteStore {
    async fn save_user_reports(&self, reports: Vec<NewUserReport>) -> StoreResult<()> {
        self.write(move |conn| {
            let what = "saving user reports";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            {
                let mut stmt = tx.prepare_cached(&insert_user_report_sql(SQL)).db(what)?;
                for r in &reports {
                    // RETURNING yields a row only when the report was new.
                    let mut rows = stmt
                        .query(params![
                            r.project_id,
                            r.event_id,
                            r.name,
                            r.email,
                            r.comments,
                            r.received,
                            r.dedup_key,
                        ])
                        .db(what)?;
                    while rows.next().db(what)?.is_some() {}
                }
            }
            tx.commit().db(what)
        })
        .await
    }

    async fn user_report(&self, id: i64) -> StoreResult<Option<UserReport>> {
        self.read(move |conn| {
            record_opt(conn, &user_report_sql(SQL), [id], "reading a user report")
        })
        .await
    }

    async fn update_user_report(&self, id: i64, report: &NewUserReport) -> StoreResult<()> {
        let report = report.clone();
        self.write(move |conn| {
            conn.prepare_cached(&update_user_report_sql(SQL))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id,
                        report.name,
                        report.email,
                        report.comments,
                        report.received
                    ])
                })
                .db("updating a user report")?;
            Ok(())
        })
        .await
    }

    async fn event_user_reports(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<UserReport>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            records(
                conn,
                &event_user_reports_sql(SQL),
                params![project_id, event_id],
                "listing an event's user reports",
            )
        })
        .await
    }

    async fn project_user_reports(
        &self,
        project_id: i64,
        unresolved_only: bool,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>> {
        self.read(move |conn| {
            records(
                conn,
                &project_user_reports_sql(SQL, unresolved_only),
                params![project_id, sql_int(limit), sql_int(offset)],
                "listing a project's user reports",
            )
        })
        .await
    }

    async fn issue_user_reports(
        &self,
        project_id: i64,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>> {
        self.read(move |conn| {
            records(
                conn,
                &issue_user_reports_sql(SQL),
                params![project_id, issue_id, sql_int(limit), sql_int(offset)],
                "listing an issue's user reports",
            )
        })
        .await
    }
}
