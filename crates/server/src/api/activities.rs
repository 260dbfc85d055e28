//! An issue's activity under Sentry's `GET /api/0/issues/{issue_id}/activities/`: each alert
//! sent is an entry of type `notification` (with the rule, the kind and the target in `data`).

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use vigil_store::IssueActivity;

use super::access::IssueAccess;
use super::error::ApiError;
use crate::serialize::iso;
use crate::AppState;

/// Sentry's `ActivitySerializer`: `id` as a string, `user` null for what Vigil did itself.
fn activity_body(activity: &IssueActivity, user: Option<&Value>) -> Value {
    json!({
        "id": activity.id.to_string(),
        "type": activity.kind,
        "data": activity.data,
        "dateCreated": iso(activity.date_created),
        "user": user.cloned().unwrap_or(Value::Null),
        "sentry_app": null,
    })
}

/// `GET /api/0/issues/{issue_id}/activities/`: `{"activity": [...]}`, newest first.
pub async fn issue_activities(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    let activities = state.store.issue_activities(issue.id).await?;
    let mut users: HashMap<i64, Value> = HashMap::new();
    for user_id in activities.iter().filter_map(|a| a.user_id) {
        if users.contains_key(&user_id) {
            continue;
        }
        if let Some(user) = state.store.user_by_id(user_id).await? {
            users.insert(
                user_id,
                json!({
                    "id": user.id.to_string(),
                    "name": user.email,
                    "username": user.email,
                    "email": user.email,
                }),
            );
        }
    }
    let body: Vec<Value> = activities
        .iter()
        .map(|a| activity_body(a, a.user_id.and_then(|id| users.get(&id))))
        .collect();
    Ok(Json(json!({ "activity": body })))
}
