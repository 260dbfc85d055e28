//! Issue alert rules under Sentry's paths and shapes (`…/projects/{org}/{project}/rules/`), so
//! that scripts and Sentry's Terraform provider manage them unchanged; and the project's
//! outbox of notifications (`…/notifications/`, Vigil's own), where the attempts and last
//! error of every delivery are visible.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigil_store::{AlertRule, Notification, Project};

use super::access::ProjectAccess;
use super::error::{json_body, ApiError};
use crate::lookup;
use crate::query::QueryPairs;
use crate::serialize::iso;
use crate::AppState;

/// Token scopes that may change a project's alert rules (Sentry's `ProjectAlertRulePermission`).
const WRITE_SCOPES: &[&str] = &[
    "alerts:write",
    "project:write",
    "project:admin",
    "org:write",
    "org:admin",
];
/// Notifications listed when `limit` is not given, and the most one may ask for.
const DEFAULT_NOTIFICATIONS: u64 = 100;
const MAX_NOTIFICATIONS: u64 = 1000;

/// The rule `rule_id` of the project; 404 for a rule of another project.
async fn project_rule(
    state: &AppState,
    project: &Project,
    rule_id: &str,
) -> Result<AlertRule, ApiError> {
    lookup::project_rule(state, project, rule_id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The rule `rule_id` of the project, to be changed: the caller must hold a write scope.
async fn rule_to_change(
    state: &AppState,
    access: &ProjectAccess,
    rule_id: &str,
) -> Result<AlertRule, ApiError> {
    access.caller.require_scope(WRITE_SCOPES)?;
    project_rule(state, &access.project, rule_id).await
}

/// Sentry's JSON of a rule, with its creator as Sentry shows them (`id`, `name`, `email`).
async fn rule_body(
    state: &AppState,
    rule: &AlertRule,
    project: &Project,
) -> Result<Value, ApiError> {
    let mut body = vigil_alerts::rule_json(rule, &project.slug);
    if let Some(user_id) = rule.created_by {
        if let Some(user) = state.store.user_by_id(user_id).await? {
            body["createdBy"] = json!({
                "id": user.id,
                "name": user.email,
                "email": user.email,
            });
        }
    }
    Ok(body)
}

/// The body as a validated rule; 400 `{"<field>": ["<reason>"]}` like Sentry otherwise.
fn parse_body(body: Option<Json<Value>>) -> Result<vigil_alerts::RuleSpec, ApiError> {
    let body = json_body(body)?;
    vigil_alerts::parse_rule(&body).map_err(|err| ApiError::bad_field(&err.field, err.reason))
}

/// `GET /api/0/projects/{org}/{project}/rules/`: the project's rules, newest first (Sentry
/// orders them by `-id`).
pub async fn list_rules(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let rules = state.store.alert_rules(project.id).await?;
    let mut bodies = Vec::with_capacity(rules.len());
    for rule in rules.iter().rev() {
        bodies.push(rule_body(&state, rule, &project).await?);
    }
    Ok(Json(Value::Array(bodies)))
}

/// `POST /api/0/projects/{org}/{project}/rules/`: 201 with the new rule.
pub async fn create_rule(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    let spec = parse_body(body)?;
    let rule = state
        .store
        .create_alert_rule(&spec.into_new_rule(project.id, Some(caller.user.id)))
        .await?;
    state.alerts.forget_rules(project.id);
    let body = rule_body(&state, &rule, &project).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/0/projects/{org}/{project}/rules/{rule_id}/`.
pub async fn get_rule(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
    Path((_, _, rule_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let rule = project_rule(&state, &project, &rule_id).await?;
    Ok(Json(rule_body(&state, &rule, &project).await?))
}

/// `PUT /api/0/projects/{org}/{project}/rules/{rule_id}/`: replaces the whole rule, as in
/// Sentry (there is no partial update).
pub async fn update_rule(
    State(state): State<AppState>,
    access: ProjectAccess,
    Path((_, _, rule_id)): Path<(String, String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let existing = rule_to_change(&state, &access, &rule_id).await?;
    let project = access.project;
    let spec = parse_body(body)?;
    let rule = state
        .store
        .update_alert_rule(
            existing.id,
            &spec.into_new_rule(project.id, existing.created_by),
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    state.alerts.forget_rules(project.id);
    Ok(Json(rule_body(&state, &rule, &project).await?))
}

/// `DELETE /api/0/projects/{org}/{project}/rules/{rule_id}/`: 202, as Sentry answers (its
/// deletion is scheduled; Vigil's is done when it answers).
pub async fn delete_rule(
    State(state): State<AppState>,
    access: ProjectAccess,
    Path((_, _, rule_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let rule = rule_to_change(&state, &access, &rule_id).await?;
    state.store.delete_alert_rule(rule.id).await?;
    state.alerts.forget_rules(access.project.id);
    Ok(StatusCode::ACCEPTED.into_response())
}

fn notification_body(notification: &Notification) -> Value {
    json!({
        "id": notification.id.to_string(),
        "ruleId": notification.rule_id.to_string(),
        "issueId": notification.issue_id.to_string(),
        "eventId": notification.event_id,
        "trigger": notification.trigger,
        "kind": notification.kind,
        "target": notification.target,
        "status": notification.status.as_str(),
        "attempts": notification.attempts,
        "lastError": notification.last_error,
        "nextAttempt": iso(notification.next_attempt),
        "dateCreated": iso(notification.created),
        "dateSent": notification.sent_at.map(iso),
        "payload": notification.payload,
    })
}

/// `GET /api/0/projects/{org}/{project}/notifications/?limit=N`: the project's alert
/// notifications, newest first, with their delivery status, attempts and last error.
pub async fn list_notifications(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let limit = match crate::query::first(&pairs, "limit") {
        None => DEFAULT_NOTIFICATIONS,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_NOTIFICATIONS).contains(n))
            .ok_or_else(|| {
                ApiError::bad_field(
                    "limit",
                    format!("Ensure this value is between 1 and {MAX_NOTIFICATIONS}."),
                )
            })?,
    };
    let notifications = state.store.list_notifications(project.id, limit).await?;
    Ok(Json(Value::Array(
        notifications.iter().map(notification_body).collect(),
    )))
}
