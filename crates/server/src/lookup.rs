//! What the paths of both faces name (an issue by id, one event of an issue, a rule of a
//! project), found in the store one way for `/api/0/` and for the pages. Each answers `None`
//! where the thing does not exist or belongs elsewhere; the face turns that into its own 404.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use vigil_store::{AlertRule, Issue, Project, StoreResult, StoredEvent};

use crate::AppState;

/// The issue `id` with its project.
pub async fn issue_with_project(
    state: &AppState,
    id: i64,
) -> StoreResult<Option<(Project, Issue)>> {
    let Some(issue) = state.store.issue_by_id(id).await? else {
        return Ok(None);
    };
    let project = state.store.project_by_id(issue.project_id).await?;
    Ok(project.map(|project| (project, issue)))
}

/// One event of an issue as Sentry's paths name it: `latest` (or `recommended`), `oldest`, or
/// an event id, which must be one of this issue's events.
pub async fn issue_event(
    state: &AppState,
    issue: &Issue,
    which: &str,
) -> StoreResult<Option<StoredEvent>> {
    match which {
        "latest" | "recommended" => state.store.issue_edge_event(issue.id, true).await,
        "oldest" => state.store.issue_edge_event(issue.id, false).await,
        id => {
            let Some(id) = vigil_protocol::ids::normalize_uuid(id) else {
                return Ok(None);
            };
            let event = state.store.event_by_id(issue.project_id, &id).await?;
            Ok(event.filter(|e| e.issue_id == Some(issue.id)))
        }
    }
}

/// The rule `rule_id` (as the path spells it) of the project; `None` for a rule of another
/// project.
pub async fn project_rule(
    state: &AppState,
    project: &Project,
    rule_id: &str,
) -> StoreResult<Option<AlertRule>> {
    let Ok(id) = rule_id.parse::<i64>() else {
        return Ok(None);
    };
    let rule = state.store.alert_rule(id).await?;
    Ok(rule.filter(|rule| rule.project_id == project.id))
}

/// A route's parameters by name (`{org}`, `{project}`, `{issue_id}`), for the extractors of
/// both faces that resolve what a path names whatever else the path holds.
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    /// The parameters of the request's route; a rejection as axum's `Path` answers it.
    pub async fn read<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(PathParams(params))
    }

    /// The parameter `name`; `None` on a route declared without it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}
