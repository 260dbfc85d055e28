//! An issue's activities and notes (Sentry's `/comments/`): listed as Sentry's
//! `ActivitySerializer` shapes them, written as Markdown with @mentions emailed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{Issue, IssueActivity, Organization, Project, User};

use crate::api::access::IssueAccess;
use crate::api::auth::Caller;
use crate::api::error::{json_body, ApiError};
use crate::serialize::iso;
use crate::AppState;

use super::{member, notify, ISSUE_WRITE_SCOPES};

/// Sentry's `ActivitySerializer`.
async fn activity_json(state: &AppState, activity: &IssueActivity) -> Result<Value, ApiError> {
    let user = match activity.user_id {
        Some(id) => state.store.user_by_id(id).await?.map(|u| {
            json!({"id": u.id.to_string(), "name": u.email, "username": u.email, "email": u.email})
        }),
        None => None,
    };
    Ok(json!({
        "id": activity.id.to_string(),
        "type": activity.kind,
        "data": activity.data,
        "dateCreated": iso(activity.date_created),
        "user": user.unwrap_or(Value::Null),
        "sentry_app": null,
    }))
}

/// The issue's activity, newest first, ending with Sentry's synthetic `first_seen` entry.
pub(super) async fn activity_list(state: &AppState, issue: &Issue) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for activity in state.store.issue_activities(issue.id).await? {
        out.push(activity_json(state, &activity).await?);
    }
    out.push(json!({
        "id": "0",
        "type": "first_seen",
        "data": {},
        "dateCreated": iso(issue.first_seen),
        "user": null,
        "sentry_app": null,
    }));
    Ok(out)
}

/// `GET /issues/{id}/activities/`: `{"activity": [...]}`, newest first.
pub async fn issue_activities(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"activity": activity_list(&state, &issue).await?}),
    ))
}

/// `GET /issues/{id}/comments/`: the notes, newest first.
pub async fn list_notes(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for activity in state.store.issue_activities(issue.id).await? {
        if activity.kind == "note" {
            out.push(activity_json(&state, &activity).await?);
        }
    }
    Ok(Json(Value::Array(out)))
}

/// The note's text and the members it mentions: `mentions` (actors) and `@email` in the text.
async fn parse_note(
    state: &AppState,
    org: &Organization,
    body: &Map<String, Value>,
) -> Result<(String, Vec<User>), ApiError> {
    for key in body.keys() {
        if !["text", "mentions", "external_id"].contains(&key.as_str()) {
            return Err(ApiError::bad_field(
                key,
                "Vigil does not apply this field to notes.",
            ));
        }
    }
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_field("text", "This field is required."))?
        .to_owned();
    let mut mentioned: Vec<User> = Vec::new();
    if let Some(mentions) = body.get("mentions").filter(|v| !v.is_null()) {
        let list = mentions
            .as_array()
            .ok_or_else(|| ApiError::bad_field("mentions", "Expected a list of actors."))?;
        for item in list {
            let name = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(ApiError::bad_field("mentions", "Not a valid actor.")),
            };
            let user = member(state, org, &name).await?.ok_or_else(|| {
                ApiError::bad_field("mentions", format!("Unknown actor \"{name}\"."))
            })?;
            if !mentioned.iter().any(|u| u.id == user.id) {
                mentioned.push(user);
            }
        }
    }
    for word in text.split_whitespace() {
        if let Some(name) = word.strip_prefix('@') {
            let name = name.trim_end_matches(|c: char| ",.;:!?)".contains(c));
            if let Some(user) = member(state, org, name).await? {
                if !mentioned.iter().any(|u| u.id == user.id) {
                    mentioned.push(user);
                }
            }
        }
    }
    Ok((text, mentioned))
}

/// Writes a note by `author` and tells the mentioned members.
pub(crate) async fn add_note(
    state: &AppState,
    author: &User,
    org: &Organization,
    project: &Project,
    issue: &Issue,
    body: &Map<String, Value>,
) -> Result<IssueActivity, ApiError> {
    let (text, mentioned) = parse_note(state, org, body).await?;
    let activity = state
        .store
        .add_activity(issue.id, "note", &json!({"text": text}), Some(author.id))
        .await?;
    state
        .store
        .set_subscription(issue.id, author.id, true, "commented", true)
        .await?;
    for user in &mentioned {
        state
            .store
            .set_subscription(issue.id, user.id, true, "mentioned", true)
            .await?;
        if user.id != author.id {
            notify(
                state,
                project,
                issue,
                user,
                "mention",
                &format!("{} mentioned you in a note", author.email),
                &text,
            )
            .await?;
        }
    }
    Ok(activity)
}

/// `POST /issues/{id}/comments/`: 201 with the note activity; mentioned members are emailed
/// and subscribed, the author subscribed as `commented`.
pub async fn create_note(
    State(state): State<AppState>,
    IssueAccess {
        caller,
        org,
        project,
        issue,
    }: IssueAccess,
    body: Option<Json<Map<String, Value>>>,
) -> Result<Response, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let body = json_body(body)?;
    let activity = add_note(&state, &caller.user, &org, &project, &issue, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(activity_json(&state, &activity).await?),
    )
        .into_response())
}

/// The note `note_id` of the issue, written by the caller (Sentry lets only the author edit).
async fn own_note(
    state: &AppState,
    caller: &Caller,
    issue: &Issue,
    note_id: &str,
) -> Result<IssueActivity, ApiError> {
    let id: i64 = note_id.parse().map_err(|_| ApiError::NotFound)?;
    let activity = state
        .store
        .activity_by_id(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if activity.issue_id != issue.id
        || activity.kind != "note"
        || activity.user_id != Some(caller.user.id)
    {
        return Err(ApiError::NotFound);
    }
    Ok(activity)
}

/// `PUT /issues/{id}/comments/{note_id}/`.
pub async fn update_note(
    State(state): State<AppState>,
    IssueAccess {
        caller, org, issue, ..
    }: IssueAccess,
    Path(path): Path<Vec<(String, String)>>,
    body: Option<Json<Map<String, Value>>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let note_id = path
        .iter()
        .find(|(k, _)| k == "note_id")
        .map(|(_, v)| v.clone())
        .ok_or(ApiError::NotFound)?;
    let activity = own_note(&state, &caller, &issue, &note_id).await?;
    let body = json_body(body)?;
    let (text, _) = parse_note(&state, &org, &body).await?;
    let updated = state
        .store
        .update_activity_data(activity.id, &json!({"text": text}))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(activity_json(&state, &updated).await?))
}

/// `DELETE /issues/{id}/comments/{note_id}/`: 204.
pub async fn delete_note(
    State(state): State<AppState>,
    IssueAccess { caller, issue, .. }: IssueAccess,
    Path(path): Path<Vec<(String, String)>>,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let note_id = path
        .iter()
        .find(|(k, _)| k == "note_id")
        .map(|(_, v)| v.clone())
        .ok_or(ApiError::NotFound)?;
    let activity = own_note(&state, &caller, &issue, &note_id).await?;
    state.store.delete_activity(activity.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
