//! A project's settings page, in two sections each with its own form, as Sentry's project
//! settings offer them: performance (`/settings/{org}/projects/{project}/performance/`: the
//! Apdex threshold and the thresholds of the N+1 query and slow DB query detectors) and Security
//! & Privacy (`…/security-and-privacy/`: the data-scrubbing settings).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use vigil_store::{
    check_field_list, Organization, PerformanceSettings, Project, ScrubbingSettings,
};

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

/// The Security & Privacy form as typed: a checkbox is sent only when ticked, a list is one
/// field name per line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrivacyForm {
    #[serde(default)]
    csrf: String,
    data_scrubber: Option<String>,
    data_scrubber_defaults: Option<String>,
    scrub_ip_addresses: Option<String>,
    #[serde(default)]
    sensitive_fields: String,
    #[serde(default)]
    safe_fields: String,
    /// The advanced data scrubbing rules (`relayPiiConfig`), JSON.
    #[serde(default)]
    relay_pii_config: String,
}

impl PrivacyForm {
    fn of(settings: &ScrubbingSettings) -> PrivacyForm {
        let ticked = |on: bool| on.then(|| "on".to_owned());
        PrivacyForm {
            csrf: String::new(),
            data_scrubber: ticked(settings.data_scrubber),
            data_scrubber_defaults: ticked(settings.data_scrubber_defaults),
            scrub_ip_addresses: ticked(settings.scrub_ip_addresses),
            sensitive_fields: settings.sensitive_fields.join("\n"),
            safe_fields: settings.safe_fields.join("\n"),
            relay_pii_config: settings.relay_pii_config.clone().unwrap_or_default(),
        }
    }

    /// The settings, or the one line saying which field is wrong. Lines are trimmed and blank
    /// ones dropped, as Sentry's form does.
    fn parse(&self) -> Result<ScrubbingSettings, String> {
        let list = |text: &str, name: &str| -> Result<Vec<String>, String> {
            let fields: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect();
            check_field_list(&fields).map_err(|err| format!("{name}: {err}"))?;
            Ok(fields)
        };
        Ok(ScrubbingSettings {
            data_scrubber: self.data_scrubber.is_some(),
            data_scrubber_defaults: self.data_scrubber_defaults.is_some(),
            scrub_ip_addresses: self.scrub_ip_addresses.is_some(),
            sensitive_fields: list(&self.sensitive_fields, "Additional sensitive fields")?,
            safe_fields: list(&self.safe_fields, "Safe fields")?,
            relay_pii_config: crate::api::projects::relay_pii_config(&self.relay_pii_config)
                .map_err(|reason| format!("Advanced Data Scrubbing: {reason}"))?,
        })
    }
}

/// What a section shows above its form: the error of the value just refused, or that the
/// values were saved.
#[derive(Debug, Clone, Copy, Default)]
struct Note<'a> {
    error: Option<&'a str>,
    saved: bool,
}

impl Note<'_> {
    fn render(self) -> maud::Markup {
        html! {
            @if let Some(error) = self.error { p.error role="alert" { (error) } }
            @if self.saved { p.saved role="status" { "Saved." } }
        }
    }
}

/// Both sections' forms as shown, each with its note.
struct Sections<'a> {
    performance: &'a SettingsForm,
    performance_note: Note<'a>,
    privacy: &'a PrivacyForm,
    privacy_note: Note<'a>,
}

fn settings_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    sections: Sections<'_>,
) -> Html<String> {
    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/settings/{}/projects/{}", org.slug, project.slug);
    let action = format!("{base}/performance/");
    let privacy_action = format!("{base}/security-and-privacy/");
    let form = sections.performance;
    let privacy = sections.privacy;
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
            " / settings"
        }
        h1 { "Project settings" }
        h2 #performance { "Performance" }
        section.key.perf-settings {
            (sections.performance_note.render())
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
        h2 #security-and-privacy { "Security & Privacy" }
        section.key.privacy-settings {
            (sections.privacy_note.render())
            form method="post" action=(privacy_action) {
                (csrf_field(viewer))
                (checkbox("data_scrubber", "Data Scrubber", privacy.data_scrubber.is_some(),
                    "Enable server-side data scrubbing."))
                (checkbox("data_scrubber_defaults", "Use Default Scrubbers", privacy.data_scrubber_defaults.is_some(),
                    "Apply default scrubbers to prevent things like passwords and credit cards from being stored."))
                (checkbox("scrub_ip_addresses", "Prevent Storing of IP Addresses", privacy.scrub_ip_addresses.is_some(),
                    "Prevent IP addresses from being stored for new events."))
                (list("sensitive_fields", "Additional Sensitive Fields", &privacy.sensitive_fields,
                    "Additional field names to match against when scrubbing data, one per line."))
                (list("safe_fields", "Safe Fields", &privacy.safe_fields,
                    "Field names which data scrubbers should ignore, one per line."))
                label {
                    span { "Advanced Data Scrubbing" }
                    textarea name="relay_pii_config" rows="8" spellcheck="false"
                        placeholder=r#"{"rules": {"0": {"type": "creditcard", "redaction": {"method": "mask"}}}, "applications": {"$string": ["0"]}}"# {
                        (privacy.relay_pii_config)
                    }
                    small.muted {
                        "Relay's PII config (JSON): rules by id, and the selectors they apply to. \
                         Applied before the settings above; empty for none."
                    }
                }
                button.primary type="submit" { "Save" }
            }
            p.muted { "Events arriving from now on are scrubbed with the new settings." }
        }
        p { a href={ (base) "/rate-limits/" } { "Rate limits & spike protection" } }
    };
    page(
        Shell::of_org("Project settings", &prefix, viewer, org),
        body,
    )
}

fn checkbox(name: &str, label: &str, checked: bool, help: &str) -> maud::Markup {
    html! {
        label {
            input type="checkbox" name=(name) checked[checked];
            span { (label) }
            small.muted { (help) }
        }
    }
}

fn list(name: &str, label: &str, value: &str, help: &str) -> maud::Markup {
    html! {
        label {
            span { (label) }
            textarea name=(name) rows="4" { (value) }
            small.muted { (help) }
        }
    }
}

/// The page with both sections as stored, each with its note.
async fn stored_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    performance_note: Note<'_>,
    privacy_note: Note<'_>,
) -> Result<Html<String>, WebError> {
    let performance = state.store.performance_settings(project.id).await?;
    let privacy = state.store.scrubbing_settings(project.id).await?;
    Ok(settings_page(
        state,
        viewer,
        org,
        project,
        Sections {
            performance: &SettingsForm::of(&performance),
            performance_note,
            privacy: &PrivacyForm::of(&privacy),
            privacy_note,
        },
    ))
}

/// `GET /settings/{org}/projects/{project}/performance/`.
pub async fn show(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let saved = Note {
        error: None,
        saved: raw.as_deref() == Some("saved=1"),
    };
    stored_page(&state, &viewer, &org, &project, saved, Note::default()).await
}

/// `GET /settings/{org}/projects/{project}/security-and-privacy/`: the same page, after a save
/// of its Security & Privacy section.
pub async fn show_privacy(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let saved = Note {
        error: None,
        saved: raw.as_deref() == Some("saved=1"),
    };
    stored_page(&state, &viewer, &org, &project, Note::default(), saved).await
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
            let privacy = state.store.scrubbing_settings(project.id).await?;
            let sections = Sections {
                performance: &form,
                performance_note: Note {
                    error: Some(&message),
                    saved: false,
                },
                privacy: &PrivacyForm::of(&privacy),
                privacy_note: Note::default(),
            };
            let html = settings_page(&state, &viewer, &org, &project, sections);
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

/// `POST /settings/{org}/projects/{project}/security-and-privacy/`.
pub async fn save_privacy(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(form): Form<PrivacyForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let settings = match form.parse() {
        Ok(settings) => settings,
        Err(message) => {
            let performance = state.store.performance_settings(project.id).await?;
            let sections = Sections {
                performance: &SettingsForm::of(&performance),
                performance_note: Note::default(),
                privacy: &form,
                privacy_note: Note {
                    error: Some(&message),
                    saved: false,
                },
            };
            let html = settings_page(&state, &viewer, &org, &project, sections);
            return Ok((StatusCode::BAD_REQUEST, html).into_response());
        }
    };
    state.set_scrubbing_settings(project.id, &settings).await?;
    tracing::info!(
        project_id = project.id,
        user_id = viewer.user.id,
        data_scrubber = settings.data_scrubber,
        scrub_ip_addresses = settings.scrub_ip_addresses,
        "data-scrubbing settings changed in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!(
            "/settings/{}/projects/{}/security-and-privacy/?saved=1",
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

    #[test]
    fn privacy_form_reads_ticked_boxes_and_one_field_per_line() {
        let form = PrivacyForm {
            data_scrubber: Some("on".into()),
            sensitive_fields: " card_number \r\n\n iban\n".into(),
            ..PrivacyForm::default()
        };
        let settings = form.parse().expect("valid");
        assert!(settings.data_scrubber);
        assert!(!settings.data_scrubber_defaults && !settings.scrub_ip_addresses);
        assert_eq!(settings.sensitive_fields, ["card_number", "iban"]);
        assert!(settings.safe_fields.is_empty());
        assert_eq!(PrivacyForm::of(&settings).parse(), Ok(settings));
        let too_long = PrivacyForm {
            safe_fields: "x".repeat(vigil_store::MAX_FIELD_LIST_CHARS + 1),
            ..PrivacyForm::default()
        };
        let error = too_long.parse().expect_err("too long");
        assert!(error.starts_with("Safe fields: "), "{error}");
    }
}
