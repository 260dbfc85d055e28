//! Organizations, projects and their DSN keys.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::serialize::{serialize_key, serialize_organization, serialize_project};
use crate::AppState;

/// `GET /api/0/organizations/`.
pub async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let orgs = caller.organizations(&state).await?;
    Ok(Json(orgs.iter().map(serialize_organization).collect()))
}

/// `GET /api/0/organizations/{org}/`.
pub async fn organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.organization(&state, &org).await?;
    Ok(Json(serialize_organization(&org)))
}

/// `GET /api/0/projects/`: every project the caller can read.
pub async fn list_all_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut out = Vec::new();
    for org in caller.organizations(&state).await? {
        for project in state.store.list_projects(Some(org.id)).await? {
            out.push(serialize_project(&project, &org));
        }
    }
    Ok(Json(out))
}

/// `GET /api/0/organizations/{org}/projects/`.
pub async fn list_org_projects(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let org = caller.organization(&state, &org).await?;
    let projects = state.store.list_projects(Some(org.id)).await?;
    Ok(Json(
        projects
            .iter()
            .map(|p| serialize_project(p, &org))
            .collect(),
    ))
}

/// `GET /api/0/projects/{org}/{project}/`.
pub async fn project(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (org, project) = caller.project(&state, &org, &project).await?;
    Ok(Json(serialize_project(&project, &org)))
}

/// `GET /api/0/projects/{org}/{project}/keys/`.
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (_org, project) = caller.project(&state, &org, &project).await?;
    let keys = state.store.list_keys(project.id).await?;
    Ok(Json(
        keys.iter()
            .map(|k| serialize_key(k, &state.config))
            .collect(),
    ))
}
