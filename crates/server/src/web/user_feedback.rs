//! User feedback on the issue page: what users wrote about the event shown, and the latest
//! reports on the issue's events in the sidebar.

use maud::{html, Markup};
use vigil_store::{Issue, UserReport};

use super::error::WebError;
use super::layout::time_ago;
use crate::AppState;

/// Reports shown in the issue's sidebar.
const SIDEBAR_REPORTS: u64 = 5;

fn report(report: &UserReport, now: f64) -> Markup {
    let who = if report.name.is_empty() {
        &report.email
    } else {
        &report.name
    };
    html! {
        li.user-report {
            p.comments { (report.comments) }
            p.muted {
                (who)
                @if !report.email.is_empty() && !report.name.is_empty() { " <" (report.email) ">" }
                " · " (time_ago(report.received, now))
            }
        }
    }
}

/// The reports on one event; nothing when it has none.
pub async fn event_section(
    state: &AppState,
    project_id: i64,
    event_id: &str,
    now: f64,
) -> Result<Markup, WebError> {
    let reports = state.store.event_user_reports(project_id, event_id).await?;
    Ok(html! {
        @if !reports.is_empty() {
            section.user-feedback #user-feedback {
                h2 { "User Feedback" }
                ul.user-reports { @for r in &reports { (report(r, now)) } }
            }
        }
    })
}

/// The latest reports on the issue's events; nothing when there are none.
pub async fn issue_section(state: &AppState, issue: &Issue, now: f64) -> Result<Markup, WebError> {
    let reports = state
        .store
        .issue_user_reports(issue.project_id, issue.id, 0, SIDEBAR_REPORTS)
        .await?;
    Ok(html! {
        @if !reports.is_empty() {
            section.issue-feedback {
                h2 { "User Feedback" }
                ul.user-reports { @for r in &reports { (report(r, now)) } }
            }
        }
    })
}
