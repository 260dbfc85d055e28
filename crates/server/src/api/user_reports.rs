//! Sentry's user feedback endpoints: a project's reports
//! (`GET /api/0/projects/{org}/{project}/user-reports/`), an issue's
//! (`GET /api/0/issues/{id}/user-reports/`), and a report submitted through the API
//! (`POST /api/0/projects/{org}/{project}/user-feedback/`).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use vigil_store::{NewUserReport, StoreError, UserReport};

use super::access::{IssueAccess, ProjectAccess};
use super::error::{json_body, ApiError};
use super::pagination::Page;
use super::performance_settings::WRITE_SCOPES;
use crate::query::{self, QueryPairs};
use crate::serialize::{serialize_issue, serialize_user_report};
use crate::time::unix_now;
use crate::AppState;

/// Sentry's model bounds on the posted fields (`UserReport`: name and email 128 characters).
const MAX_NAME_CHARS: usize = 128;
const MAX_EMAIL_CHARS: usize = 128;

/// `GET /api/0/projects/{org}/{project}/user-reports/`: newest first, each with its issue;
/// `?status=unresolved` (the default) leaves out reports on resolved or ignored issues,
/// `?status=` lists all. As in Sentry, only reports on a stored event (so with an issue).
pub async fn list_project(
    State(state): State<AppState>,
    ProjectAccess { org, project, .. }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let unresolved_only = match query::first(&params, "status") {
        None | Some("unresolved") => true,
        Some("") => false,
        Some(_) => return Err(ApiError::bad_field("status", "Invalid status choice")),
    };
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit"),
    )?;
    let reports = state
        .store
        .project_user_reports(project.id, unresolved_only, page.offset, page.limit + 1)
        .await?;
    let has_next = reports.len() as u64 > page.limit;
    let mut issues: HashMap<i64, Value> = HashMap::new();
    let mut body = Vec::new();
    for report in reports.iter().take(page.limit as usize) {
        let issue = match report.issue_id {
            Some(id) => match issues.get(&id) {
                Some(issue) => Some(issue.clone()),
                None => {
                    let found = state.store.issue_by_id(id).await?;
                    let issue = found.map(|i| serialize_issue(&i, &project, &org, &state.config));
                    if let Some(issue) = &issue {
                        issues.insert(id, issue.clone());
                    }
                    issue
                }
            },
            None => None,
        };
        body.push(serialize_user_report(
            report,
            Some(issue.unwrap_or(Value::Null)),
        ));
    }
    let base = format!(
        "{}/api/0/projects/{}/{}/user-reports/",
        state.config.base_url(),
        org.slug,
        project.slug
    );
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}

/// `GET /api/0/issues/{id}/user-reports/`: the reports on the issue's events, newest first.
pub async fn list_issue(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit"),
    )?;
    let reports = state
        .store
        .issue_user_reports(issue.project_id, issue.id, page.offset, page.limit + 1)
        .await?;
    let has_next = reports.len() as u64 > page.limit;
    let body: Vec<Value> = reports
        .iter()
        .take(page.limit as usize)
        .map(|r| serialize_user_report(r, None))
        .collect();
    let base = format!(
        "{}/api/0/issues/{}/user-reports/",
        state.config.base_url(),
        issue.id
    );
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}

/// `POST /api/0/projects/{org}/{project}/user-feedback/` with `event_id`, `name`, `email` and
/// `comments` (all required, as Sentry's serializer has them). A second report on the same
/// event within five minutes replaces the first; later it is 409, as in Sentry.
pub async fn submit(
    State(state): State<AppState>,
    ProjectAccess {
        caller,
        org,
        project,
    }: ProjectAccess,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    let body = json_body(body)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::bad_field("non_field_errors", "Invalid data."))?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "event_id" | "name" | "email" | "comments"))
    {
        return Err(ApiError::bad_field(unknown, "This field is not accepted."));
    }
    let field = |name: &str, max: Option<usize>| -> Result<String, ApiError> {
        let text = match object.get(name) {
            None | Some(Value::Null) => {
                return Err(ApiError::bad_field(name, "This field is required."))
            }
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => return Err(ApiError::bad_field(name, "Not a valid string.")),
        };
        if text.is_empty() {
            return Err(ApiError::bad_field(name, "This field may not be blank."));
        }
        if let Some(max) = max.filter(|max| text.chars().count() > *max) {
            return Err(ApiError::bad_field(
                name,
                format!("Ensure this field has no more than {max} characters."),
            ));
        }
        Ok(text)
    };
    let raw_event_id = field("event_id", None)?;
    let event_id = vigil_protocol::ids::normalize_uuid(&raw_event_id)
        .ok_or_else(|| ApiError::bad_field("event_id", "Enter a valid event id."))?;
    let name = field("name", Some(MAX_NAME_CHARS))?;
    let email = field("email", Some(MAX_EMAIL_CHARS))?;
    if !plausible_email(&email) {
        return Err(ApiError::bad_field("email", "Enter a valid email address."));
    }
    let comments = field("comments", None)?;
    let report = NewUserReport {
        project_id: project.id,
        event_id,
        name,
        email,
        comments,
        received: unix_now(),
        dedup_key: None,
    };
    let saved: UserReport = match state.store.submit_user_report(report).await {
        Ok(saved) => saved,
        Err(StoreError::Conflict(_)) => {
            let detail =
                serde_json::json!({"detail": "Feedback for this event cannot be modified."});
            return Ok((StatusCode::CONFLICT, Json(detail)).into_response());
        }
        Err(err) => return Err(err.into()),
    };
    let issue = match saved.issue_id {
        Some(id) => state
            .store
            .issue_by_id(id)
            .await?
            .map(|i| serialize_issue(&i, &project, &org, &state.config)),
        None => None,
    };
    Ok(Json(serialize_user_report(
        &saved,
        Some(issue.unwrap_or(Value::Null)),
    ))
    .into_response())
}

/// Django's `EmailValidator` in short: one `@` with text before it and a dotted domain after.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn emails_are_checked_as_django_does_in_short() {
        assert!(plausible_email("jane@example.com"));
        assert!(!plausible_email("jane"));
        assert!(!plausible_email("jane@localhost"));
        assert!(!plausible_email("ja ne@example.com"));
        assert!(!plausible_email("@example.com"));
    }
}
