//! An issue's grouping hashes: listed with each one's latest event, and unmerged into a new
//! issue (Sentry's `/hashes/`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigil_store::{Issue, User};

use crate::api::access::IssueAccess;
use crate::api::error::ApiError;
use crate::query::{self, QueryPairs};
use crate::AppState;

use super::ISSUE_WRITE_SCOPES;

/// `GET /issues/{id}/hashes/`: Sentry's shape, `[{"id": hash, "latestEvent": …}]`, the
/// latest event being the newest whose primary hash it is (of the newest 1,000 events).
pub async fn list_hashes(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    let hashes = state.store.issue_hashes(issue.id).await?;
    let events = state.store.issue_events(issue.id, 0, 1000).await?;
    Ok(Json(Value::Array(
        hashes
            .into_iter()
            .map(|hash| {
                let latest = events.iter().find(|event| {
                    event
                        .data
                        .get("hashes")
                        .and_then(|h| h.get(0))
                        .and_then(Value::as_str)
                        == Some(hash.as_str())
                });
                json!({
                    "id": hash,
                    "latestEvent": latest.map(crate::serialize::serialize_event),
                    "mergedBySeer": false,
                })
            })
            .collect(),
    )))
}

/// Moves one hash's events to a new issue, recording `unmerge_source` and
/// `unmerge_destination`; the new issue's id.
pub(crate) async fn unmerge_one(
    state: &AppState,
    actor_user: &User,
    issue: &Issue,
    hash: &str,
) -> Result<i64, ApiError> {
    let target = match state.store.unmerge_hash(issue.id, hash).await {
        Ok(Some(target)) => target,
        Ok(None) => {
            return Err(ApiError::bad_field(
                "id",
                format!("No event of the issue has the primary hash \"{hash}\"."),
            ))
        }
        Err(vigil_store::StoreError::Invalid(reason)) => {
            return Err(ApiError::bad_field("id", reason))
        }
        Err(err) => return Err(err.into()),
    };
    let actor = Some(actor_user.id);
    state
        .store
        .add_activity(
            issue.id,
            "unmerge_source",
            &json!({"destination_id": target.to_string(), "fingerprints": [hash]}),
            actor,
        )
        .await?;
    state
        .store
        .add_activity(
            target,
            "unmerge_destination",
            &json!({"source_id": issue.id.to_string(), "fingerprints": [hash]}),
            actor,
        )
        .await?;
    Ok(target)
}

/// `PUT` (or `DELETE`) `/issues/{id}/hashes/?id=<hash>`: Sentry's unmerge. Each hash's events
/// move to a new issue; 202 as Sentry answers, with the new issues' ids.
pub async fn unmerge_hashes(
    State(state): State<AppState>,
    IssueAccess { caller, issue, .. }: IssueAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let hashes = query::all(&params, "id");
    if hashes.is_empty() {
        return Err(ApiError::bad_field(
            "id",
            "Name the hashes to unmerge with ?id=….",
        ));
    }
    let known = state.store.issue_hashes(issue.id).await?;
    if let Some(unknown) = hashes.iter().find(|h| !known.iter().any(|k| k == *h)) {
        return Err(ApiError::bad_field(
            "id",
            format!("The issue has no hash \"{unknown}\"."),
        ));
    }
    if hashes.len() >= known.len() {
        return Err(ApiError::bad_field(
            "id",
            "An issue keeps at least one of its hashes.",
        ));
    }
    let mut created = Vec::new();
    for hash in hashes {
        created.push(
            unmerge_one(&state, &caller.user, &issue, hash)
                .await?
                .to_string(),
        );
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"issues": created}))).into_response())
}
