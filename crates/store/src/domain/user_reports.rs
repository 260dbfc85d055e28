//! User feedback: what users wrote about an error, kept by the event id it names and linked to
//! that event's issue once the event is stored.

use async_trait::async_trait;

use crate::{NewUserReport, StoreError, StoreResult, UserReport, USER_REPORT_EDIT_WINDOW};

/// User reports, listed by project, issue and event.
#[async_trait]
pub trait UserReports: Send + Sync {
    /// Keeps reports from envelope items, in one transaction; one whose `dedup_key` is stored
    /// already in its project is skipped.
    async fn save_user_reports(&self, reports: Vec<NewUserReport>) -> StoreResult<()>;
    /// One report by id.
    async fn user_report(&self, id: i64) -> StoreResult<Option<UserReport>>;
    /// Replaces the name, email, comments and time of report `id`.
    async fn update_user_report(&self, id: i64, report: &NewUserReport) -> StoreResult<()>;
    /// The reports on one event, oldest first.
    async fn event_user_reports(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<UserReport>>;
    /// A project's reports, newest first; with `unresolved_only`, leaving out those on
    /// resolved or ignored issues.
    async fn project_user_reports(
        &self,
        project_id: i64,
        unresolved_only: bool,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>>;
    /// The reports on an issue's events, newest first.
    async fn issue_user_reports(
        &self,
        project_id: i64,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<UserReport>>;

    /// A report posted to the API, as Sentry's `user-feedback/` takes it: a second report on
    /// the same event within [`USER_REPORT_EDIT_WINDOW`] of the first replaces it; later, it
    /// is a `Conflict`.
    async fn submit_user_report(&self, report: NewUserReport) -> StoreResult<UserReport> {
        let earlier = self
            .event_user_reports(report.project_id, &report.event_id)
            .await?;
        let id = match earlier.last() {
            Some(last) if report.received - last.received <= USER_REPORT_EDIT_WINDOW => {
                self.update_user_report(last.id, &report).await?;
                last.id
            }
            Some(_) => {
                return Err(StoreError::Conflict(
                    "a user report for this event".to_string(),
                ))
            }
            None => {
                let event_id = report.event_id.clone();
                let project_id = report.project_id;
                self.save_user_reports(vec![report]).await?;
                self.event_user_reports(project_id, &event_id)
                    .await?
                    .last()
                    .map(|r| r.id)
                    .ok_or_else(|| StoreError::Database("a saved user report is gone".into()))?
            }
        };
        self.user_report(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("user report".into()))
    }
}
