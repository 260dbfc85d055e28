//! An event's attachments on the issue page (name, type, size, a download link) and their
//! download (`/organizations/{org}/projects/{project}/events/{event_id}/attachments/{id}/`),
//! for a signed-in viewer of the project; the API serves the same bytes to tokens.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use vigil_store::{EventAttachment, Issue, Project};

use super::error::WebError;
use super::layout::{byte_size as size, count};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::api::attachments::download_response;
use crate::AppState;

/// Attachments counted on the issue page before "and more".
const ISSUE_COUNT_LIMIT: u64 = 100;

/// Where the viewer downloads `attachment`.
pub fn download_url(
    prefix: &str,
    org: &str,
    project: &str,
    attachment: &EventAttachment,
) -> String {
    format!(
        "{prefix}/organizations/{org}/projects/{project}/events/{}/attachments/{}/",
        attachment.event_id, attachment.id
    )
}

/// The event's attachments section; nothing when it has none.
pub async fn event_section(
    state: &AppState,
    prefix: &str,
    org: &str,
    project: &Project,
    event_id: &str,
) -> Result<Markup, WebError> {
    let attachments = state.store.event_attachments(project.id, event_id).await?;
    Ok(html! {
        @if !attachments.is_empty() {
            section.attachments #attachments {
                h2 { "Attachments" }
                table.kv {
                    @for a in &attachments {
                        tr {
                            th { a href=(download_url(prefix, org, &project.slug, a)) download=(a.name) { (a.name) } }
                            td { (a.content_type) " · " (size(a.size)) " · " span.muted { (a.attachment_type) } }
                        }
                    }
                }
            }
        }
    })
}

/// The issue's attachment count for the sidebar; nothing when its events have none.
pub async fn issue_count(state: &AppState, issue: &Issue) -> Result<Markup, WebError> {
    let attachments = state
        .store
        .issue_attachments(issue.project_id, issue.id, ISSUE_COUNT_LIMIT + 1)
        .await?;
    let n = attachments.len() as u64;
    Ok(html! {
        @if n > 0 {
            section.issue-attachments {
                h2 { "Attachments" }
                p {
                    @if n > ISSUE_COUNT_LIMIT { (count(ISSUE_COUNT_LIMIT as i64)) "+" } @else { (count(n as i64)) }
                    @if n == 1 { " file" } @else { " files" }
                    " on this issue's events"
                }
            }
        }
    })
}

/// `GET /organizations/{org}/projects/{project}/events/{event_id}/attachments/{id}/`.
pub async fn download(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, event_id, id)): Path<(String, String, String, String)>,
) -> Result<Response, WebError> {
    let (_, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let event_id = vigil_protocol::ids::normalize_uuid(&event_id).ok_or(WebError::NotFound)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let attachment = state
        .store
        .event_attachment(project.id, &event_id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let bytes = state
        .store
        .attachment_payload(project.id, &event_id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(download_response(&attachment, bytes))
}
