//! Sentry's release-file endpoints (`sentry-cli releases files VERSION upload|list|delete`, and
//! the older `sourcemaps upload` of servers without chunk upload), under a project
//! (`/projects/{org}/{project}/releases/{version}/files/…`) and under the organization
//! (`/organizations/{org}/releases/{version}/files/…`). A file is one per release, dist and
//! name; uploaded under a project it is that project's, under the organization every
//! project's.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_protocol::multipart::{parse_release_file_upload, sha1_hex, MultipartError};
use vigil_store::{NewReleaseFile, Organization, Project, Release, ReleaseFile, StoreError};

use super::artifacts::{body_within, MAX_REQUEST_SIZE, READ_SCOPES, UPLOAD_SCOPES};
use super::auth::Caller;
use super::error::ApiError;
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::serialize::iso;
use crate::AppState;

/// The longest file name Sentry takes.
const MAX_NAME: usize = 200;

/// Sentry's release-file shape.
fn serialize_file(file: &ReleaseFile) -> Value {
    json!({
        "id": file.id.to_string(),
        "name": file.name,
        "dist": file.dist,
        "headers": file.headers,
        "size": file.size,
        "sha1": file.sha1,
        "dateCreated": iso(file.date_created),
    })
}

/// Where the path points: the organization, the release and (under `/projects/`) the project.
struct Scope {
    org: Organization,
    release: Release,
    project: Option<Project>,
}

async fn scope(
    state: &AppState,
    caller: &Caller,
    org: &str,
    project: Option<&str>,
    version: &str,
) -> Result<Scope, ApiError> {
    let (org, project) = match project {
        Some(slug) => {
            let (org, project) = caller.project(state, org, slug).await?;
            (org, Some(project))
        }
        None => (caller.organization(state, org).await?, None),
    };
    let release = state
        .store
        .release_by_version(org.id, version)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(project) = &project {
        if !release.projects.iter().any(|(id, _)| *id == project.id) {
            return Err(ApiError::NotFound);
        }
    }
    Ok(Scope {
        org,
        release,
        project,
    })
}

fn file_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

async fn list(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    params: &[(String, String)],
    path: &str,
) -> Result<Response, ApiError> {
    caller.require_scope(READ_SCOPES)?;
    let known = ["query", "checksum", "cursor", "per_page"];
    if let Some((key, _)) = params.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            key,
            "Vigil does not take this parameter here",
        ));
    }
    let page = Page::from_params(
        query::first(params, "cursor"),
        query::first(params, "per_page"),
    )?;
    let files = state
        .store
        .list_release_files(scope.release.id, scope.project.as_ref().map(|p| p.id))
        .await?;
    // As Sentry: any of the `query`s in the name (any case), any of the `checksum`s exactly.
    let search: Vec<String> = query::all(params, "query")
        .into_iter()
        .map(str::to_lowercase)
        .collect();
    let checksums = query::all(params, "checksum");
    let matching: Vec<&ReleaseFile> = files
        .iter()
        .filter(|f| {
            let name = f.name.to_lowercase();
            search.is_empty() || search.iter().any(|q| name.contains(q.as_str()))
        })
        .filter(|f| checksums.is_empty() || checksums.contains(&f.sha1.as_str()))
        .collect();
    let has_next = matching.len() as u64 > page.offset + page.limit;
    let body: Vec<Value> = matching
        .into_iter()
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(serialize_file)
        .collect();
    let base = format!("{}{path}", state.config.base_url());
    Ok((page.link_header(&base, params, has_next), Json(body)).into_response())
}

/// Sentry's check of a file name's last segment and of a header value: no newline, tab,
/// form feed, vertical tab or backslash.
fn has_special_whitespace(text: &str) -> bool {
    text.contains(['\n', '\t', '\r', '\x0c', '\x0b', '\\'])
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let body = body_within(headers, body, MAX_REQUEST_SIZE).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let form = tokio::task::spawn_blocking(move || {
        parse_release_file_upload(&content_type, body, MAX_REQUEST_SIZE)
    })
    .await
    .map_err(|_| ApiError::Unavailable)?
    .map_err(|err| match err {
        MultipartError::FileTooLarge { .. } => ApiError::TooLarge(err.to_string()),
        other => ApiError::Invalid(other.to_string()),
    })?;
    let name = form
        .name
        .clone()
        .or(form.file_name.clone())
        .filter(|n| !n.trim().is_empty() && n != "file")
        .ok_or_else(|| ApiError::Invalid("File name must be specified".into()))?;
    if has_special_whitespace(name.rsplit('/').next().unwrap_or_default()) {
        return Err(ApiError::Invalid(
            "File name must not contain special whitespace characters".into(),
        ));
    }
    if name.len() > MAX_NAME {
        return Err(ApiError::Invalid(format!(
            "File name must be at most {MAX_NAME} characters"
        )));
    }
    // Sentry keeps the part's content type as a header, then the `header` fields.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    if let Some(content_type) = &form.content_type {
        headers.insert("Content-Type".into(), content_type.clone());
    }
    for (key, value) in &form.headers {
        if has_special_whitespace(value) {
            return Err(ApiError::Invalid(
                "header value must not contain special whitespace characters".into(),
            ));
        }
        headers.insert(key.clone(), value.clone());
    }
    let file = NewReleaseFile {
        org_id: scope.org.id,
        release_id: scope.release.id,
        project_id: scope.project.as_ref().map(|p| p.id),
        dist: form.dist.clone(),
        name,
        headers,
        sha1: sha1_hex(&form.file),
        payload: form.file,
    };
    match state.store.create_release_file(file).await {
        Ok(file) => {
            state.artifacts.forget_indexes();
            Ok((StatusCode::CREATED, Json(serialize_file(&file))).into_response())
        }
        Err(StoreError::Conflict(_)) => Err(ApiError::Conflict(
            "A file matching this name already exists for the given release".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

async fn detail(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: &str,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    caller.require_scope(READ_SCOPES)?;
    let file = visible_file(state, &scope, id).await?;
    if query::first(params, "download").is_none() {
        return Ok(Json(serialize_file(&file)).into_response());
    }
    let bytes = state
        .store
        .release_file_bytes(file.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let base = file.name.rsplit('/').next().unwrap_or_default();
    let base: String = base
        .chars()
        .filter(|c| c.is_ascii() && !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{base}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// File `id` of the release, if the path's scope sees it (a project sees its own and the
/// organization's).
async fn visible_file(state: &AppState, scope: &Scope, id: &str) -> Result<ReleaseFile, ApiError> {
    let file = state
        .store
        .release_file(scope.release.id, file_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    match (&scope.project, file.project_id) {
        (Some(project), Some(owner)) if project.id != owner => Err(ApiError::NotFound),
        _ => Ok(file),
    }
}

/// Body of `PUT …/files/{id}/`: Sentry's `ReleaseFileSerializer` (`name`), and `dist`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: String,
    #[serde(default)]
    dist: Option<Option<String>>,
}

async fn update(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: &str,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let file = visible_file(state, &scope, id).await?;
    let body: UpdateBody = serde_json::from_slice(body)
        .map_err(|err| ApiError::Invalid(format!("invalid request body: {err}")))?;
    if body.name.trim().is_empty() || body.name.len() > MAX_NAME {
        return Err(ApiError::bad_field(
            "name",
            format!("Ensure this field has 1 to {MAX_NAME} characters."),
        ));
    }
    let dist = match body.dist {
        Some(dist) => dist.filter(|d| !d.is_empty()),
        None => file.dist.clone(),
    };
    match state
        .store
        .update_release_file(scope.release.id, file.id, &body.name, dist.as_deref())
        .await
    {
        Ok(Some(file)) => {
            state.artifacts.forget_indexes();
            Ok(Json(serialize_file(&file)))
        }
        Ok(None) => Err(ApiError::NotFound),
        Err(StoreError::Conflict(_)) => Err(ApiError::Conflict(
            "A file matching this name already exists for the given release".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: &str,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let file = visible_file(state, &scope, id).await?;
    if state
        .store
        .delete_release_file(scope.release.id, file.id)
        .await?
    {
        state.artifacts.forget_indexes();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /api/0/organizations/{org}/releases/{version}/files/`.
pub async fn org_list(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("/api/0/organizations/{org}/releases/{version}/files/");
    let scope = scope(&state, &caller, &org, None, &version).await?;
    list(&state, &caller, scope, &params, &path).await
}

/// `POST /api/0/organizations/{org}/releases/{version}/files/`: 201, 409 for a name taken.
pub async fn org_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, &org, None, &version).await?;
    upload(&state, &caller, scope, &headers, body).await
}

/// `GET /api/0/organizations/{org}/releases/{version}/files/{id}/` (`?download=1`).
pub async fn org_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version, id)): Path<(String, String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, &org, None, &version).await?;
    detail(&state, &caller, scope, &id, &params).await
}

/// `PUT /api/0/organizations/{org}/releases/{version}/files/{id}/`.
pub async fn org_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version, id)): Path<(String, String, String)>,
    body: bytes::Bytes,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&state, &caller, &org, None, &version).await?;
    update(&state, &caller, scope, &id, &body).await
}

/// `DELETE /api/0/organizations/{org}/releases/{version}/files/{id}/`: 204.
pub async fn org_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let scope = scope(&state, &caller, &org, None, &version).await?;
    delete(&state, &caller, scope, &id).await
}

/// `GET /api/0/projects/{org}/{project}/releases/{version}/files/`.
pub async fn project_list(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, version)): Path<(String, String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("/api/0/projects/{org}/{project}/releases/{version}/files/");
    let scope = scope(&state, &caller, &org, Some(&project), &version).await?;
    list(&state, &caller, scope, &params, &path).await
}

/// `POST /api/0/projects/{org}/{project}/releases/{version}/files/`: 201, 409 for a name taken.
pub async fn project_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, &org, Some(&project), &version).await?;
    upload(&state, &caller, scope, &headers, body).await
}

/// `GET /api/0/projects/{org}/{project}/releases/{version}/files/{id}/` (`?download=1`).
pub async fn project_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, version, id)): Path<(String, String, String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, &org, Some(&project), &version).await?;
    detail(&state, &caller, scope, &id, &params).await
}

/// `PUT /api/0/projects/{org}/{project}/releases/{version}/files/{id}/`.
pub async fn project_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, version, id)): Path<(String, String, String, String)>,
    body: bytes::Bytes,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&state, &caller, &org, Some(&project), &version).await?;
    update(&state, &caller, scope, &id, &body).await
}

/// `DELETE /api/0/projects/{org}/{project}/releases/{version}/files/{id}/`: 204.
pub async fn project_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, version, id)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let scope = scope(&state, &caller, &org, Some(&project), &version).await?;
    delete(&state, &caller, scope, &id).await
}
