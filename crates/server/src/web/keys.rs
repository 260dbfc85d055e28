//! A project's client keys (`/settings/{org}/projects/{project}/keys/`): each DSN, creating,
//! enabling, disabling and deleting keys, and their rate limits (what
//! `PUT /api/0/projects/…/keys/{id}/` changes).

use axum::extract::{Path, State};
use axum::response::{Html, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use vigil_protocol::dsn::Dsn;
use vigil_store::KeyRateLimit;

use super::error::WebError;
use super::layout::{count, csrf_field, page, redirect_to, time_ago, Shell};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::time::unix_now;
use crate::AppState;

/// Rate-limit windows offered, in seconds, as Sentry offers them.
const WINDOWS: &[(i64, &str)] = &[(60, "per minute"), (3600, "per hour"), (86_400, "per day")];

/// `GET /settings/{org}/projects/{project}/keys/`.
pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let keys = state.store.list_keys(project.id).await?;
    let environments = state
        .store
        .project_tag_values(project.id, "environment", 50)
        .await?;
    let now = unix_now();
    let prefix = state.config.path_prefix();
    let base = format!(
        "{prefix}/settings/{}/projects/{}/keys/",
        org.slug, project.slug
    );
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/projects/" (project.slug) "/" } { (project.slug) }
            " / client keys · "
            a href={ (prefix) "/settings/" (org.slug) "/projects/" (project.slug) "/performance/" } { "project settings" }
            " · "
            a href={ (prefix) "/organizations/" (org.slug) "/alerts/rules/#project-" (project.slug) } { "alert rules" }
        }
        h1 { "Client keys (DSN)" }
        @for key in &keys {
            @let dsn = Dsn::new(&state.config.public_url, &key.public_key, project.id).to_string();
            section.key {
                h2 {
                    (key.label) " "
                    @if key.is_active { span.badge.active { "active" } } @else { span.badge.disabled { "disabled" } }
                }
                pre.dsn { code { (dsn) } }
                p.muted { "Created " (time_ago(key.date_created, now)) }
                div.key-actions {
                form.inline method="post" action={ (base) (key.public_key) "/" } {
                    (csrf_field(&viewer))
                    @if key.is_active {
                        button type="submit" name="action" value="disable" { "Disable" }
                    } @else {
                        button type="submit" name="action" value="enable" { "Enable" }
                    }
                }
                form.rate-limit method="post" action={ (base) (key.public_key) "/" } {
                    (csrf_field(&viewer))
                    input type="hidden" name="action" value="rate_limit";
                    label { "Rate limit "
                        input type="number" name="count" min="0" placeholder="no limit"
                            value=[key.rate_limit.map(|l| l.count)];
                    }
                    label { " events "
                        select name="window" {
                            @for (secs, label) in WINDOWS {
                                option value=(secs) selected[key.rate_limit.is_some_and(|l| l.window_secs == *secs)] { (label) }
                            }
                        }
                    }
                    button type="submit" { "Save" }
                    span.muted { "(empty: no limit)" }
                }
                form.inline.delete method="post" action={ (base) (key.public_key) "/" } {
                    (csrf_field(&viewer))
                    button.danger type="submit" name="action" value="delete"
                        data-confirm="Delete this key? SDKs using its DSN will be refused." { "Delete" }
                }
                }
            }
        }
        section.key.environments {
            h2 { "Environments seen" }
            @if environments.is_empty() {
                p.muted { "None yet: events name theirs with the SDK's " code { "environment" } " option." }
            } @else {
                table.kv {
                    @for env in &environments {
                        tr {
                            th { (env.value) }
                            td {
                                (count(env.times_seen))
                                @if env.times_seen == 1 { " event" } @else { " events" }
                                " · last " (time_ago(env.last_seen, now))
                            }
                        }
                    }
                }
            }
        }
        section.key {
            h2 { "New key" }
            form.inline method="post" action=(base) {
                (csrf_field(&viewer))
                label { "Label " input type="text" name="label" maxlength="64" placeholder="e.g. CI" required; }
                " "
                button.primary type="submit" { "Create key" }
            }
        }
    };
    Ok(page(
        Shell::of_org("Client keys", &prefix, &viewer, &org),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// `POST /settings/{org}/projects/{project}/keys/`: a new key.
pub async fn create(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(form): Form<NewKeyForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let label = form.label.trim();
    if label.is_empty() || label.chars().count() > 64 {
        return Err(WebError::BadRequest(
            "a key's label is 1 to 64 characters".into(),
        ));
    }
    let key = state.store.create_key(project.id, label).await?;
    tracing::info!(
        key_id = key.id,
        project_id = project.id,
        user_id = viewer.user.id,
        "key created in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!("/settings/{}/projects/{}/keys/", org.slug, project.slug),
    ))
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    csrf: String,
    action: String,
    count: Option<String>,
    window: Option<String>,
}

/// `POST /settings/{org}/projects/{project}/keys/{public_key}/`.
pub async fn update(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, public_key)): Path<(String, String, String)>,
    Form(form): Form<KeyForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let key = state
        .store
        .list_keys(project.id)
        .await?
        .into_iter()
        .find(|k| k.public_key == public_key)
        .ok_or(WebError::NotFound)?;
    match form.action.as_str() {
        "enable" | "disable" => {
            state
                .store
                .set_key_active(key.id, form.action == "enable")
                .await?
        }
        "rate_limit" => {
            let count = form.count.as_deref().map(str::trim).unwrap_or("");
            let limit = if count.is_empty() {
                None
            } else {
                let count: i64 = count.parse().ok().filter(|c| *c >= 0).ok_or_else(|| {
                    WebError::BadRequest("the count is not a number of events".into())
                })?;
                let window_secs: i64 = form
                    .window
                    .as_deref()
                    .and_then(|w| w.parse().ok())
                    .filter(|w| WINDOWS.iter().any(|(secs, _)| secs == w))
                    .ok_or_else(|| WebError::BadRequest("unknown window".into()))?;
                Some(KeyRateLimit { count, window_secs })
            };
            state.store.set_key_rate_limit(key.id, limit).await?;
        }
        "delete" => {
            state.store.delete_key(key.id).await?;
        }
        other => return Err(WebError::BadRequest(format!("unknown action {other:?}"))),
    }
    // Ingest caches keys for a moment; this node forgets it at once.
    state.key_cache.forget(&key.public_key);
    tracing::info!(
        key_id = key.id,
        action = form.action.as_str(),
        user_id = viewer.user.id,
        "key changed in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!("/settings/{}/projects/{}/keys/", org.slug, project.slug),
    ))
}
