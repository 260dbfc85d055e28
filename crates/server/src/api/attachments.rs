//! Sentry's event attachment endpoints: an event's files listed
//! (`GET /api/0/projects/{org}/{project}/events/{event_id}/attachments/`), one described or
//! downloaded (`…/attachments/{id}/`, `?download` for the bytes) and deleted.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use vigil_store::EventAttachment;

use super::access::ProjectAccess;
use super::error::ApiError;
use crate::query::{self, QueryPairs};
use crate::serialize::serialize_attachment;
use crate::AppState;

/// Token scopes that may delete an attachment: Sentry's `ProjectPermission` for `DELETE`
/// (`project:admin`), and `event:admin`, the scope its event deletion asks for.
const DELETE_SCOPES: &[&str] = &["project:admin", "event:admin", "org:admin"];

/// The event id of the path, normalized; anything that is not one names no event (404).
fn event_id(raw: &str) -> Result<String, ApiError> {
    vigil_protocol::ids::normalize_uuid(raw).ok_or(ApiError::NotFound)
}

/// An attachment id of the path; anything that is not one names no attachment (404).
fn attachment_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/attachments/`: in the order they
/// arrived. An event that is not stored and has no attachment is 404, as in Sentry.
pub async fn list(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
    Path((_, _, event_id_raw)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let event_id = event_id(&event_id_raw)?;
    let attachments = state.store.event_attachments(project.id, &event_id).await?;
    if attachments.is_empty()
        && state
            .store
            .event_by_id(project.id, &event_id)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Value::Array(
        attachments.iter().map(serialize_attachment).collect(),
    )))
}

/// `GET …/attachments/{id}/`: the attachment's description, or with `?download` (any value,
/// as Sentry reads it) its bytes.
pub async fn detail(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
    Path((_, _, event_id_raw, id)): Path<(String, String, String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let (event_id, id) = (event_id(&event_id_raw)?, attachment_id(&id)?);
    let attachment = state
        .store
        .event_attachment(project.id, &event_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if query::first(&params, "download").is_none() {
        return Ok(Json(serialize_attachment(&attachment)).into_response());
    }
    let bytes = state
        .store
        .attachment_payload(project.id, &event_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(download_response(&attachment, bytes))
}

/// The bytes as a download, with Sentry's headers: the stored content type, the length, and
/// `Content-Disposition: attachment` under the file's base name. `nosniff` and a sandboxing
/// CSP keep a file the SDK sent (HTML, SVG) from running as a page of this origin.
pub fn download_response(attachment: &EventAttachment, bytes: Vec<u8>) -> Response {
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        download_name(&attachment.name)
    ))
    .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The file's base name with runs of whitespace as one space (Sentry's
/// `basename(" ".join(name.split()))`), and without what a quoted header value cannot hold.
fn download_name(name: &str) -> String {
    let spaced = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = spaced.rsplit('/').next().unwrap_or_default();
    base.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control() && c.is_ascii())
        .collect()
}

/// `DELETE …/attachments/{id}/`: 204, or 404 when there is no such attachment.
pub async fn delete(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    Path((_, _, event_id_raw, id)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(DELETE_SCOPES)?;
    let (event_id, id) = (event_id(&event_id_raw)?, attachment_id(&id)?);
    if state
        .store
        .delete_attachment(project.id, &event_id, id)
        .await?
    {
        tracing::info!(
            project_id = project.id,
            event_id,
            attachment_id = id,
            "attachment deleted"
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::download_name;

    #[test]
    fn download_name_is_the_base_name_fit_for_a_quoted_header() {
        assert_eq!(download_name("logs/app\n  today.log"), "app today.log");
        assert_eq!(download_name("a\"b\\c.txt"), "abc.txt");
        assert_eq!(download_name("résumé.pdf"), "rsum.pdf");
    }
}
