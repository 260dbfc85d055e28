//! Events of an issue, and one event by id.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::access::{IssueAccess, ProjectAccess};
use super::error::ApiError;
use super::pagination::Page;
use crate::lookup;
use crate::query::{self, QueryPairs};
use crate::serialize::event::summary_fields;
use crate::serialize::{serialize_event, set_neighbours};
use crate::AppState;

/// `GET /api/0/issues/{id}/events/` (`?full=true` for whole bodies), newest first.
pub async fn list_issue_events(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit"),
    )?;
    let events = state
        .store
        .issue_events(issue.id, page.offset, page.limit + 1)
        .await?;
    let base = format!(
        "{}/api/0/issues/{}/events/",
        state.config.base_url(),
        issue.id
    );
    Ok(events_page(&events, page, &params, &base))
}

/// `GET /api/0/projects/{org}/{project}/events/` (`sentry-cli events list`): the project's
/// events, newest first, in the issue events' shape (`full=true` for whole events).
pub async fn list_project_events(
    State(state): State<AppState>,
    ProjectAccess { org, project, .. }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    if let Some((key, _)) = params
        .iter()
        .find(|(k, _)| !["full", "cursor", "limit", "per_page"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_field(
            key,
            "Vigil cannot filter a project's events by this; it takes full, cursor and limit",
        ));
    }
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit").or(query::first(&params, "per_page")),
    )?;
    let events = state
        .store
        .project_events(project.id, page.offset, page.limit + 1)
        .await?;
    let base = format!(
        "{}/api/0/projects/{}/{}/events/",
        state.config.base_url(),
        org.slug,
        project.slug
    );
    Ok(events_page(&events, page, &params, &base))
}

/// One page of events (`events` holds one more than the page when a next page exists), as
/// summaries or whole with `full=true`, with the `Link` header to the pages beside it.
fn events_page(
    events: &[vigil_store::StoredEvent],
    page: Page,
    params: &[(String, String)],
    base: &str,
) -> Response {
    let full = matches!(query::first(params, "full"), Some("true" | "1"));
    let has_next = events.len() as u64 > page.limit;
    let body: Vec<Value> = events
        .iter()
        .take(page.limit as usize)
        .map(|e| {
            if full {
                serialize_event(e)
            } else {
                summary_fields(e)
            }
        })
        .collect();
    (page.link_header(base, params, has_next), Json(body)).into_response()
}

/// The event a path names, by parameter name: the issue's path may start with the
/// organization or not.
#[derive(serde::Deserialize)]
pub struct EventPath {
    which: String,
}

/// `GET /api/0/issues/{id}/events/{latest|oldest|recommended|<event_id>}/`.
pub async fn issue_event(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
    Path(EventPath { which }): Path<EventPath>,
) -> Result<Json<Value>, ApiError> {
    let event = lookup::issue_event(&state, &issue, &which)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut body = serialize_event(&event);
    add_neighbours(&state, issue.id, &event, &mut body).await?;
    Ok(Json(body))
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/`.
pub async fn project_event(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
    Path((_, _, event_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = vigil_protocol::ids::normalize_uuid(&event_id).ok_or(ApiError::NotFound)?;
    let Some(event) = state.store.event_by_id(project.id, &id).await? else {
        // Sentry serves transactions under the same path.
        return super::traces::transaction_event(&state, &project, &id)
            .await?
            .map(Json)
            .ok_or(ApiError::NotFound);
    };
    let mut body = serialize_event(&event);
    if let Some(issue_id) = event.issue_id {
        add_neighbours(&state, issue_id, &event, &mut body).await?;
    }
    Ok(Json(body))
}

/// Fills `previousEventID`/`nextEventID` within the issue (older/newer event), so a reader can
/// step through an issue's events; two indexed reads, however many events the issue has.
async fn add_neighbours(
    state: &AppState,
    issue_id: i64,
    event: &vigil_store::StoredEvent,
    body: &mut Value,
) -> Result<(), ApiError> {
    let (older, newer) = state
        .store
        .issue_event_neighbours(issue_id, event.project_id, &event.event_id)
        .await?;
    set_neighbours(body, older, newer);
    Ok(())
}
