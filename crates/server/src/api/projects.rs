//! Organizations, projects (with their data-scrubbing settings and the inbound filters of their
//! `options`) and their DSN keys.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use vigil_store::{
    check_field_list, newline_list, InboundFilters, IpRange, KeyRateLimit, ProjectKey,
    ProjectRename, ScrubbingSettings,
};

use super::access::{OrgAccess, ProjectAccess};
use super::auth::Caller;
use super::error::{json_body, ApiError};
use super::performance_settings::WRITE_SCOPES;
use crate::serialize::{
    serialize_key, serialize_organization, serialize_project, serialize_project_details,
};
use crate::AppState;

/// `GET /api/0/organizations/`.
pub async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let orgs = caller.organizations(&state).await?;
    let base = state.config.base_url();
    Ok(Json(
        orgs.iter().map(|org| with_links(org, &base)).collect(),
    ))
}

/// `GET /api/0/organizations/{org}/`.
pub async fn organization(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
) -> Json<Value> {
    Json(with_links(&org, &state.config.base_url()))
}

/// The organization with `links` as a self-hosted Sentry answers: `organizationUrl` this
/// server (clients build links from it), `regionUrl` empty, since there are no regions (the MCP
/// server sends a non-empty region URL back with later calls and refuses one without HTTPS).
fn with_links(org: &vigil_store::Organization, base_url: &str) -> Value {
    let mut value = serialize_organization(org);
    value["links"] = serde_json::json!({"organizationUrl": base_url, "regionUrl": ""});
    value
}

/// `GET /api/0/projects/`: every project the caller can read.
pub async fn list_all_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut out = Vec::new();
    for org in caller.organizations(&state).await? {
        for project in state.store.list_projects(Some(org.id)).await? {
            out.push(serialize_project(&project, &org));
        }
    }
    Ok(Json(out))
}

/// `GET /api/0/organizations/{org}/projects/`.
pub async fn list_org_projects(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
) -> Result<Json<Vec<Value>>, ApiError> {
    let projects = state.store.list_projects(Some(org.id)).await?;
    Ok(Json(
        projects
            .iter()
            .map(|p| serialize_project(p, &org))
            .collect(),
    ))
}

/// `GET /api/0/projects/{org}/{project}/`: the project with its settings, as Sentry's
/// `DetailedProjectSerializer` shows them.
pub async fn project(
    State(state): State<AppState>,
    ProjectAccess { org, project, .. }: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let scrubbing = state.store.scrubbing_settings(project.id).await?;
    let filters = state.store.inbound_filters(project.id).await?;
    let quotas = state.store.project_quotas(project.id).await?;
    Ok(Json(details(&project, &org, &scrubbing, &filters, &quotas)))
}

/// The project's details with Vigil's quota fields.
fn details(
    project: &vigil_store::Project,
    org: &vigil_store::Organization,
    scrubbing: &ScrubbingSettings,
    filters: &InboundFilters,
    quotas: &vigil_store::ProjectQuotas,
) -> Value {
    let mut value = serialize_project_details(project, org, scrubbing, filters);
    if let Value::Object(fields) = &mut value {
        fields.extend(super::quotas::project_fields(quotas));
    }
    value
}

/// The fields of Sentry's `PUT /api/0/projects/{org}/{project}/` that Vigil applies (and
/// Vigil's own quota fields, [`super::quotas::PROJECT_FIELDS`]). Any other field Sentry's
/// endpoint takes (`name`, `slug`, `platform`, …) is refused with a 400 naming it, rather than
/// answered 200 without being applied.
const UPDATABLE_FIELDS: [&str; 10] = [
    "name",
    "slug",
    "platform",
    "dataScrubber",
    "dataScrubberDefaults",
    "scrubIPAddresses",
    "sensitiveFields",
    "safeFields",
    "relayPiiConfig",
    "options",
];

/// The keys of `options` Vigil applies: the inbound filters Sentry sets through them. Any
/// other option is refused with a 400 naming it.
const UPDATABLE_OPTIONS: [&str; 7] = [
    "filters:error_messages",
    "filters:releases",
    "filters:blacklisted_ips",
    "filters:react-hydration-errors",
    "filters:chunk-load-error",
    "sentry:csp_ignored_sources_defaults",
    "sentry:csp_ignored_sources",
];

/// `PUT /api/0/projects/{org}/{project}/`: changes the given data-scrubbing settings (project
/// write access, as Sentry's `ProjectAdminSerializer` requires), answers the project as `GET`.
pub async fn update_project(
    State(state): State<AppState>,
    ProjectAccess {
        caller,
        org,
        project,
    }: ProjectAccess,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    // Not axum's 422 for a body that is JSON but not an object: Sentry answers 400.
    let Json(update) = body.map_err(|_| {
        ApiError::bad_field(
            "detail",
            "The body must be a JSON object of the fields to change",
        )
    })?;
    let (quota_update, update): (Map<String, Value>, Map<String, Value>) = update
        .into_iter()
        .partition(|(k, _)| super::quotas::PROJECT_FIELDS.contains(&k.as_str()));
    let mut settings = state.store.scrubbing_settings(project.id).await?;
    let mut filters = state.store.inbound_filters(project.id).await?;
    // All checked before any is written: a refused option or quota leaves the scrubbing
    // settings as they were too.
    let options = match update.get("options") {
        Some(options) => Some(apply_options(&mut filters, options)?),
        None => None,
    };
    let mut scrubbing = update;
    scrubbing.remove("options");
    let rename = project_rename(&mut scrubbing)?;
    let changed = apply_scrubbing_update(&mut settings, &scrubbing)?;
    let mut quotas = state.store.project_quotas(project.id).await?;
    let quotas_changed = super::quotas::apply_project_update(&mut quotas, &quota_update)?;
    if changed || quotas_changed || options.is_some() || rename.is_some() {
        caller.require_scope(WRITE_SCOPES)?;
    }
    let project = match rename {
        Some(rename) => match state.store.rename_project(project.id, &rename).await {
            Ok(renamed) => renamed.ok_or(ApiError::NotFound)?,
            Err(vigil_store::StoreError::Conflict(_)) => {
                return Err(ApiError::bad_field(
                    "slug",
                    format!(
                        "The slug \"{}\" is already in use.",
                        rename.slug.unwrap_or_default()
                    ),
                ))
            }
            Err(err) => return Err(err.into()),
        },
        None => project,
    };
    if changed {
        state.set_scrubbing_settings(project.id, &settings).await?;
    }
    if quotas_changed {
        state.set_project_quotas(project.id, &quotas).await?;
    }
    if options.is_some_and(|named_any| named_any) {
        state.set_inbound_filters(project.id, &filters).await?;
    }
    Ok(Json(details(&project, &org, &settings, &filters, &quotas)))
}

/// Takes `name`, `slug` and `platform` out of `update`, checked as Sentry's project serializer
/// checks them; `None` when it named none.
fn project_rename(update: &mut Map<String, Value>) -> Result<Option<ProjectRename>, ApiError> {
    let mut text = |field: &str| -> Result<Option<String>, ApiError> {
        match update.remove(field) {
            None => Ok(None),
            Some(Value::String(value)) if !value.trim().is_empty() => {
                Ok(Some(value.trim().to_owned()))
            }
            Some(Value::String(_)) => {
                Err(ApiError::bad_field(field, "This field may not be blank."))
            }
            Some(_) => Err(ApiError::bad_field(field, "Not a valid string.")),
        }
    };
    let rename = ProjectRename {
        name: text("name")?,
        slug: text("slug")?,
        platform: text("platform")?,
    };
    if let Some(name) = &rename.name {
        if name.chars().count() > 200 {
            return Err(ApiError::bad_field(
                "name",
                "Ensure this field has no more than 200 characters.",
            ));
        }
    }
    if let Some(slug) = &rename.slug {
        let valid = slug.len() <= 50
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !slug.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(ApiError::bad_field(
                "slug",
                "Enter a valid slug consisting of lowercase letters, numbers, underscores or \
                 hyphens. It cannot be entirely numeric.",
            ));
        }
    }
    if let Some(platform) = &rename.platform {
        let valid = platform.len() <= 64
            && platform
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ApiError::bad_field(
                "platform",
                "Invalid platform: lowercase letters, digits and hyphens (python-django).",
            ));
        }
    }
    let named_any = rename != ProjectRename::default();
    Ok(named_any.then_some(rename))
}

/// Sets the fields `update` names on `settings`; `true` when it named any. A field Vigil
/// does not apply, or one of the wrong type, is a 400 naming it (Sentry's DRF messages).
fn apply_scrubbing_update(
    settings: &mut ScrubbingSettings,
    update: &Map<String, Value>,
) -> Result<bool, ApiError> {
    if let Some(field) = update
        .keys()
        .find(|k| !UPDATABLE_FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_field(
            field,
            format!(
                "Vigil cannot change this field; it accepts {}, {}",
                UPDATABLE_FIELDS.join(", "),
                super::quotas::PROJECT_FIELDS.join(", ")
            ),
        ));
    }
    for (field, value) in update {
        match field.as_str() {
            "dataScrubber" => settings.data_scrubber = boolean(field, value)?,
            "dataScrubberDefaults" => settings.data_scrubber_defaults = boolean(field, value)?,
            "scrubIPAddresses" => settings.scrub_ip_addresses = boolean(field, value)?,
            "sensitiveFields" => settings.sensitive_fields = field_list(field, value)?,
            "safeFields" => settings.safe_fields = field_list(field, value)?,
            "relayPiiConfig" => {
                settings.relay_pii_config = match value {
                    Value::Null => None,
                    Value::String(text) => relay_pii_config(text)
                        .map_err(|reason| ApiError::bad_field(field, reason))?,
                    _ => return Err(ApiError::bad_field(field, "Not a valid string.")),
                }
            }
            _ => {}
        }
    }
    Ok(!update.is_empty())
}

/// The advanced data scrubbing rules as kept: `None` for a blank text (no rules), else the text
/// (trimmed, as Sentry's `CharField` trims it) if Relay would accept it as a PII config, or
/// Relay's reason why not. The API and the web UI both check with this.
pub fn relay_pii_config(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    vigil_processing::scrub::validate_pii_config(text).map_err(|e| e.to_string())?;
    Ok(Some(text.to_owned()))
}

/// Sets the inbound filters `options` names (`{"filters:releases": "1.0.*\n2.0"}`); `true`
/// when it named any. An option Vigil does not keep, a value of the wrong type or an IP entry
/// that is neither an address nor a CIDR range is a 400 naming it.
fn apply_options(filters: &mut InboundFilters, options: &Value) -> Result<bool, ApiError> {
    let Value::Object(options) = options else {
        return Err(ApiError::bad_field(
            "options",
            "Expected an object of project options.",
        ));
    };
    if let Some(key) = options
        .keys()
        .find(|k| !UPDATABLE_OPTIONS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_field(
            "options",
            format!(
                "Vigil cannot change the option {key}; it accepts {}",
                UPDATABLE_OPTIONS.join(", ")
            ),
        ));
    }
    for (key, value) in options {
        match key.as_str() {
            "filters:error_messages" => filters.error_messages = lines(key, value)?,
            "filters:releases" => filters.releases = lines(key, value)?,
            "filters:blacklisted_ips" => {
                let entries = lines(key, value)?;
                if let Some(bad) = entries.iter().find(|e| IpRange::parse(e).is_none()) {
                    return Err(ApiError::bad_field(
                        key,
                        format!("{bad} is not an IP address or CIDR range."),
                    ));
                }
                filters.blacklisted_ips = entries;
            }
            "filters:react-hydration-errors" => {
                filters.react_hydration_errors = boolean(key, value)?
            }
            "filters:chunk-load-error" => filters.chunk_load_error = boolean(key, value)?,
            "sentry:csp_ignored_sources_defaults" => {
                filters.csp_ignored_sources_defaults = boolean(key, value)?
            }
            "sentry:csp_ignored_sources" => filters.csp_ignored_sources = lines(key, value)?,
            _ => {}
        }
    }
    Ok(!options.is_empty())
}

/// A textarea's value, one entry per line (Sentry's `clean_newline_inputs`).
fn lines(key: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    match value {
        Value::String(text) => Ok(newline_list(text)),
        Value::Null => Err(ApiError::bad_field(key, "This field may not be null.")),
        _ => Err(ApiError::bad_field(
            key,
            "Expected a string, one entry per line.",
        )),
    }
}

/// A JSON boolean, as Sentry's clients send these settings.
fn boolean(field: &str, value: &Value) -> Result<bool, ApiError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Err(ApiError::bad_field(field, "This field may not be null.")),
        _ => Err(ApiError::bad_field(field, "Must be a valid boolean.")),
    }
}

/// A list of field names: strings, trimmed as Sentry's `CharField` trims them, none blank,
/// within Sentry's size bound.
fn field_list(field: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Null => return Err(ApiError::bad_field(field, "This field may not be null.")),
        _ => return Err(ApiError::bad_field(field, "Expected a list of strings.")),
    };
    let list = items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.trim().to_owned()),
            _ => Err(ApiError::bad_field(field, "Every entry must be a string.")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_field_list(&list).map_err(|err| ApiError::bad_field(field, err.to_string()))?;
    Ok(list)
}

/// `GET /api/0/projects/{org}/{project}/keys/`.
pub async fn list_keys(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
) -> Result<Json<Vec<Value>>, ApiError> {
    let keys = state.store.list_keys(project.id).await?;
    Ok(Json(
        keys.iter()
            .map(|k| serialize_key(k, &state.config))
            .collect(),
    ))
}

/// The body of a key creation (`name` is Sentry's label).
#[derive(Debug, Deserialize)]
pub struct NewKey {
    name: Option<String>,
}

/// `POST /api/0/projects/{org}/{project}/keys/`: a new active key, answered 201 as Sentry does.
pub async fn create_key(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    body: Option<Json<NewKey>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    let name = body
        .and_then(|Json(b)| b.name)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Default".to_string());
    if name.chars().count() > 64 {
        return Err(ApiError::bad_field("name", "at most 64 characters"));
    }
    let key = state.store.create_key(project.id, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(serialize_key(&key, &state.config)),
    ))
}

/// The key of the project whose public key is `key_id` (Sentry's API names keys by it), or 404.
async fn project_key(
    state: &AppState,
    project_id: i64,
    key_id: &str,
) -> Result<ProjectKey, ApiError> {
    state
        .store
        .list_keys(project_id)
        .await?
        .into_iter()
        .find(|k| k.public_key == key_id)
        .ok_or(ApiError::NotFound)
}

/// `DELETE /api/0/projects/{org}/{project}/keys/{key_id}/`: 204, as Sentry answers.
pub async fn delete_key(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    Path((_, _, key_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    let key = project_key(&state, project.id, &key_id).await?;
    state.store.delete_key(key.id).await?;
    state.key_cache.forget(&key.public_key);
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a key update, as Sentry's `ProjectKeyDetailsEndpoint` takes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUpdate {
    /// `{"window": seconds, "count": events}`, or `null` to remove the limit.
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<RateLimitBody>>,
    is_active: Option<bool>,
    name: Option<String>,
    /// Anything else Sentry's endpoint takes (`browserSdkVersion`, `dynamicSdkLoaderOptions`):
    /// refused, naming the field, rather than answered 200 unapplied.
    #[serde(flatten)]
    other: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct RateLimitBody {
    window: i64,
    count: i64,
}

/// Tells a field set to `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<RateLimitBody>>, D::Error> {
    Option::<RateLimitBody>::deserialize(d).map(Some)
}

/// `PUT /api/0/projects/{org}/{project}/keys/{key_id}/`: the rate limit and active state of a
/// DSN key (`key_id` is the public key, as Sentry's API names keys).
pub async fn update_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project, key_id)): Path<(String, String, String)>,
    body: Option<Json<KeyUpdate>>,
) -> Result<Json<Value>, ApiError> {
    let update = json_body(body)?;
    let (_org, project) = caller.project(&state, &org, &project).await?;
    let key = project_key(&state, project.id, &key_id).await?;
    caller.require_scope(WRITE_SCOPES)?;
    if let Some(field) = update.other.keys().next() {
        return Err(ApiError::bad_field(
            field,
            "Vigil cannot change this on a key; it takes name, isActive and rateLimit",
        ));
    }
    let name = match update.name.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::bad_field("name", "This field may not be blank.")),
        Some(name) if name.chars().count() > 64 => {
            return Err(ApiError::bad_field(
                "name",
                "Ensure this field has no more than 64 characters.",
            ))
        }
        other => other,
    };
    if let Some(rate_limit) = update.rate_limit {
        let limit = match rate_limit {
            Some(RateLimitBody { window, count }) => {
                if !(1..=86_400 * 30).contains(&window) {
                    return Err(ApiError::bad_field(
                        "rateLimit",
                        "window must be between 1 second and 30 days",
                    ));
                }
                if count < 0 {
                    return Err(ApiError::bad_field(
                        "rateLimit",
                        "count must not be negative",
                    ));
                }
                Some(KeyRateLimit {
                    count,
                    window_secs: window,
                })
            }
            None => None,
        };
        state.store.set_key_rate_limit(key.id, limit).await?;
    }
    if let Some(active) = update.is_active {
        state.store.set_key_active(key.id, active).await?;
    }
    if let Some(name) = name {
        state.store.set_key_label(key.id, name).await?;
    }
    state.key_cache.forget(&key.public_key);
    let key = state
        .store
        .key_by_public_key(&key.public_key)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(serialize_key(&key, &state.config)))
}
