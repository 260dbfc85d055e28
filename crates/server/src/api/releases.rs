//! Releases and deploys: what `sentry-cli releases new|finalize|list|info|delete` and
//! `sentry-cli deploys new|list` call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use vigil_store::{NewDeploy, Organization, Project, Release, ReleaseFields, ReleaseQuery};

use super::access::{OrgAccess, ProjectAccess};
use super::auth::Caller;
use super::error::{json_body, ApiError};
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::serialize::{serialize_deploy, serialize_release};
use crate::AppState;

/// Body of `POST …/releases/` and `PUT …/releases/{version}/`. Vigil keeps no commits yet:
/// `refs`, `commits` and `headCommits` (from `set-commits`) are refused with a 400 naming them
/// unless empty, as is any other field it does not apply.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseBody {
    version: Option<String>,
    #[serde(default)]
    projects: Option<Vec<String>>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    url: Option<String>,
    date_started: Option<String>,
    date_released: Option<String>,
    status: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// Token scopes that may write releases and deploys (Sentry's `OrganizationReleasePermission`).
const RELEASE_SCOPES: &[&str] = &[
    "project:releases",
    "project:write",
    "project:admin",
    "org:admin",
];

/// The commit fields of Sentry's release serializer, which Vigil does not keep.
const COMMIT_FIELDS: [&str; 3] = ["refs", "commits", "headCommits"];

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<f64>, ApiError> {
    match value {
        None => Ok(None),
        Some(s) => vigil_protocol::timestamp::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_field(field, "Datetime has wrong format.")),
    }
}

impl ReleaseBody {
    fn fields(&self) -> Result<ReleaseFields, ApiError> {
        for (field, value) in &self.other {
            let nothing = value.is_null() || value.as_array().is_some_and(Vec::is_empty);
            if COMMIT_FIELDS.contains(&field.as_str()) {
                if !nothing {
                    return Err(ApiError::bad_field(
                        field,
                        "Vigil keeps no commits yet: a release's refs, commits and headCommits \
                         are not stored",
                    ));
                }
            } else {
                return Err(ApiError::bad_field(
                    field,
                    "Vigil cannot set this field on a release; it takes version, projects, \
                     ref, url, dateStarted, dateReleased and status",
                ));
            }
        }
        if let Some(status) = self
            .status
            .as_deref()
            .filter(|s| !vigil_store::RELEASE_STATUSES.contains(s))
        {
            return Err(ApiError::bad_field(
                "status",
                format!("\"{status}\" is not a valid choice: open or archived."),
            ));
        }
        Ok(ReleaseFields {
            status: self.status.clone(),
            reference: self.reference.clone(),
            url: self.url.clone(),
            date_started: parse_time("dateStarted", self.date_started.as_deref())?,
            date_released: parse_time("dateReleased", self.date_released.as_deref())?,
        })
    }
}

/// Sentry's release-name rules (sentry-release-parser): no newline, tab, `/` or `\`, not `.`,
/// `..` or `latest`, at most 200 characters.
pub(crate) fn validate_version(version: &str) -> Result<(), ApiError> {
    let bad = version.trim().is_empty()
        || version.len() > 200
        || matches!(version, "." | ".." | "latest")
        || version.contains(['\n', '\r', '\t', '/', '\\']);
    if bad {
        return Err(ApiError::bad_field(
            "version",
            "Release with name is not allowed",
        ));
    }
    Ok(())
}

async fn projects_of(state: &AppState, org: &Organization) -> Result<Vec<Project>, ApiError> {
    Ok(state.store.list_projects(Some(org.id)).await?)
}

fn project_ids(all: &[Project], slugs: &[String]) -> Result<Vec<i64>, ApiError> {
    slugs
        .iter()
        .map(|slug| {
            all.iter()
                .find(|p| &p.slug == slug)
                .map(|p| p.id)
                .ok_or_else(|| {
                    ApiError::bad_field("projects", format!("Invalid project slugs: {slug}"))
                })
        })
        .collect()
}

/// `POST /api/0/organizations/{org}/releases/`: 201 when created, 208 when it existed.
pub async fn create_release(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    body: Option<Json<ReleaseBody>>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let org = caller.organization(&state, &org).await?;
    caller.require_scope(RELEASE_SCOPES)?;
    let version = body
        .version
        .clone()
        .ok_or_else(|| ApiError::bad_field("version", "This field is required."))?;
    validate_version(&version)?;
    let slugs = body
        .projects
        .clone()
        .ok_or_else(|| ApiError::bad_field("projects", "This field is required."))?;
    let all = projects_of(&state, &org).await?;
    let ids = project_ids(&all, &slugs)?;
    let (release, created) = state
        .store
        .upsert_release(org.id, &version, &ids, &body.fields()?)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::ALREADY_REPORTED
    };
    Ok((status, Json(serialize_release(&release, &all))).into_response())
}

/// `POST /api/0/projects/{org}/{project}/releases/` (older sentry-cli).
pub async fn create_project_release(
    state: State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
    body: Option<Json<ReleaseBody>>,
) -> Result<Response, ApiError> {
    let body = body.map(|Json(mut b)| {
        b.projects.get_or_insert_with(|| vec![project.clone()]);
        Json(b)
    });
    create_release(state, caller, Path(org), body).await
}

/// `GET /api/0/organizations/{org}/releases/` (`?project=<id>`, `?query=`).
pub async fn list_releases(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let project_id = match query::first(&params, "project") {
        None | Some("-1") => None,
        Some(id) => Some(
            id.parse::<i64>()
                .map_err(|_| ApiError::bad_field("project", "Invalid project"))?,
        ),
    };
    let path = format!("/api/0/organizations/{}/releases/", org.slug);
    list(&state, &org, project_id, &params, &path).await
}

/// `GET /api/0/projects/{org}/{project}/releases/`.
pub async fn list_project_releases(
    State(state): State<AppState>,
    ProjectAccess { org, project, .. }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("/api/0/projects/{}/{}/releases/", org.slug, project.slug);
    list(&state, &org, Some(project.id), &params, &path).await
}

async fn list(
    state: &AppState,
    org: &Organization,
    project_id: Option<i64>,
    params: &[(String, String)],
    path: &str,
) -> Result<Response, ApiError> {
    let page = Page::from_params(
        query::first(params, "cursor"),
        query::first(params, "per_page").or(query::first(params, "limit")),
    )?;
    let releases = state
        .store
        .list_releases(&ReleaseQuery {
            organization_id: org.id,
            project_id,
            query: query::first(params, "query").map(str::to_owned),
            status: release_status_filter(params)?,
            offset: page.offset,
            limit: page.limit + 1,
        })
        .await?;
    let has_next = releases.len() as u64 > page.limit;
    let all = projects_of(state, org).await?;
    let body: Vec<Value> = releases
        .iter()
        .take(page.limit as usize)
        .map(|r| serialize_release(r, &all))
        .collect();
    let base = format!("{}{}", state.config.base_url(), path);
    Ok((page.link_header(&base, params, has_next), Json(body)).into_response())
}

/// `status=open|archived` of a release list; Sentry lists the open ones when not asked.
fn release_status_filter(params: &[(String, String)]) -> Result<Option<String>, ApiError> {
    match query::first(params, "status") {
        None | Some("") | Some("open") => Ok(Some("open".to_owned())),
        Some("archived") => Ok(Some("archived".to_owned())),
        Some(other) => Err(ApiError::bad_field(
            "status",
            format!("invalid status {other}: open or archived"),
        )),
    }
}

async fn find(
    state: &AppState,
    caller: &Caller,
    org: &str,
    version: &str,
) -> Result<(Organization, Release), ApiError> {
    let org = caller.organization(state, org).await?;
    let release = state
        .store
        .release_by_version(org.id, version)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((org, release))
}

/// `GET /api/0/organizations/{org}/releases/{version}/`.
pub async fn get_release(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (org, release) = find(&state, &caller, &org, &version).await?;
    Ok(Json(serialize_release(
        &release,
        &projects_of(&state, &org).await?,
    )))
}

/// `PUT /api/0/organizations/{org}/releases/{version}/` (`releases finalize`, `set-commits`).
pub async fn update_release(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
    body: Option<Json<ReleaseBody>>,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(body)?;
    let (org, release) = find(&state, &caller, &org, &version).await?;
    caller.require_scope(RELEASE_SCOPES)?;
    let all = projects_of(&state, &org).await?;
    let ids = project_ids(&all, body.projects.as_deref().unwrap_or_default())?;
    let (release, _) = state
        .store
        .upsert_release(org.id, &release.version, &ids, &body.fields()?)
        .await?;
    Ok(Json(serialize_release(&release, &all)))
}

/// `DELETE /api/0/organizations/{org}/releases/{version}/`: 204.
pub async fn delete_release(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, release) = find(&state, &caller, &org, &version).await?;
    caller.require_scope(RELEASE_SCOPES)?;
    state.store.delete_release(org.id, &release.version).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployBody {
    environment: Option<String>,
    name: Option<String>,
    url: Option<String>,
    date_started: Option<String>,
    date_finished: Option<String>,
}

/// `POST /api/0/organizations/{org}/releases/{version}/deploys/`: 201.
pub async fn create_deploy(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
    body: Option<Json<DeployBody>>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let (_, release) = find(&state, &caller, &org, &version).await?;
    caller.require_scope(RELEASE_SCOPES)?;
    let environment = body
        .environment
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::bad_field("environment", "This field is required."))?;
    let deploy = NewDeploy {
        environment,
        name: body.name,
        url: body.url,
        date_started: parse_time("dateStarted", body.date_started.as_deref())?,
        date_finished: parse_time("dateFinished", body.date_finished.as_deref())?,
    };
    let deploy = state.store.create_deploy(release.id, &deploy).await?;
    Ok((StatusCode::CREATED, Json(serialize_deploy(&deploy))).into_response())
}

/// `GET /api/0/organizations/{org}/releases/{version}/deploys/`.
pub async fn list_deploys(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (_, release) = find(&state, &caller, &org, &version).await?;
    let deploys = state.store.list_deploys(release.id).await?;
    Ok(Json(deploys.iter().map(serialize_deploy).collect()))
}
