//! User reports on PostgreSQL (statements in `query/attachments.rs`).

use async_trait::async_trait;

use super::error::DbContext;
use super::sql::{self, record_opt, records, sql_int};
use super::PgStore;
use crate::query::attachments::{
    event_user_reports_sql, insert_user_report_sql, issue_user_reports_sql,
    project_user_reports_sql, update_user_report_sql, user_report_sql,
};
use crate::query::Dialect;
use crate::{NewUserReport, StoreResult, UserReport, UserReports};

const SQL: Dialect = Dialect::Postgres;

#[async_trait]
impl UserReports for PgStore {
    async fn save_user_reports(&self, reports: Vec<NewUserReport>) -> StoreResult<()> {
        let what = "saving user reports";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let insert = insert_user_report_sql(SQL);
        for r in &reports {
            sql::query(
                &tx,
                &insert,
                &[
                    &r.project_id,
                    &r.event_id,
                    &r.name,
                    &r.email,
                    &r.comments,
                    &r.received,
                    &r.dedup_key,
                ],
                what,
            )
            .await?;
        }
        tx.commit().await.db(what)
    }

    async fn user_report(&self, id: i64) -> StoreResult<Option<UserReport>> {
        record_opt(
            &self.client().await?,
            &user_report_sql(SQL),
            &[&id],
            "reading a user report",
        )
        .await
    }

    async fn update_user_report(&self, id: i64, report: &NewUserReport) -> StoreResult<()> {
        sql::execute(
            &self.client().await?,
            &update_user_report_sql(SQL),
            &[
                &id,
                &report.name,
                &report.email,
                &report.comments,
                &report.received,
            ],
            "updating a user report",
        )
        .await?;
        Ok(())
    }

    async fn event_user_reports(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<UserReport>> {
        records(
            &self.client().await?,
            &event_user_reports_sql(SQL),
            &[&project_id, &event_id],
            "listing an event's user reports",
        )
        .await
    }

    async fn project_user_reports(
        &self,
        project_id: i64,
        unresolved_only: bool,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>> {
        records(
            &self.client().await?,
            &project_user_reports_sql(SQL, unresolved_only),
            &[&project_id, &sql_int(limit), &sql_int(offset)],
            "listing a project's user reports",
        )
        .await
    }

    async fn issue_user_reports(
        &self,
        project_id: i64,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>> {
        records(
            &self.client().await?,
            &issue_user_reports_sql(SQL),
            &[&project_id, &issue_id, &sql_int(limit), &sql_int(offset)],
            "listing an issue's user reports",
        )
        .await
    }
}
