//! The organization, project or issue an `/api/0/` path names, resolved for the caller before
//! the handler runs, as Sentry's `OrganizationEndpoint`, `ProjectEndpoint` and `GroupEndpoint`
//! resolve theirs in `convert_args`: a handler taking one of these starts from what the caller
//! may read; a missing token was answered 401, and anything the caller may not see 404.
//!
//! The path's parameters are read by name (`{org}`, `{project}`, `{issue_id}`), so one
//! extractor serves every route that names the same thing, whatever else its path holds.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use vigil_store::{Issue, Organization, Project};

use super::auth::Caller;
use super::error::ApiError;
use crate::lookup::PathParams;
use crate::AppState;

/// `/organizations/{org}/…`: the organization, if the caller is a member.
pub struct OrgAccess {
    pub caller: Caller,
    pub org: Organization,
}

/// `/projects/{org}/{project}/…`: the project, if the caller may read it.
pub struct ProjectAccess {
    pub caller: Caller,
    pub org: Organization,
    pub project: Project,
}

/// `/issues/{issue_id}/…`, and `/organizations/{org}/issues/{issue_id}/` where the issue must
/// also be of that organization.
pub struct IssueAccess {
    pub caller: Caller,
    pub org: Organization,
    pub project: Project,
    pub issue: Issue,
}

/// The caller and the path's parameters, in the order the handlers extracted them before (the
/// token first, so that an anonymous request is a 401 whatever it names).
async fn caller_and_path(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(Caller, PathParams), Response> {
    let caller = Caller::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((caller, PathParams::read(parts, state).await?))
}

/// A parameter the route declares; its absence is a route written without it.
fn param<'a>(params: &'a PathParams, name: &str) -> Result<&'a str, ApiError> {
    params.get(name).ok_or(ApiError::NotFound)
}

impl FromRequestParts<AppState> for OrgAccess {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (caller, params) = caller_and_path(parts, state).await?;
        let found = async { caller.organization(state, param(&params, "org")?).await };
        let org = found.await.map_err(IntoResponse::into_response)?;
        Ok(OrgAccess { caller, org })
    }
}

impl FromRequestParts<AppState> for ProjectAccess {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (caller, params) = caller_and_path(parts, state).await?;
        let found = async {
            let (org, project) = (param(&params, "org")?, param(&params, "project")?);
            caller.project(state, org, project).await
        };
        let (org, project) = found.await.map_err(IntoResponse::into_response)?;
        Ok(ProjectAccess {
            caller,
            org,
            project,
        })
    }
}

impl FromRequestParts<AppState> for IssueAccess {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (caller, params) = caller_and_path(parts, state).await?;
        let found = async {
            let (org, project, issue) = caller.issue(state, param(&params, "issue_id")?).await?;
            if params.get("org").is_some_and(|slug| *slug != org.slug) {
                return Err(ApiError::NotFound);
            }
            Ok((org, project, issue))
        };
        let (org, project, issue) = found.await.map_err(IntoResponse::into_response)?;
        Ok(IssueAccess {
            caller,
            org,
            project,
            issue,
        })
    }
}
