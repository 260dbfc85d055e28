//! A project's rate limits and spike protection (`/settings/{org}/projects/{project}/rate-limits/`):
//! at most so many errors and transactions per window, and whether bursts far over the
//! project's usual hourly volume are cut; and a switch of spike protection for every project of
//! the organization (`/settings/{org}/spike-protection/`). The same settings as the API's
//! `vigilRateLimits`, `vigilSpikeProtection` and `spike-protections` (see `api::quotas`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use vigil_store::{KeyRateLimit, Organization, Project, ProjectQuotas};

use super::error::WebError;
use super::layout::{csrf_field, page, redirect_to, Shell};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::AppState;

/// The longest window a limit may have (30 days, as a key's).
const MAX_WINDOW_SECS: i64 = 86_400 * 30;

/// The form as typed; kept as text so that a bad value is shown back as it was. An empty count
/// means no limit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotasForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    error_count: String,
    #[serde(default)]
    error_window: String,
    #[serde(default)]
    transaction_count: String,
    #[serde(default)]
    transaction_window: String,
    spike_protection: Option<String>,
}

impl QuotasForm {
    fn of(quotas: &ProjectQuotas) -> QuotasForm {
        let count = |l: Option<KeyRateLimit>| l.map(|l| l.count.to_string()).unwrap_or_default();
        let window = |l: Option<KeyRateLimit>| {
            l.map_or_else(|| "60".to_owned(), |l| l.window_secs.to_string())
        };
        QuotasForm {
            csrf: String::new(),
            error_count: count(quotas.errors),
            error_window: window(quotas.errors),
            transaction_count: count(quotas.transactions),
            transaction_window: window(quotas.transactions),
            spike_protection: quotas.spike_protection.then(|| "on".to_owned()),
        }
    }

    /// The quotas, or the one line saying which field is wrong.
    fn parse(&self) -> Result<ProjectQuotas, String> {
        let limit = |count: &str, window: &str, name: &str| -> Result<_, String> {
            let count = count.trim();
            if count.is_empty() {
                return Ok(None);
            }
            let count: i64 = count.parse().ok().filter(|c| *c >= 0).ok_or(format!(
                "{name}: the count must be a whole number, 0 or more"
            ))?;
            let window_secs: i64 = window
                .trim()
                .parse()
                .ok()
                .filter(|w| (1..=MAX_WINDOW_SECS).contains(w))
                .ok_or(format!(
                    "{name}: the window must be between 1 second and 30 days, in seconds"
                ))?;
            Ok(Some(KeyRateLimit { count, window_secs }))
        };
        Ok(ProjectQuotas {
            errors: limit(&self.error_count, &self.error_window, "Errors")?,
            transactions: limit(
                &self.transaction_count,
                &self.transaction_window,
                "Transactions",
            )?,
            spike_protection: self.spike_protection.is_some(),
        })
    }
}

fn quotas_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    form: &QuotasForm,
    error: Option<&str>,
    saved: bool,
) -> Html<String> {
    let prefix = state.config.path_prefix();
    let action = format!(
        "{prefix}/settings/{}/projects/{}/rate-limits/",
        org.slug, project.slug
    );
    let number = |name: &str, label: &str, value: &str, help: &str| {
        html! {
            label {
                span { (label) }
                input type="number" name=(name) value=(value) min="0" step="1";
                small.muted { (help) }
            }
        }
    };
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/projects/" (project.slug) "/" } { (project.slug) }
            " / rate limits"
        }
        h1 { "Rate limits & spike protection" }
        section.key.quota-settings {
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if saved { p.saved role="status" { "Saved." } }
            form method="post" action=(action) {
                (csrf_field(viewer))
                (number("error_count", "Errors per window", &form.error_count,
                    "At most this many errors (with default and security events) per window; empty for no limit."))
                (number("error_window", "Error window (seconds)", &form.error_window, ""))
                (number("transaction_count", "Transactions per window", &form.transaction_count,
                    "At most this many transactions (and spans sent on their own); empty for no limit."))
                (number("transaction_window", "Transaction window (seconds)", &form.transaction_window, ""))
                label {
                    input type="checkbox" name="spike_protection" checked[form.spike_protection.is_some()];
                    span { "Spike protection" }
                    small.muted { "Drop errors, transactions and attachments past a multiple of this project's average hourly volume of the last 7 days." }
                }
                button.primary type="submit" { "Save" }
            }
            p.muted { "SDKs over a limit are answered 429 with the categories to stop sending and for how long." }
        }
        h2 { "Spike protection for the whole organization" }
        section.key.org-spike-protection {
            form method="post" action={ (prefix) "/settings/" (org.slug) "/spike-protection/" } {
                (csrf_field(viewer))
                input type="hidden" name="project" value=(project.slug);
                button type="submit" name="action" value="on" { "Turn on for every project" }
                " "
                button type="submit" name="action" value="off" { "Turn off for every project" }
            }
            p.muted { "As Sentry's spike-protections endpoint with \"$all\": projects created later start with it on." }
        }
    };
    page(Shell::of_org("Rate limits", &prefix, viewer, org), body)
}

/// `GET /settings/{org}/projects/{project}/rate-limits/`.
pub async fn show(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let quotas = state.store.project_quotas(project.id).await?;
    let saved = raw.as_deref() == Some("saved=1");
    Ok(quotas_page(
        &state,
        &viewer,
        &org,
        &project,
        &QuotasForm::of(&quotas),
        None,
        saved,
    ))
}

/// `POST /settings/{org}/projects/{project}/rate-limits/`.
pub async fn save(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(form): Form<QuotasForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let quotas = match form.parse() {
        Ok(quotas) => quotas,
        Err(message) => {
            let html = quotas_page(
                &state,
                &viewer,
                &org,
                &project,
                &form,
                Some(&message),
                false,
            );
            return Ok((StatusCode::BAD_REQUEST, html).into_response());
        }
    };
    state.set_project_quotas(project.id, &quotas).await?;
    tracing::info!(
        project_id = project.id,
        user_id = viewer.user.id,
        spike_protection = quotas.spike_protection,
        "rate limits changed in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!(
            "/settings/{}/projects/{}/rate-limits/?saved=1",
            org.slug, project.slug
        ),
    ))
}

/// The organization-wide switch: which way, and the project page to go back to.
#[derive(Debug, Deserialize)]
pub struct OrgSpikeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    project: String,
}

/// `POST /settings/{org}/spike-protection/`: spike protection on or off for every project of
/// the organization, then back to the project's rate-limits page.
pub async fn save_org_spike_protection(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(org): Path<String>,
    Form(form): Form<OrgSpikeForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, back) = viewer_project(&state, &viewer, &org, &form.project).await?;
    let on = match form.action.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            let quotas = state.store.project_quotas(back.id).await?;
            let html = quotas_page(
                &state,
                &viewer,
                &org,
                &back,
                &QuotasForm::of(&quotas),
                Some("Choose to turn spike protection on or off."),
                false,
            );
            return Ok((StatusCode::BAD_REQUEST, html).into_response());
        }
    };
    for project in state.store.list_projects(Some(org.id)).await? {
        let mut quotas = state.store.project_quotas(project.id).await?;
        quotas.spike_protection = on;
        state.set_project_quotas(project.id, &quotas).await?;
    }
    tracing::info!(
        organization_id = org.id,
        user_id = viewer.user.id,
        spike_protection = on,
        "spike protection changed for every project in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!(
            "/settings/{}/projects/{}/rate-limits/?saved=1",
            org.slug, back.slug
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(error_count: &str, error_window: &str, spike: bool) -> QuotasForm {
        QuotasForm {
            error_count: error_count.into(),
            error_window: error_window.into(),
            transaction_window: "60".into(),
            spike_protection: spike.then(|| "on".into()),
            ..QuotasForm::default()
        }
    }

    #[test]
    fn empty_count_is_no_limit_and_bad_values_are_named() {
        let parsed = form("", "60", false).parse().expect("valid");
        assert_eq!(parsed.errors, None);
        assert!(!parsed.spike_protection);
        let parsed = form(" 100 ", "3600", true).parse().expect("valid");
        assert_eq!(
            parsed.errors,
            Some(KeyRateLimit {
                count: 100,
                window_secs: 3600
            })
        );
        assert!(parsed.spike_protection);
        assert!(form("-1", "60", true)
            .parse()
            .unwrap_err()
            .starts_with("Errors"));
        assert!(form("10", "0", true)
            .parse()
            .unwrap_err()
            .contains("window"));
        assert_eq!(QuotasForm::of(&parsed).parse().expect("round trip"), parsed);
    }
}
