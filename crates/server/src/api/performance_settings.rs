//! A project's performance thresholds under Sentry's two settings endpoints:
//! `performance-issues/configure/` (N+1 and slow query detection) and
//! `transaction-threshold/configure/` (apdex T).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_store::{PerformanceSettings, Project};

use super::access::ProjectAccess;
use super::auth::Caller;
use super::error::{json_body, ApiError};
use crate::AppState;

/// Token scopes that may change a project's settings (Sentry's `ProjectSettingPermission`).
pub(super) const WRITE_SCOPES: &[&str] =
    &["project:write", "project:admin", "org:write", "org:admin"];

/// Sentry's bounds on the configurable thresholds (milliseconds).
const TEN_SECONDS_MS: f64 = 10_000.0;

fn issue_settings_body(settings: &PerformanceSettings) -> Value {
    json!({
        "n_plus_one_db_queries_detection_enabled": true,
        "slow_db_queries_detection_enabled": true,
        "n_plus_one_db_count": settings.n_plus_one_min_count,
        "n_plus_one_db_duration_threshold": settings.n_plus_one_min_total_ms,
        "slow_db_query_duration_threshold": settings.slow_db_query_ms,
    })
}

/// `GET /api/0/projects/{org}/{project}/performance-issues/configure/`.
pub async fn get_issue_settings(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let settings = state.store.performance_settings(project.id).await?;
    Ok(Json(issue_settings_body(&settings)))
}

/// The settings one may change; other keys Sentry knows (detectors Vigil does not run) are
/// accepted and ignored, as Sentry's serializer ignores unknown ones.
#[derive(Debug, Deserialize)]
pub struct IssueSettingsUpdate {
    n_plus_one_db_count: Option<f64>,
    n_plus_one_db_duration_threshold: Option<f64>,
    slow_db_query_duration_threshold: Option<f64>,
}

fn in_range(field: &str, value: f64, min: f64, max: f64) -> Result<f64, ApiError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_field(
            field,
            format!("Ensure this value is between {min} and {max}."),
        ))
    }
}

/// `PUT /api/0/projects/{org}/{project}/performance-issues/configure/`: changes the given
/// thresholds, answers all of them.
pub async fn update_issue_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
    body: Option<Json<IssueSettingsUpdate>>,
) -> Result<Json<Value>, ApiError> {
    let update = json_body(body)?;
    let project = caller
        .writable_project(&state, &org, &project, WRITE_SCOPES)
        .await?;
    let mut settings = state.store.performance_settings(project.id).await?;
    if let Some(count) = update.n_plus_one_db_count {
        let count = in_range("n_plus_one_db_count", count, 2.0, 1000.0)?;
        if count.fract() != 0.0 {
            return Err(ApiError::bad_field(
                "n_plus_one_db_count",
                "A valid integer is required.",
            ));
        }
        settings.n_plus_one_min_count = count as u32;
    }
    if let Some(ms) = update.n_plus_one_db_duration_threshold {
        settings.n_plus_one_min_total_ms =
            in_range("n_plus_one_db_duration_threshold", ms, 50.0, TEN_SECONDS_MS)?;
    }
    if let Some(ms) = update.slow_db_query_duration_threshold {
        settings.slow_db_query_ms = in_range(
            "slow_db_query_duration_threshold",
            ms,
            100.0,
            TEN_SECONDS_MS,
        )?;
    }
    state
        .set_performance_settings(project.id, &settings)
        .await?;
    Ok(Json(issue_settings_body(&settings)))
}

fn threshold_body(project: &Project, settings: &PerformanceSettings) -> Value {
    // Sentry sends the threshold as a string.
    json!({
        "id": project.id.to_string(),
        "projectId": project.id.to_string(),
        "threshold": format!("{}", settings.apdex_threshold_ms),
        "metric": "duration",
    })
}

/// `GET /api/0/projects/{org}/{project}/transaction-threshold/configure/`: the project's
/// apdex threshold (Sentry's default, 300 ms, until changed).
pub async fn get_transaction_threshold(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let settings = state.store.performance_settings(project.id).await?;
    Ok(Json(threshold_body(&project, &settings)))
}

#[derive(Debug, Deserialize)]
pub struct ThresholdUpdate {
    threshold: Option<Value>,
    metric: Option<String>,
}

/// `POST /api/0/projects/{org}/{project}/transaction-threshold/configure/`
/// `{"threshold": 300, "metric": "duration"}`.
pub async fn set_transaction_threshold(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
    body: Option<Json<ThresholdUpdate>>,
) -> Result<Json<Value>, ApiError> {
    let update = json_body(body)?;
    let project = caller
        .writable_project(&state, &org, &project, WRITE_SCOPES)
        .await?;
    match update.metric.as_deref() {
        None | Some("duration") => {}
        Some(other) => {
            return Err(ApiError::bad_field(
                "metric",
                format!("\"{other}\" is not supported; Vigil's apdex uses duration"),
            ))
        }
    }
    // Sentry's clients send a number or a numeric string.
    let threshold = match &update.threshold {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_field("threshold", "A valid integer is required."))?;
    let threshold = in_range("threshold", threshold, 1.0, 1_000_000.0)?;
    let mut settings = state.store.performance_settings(project.id).await?;
    settings.apdex_threshold_ms = threshold;
    state
        .set_performance_settings(project.id, &settings)
        .await?;
    Ok(Json(threshold_body(&project, &settings)))
}

/// `DELETE …/transaction-threshold/configure/`: back to Sentry's default threshold.
pub async fn delete_transaction_threshold(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
) -> Result<Response, ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    let mut settings = state.store.performance_settings(project.id).await?;
    settings.apdex_threshold_ms = PerformanceSettings::default().apdex_threshold_ms;
    state
        .set_performance_settings(project.id, &settings)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
