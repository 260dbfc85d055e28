//! Creating, editing and deleting one rule: the rule form page with the rules API's choices,
//! the posts that save it (refused with the parser's reason, the form shown again as typed),
//! and the delete confirmation that works without script.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use vigil_alerts::vocabulary::{
    ACTION_FREQUENCIES, CONDITIONS, FALLTHROUGH_LABELS, INTERVALS, LEVELS, LEVEL_MATCHES,
    MATCH_MODES, TAG_MATCHES, TARGET_TYPE_LABELS,
};
use vigil_store::{AlertRule, NewAlertRule, Organization, Project, User};

use super::form::RuleForm;
use super::{notifications, project_rule, rule_url, rules_url};
use crate::time::unix_now;
use crate::web::error::WebError;
use crate::web::layout::{csrf_field, page, Shell};
use crate::web::projects::viewer_project;
use crate::web::session::Viewer;
use crate::AppState;

/// The form's action kinds (its own short names; each is one of the API's action ids).
const ACTION_KINDS: &[(&str, &str)] = &[
    ("email", "Send an email"),
    (
        "webhook",
        "POST to a webhook (Sentry's legacy webhook body)",
    ),
    (
        "slack",
        "Post to a Slack incoming webhook (or Mattermost, Rocket.Chat, Discord /slack)",
    ),
];

/// `<option>`s of a select: an optional empty choice first, and a value that is not among the
/// choices (one the API set, or one typed wrong) kept as it was so that saving does not lose it.
fn options<V: AsRef<str>, L: AsRef<str>>(
    choices: &[(V, L)],
    selected: &str,
    empty: Option<&str>,
) -> Markup {
    html! {
        @if let Some(empty) = empty { option value="" selected[selected.is_empty()] { (empty) } }
        @for (value, label) in choices {
            option value=(value.as_ref()) selected[value.as_ref() == selected] { (label.as_ref()) }
        }
        @if !selected.is_empty() && !choices.iter().any(|(v, _)| v.as_ref() == selected) {
            option value=(selected) selected { (selected) }
        }
    }
}

/// What a rule's page shows besides its organization and project.
struct Shown<'a> {
    /// `None` for a new rule.
    rule: Option<&'a AlertRule>,
    form: &'a RuleForm,
    error: Option<&'a str>,
    saved: bool,
}

/// The name, environment and frequency of the rule.
fn rule_section(form: &RuleForm, environments: &[String]) -> Markup {
    let mut frequencies: Vec<(String, String)> = ACTION_FREQUENCIES
        .iter()
        .map(|(m, l)| (m.to_string(), l.to_string()))
        .collect();
    if !form.frequency.is_empty() && !frequencies.iter().any(|(m, _)| *m == form.frequency) {
        frequencies.push((
            form.frequency.clone(),
            format!("{} minutes", form.frequency),
        ));
    }
    html! {
        section.key {
            h2 { "Rule" }
            label { span { "Name" } input type="text" name="name" value=(form.name) maxlength="256" required; }
            label {
                span { "Environment" }
                input type="text" name="environment" value=(form.environment) list="environments" placeholder="all environments";
                datalist id="environments" { @for env in environments { option value=(env) {} } }
            }
            label {
                span { "Perform the actions at most once every" }
                select name="frequency" {
                    @for (minutes, label) in &frequencies {
                        option value=(minutes) selected[*minutes == form.frequency] { (label) }
                    }
                }
                small.muted { "per issue" }
            }
        }
    }
}

/// How the conditions or the filters combine (`all`, `any`, `none`).
fn match_select(name: &str, aria_label: &str, selected: &str) -> Markup {
    let modes: Vec<(&str, &str)> = MATCH_MODES.iter().map(|m| (*m, *m)).collect();
    html! {
        select name=(name) aria-label=(aria_label) { (options(&modes, selected, None)) }
    }
}

fn conditions_section(form: &RuleForm) -> Markup {
    let intervals: Vec<(&str, &str)> = INTERVALS.iter().map(|(c, _, l)| (*c, *l)).collect();
    html! {
        section.key {
            h2 {
                "When "
                (match_select("action_match", "How the conditions combine", &form.action_match))
                " of these conditions are met"
            }
            @for (i, row) in form.conditions.iter().enumerate() {
                div.rule-row {
                    select name={ "conditions-" (i) "-id" } aria-label="Condition" { (options(CONDITIONS, &row.id, Some("—"))) }
                    label.inline { "N " input type="number" name={ "conditions-" (i) "-value" } value=(row.value) min="1" placeholder="value"; }
                    label.inline { "in "
                        select name={ "conditions-" (i) "-interval" } { (options(&intervals, &row.interval, Some("—"))) }
                    }
                }
            }
            p.muted { "N and the interval apply to the two frequency conditions." }
        }
    }
}

fn filters_section(form: &RuleForm) -> Markup {
    // Most severe first, by Sentry's level numbers.
    let levels: Vec<(String, &str)> = LEVELS
        .iter()
        .rev()
        .map(|(name, number)| (number.to_string(), *name))
        .collect();
    html! {
        section.key {
            h2 {
                "If "
                (match_select("filter_match", "How the filters combine", &form.filter_match))
                " of these filters match"
            }
            @for (i, row) in form.levels.iter().enumerate() {
                div.rule-row {
                    span { "The event's level is" }
                    select name={ "levels-" (i) "-match" } aria-label="Level comparison" { (options(LEVEL_MATCHES, &row.matches, Some("— (no level filter)"))) }
                    select name={ "levels-" (i) "-level" } aria-label="Level" { (options(&levels, &row.level, Some("—"))) }
                }
            }
            @for (i, row) in form.tags.iter().enumerate() {
                div.rule-row {
                    span { "The event's tag" }
                    input type="text" name={ "tags-" (i) "-key" } value=(row.key) placeholder="key (empty: no tag filter)";
                    select name={ "tags-" (i) "-match" } aria-label="Tag comparison" { (options(TAG_MATCHES, &row.matches, None)) }
                    input type="text" name={ "tags-" (i) "-value" } value=(row.value) placeholder="value";
                }
            }
            p.muted { "No filters: every event that meets the conditions." }
        }
    }
}

fn actions_section(form: &RuleForm, members: &[(User, String)]) -> Markup {
    let member_choices: Vec<(String, String)> = members
        .iter()
        .map(|(user, role)| (user.id.to_string(), format!("{} ({role})", user.email)))
        .collect();
    html! {
        section.key {
            h2 { "Then perform these actions" }
            @for (i, row) in form.actions.iter().enumerate() {
                fieldset.rule-row {
                    select name={ "actions-" (i) "-kind" } aria-label="Action" { (options(ACTION_KINDS, &row.kind, Some("—"))) }
                    span.action-email {
                        label.inline { "to "
                            select name={ "actions-" (i) "-target_type" } { (options(TARGET_TYPE_LABELS, &row.target_type, None)) }
                        }
                        label.inline { "member "
                            // A member who left is not kept: the select falls back to "—".
                            select name={ "actions-" (i) "-member" } {
                                option value="" selected[row.member.is_empty()] { "—" }
                                @for (id, label) in &member_choices {
                                    option value=(id) selected[*id == row.member] { (label) }
                                }
                            }
                        }
                        label.inline { "else "
                            select name={ "actions-" (i) "-fallthrough" } { (options(FALLTHROUGH_LABELS, &row.fallthrough, None)) }
                        }
                        @if !row.team.is_empty() { input type="hidden" name={ "actions-" (i) "-team" } value=(row.team); }
                    }
                    label.inline.action-url { "URL "
                        input type="url" name={ "actions-" (i) "-url" } value=(row.url) placeholder="https://… (webhook and Slack)";
                    }
                }
            }
            p.muted { "Issue owners: Vigil has no ownership rules, so emails go to the fallthrough." }
        }
    }
}

/// The rule's page: the form, and for an existing rule its delete link and the project's recent
/// notifications.
async fn render(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    shown: Shown<'_>,
) -> Result<Html<String>, WebError> {
    let Shown {
        rule,
        form,
        error,
        saved,
    } = shown;
    let members = state.store.organization_members(org.id).await?;
    let environments = state
        .web
        .environments(state.store.as_ref(), project.id)
        .await?;
    let recent = match rule {
        Some(_) => Some(notifications::recent(state, project).await?),
        None => None,
    };
    let prefix = state.config.path_prefix();
    let now = unix_now();
    let action = match rule {
        Some(rule) => rule_url(&prefix, org, project, rule.id),
        None => format!("{}{}/new/", rules_url(&prefix, org), project.slug),
    };
    let title = match rule {
        Some(rule) => rule.name.clone(),
        None => "New alert rule".to_string(),
    };
    let body = html! {
        div.crumbs {
            a href=(rules_url(&prefix, org)) { "Alert rules" } " / " (project.slug)
        }
        h1 { (title) }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        @if saved { p.saved role="status" { "Saved." } }
        form.rule-form method="post" action=(action) {
            (csrf_field(viewer))
            (rule_section(form, &environments))
            (conditions_section(form))
            (filters_section(form))
            (actions_section(form, &members))
            button.primary type="submit" { @if rule.is_some() { "Save rule" } @else { "Create rule" } }
        }
        @if let (Some(rule), Some((notifications, rule_names))) = (rule, &recent) {
            section.key {
                h2 { "Delete" }
                a.danger href={ (rule_url(&prefix, org, project, rule.id)) "delete/" } { "Delete this rule…" }
            }
            (notifications::notification_list(&prefix, org, notifications, rule_names, now))
        }
    };
    Ok(page(Shell::of_org(&title, &prefix, viewer, org), body))
}

/// The organization, project and rule of a rule's URL, if the viewer may read them.
async fn viewer_rule(
    state: &AppState,
    viewer: &Viewer,
    org: &str,
    project: &str,
    rule_id: &str,
) -> Result<(Organization, Project, AlertRule), WebError> {
    let (org, project) = viewer_project(state, viewer, org, project).await?;
    let rule = project_rule(state, &project, rule_id).await?;
    Ok((org, project, rule))
}

/// Checks the CSRF token and reads the posted rule form.
fn posted(viewer: &Viewer, fields: Vec<(String, String)>) -> Result<RuleForm, WebError> {
    let fields: HashMap<String, String> = fields.into_iter().collect();
    viewer.check_csrf(fields.get("csrf").map_or("", String::as_str))?;
    Ok(RuleForm::from_fields(&fields))
}

/// The rule the form describes, or the form again with the parser's reason (400).
async fn validated(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    rule: Option<&AlertRule>,
    form: &RuleForm,
) -> Result<Result<NewAlertRule, Response>, WebError> {
    match vigil_alerts::parse_rule(&form.to_body()) {
        Ok(spec) => Ok(Ok(spec.into_new_rule(project.id, Some(viewer.user.id)))),
        Err(err) => {
            let message = format!("{}: {}", err.field, err.reason);
            let shown = Shown {
                rule,
                form,
                error: Some(&message),
                saved: false,
            };
            let html = render(state, viewer, org, project, shown).await?;
            Ok(Err((StatusCode::BAD_REQUEST, html).into_response()))
        }
    }
}

/// Logs what the web UI did to a rule, and answers with the page to show next.
fn done(viewer: &Viewer, project: &Project, rule_id: i64, what: &str, next: &str) -> Response {
    tracing::info!(
        rule_id,
        project_id = project.id,
        user_id = viewer.user.id,
        "alert rule {what} in the web UI"
    );
    Redirect::to(next).into_response()
}

/// The rule's page after saving it: says it was saved.
fn saved_url(state: &AppState, org: &Organization, project: &Project, rule_id: i64) -> String {
    let prefix = state.config.path_prefix();
    format!("{}?saved=1", rule_url(&prefix, org, project, rule_id))
}

/// `GET /organizations/{org}/alerts/rules/{project}/new/`.
pub async fn new_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let form = RuleForm::new_rule();
    let shown = Shown {
        rule: None,
        form: &form,
        error: None,
        saved: false,
    };
    render(&state, &viewer, &org, &project, shown).await
}

/// `POST /organizations/{org}/alerts/rules/{project}/new/`.
pub async fn create(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = posted(&viewer, fields)?;
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let new_rule = match validated(&state, &viewer, &org, &project, None, &form).await? {
        Ok(rule) => rule,
        Err(refused) => return Ok(refused),
    };
    let rule = state.store.create_alert_rule(&new_rule).await?;
    let next = saved_url(&state, &org, &project, rule.id);
    Ok(done(&viewer, &project, rule.id, "created", &next))
}

/// `GET /organizations/{org}/alerts/rules/{project}/{rule_id}/`.
pub async fn edit_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project, rule) = viewer_rule(&state, &viewer, &org, &project, &rule_id).await?;
    let form = RuleForm::of(&rule);
    let shown = Shown {
        rule: Some(&rule),
        form: &form,
        error: None,
        saved: raw.as_deref() == Some("saved=1"),
    };
    render(&state, &viewer, &org, &project, shown).await
}

/// `POST /organizations/{org}/alerts/rules/{project}/{rule_id}/`: replaces the rule, as the
/// API's PUT does.
pub async fn update(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = posted(&viewer, fields)?;
    let (org, project, rule) = viewer_rule(&state, &viewer, &org, &project, &rule_id).await?;
    let mut new_rule = match validated(&state, &viewer, &org, &project, Some(&rule), &form).await? {
        Ok(new_rule) => new_rule,
        Err(refused) => return Ok(refused),
    };
    // Who created it stays who created it.
    new_rule.created_by = rule.created_by;
    state
        .store
        .update_alert_rule(rule.id, &new_rule)
        .await?
        .ok_or(WebError::NotFound)?;
    let next = saved_url(&state, &org, &project, rule.id);
    Ok(done(&viewer, &project, rule.id, "changed", &next))
}

/// `GET /organizations/{org}/alerts/rules/{project}/{rule_id}/delete/`: asks first (works
/// without script).
pub async fn delete_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project, rule) = viewer_rule(&state, &viewer, &org, &project, &rule_id).await?;
    let prefix = state.config.path_prefix();
    let url = rule_url(&prefix, &org, &project, rule.id);
    let body = html! {
        div.crumbs { a href=(rules_url(&prefix, &org)) { "Alert rules" } " / " (project.slug) }
        section.key {
            h1 { "Delete “" (rule.name) "”?" }
            p { "Nobody will be told of what this rule would have caught; its pending notifications are dropped." }
            form.inline method="post" action={ (url) "delete/" } {
                (csrf_field(&viewer))
                button.danger type="submit" { "Delete the rule" }
            }
            a href=(url) { "Keep it" }
        }
    };
    Ok(page(
        Shell::of_org("Delete alert rule", &prefix, &viewer, &org),
        body,
    ))
}

#[derive(Debug, serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /organizations/{org}/alerts/rules/{project}/{rule_id}/delete/`.
pub async fn delete(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, project, rule) = viewer_rule(&state, &viewer, &org, &project, &rule_id).await?;
    state.store.delete_alert_rule(rule.id).await?;
    let next = rules_url(&state.config.path_prefix(), &org);
    Ok(done(&viewer, &project, rule.id, "deleted", &next))
}
