//! A project's performance settings (`/settings/{org}/projects/{project}/performance/`): the
//! Apdex threshold and the thresholds of the N+1 query and slow DB query detectors, as
//! Sentry's project settings offer them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use vigil_store::{Organization, PerformanceSettings, Project};

use super::error::WebError;
use super::layout::{csrf_field, page, redirect_to, Shell};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::AppState;

/// Upper bounds that keep a typo (an extra zero or six) from switching a detector off for good.
const MAX_MS: f64 = 3_600_000.0;
const MAX_COUNT: u32 = 10_000;

/// The form as typed; kept as text so that a bad value is shown back as it was.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    apdex_threshold_ms: String,
    #[serde(default)]
    n_plus_one_min_count: String,
    #[serde(default)]
    n_plus_one_min_total_ms: String,
    #[serde(default)]
    slow_db_query_ms: String,
}

impl SettingsForm {
    fn of(settings: &PerformanceSettings) -> SettingsForm {
        SettingsForm {
            csrf: String::new(),
            apdex_threshold_ms: format!("{}", settings.apdex_threshold_ms),
            n_plus_one_min_count: settings.n_plus_one_min_count.to_string(),
            n_plus_one_min_total_ms: format!("{}", settings.n_plus_one_min_total_ms),
            slow_db_query_ms: format!("{}", settings.slow_db_query_ms),
        }
    }

    /// The settings, or the one line saying which field is wrong.
    fn parse(&self) -> Result<PerformanceSettings, String> {
        let ms = |value: &str, name: &str| -> Result<f64, String> {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0 && *v <= MAX_MS)
                .ok_or_else(|| {
                    format!("{name} must be a positive number of milliseconds (at most 3600000).")
                })
        };
        Ok(PerformanceSettings {
            apdex_threshold_ms: ms(&self.apdex_threshold_ms, "The Apdex threshold")?,
            n_plus_one_min_count: self
                .n_plus_one_min_count
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_COUNT).contains(n))
                .ok_or("The N+1 minimum count must be a whole number from 1 to 10000.")?,
            n_plus_one_min_total_ms: ms(&self.n_plus_one_min_total_ms, "The N+1 minimum total")?,
            slow_db_query_ms: ms(&self.slow_db_query_ms, "The slow DB query threshold")?,
        })
    }
}

fn settings_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    form: &SettingsForm,
    error: Option<&str>,
    saved: bool,
) -> Html<String> {
    let prefix = state.config.path_prefix();
    let action = format!(
        "{prefix}/settings/{}/projects/{}/performance/",
        org.slug, project.slug
    );
    let field = |name: &str, label: &str, value: &str, step: &str, help: &str| {
        html! {
            label {
                span { (label) }
                input type="number" name=(name) value=(value) min=(step) step=(step) required;
                small.muted { (help) }
            }
        }
    };
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/projects/" (project.slug) "/" } { (project.slug) }
            " / performance settings"
        }
        h1 { "Performance settings" }
        section.key.perf-settings {
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if saved { p.saved role="status" { "Saved." } }
            form method="post" action=(action) {
                (csrf_field(viewer))
                (field("apdex_threshold_ms", "Apdex threshold (ms)", &form.apdex_threshold_ms, "any",
                    "Transactions at or under it satisfy users; up to four times it, they tolerate it."))
                (field("n_plus_one_min_count", "N+1 queries: minimum repetitions", &form.n_plus_one_min_count, "1",
                    "Similar database queries in a row, under one parent span, before it is an N+1 issue."))
                (field("n_plus_one_min_total_ms", "N+1 queries: minimum total (ms)", &form.n_plus_one_min_total_ms, "any",
                    "… and at least this long together."))
                (field("slow_db_query_ms", "Slow DB query (ms)", &form.slow_db_query_ms, "any",
                    "One database query at least this long is a slow query issue."))
                button.primary type="submit" { "Save" }
            }
            p.muted { "Detectors use the new values for transactions arriving from now on." }
        }
    };
    page(
        Shell::of_org("Performance settings", &prefix, viewer, org),
        body,
    )
}

/// `GET /settings/{org}/projects/{project}/performance/`.
pub async fn show(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let settings = state.store.performance_settings(project.id).await?;
    let saved = raw.as_deref() == Some("saved=1");
    Ok(settings_page(
        &state,
        &viewer,
        &org,
        &project,
        &SettingsForm::of(&settings),
        None,
        saved,
    ))
}

/// `POST /settings/{org}/projects/{project}/performance/`.
pub async fn save(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let settings = match form.parse() {
        Ok(settings) => settings,
        Err(message) => {
            let html = settings_page(
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
    state
        .set_performance_settings(project.id, &settings)
        .await?;
    tracing::info!(
        project_id = project.id,
        user_id = viewer.user.id,
        apdex_threshold_ms = settings.apdex_threshold_ms,
        "performance settings changed in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!(
            "/settings/{}/projects/{}/performance/?saved=1",
            org.slug, project.slug
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(apdex: &str, count: &str) -> SettingsForm {
        SettingsForm {
            apdex_threshold_ms: apdex.into(),
            n_plus_one_min_count: count.into(),
            n_plus_one_min_total_ms: "100".into(),
            slow_db_query_ms: "1000".into(),
            ..SettingsForm::default()
        }
    }

    #[test]
    fn thresholds_must_be_positive_numbers() {
        let ok = form("450", "5").parse().expect("valid");
        assert_eq!(ok.apdex_threshold_ms, 450.0);
        assert_eq!(ok.n_plus_one_min_count, 5);
        for (apdex, count) in [
            ("0", "5"),
            ("-3", "5"),
            ("abc", "5"),
            ("NaN", "5"),
            ("inf", "5"),
            ("300", "0"),
            ("300", "2.5"),
        ] {
            assert!(form(apdex, count).parse().is_err(), "{apdex} {count}");
        }
    }
}
