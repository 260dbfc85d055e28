//! The organization a page's path names, resolved for the viewer before the handler
//! runs: a handler taking it starts from what the viewer may read. A visitor without a session
//! was sent to the login form, and an organization the viewer may not see answered 404, exactly
//! like one that does not exist.
//!
//! The `{org}` parameter is read by name, so the extractor serves every page under an
//! organization, whatever else its path holds. Forms resolve theirs in the handler instead:
//! their CSRF token is checked first.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use vigil_store::Organization;

use super::error::WebError;
use super::session::Viewer;
use crate::lookup::PathParams;
use crate::AppState;

/// `…/{org}/…`: the organization, if the viewer is a member.
pub struct ViewerOrg {
    pub viewer: Viewer,
    pub org: Organization,
}

impl FromRequestParts<AppState> for ViewerOrg {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // The session first, so that a visitor without one goes to the login form.
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let params = PathParams::read(parts, state).await?;
        let org = (params.get("org").ok_or(WebError::NotFound))
            .and_then(|slug| viewer.organization(slug))
            .map_err(IntoResponse::into_response)?;
        Ok(ViewerOrg { viewer, org })
    }
}
