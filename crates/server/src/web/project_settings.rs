//! A project's settings page, in three sections each with its own form, as Sentry's project
//! settings offer them: performance (`/settings/{org}/projects/{project}/performance/`: the
//! Apdex threshold and the thresholds of the N+1 query and slow DB query detectors), Security
//! & Privacy (`…/security-and-privacy/`: the data-scrubbing settings) and Inbound Filters
//! (`…/filters/data-filters/`: the filters, legacy-browser subfilters and custom lists).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use vigil_store::{
    check_field_list, newline_list, InboundFilters, IpRange, LegacyBrowsers, Organization,
    PerformanceSettings, Project, ScrubbingSettings, LEGACY_BROWSER_SUBFILTERS,
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

/// The Inbound Filters form as posted: `filter` once per ticked filter, `legacy` once per ticked
/// subfilter (or `default` for Relay's default set), and the three custom lists, one entry per
/// line. Read from the raw pairs, since a name repeats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FiltersForm {
    csrf: String,
    filters: Vec<String>,
    legacy: Vec<String>,
    error_messages: String,
    releases: String,
    blacklisted_ips: String,
    csp_ignored_sources: String,
}

/// The boolean filters of the form: the name it posts, the label and the help, as Sentry's page
/// words them.
const FILTER_BOXES: [(&str, &str, &str); 7] = [
    ("browser-extensions", "Filter out errors known to be caused by browser extensions",
        "Certain browser extensions will inject inline scripts and are known to cause errors."),
    ("localhost", "Filter out events coming from localhost",
        "This applies to both IPv4 (127.0.0.1) and IPv6 (::1) addresses."),
    ("web-crawlers", "Filter out known web crawlers",
        "Some crawlers may execute pages in incompatible ways which then cause errors that are unlikely to be seen by a normal user."),
    ("filtered-transaction", "Filter out health check transactions",
        "Filter transactions that match most common naming patterns for health checks."),
    ("react-hydration-errors", "Filter out hydration errors",
        "React falls back to client rendering after these (errors 418–425)."),
    ("chunk-load-error", "Filter out ChunkLoadError(s)",
        "Chunk load failures of webpack and Turbopack, mostly after a deploy."),
    ("csp-default-sources", "Use default ignored sources",
        "Drop CSP reports about browser extensions, injected scripts and other sources Sentry ignores by default."),
];

/// The subfilters' labels, as Sentry's page names them.
const LEGACY_LABELS: [(&str, &str); 17] = [
    ("ie", "Internet Explorer version 11 and lower"),
    ("edge", "Edge version 110 and lower"),
    ("safari", "Safari version 15 and lower"),
    ("firefox", "Firefox version 110 and lower"),
    ("chrome", "Chrome version 110 and lower"),
    ("opera", "Opera version 99 and lower"),
    ("android", "Android version 3 and lower"),
    ("opera_mini", "Opera Mini version 34 and lower"),
    (
        "ie_pre_9",
        "Internet Explorer version 8 and lower (deprecated)",
    ),
    ("ie9", "Internet Explorer version 9 (deprecated)"),
    ("ie10", "Internet Explorer version 10 (deprecated)"),
    ("ie11", "Internet Explorer version 11 (deprecated)"),
    ("opera_pre_15", "Opera version 14 and lower (deprecated)"),
    ("android_pre_4", "Android version 3 and lower (deprecated)"),
    ("safari_pre_6", "Safari version 5 and lower (deprecated)"),
    (
        "opera_mini_pre_8",
        "Opera Mini version 7 and lower (deprecated)",
    ),
    ("edge_pre_79", "Edge version 18 and lower (deprecated)"),
];

impl FiltersForm {
    fn of(filters: &InboundFilters) -> FiltersForm {
        let ticked = FILTER_BOXES
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| match *name {
                "react-hydration-errors" => filters.react_hydration_errors,
                "chunk-load-error" => filters.chunk_load_error,
                "csp-default-sources" => filters.csp_ignored_sources_defaults,
                other => filters.is_active(other).unwrap_or(false),
            })
            .map(str::to_owned)
            .collect();
        let legacy = match &filters.legacy_browsers {
            LegacyBrowsers::Off => Vec::new(),
            LegacyBrowsers::Default => vec!["default".to_owned()],
            LegacyBrowsers::Only(list) => list.clone(),
        };
        FiltersForm {
            csrf: String::new(),
            filters: ticked,
            legacy,
            error_messages: filters.error_messages.join("\n"),
            releases: filters.releases.join("\n"),
            blacklisted_ips: filters.blacklisted_ips.join("\n"),
            csp_ignored_sources: filters.csp_ignored_sources.join("\n"),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> FiltersForm {
        let mut form = FiltersForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "filter" => form.filters.push(value),
                "legacy" => form.legacy.push(value),
                "error_messages" => form.error_messages = value,
                "releases" => form.releases = value,
                "blacklisted_ips" => form.blacklisted_ips = value,
                "csp_ignored_sources" => form.csp_ignored_sources = value,
                _ => {}
            }
        }
        form
    }

    /// The filters, or the one line saying which field is wrong.
    fn parse(&self) -> Result<InboundFilters, String> {
        let on = |name: &str| self.filters.iter().any(|f| f == name);
        if let Some(bad) = self
            .legacy
            .iter()
            .find(|s| *s != "default" && !LEGACY_BROWSER_SUBFILTERS.contains(&s.as_str()))
        {
            return Err(format!("Legacy browsers: {bad} is not a subfilter."));
        }
        let legacy_browsers = if self.legacy.iter().any(|s| s == "default") {
            LegacyBrowsers::Default
        } else {
            LegacyBrowsers::only(self.legacy.iter().cloned())
        };
        let blacklisted_ips = newline_list(&self.blacklisted_ips);
        if let Some(bad) = blacklisted_ips.iter().find(|e| IpRange::parse(e).is_none()) {
            return Err(format!(
                "IP Addresses: {bad} is not an IP address or CIDR range."
            ));
        }
        Ok(InboundFilters {
            browser_extensions: on("browser-extensions"),
            localhost: on("localhost"),
            web_crawlers: on("web-crawlers"),
            filtered_transaction: on("filtered-transaction"),
            legacy_browsers,
            react_hydration_errors: on("react-hydration-errors"),
            chunk_load_error: on("chunk-load-error"),
            error_messages: newline_list(&self.error_messages),
            releases: newline_list(&self.releases),
            blacklisted_ips,
            csp_ignored_sources_defaults: on("csp-default-sources"),
            csp_ignored_sources: newline_list(&self.csp_ignored_sources),
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

/// The sections' forms as shown, each with its note.
struct Sections<'a> {
    performance: &'a SettingsForm,
    performance_note: Note<'a>,
    privacy: &'a PrivacyForm,
    privacy_note: Note<'a>,
    filters: &'a FiltersForm,
    filters_note: Note<'a>,
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
    let filters_action = format!("{base}/filters/data-filters/");
    let filters = sections.filters;
    let legacy_ticked = |name: &str| filters.legacy.iter().any(|s| s == name);
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
        p.settings-links {
            a href={ (base) "/keys/" } { "Client keys (DSN)" } " · "
            a href={ (base) "/rate-limits/" } { "Rate limits" } " · "
            a href={ (base) "/source-maps/" } { "Source maps" }
        }
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
        h2 #inbound-filters { "Inbound Filters" }
        section.key.filter-settings {
            (sections.filters_note.render())
            form method="post" action=(filters_action) {
                (csrf_field(viewer))
                @for (name, label, help) in FILTER_BOXES {
                    label {
                        input type="checkbox" name="filter" value=(name) checked[filters.filters.iter().any(|f| f == name)];
                        span { (label) }
                        small.muted { (help) }
                    }
                }
                fieldset.legacy-browsers {
                    legend { "Filter out known errors from legacy browsers" }
                    label {
                        input type="checkbox" name="legacy" value="default" checked[legacy_ticked("default")];
                        span { "Relay's default set" }
                        small.muted { "Internet Explorer 9, Safari 5, Opera 14, Android 3, Opera Mini 7 and older." }
                    }
                    @for (name, label) in LEGACY_LABELS {
                        // Deprecated subfilters are shown only while a project still has them.
                        @if !label.ends_with("(deprecated)") || legacy_ticked(name) {
                            label {
                                input type="checkbox" name="legacy" value=(name) checked[legacy_ticked(name)];
                                span { (label) }
                            }
                        }
                    }
                }
                (list("blacklisted_ips", "IP Addresses", &filters.blacklisted_ips,
                    "Filter events from these IP addresses or CIDR ranges, one per line (10.0.0.0/8)."))
                (list("releases", "Releases", &filters.releases,
                    "Filter events from these releases, one glob pattern per line (1.* or [!3].[0-9].*)."))
                (list("error_messages", "Error Message", &filters.error_messages,
                    "Filter events by error message, one glob pattern per line (*TypeError*)."))
                (list("csp_ignored_sources", "Additional ignored sources", &filters.csp_ignored_sources,
                    "Drop CSP reports whose blocked URI or source file is one of these, one per line (*.example.com, chrome-extension://*, *:8080)."))
                button.primary type="submit" { "Save" }
            }
            p.muted { "Filtered events are counted, not stored, from now on." }
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

/// Which section a note belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Section {
    Performance,
    Privacy,
    Filters,
}

/// The page with every section as stored, and `note` on `section`. A form that was refused is
/// passed in `shown` to show back as typed instead of as stored.
async fn stored_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    section: Section,
    note: Note<'_>,
    shown: Shown<'_>,
) -> Result<Html<String>, WebError> {
    let performance = SettingsForm::of(&state.store.performance_settings(project.id).await?);
    let privacy = PrivacyForm::of(&state.store.scrubbing_settings(project.id).await?);
    let filters = FiltersForm::of(&state.store.inbound_filters(project.id).await?);
    let on = |s: Section| if s == section { note } else { Note::default() };
    Ok(settings_page(
        state,
        viewer,
        org,
        project,
        Sections {
            performance: shown.performance.unwrap_or(&performance),
            performance_note: on(Section::Performance),
            privacy: shown.privacy.unwrap_or(&privacy),
            privacy_note: on(Section::Privacy),
            filters: shown.filters.unwrap_or(&filters),
            filters_note: on(Section::Filters),
        },
    ))
}

/// The settings page answered 400 for a refused form: `message` on its section, the form
/// shown back as typed.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    section: Section,
    message: &str,
    shown: Shown<'_>,
) -> Result<Response, WebError> {
    let note = Note {
        error: Some(message),
        saved: false,
    };
    let html = stored_page(state, viewer, org, project, section, note, shown).await?;
    Ok((StatusCode::BAD_REQUEST, html).into_response())
}

/// A refused form, shown back as typed.
#[derive(Default, Clone, Copy)]
struct Shown<'a> {
    performance: Option<&'a SettingsForm>,
    privacy: Option<&'a PrivacyForm>,
    filters: Option<&'a FiltersForm>,
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
    stored_page(
        &state,
        &viewer,
        &org,
        &project,
        Section::Performance,
        saved,
        Shown::default(),
    )
    .await
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
    stored_page(
        &state,
        &viewer,
        &org,
        &project,
        Section::Privacy,
        saved,
        Shown::default(),
    )
    .await
}

/// `GET /settings/{org}/projects/{project}/filters/data-filters/`: the same page, after a save
/// of its Inbound Filters section.
pub async fn show_filters(
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
    stored_page(
        &state,
        &viewer,
        &org,
        &project,
        Section::Filters,
        saved,
        Shown::default(),
    )
    .await
}

/// `POST /settings/{org}/projects/{project}/filters/data-filters/`.
pub async fn save_filters(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = FiltersForm::from_pairs(pairs);
    viewer.check_csrf(&form.csrf)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let filters = match form.parse() {
        Ok(filters) => filters,
        Err(message) => {
            let shown = Shown {
                filters: Some(&form),
                ..Shown::default()
            };
            return refused(
                &state,
                &viewer,
                &org,
                &project,
                Section::Filters,
                &message,
                shown,
            )
            .await;
        }
    };
    state.set_inbound_filters(project.id, &filters).await?;
    tracing::info!(
        project_id = project.id,
        user_id = viewer.user.id,
        "inbound filters changed in the web UI"
    );
    Ok(redirect_to(
        &state,
        &format!(
            "/settings/{}/projects/{}/filters/data-filters/?saved=1",
            org.slug, project.slug
        ),
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
            let shown = Shown {
                performance: Some(&form),
                ..Shown::default()
            };
            return refused(
                &state,
                &viewer,
                &org,
                &project,
                Section::Performance,
                &message,
                shown,
            )
            .await;
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
            let shown = Shown {
                privacy: Some(&form),
                ..Shown::default()
            };
            return refused(
                &state,
                &viewer,
                &org,
                &project,
                Section::Privacy,
                &message,
                shown,
            )
            .await;
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
    fn filters_form_reads_repeated_boxes_lists_and_refuses_bad_ips() {
        let pairs = |items: &[(&str, &str)]| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let form = FiltersForm::from_pairs(pairs(&[
            ("csrf", "t"),
            ("filter", "localhost"),
            ("filter", "chunk-load-error"),
            ("legacy", "safari"),
            ("legacy", "ie"),
            ("releases", " 1.* \r\n\n2.0\n"),
            ("blacklisted_ips", "10.0.0.0/8"),
        ]));
        let filters = form.parse().expect("valid");
        assert!(filters.localhost && filters.chunk_load_error);
        assert!(!filters.browser_extensions && !filters.react_hydration_errors);
        assert_eq!(
            filters.legacy_browsers,
            LegacyBrowsers::only(["ie", "safari"])
        );
        assert_eq!(filters.releases, ["1.*", "2.0"]);
        assert_eq!(FiltersForm::of(&filters).parse(), Ok(filters));
        let default = FiltersForm::from_pairs(pairs(&[("legacy", "default"), ("legacy", "ie")]));
        assert_eq!(
            default.parse().map(|f| f.legacy_browsers),
            Ok(LegacyBrowsers::Default)
        );
        let bad = FiltersForm::from_pairs(pairs(&[("blacklisted_ips", "10.0.0.1\nlocalhost")]));
        let error = bad.parse().expect_err("bad IP");
        assert!(error.starts_with("IP Addresses: localhost"), "{error}");
        assert_eq!(
            FiltersForm::of(&InboundFilters::default()).parse(),
            Ok(InboundFilters::default())
        );
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
