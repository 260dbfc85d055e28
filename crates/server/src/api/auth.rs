//! Who is calling the web API, from `Authorization: Bearer <token>`, and what they may read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use vigil_store::{ApiToken, Issue, Organization, Project, User};

use super::error::ApiError;
use crate::accounts::hash_token;
use crate::lookup;
use crate::AppState;

/// An authenticated API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token: ApiToken,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated)?
            .to_str()
            .map_err(|_| ApiError::InvalidToken)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthenticated)?
            .trim();
        let (token, user) = state
            .store
            .token_by_hash(&hash_token(token))
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok(Caller { user, token })
    }
}

/// An optional caller: `GET /api/0/` answers anonymous requests too.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<MaybeCaller, ApiError> {
        if parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .is_none()
        {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(|c| MaybeCaller(Some(c)))
    }
}

impl Caller {
    /// The caller's organizations.
    pub async fn organizations(&self, state: &AppState) -> Result<Vec<Organization>, ApiError> {
        Ok(state.store.organizations_of_user(self.user.id).await?)
    }

    /// The organization by slug, if the caller may read it; 404 otherwise (as Sentry answers
    /// for organizations one is not a member of).
    pub async fn organization(
        &self,
        state: &AppState,
        slug: &str,
    ) -> Result<Organization, ApiError> {
        self.organizations(state)
            .await?
            .into_iter()
            .find(|org| org.slug == slug)
            .ok_or(ApiError::NotFound)
    }

    /// The project `{org}/{project}`, if the caller may read it and its token has one of the
    /// `scopes` that may change it (403 otherwise).
    pub async fn writable_project(
        &self,
        state: &AppState,
        org_slug: &str,
        project_slug: &str,
        scopes: &[&str],
    ) -> Result<Project, ApiError> {
        let (_, project) = self.project(state, org_slug, project_slug).await?;
        self.require_scope(scopes)?;
        Ok(project)
    }

    /// 403 unless the caller's token has one of `scopes`.
    pub fn require_scope(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if self
            .token
            .scopes
            .iter()
            .any(|scope| scopes.contains(&scope.as_str()))
        {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The project `{org}/{project}`, if the caller may read it.
    pub async fn project(
        &self,
        state: &AppState,
        org_slug: &str,
        project_slug: &str,
    ) -> Result<(Organization, Project), ApiError> {
        let org = self.organization(state, org_slug).await?;
        let project = state
            .store
            .project_by_slug(org.id, project_slug)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok((org, project))
    }

    /// The issue by id, or by short id (`SHOP-1A`, as Sentry's clients pass it), with its
    /// project and organization, if the caller may read it. A short id is looked for in each of
    /// the caller's organizations, oldest first (a path naming the organization checks it
    /// afterwards).
    pub async fn issue(
        &self,
        state: &AppState,
        issue_id: &str,
    ) -> Result<(Organization, Project, Issue), ApiError> {
        let organizations = self.organizations(state).await?;
        if let Ok(id) = issue_id.parse::<i64>() {
            let (project, issue) = lookup::issue_with_project(state, id)
                .await?
                .ok_or(ApiError::NotFound)?;
            let org = organizations
                .into_iter()
                .find(|org| org.id == project.organization_id)
                .ok_or(ApiError::NotFound)?;
            return Ok((org, project, issue));
        }
        let (slug, number) = vigil_store::parse_short_id(issue_id).ok_or(ApiError::NotFound)?;
        for org in organizations {
            let Some(project) = state.store.project_by_slug(org.id, &slug).await? else {
                continue;
            };
            if let Some(issue) = state.store.issue_by_short_id(project.id, number).await? {
                return Ok((org, project, issue));
            }
        }
        Err(ApiError::NotFound)
    }
}
