//! A project's ingest quotas through the API.
//!
//! - Spike protection is switched as Sentry switches it:
//!   `POST`/`DELETE /api/0/organizations/{org}/spike-protections/` with
//!   `{"projects": ["slug", …]}` or `{"projects": ["$all"]}` (every project of the
//!   organization, Sentry's way of turning it on or off for the whole organization).
//! - Sentry's API has no per-project count limit, so the project's rate limits are a
//!   Vigil-specific field of the project (`GET`/`PUT /api/0/projects/{org}/{project}/`):
//!   `vigilRateLimits: {"error": {"window": 60, "count": 1000} | null, "transaction": …}`, in
//!   the shape of a DSN key's `rateLimit`; the project also shows `vigilSpikeProtection`.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{KeyRateLimit, ProjectQuotas};

use super::access::OrgAccess;
use super::error::ApiError;
use super::performance_settings::WRITE_SCOPES;
use crate::AppState;

/// The project fields of this module.
pub const PROJECT_FIELDS: [&str; 2] = ["vigilRateLimits", "vigilSpikeProtection"];

/// The categories `vigilRateLimits` takes, as Relay names them.
const LIMITED: [&str; 2] = ["error", "transaction"];

/// The longest window a limit may have (30 days, as a key's).
const MAX_WINDOW_SECS: i64 = 86_400 * 30;

/// The project's quota fields, for its details.
pub fn project_fields(quotas: &ProjectQuotas) -> [(String, Value); 2] {
    let limit =
        |l: Option<KeyRateLimit>| l.map(|l| json!({"window": l.window_secs, "count": l.count}));
    [
        (
            "vigilRateLimits".into(),
            json!({"error": limit(quotas.errors), "transaction": limit(quotas.transactions)}),
        ),
        (
            "vigilSpikeProtection".into(),
            json!(quotas.spike_protection),
        ),
    ]
}

/// Applies the quota fields of a project update; `true` when it named any. Every other field
/// is left to the caller. A malformed value is a 400 naming the field.
pub fn apply_project_update(
    quotas: &mut ProjectQuotas,
    update: &Map<String, Value>,
) -> Result<bool, ApiError> {
    let mut changed = false;
    if let Some(value) = update.get("vigilSpikeProtection") {
        quotas.spike_protection = match value {
            Value::Bool(b) => *b,
            _ => {
                return Err(ApiError::bad_field(
                    "vigilSpikeProtection",
                    "Must be a valid boolean.",
                ))
            }
        };
        changed = true;
    }
    if let Some(value) = update.get("vigilRateLimits") {
        let Value::Object(limits) = value else {
            return Err(ApiError::bad_field(
                "vigilRateLimits",
                "Must be an object of categories (error, transaction) to {window, count} or null.",
            ));
        };
        for (category, limit) in limits {
            let limit = parse_limit(category, limit)?;
            match category.as_str() {
                "error" => quotas.errors = limit,
                "transaction" => quotas.transactions = limit,
                _ => {
                    return Err(ApiError::bad_field(
                        "vigilRateLimits",
                        format!(
                            "unknown category `{category}`; limits exist for {}",
                            LIMITED.join(", ")
                        ),
                    ))
                }
            }
        }
        changed = true;
    }
    Ok(changed)
}

/// `{"window": seconds, "count": items}` or `null` (no limit).
fn parse_limit(category: &str, value: &Value) -> Result<Option<KeyRateLimit>, ApiError> {
    let bad =
        |message: &str| ApiError::bad_field("vigilRateLimits", format!("{category}: {message}"));
    let fields = match value {
        Value::Null => return Ok(None),
        Value::Object(fields) => fields,
        _ => {
            return Err(bad(
                "must be {\"window\": seconds, \"count\": items} or null",
            ))
        }
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "window" | "count"))
    {
        return Err(bad(&format!("unknown field `{other}`")));
    }
    let window = fields
        .get("window")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("window must be a whole number of seconds"))?;
    let count = fields
        .get("count")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("count must be a whole number"))?;
    if !(1..=MAX_WINDOW_SECS).contains(&window) {
        return Err(bad("window must be between 1 second and 30 days"));
    }
    if count < 0 {
        return Err(bad("count must not be negative"));
    }
    Ok(Some(KeyRateLimit {
        count,
        window_secs: window,
    }))
}

/// `POST /api/0/organizations/{org}/spike-protections/`: turns spike protection on for the
/// named projects (or `$all`); 201 with the projects changed.
pub async fn enable_spike_protection(
    state: State<AppState>,
    access: OrgAccess,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let projects = set_spike_protection(state, access, body, true).await?;
    Ok((StatusCode::CREATED, Json(json!({ "projects": projects }))))
}

/// `DELETE /api/0/organizations/{org}/spike-protections/`: turns it off; 204.
pub async fn disable_spike_protection(
    state: State<AppState>,
    access: OrgAccess,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    set_spike_protection(state, access, body, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets spike protection of the projects the body names; their slugs.
async fn set_spike_protection(
    State(state): State<AppState>,
    OrgAccess { caller, org }: OrgAccess,
    body: Result<Json<Value>, JsonRejection>,
    on: bool,
) -> Result<Vec<String>, ApiError> {
    let missing = || {
        ApiError::bad_field(
            "projects",
            "This field is required: a list of project slugs, or [\"$all\"].",
        )
    };
    let Ok(Json(body)) = body else {
        return Err(missing());
    };
    let slugs: Vec<String> = match body.get("projects") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(missing))
            .collect::<Result<_, _>>()?,
        _ => return Err(missing()),
    };
    if let Some(other) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "projects"))
    {
        return Err(ApiError::bad_field(
            other,
            "Vigil cannot change this field; it accepts projects",
        ));
    }
    caller.require_scope(WRITE_SCOPES)?;
    let all = state.store.list_projects(Some(org.id)).await?;
    let chosen: Vec<_> = if slugs.iter().any(|s| s == "$all") {
        all
    } else {
        let mut chosen = Vec::new();
        for slug in &slugs {
            let project = all.iter().find(|p| &p.slug == slug).ok_or_else(|| {
                ApiError::bad_field(
                    "projects",
                    format!("no project `{slug}` in this organization"),
                )
            })?;
            chosen.push(project.clone());
        }
        chosen
    };
    for project in &chosen {
        let mut quotas = state.store.project_quotas(project.id).await?;
        quotas.spike_protection = on;
        state.set_project_quotas(project.id, &quotas).await?;
    }
    Ok(chosen.into_iter().map(|p| p.slug).collect())
}
