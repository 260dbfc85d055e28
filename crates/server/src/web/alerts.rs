//! Issue alert rules (Sentry's `/organizations/{org}/alerts/rules/` pages): every rule of the
//! organization's projects, a form to create and edit one with the same choices as the rules API,
//! deleting with a confirmation, and the project's recent notifications with their attempts and
//! last errors.
//!
//! The form is turned into the API's JSON body and validated by `vigil_alerts::parse_rule`, so
//! the page and the API accept exactly the same rules and name the same field when one is wrong.
//! Without script the form has a fixed number of rows per section (one spare more than the rule
//! uses); empty rows are ignored.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use vigil_store::{AlertRule, Notification, NotificationStatus, Organization, Project, User};

use super::error::WebError;
use super::layout::{csrf_field, page, time_ago, Shell};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::time::unix_now;
use crate::AppState;

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
const REAPPEARED: &str = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const UNIQUE_USERS: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";
const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
const TAG_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
const EMAIL_ACTION: &str = "sentry.mail.actions.NotifyEmailAction";
const WEBHOOK_ACTION: &str = "vigil.actions.WebhookAction";
const SLACK_ACTION: &str = "vigil.actions.SlackWebhookAction";

/// Sentry's conditions with the words its UI uses.
const CONDITIONS: &[(&str, &str)] = &[
    (FIRST_SEEN, "A new issue is created"),
    (
        REGRESSION,
        "The issue changes state from resolved to unresolved",
    ),
    (
        REAPPEARED,
        "The issue changes state from ignored to unresolved",
    ),
    (
        FREQUENCY,
        "The issue is seen more than N times in an interval",
    ),
    (
        UNIQUE_USERS,
        "The issue is seen by more than N users in an interval",
    ),
];
const INTERVALS: &[(&str, &str)] = &[
    ("1m", "one minute"),
    ("5m", "5 minutes"),
    ("15m", "15 minutes"),
    ("1h", "one hour"),
    ("1d", "one day"),
    ("1w", "one week"),
    ("30d", "30 days"),
];
/// Sentry's level numbers.
const LEVELS: &[(&str, &str)] = &[
    ("50", "fatal"),
    ("40", "error"),
    ("30", "warning"),
    ("20", "info"),
    ("10", "debug"),
];
const LEVEL_MATCHES: &[(&str, &str)] = &[
    ("eq", "equal to"),
    ("gte", "greater than or equal to"),
    ("lte", "less than or equal to"),
];
const TAG_MATCHES: &[(&str, &str)] = &[
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("sw", "starts with"),
    ("ew", "ends with"),
    ("co", "contains"),
    ("nc", "does not contain"),
    ("is", "is set"),
    ("ns", "is not set"),
];
const MATCHES: &[(&str, &str)] = &[("all", "all"), ("any", "any"), ("none", "none")];
/// The action frequencies Sentry's form offers, in minutes.
const FREQUENCIES: &[(u32, &str)] = &[
    (5, "5 minutes"),
    (10, "10 minutes"),
    (30, "30 minutes"),
    (60, "one hour"),
    (180, "3 hours"),
    (720, "12 hours"),
    (1440, "one day"),
    (10_080, "one week"),
    (43_200, "30 days"),
];
const TARGET_TYPES: &[(&str, &str)] = &[
    ("IssueOwners", "Issue owners"),
    ("Member", "A member"),
    ("Team", "Team (every member: Vigil has no teams)"),
];
const FALLTHROUGHS: &[(&str, &str)] = &[
    ("ActiveMembers", "active members"),
    ("AllMembers", "all members"),
    ("NoOne", "no one"),
];
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

/// Rows the form offers at least, per section; a rule using more gets one spare after them.
const MIN_CONDITIONS: usize = 3;
const MIN_LEVEL_FILTERS: usize = 1;
const MIN_TAG_FILTERS: usize = 2;
const MIN_ACTIONS: usize = 3;
/// Rows read back from a form at most: indices beyond are not a form this page made.
const MAX_ROWS: usize = 50;
/// Notifications listed on a rule's page.
const NOTIFICATIONS_SHOWN: u64 = 50;

#[derive(Debug, Clone, Default, PartialEq)]
struct ConditionRow {
    id: String,
    value: String,
    interval: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct LevelRow {
    matches: String,
    level: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct TagRow {
    key: String,
    matches: String,
    value: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ActionRow {
    /// `email`, `webhook`, `slack`, or empty: no action.
    kind: String,
    target_type: String,
    member: String,
    fallthrough: String,
    /// The `targetIdentifier` of a Team action, kept as the API set it.
    team: String,
    url: String,
}

/// The rule form as typed (kept as text so that a wrong value is shown back as it was).
#[derive(Debug, Clone, Default, PartialEq)]
struct RuleForm {
    name: String,
    environment: String,
    frequency: String,
    action_match: String,
    filter_match: String,
    conditions: Vec<ConditionRow>,
    levels: Vec<LevelRow>,
    tags: Vec<TagRow>,
    actions: Vec<ActionRow>,
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A number when the text is one, else the text: the parser names a wrong value's field.
fn number_or_text(value: &str) -> Value {
    let value = value.trim();
    match value.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(value),
    }
}

/// Rows of one section read from `section-N-field` names.
fn rows<T: Default>(
    fields: &HashMap<String, String>,
    section: &str,
    fill: impl Fn(&mut T, &str, &str),
) -> Vec<T> {
    let mut found: Vec<(usize, &str, &str)> = Vec::new();
    for (name, value) in fields {
        let Some(rest) = name.strip_prefix(section).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('-') else {
            continue;
        };
        if let Ok(index) = index.parse::<usize>() {
            if index < MAX_ROWS {
                found.push((index, field, value));
            }
        }
    }
    let count = found.iter().map(|(i, _, _)| i + 1).max().unwrap_or(0);
    let mut out: Vec<T> = (0..count).map(|_| T::default()).collect();
    for (index, field, value) in found {
        fill(&mut out[index], field, value);
    }
    out
}

impl RuleForm {
    /// A new rule's defaults: Sentry's (every 30 minutes, all conditions, all filters).
    fn new_rule() -> RuleForm {
        let mut form = RuleForm {
            frequency: "30".into(),
            action_match: "all".into(),
            filter_match: "all".into(),
            conditions: vec![ConditionRow {
                id: FIRST_SEEN.into(),
                ..ConditionRow::default()
            }],
            actions: vec![ActionRow {
                kind: "email".into(),
                target_type: "IssueOwners".into(),
                fallthrough: "ActiveMembers".into(),
                ..ActionRow::default()
            }],
            ..RuleForm::default()
        };
        form.pad();
        form
    }

    /// The form showing a stored rule.
    fn of(rule: &AlertRule) -> RuleForm {
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        let mut form = RuleForm {
            name: rule.name.clone(),
            environment: rule.environment.clone().unwrap_or_default(),
            frequency: rule.frequency_minutes.to_string(),
            action_match: rule.action_match.clone(),
            filter_match: rule.filter_match.clone(),
            ..RuleForm::default()
        };
        for condition in list(&rule.conditions) {
            form.conditions.push(ConditionRow {
                id: text(condition.get("id")),
                value: text(condition.get("value")),
                interval: text(condition.get("interval")),
            });
        }
        for filter in list(&rule.filters) {
            match filter.get("id").and_then(Value::as_str) {
                Some(LEVEL_FILTER) => form.levels.push(LevelRow {
                    matches: text(filter.get("match")),
                    level: text(filter.get("level")),
                }),
                Some(TAG_FILTER) => form.tags.push(TagRow {
                    key: text(filter.get("key")),
                    matches: text(filter.get("match")),
                    value: text(filter.get("value")),
                }),
                _ => {}
            }
        }
        for action in list(&rule.actions) {
            let row = match action.get("id").and_then(Value::as_str) {
                Some(EMAIL_ACTION) => {
                    let target_type = text(action.get("targetType"));
                    let identifier = text(action.get("targetIdentifier"));
                    ActionRow {
                        kind: "email".into(),
                        member: if target_type == "Member" {
                            identifier.clone()
                        } else {
                            String::new()
                        },
                        team: if target_type == "Team" {
                            identifier
                        } else {
                            String::new()
                        },
                        target_type,
                        fallthrough: text(action.get("fallthroughType")),
                        ..ActionRow::default()
                    }
                }
                Some(WEBHOOK_ACTION) => ActionRow {
                    kind: "webhook".into(),
                    url: text(action.get("url")),
                    ..ActionRow::default()
                },
                Some(SLACK_ACTION) => ActionRow {
                    kind: "slack".into(),
                    url: text(action.get("webhook_url")),
                    ..ActionRow::default()
                },
                _ => continue,
            };
            form.actions.push(row);
        }
        form.pad();
        form
    }

    /// The form as posted (`name`, …, `conditions-0-id`, `tags-1-key`, `actions-2-url`, …).
    fn from_fields(fields: &HashMap<String, String>) -> RuleForm {
        let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let mut form = RuleForm {
            name: field("name"),
            environment: field("environment"),
            frequency: field("frequency"),
            action_match: field("action_match"),
            filter_match: field("filter_match"),
            conditions: rows(
                fields,
                "conditions",
                |row: &mut ConditionRow, f, v| match f {
                    "id" => row.id = v.into(),
                    "value" => row.value = v.into(),
                    "interval" => row.interval = v.into(),
                    _ => {}
                },
            ),
            levels: rows(fields, "levels", |row: &mut LevelRow, f, v| match f {
                "match" => row.matches = v.into(),
                "level" => row.level = v.into(),
                _ => {}
            }),
            tags: rows(fields, "tags", |row: &mut TagRow, f, v| match f {
                "key" => row.key = v.into(),
                "match" => row.matches = v.into(),
                "value" => row.value = v.into(),
                _ => {}
            }),
            actions: rows(fields, "actions", |row: &mut ActionRow, f, v| match f {
                "kind" => row.kind = v.into(),
                "target_type" => row.target_type = v.into(),
                "member" => row.member = v.into(),
                "fallthrough" => row.fallthrough = v.into(),
                "team" => row.team = v.into(),
                "url" => row.url = v.into(),
                _ => {}
            }),
        };
        form.pad();
        form
    }

    /// At least the minimum rows per section, and one empty row after the used ones.
    fn pad(&mut self) {
        fn fill<T: Default + PartialEq>(rows: &mut Vec<T>, min: usize) {
            let used = rows
                .iter()
                .rposition(|r| *r != T::default())
                .map_or(0, |i| i + 1);
            rows.truncate(used);
            let want = min.max(used + 1).min(MAX_ROWS);
            while rows.len() < want {
                rows.push(T::default());
            }
        }
        fill(&mut self.conditions, MIN_CONDITIONS);
        fill(&mut self.levels, MIN_LEVEL_FILTERS);
        fill(&mut self.tags, MIN_TAG_FILTERS);
        fill(&mut self.actions, MIN_ACTIONS);
    }

    /// The rules API's JSON body for this form; empty rows are left out.
    fn to_body(&self) -> Value {
        let environment = self.environment.trim();
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .filter(|row| !row.id.is_empty())
            .map(|row| {
                let mut condition = Map::new();
                condition.insert("id".into(), json!(row.id));
                if row.id == FREQUENCY || row.id == UNIQUE_USERS {
                    condition.insert("value".into(), number_or_text(&row.value));
                    condition.insert("interval".into(), json!(row.interval));
                    condition.insert("comparisonType".into(), json!("count"));
                }
                Value::Object(condition)
            })
            .collect();
        let mut filters: Vec<Value> = self
            .levels
            .iter()
            .filter(|row| !row.matches.is_empty())
            .map(|row| json!({"id": LEVEL_FILTER, "match": row.matches, "level": row.level}))
            .collect();
        filters.extend(
            self.tags
                .iter()
                .filter(|row| !row.key.trim().is_empty())
                .map(|row| {
                    json!({
                        "id": TAG_FILTER,
                        "key": row.key.trim(),
                        "match": row.matches,
                        "value": row.value,
                    })
                }),
        );
        let actions: Vec<Value> = self
            .actions
            .iter()
            .filter_map(|row| match row.kind.as_str() {
                "email" => {
                    let mut action = Map::new();
                    action.insert("id".into(), json!(EMAIL_ACTION));
                    action.insert("targetType".into(), json!(row.target_type));
                    match row.target_type.as_str() {
                        "Member" => {
                            action.insert("targetIdentifier".into(), number_or_text(&row.member));
                        }
                        "Team" if !row.team.is_empty() => {
                            action.insert("targetIdentifier".into(), number_or_text(&row.team));
                        }
                        _ => {}
                    }
                    action.insert("fallthroughType".into(), json!(row.fallthrough));
                    Some(Value::Object(action))
                }
                "webhook" => Some(json!({"id": WEBHOOK_ACTION, "url": row.url.trim()})),
                "slack" => Some(json!({"id": SLACK_ACTION, "webhook_url": row.url.trim()})),
                _ => None,
            })
            .collect();
        json!({
            "name": self.name.trim(),
            "environment": if environment.is_empty() { Value::Null } else { json!(environment) },
            "frequency": number_or_text(&self.frequency),
            "actionMatch": self.action_match,
            "filterMatch": self.filter_match,
            "conditions": conditions,
            "filters": filters,
            "actions": actions,
        })
    }
}

/// The rule `{rule_id}` of the project, or 404.
async fn project_rule(
    state: &AppState,
    project: &Project,
    rule_id: &str,
) -> Result<AlertRule, WebError> {
    let id: i64 = rule_id.parse().map_err(|_| WebError::NotFound)?;
    state
        .store
        .alert_rule(id)
        .await?
        .filter(|rule| rule.project_id == project.id)
        .ok_or(WebError::NotFound)
}

fn rules_url(prefix: &str, org: &Organization) -> String {
    format!("{prefix}/organizations/{}/alerts/rules/", org.slug)
}

fn rule_url(prefix: &str, org: &Organization, project: &Project, rule_id: i64) -> String {
    format!(
        "{prefix}/organizations/{}/alerts/rules/{}/{rule_id}/",
        org.slug, project.slug
    )
}

fn label<'a>(choices: &[(&'a str, &'a str)], value: &'a str) -> &'a str {
    choices
        .iter()
        .find(|(v, _)| *v == value)
        .map_or(value, |(_, l)| l)
}

/// One line per condition, as Sentry's rule list says it.
fn describe_conditions(rule: &AlertRule) -> Vec<String> {
    let list = rule.conditions.as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|c| {
            let id = c.get("id").and_then(Value::as_str).unwrap_or("");
            let value = text(c.get("value"));
            let interval = text(c.get("interval"));
            match id {
                FREQUENCY => format!(
                    "The issue is seen more than {value} times in {}",
                    label(INTERVALS, &interval)
                ),
                UNIQUE_USERS => format!(
                    "The issue is seen by more than {value} users in {}",
                    label(INTERVALS, &interval)
                ),
                other => label(CONDITIONS, other).to_string(),
            }
        })
        .collect()
}

fn describe_actions(rule: &AlertRule, members: &[(User, String)]) -> Vec<String> {
    let list = rule.actions.as_array().cloned().unwrap_or_default();
    list.iter()
        .map(
            |a| match a.get("id").and_then(Value::as_str).unwrap_or("") {
                EMAIL_ACTION => {
                    let target = text(a.get("targetType"));
                    let fallthrough = text(a.get("fallthroughType"));
                    match target.as_str() {
                        "Member" => {
                            let id = text(a.get("targetIdentifier"));
                            let who = members
                                .iter()
                                .find(|(u, _)| u.id.to_string() == id)
                                .map_or(format!("member #{id}"), |(u, _)| u.email.clone());
                            format!("Email {who}")
                        }
                        "Team" => "Email the team (every member)".to_string(),
                        _ => format!(
                            "Email issue owners, falling through to {}",
                            label(FALLTHROUGHS, &fallthrough)
                        ),
                    }
                }
                WEBHOOK_ACTION => format!("POST to {}", text(a.get("url"))),
                SLACK_ACTION => format!("Post to Slack at {}", text(a.get("webhook_url"))),
                other => other.to_string(),
            },
        )
        .collect()
}

fn frequency_label(minutes: u32) -> String {
    FREQUENCIES
        .iter()
        .find(|(m, _)| *m == minutes)
        .map_or(format!("{minutes} minutes"), |(_, l)| l.to_string())
}

fn shell<'a>(
    state_prefix: &'a str,
    viewer: &'a Viewer,
    org: &'a Organization,
    title: &'a str,
) -> Shell<'a> {
    Shell {
        title,
        prefix: state_prefix,
        viewer: Some(viewer),
        org: Some(org),
        refresh_secs: None,
    }
}

/// `GET /organizations/{org}/alerts/rules/`: the rules of every project of the organization.
pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Html<String>, WebError> {
    let org = viewer.organization(&org)?;
    let projects = state.store.list_projects(Some(org.id)).await?;
    let members = state.store.organization_members(org.id).await?;
    let mut sections = Vec::with_capacity(projects.len());
    for project in projects {
        let rules = state.store.alert_rules(project.id).await?;
        sections.push((project, rules));
    }
    let prefix = state.config.path_prefix();
    let now = unix_now();
    let base = rules_url(&prefix, &org);
    let body = html! {
        div.page-head { h1 { "Alert rules" } }
        @if sections.is_empty() {
            p.empty { "No projects yet: " a href={ (prefix) "/organizations/" (org.slug) "/projects/" } { "create one" } " first." }
        }
        @for (project, rules) in &sections {
            section.key.alert-rules id={ "project-" (project.slug) } {
                div.section-head {
                    h2 { (project.slug) }
                    a.button href={ (base) (project.slug) "/new/" } { "New rule" }
                }
                @if rules.is_empty() {
                    p.muted { "No rules: nobody is told about this project's issues." }
                } @else {
                    table.rules {
                        thead { tr { th { "Rule" } th { "When" } th { "Then" } th { "Environment" } th { "At most every" } th { "Created" } } }
                        tbody {
                            @for rule in rules {
                                tr {
                                    td { a href=(rule_url(&prefix, &org, project, rule.id)) { (rule.name) } }
                                    td {
                                        span.muted { (label(MATCHES, &rule.action_match)) " of:" }
                                        ul.plain { @for line in describe_conditions(rule) { li { (line) } } }
                                    }
                                    td { ul.plain { @for line in describe_actions(rule, &members) { li { (line) } } } }
                                    td { (rule.environment.as_deref().unwrap_or("all")) }
                                    td { (frequency_label(rule.frequency_minutes)) }
                                    td { (time_ago(rule.date_created, now)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(shell(&prefix, &viewer, &org, "Alert rules"), body))
}

fn options(choices: &[(&str, &str)], selected: &str, empty: Option<&str>) -> Markup {
    html! {
        @if let Some(empty) = empty { option value="" selected[selected.is_empty()] { (empty) } }
        @for (value, label) in choices {
            option value=(value) selected[*value == selected] { (label) }
        }
        @if !selected.is_empty() && !choices.iter().any(|(v, _)| *v == selected) {
            option value=(selected) selected { (selected) }
        }
    }
}

struct FormPage<'a> {
    org: &'a Organization,
    project: &'a Project,
    /// `None` for a new rule.
    rule: Option<&'a AlertRule>,
    form: &'a RuleForm,
    error: Option<&'a str>,
    saved: bool,
    members: &'a [(User, String)],
    environments: &'a [String],
    /// The project's recent notifications (shown for an existing rule).
    notifications: &'a [Notification],
    rule_names: &'a HashMap<i64, String>,
}

fn form_page(state: &AppState, viewer: &Viewer, p: FormPage<'_>) -> Html<String> {
    let prefix = state.config.path_prefix();
    let now = unix_now();
    let FormPage {
        org,
        project,
        rule,
        form,
        error,
        saved,
        members,
        environments,
        notifications,
        rule_names,
    } = p;
    let action = match rule {
        Some(rule) => rule_url(&prefix, org, project, rule.id),
        None => format!("{}{}/new/", rules_url(&prefix, org), project.slug),
    };
    let title = match rule {
        Some(rule) => rule.name.clone(),
        None => "New alert rule".to_string(),
    };
    let mut frequencies: Vec<(String, String)> = FREQUENCIES
        .iter()
        .map(|(m, l)| (m.to_string(), l.to_string()))
        .collect();
    if !form.frequency.is_empty() && !frequencies.iter().any(|(m, _)| *m == form.frequency) {
        frequencies.push((
            form.frequency.clone(),
            format!("{} minutes", form.frequency),
        ));
    }
    let member_choices: Vec<(String, String)> = members
        .iter()
        .map(|(user, role)| (user.id.to_string(), format!("{} ({role})", user.email)))
        .collect();
    let body = html! {
        div.crumbs {
            a href=(rules_url(&prefix, org)) { "Alert rules" } " / " (project.slug)
        }
        h1 { (title) }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        @if saved { p.saved role="status" { "Saved." } }
        form.rule-form method="post" action=(action) {
            (csrf_field(viewer))
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
            section.key {
                h2 {
                    "When "
                    select name="action_match" aria-label="How the conditions combine" { (options(MATCHES, &form.action_match, None)) }
                    " of these conditions are met"
                }
                @for (i, row) in form.conditions.iter().enumerate() {
                    div.rule-row {
                        select name={ "conditions-" (i) "-id" } aria-label="Condition" { (options(CONDITIONS, &row.id, Some("—"))) }
                        label.inline { "N " input type="number" name={ "conditions-" (i) "-value" } value=(row.value) min="1" placeholder="value"; }
                        label.inline { "in "
                            select name={ "conditions-" (i) "-interval" } { (options(INTERVALS, &row.interval, Some("—"))) }
                        }
                    }
                }
                p.muted { "N and the interval apply to the two frequency conditions." }
            }
            section.key {
                h2 {
                    "If "
                    select name="filter_match" aria-label="How the filters combine" { (options(MATCHES, &form.filter_match, None)) }
                    " of these filters match"
                }
                @for (i, row) in form.levels.iter().enumerate() {
                    div.rule-row {
                        span { "The event's level is" }
                        select name={ "levels-" (i) "-match" } aria-label="Level comparison" { (options(LEVEL_MATCHES, &row.matches, Some("— (no level filter)"))) }
                        select name={ "levels-" (i) "-level" } aria-label="Level" { (options(LEVELS, &row.level, Some("—"))) }
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
            section.key {
                h2 { "Then perform these actions" }
                @for (i, row) in form.actions.iter().enumerate() {
                    fieldset.rule-row {
                        select name={ "actions-" (i) "-kind" } aria-label="Action" { (options(ACTION_KINDS, &row.kind, Some("—"))) }
                        span.action-email {
                            label.inline { "to "
                                select name={ "actions-" (i) "-target_type" } { (options(TARGET_TYPES, &row.target_type, None)) }
                            }
                            label.inline { "member "
                                select name={ "actions-" (i) "-member" } {
                                    option value="" selected[row.member.is_empty()] { "—" }
                                    @for (id, label) in &member_choices {
                                        option value=(id) selected[*id == row.member] { (label) }
                                    }
                                }
                            }
                            label.inline { "else "
                                select name={ "actions-" (i) "-fallthrough" } { (options(FALLTHROUGHS, &row.fallthrough, None)) }
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
            button.primary type="submit" { @if rule.is_some() { "Save rule" } @else { "Create rule" } }
        }
        @if let Some(rule) = rule {
            section.key {
                h2 { "Delete" }
                a.danger href={ (rule_url(&prefix, org, project, rule.id)) "delete/" } { "Delete this rule…" }
            }
            (notification_list(&prefix, org, notifications, rule_names, now))
        }
    };
    page(shell(&prefix, viewer, org, &title), body)
}

fn status_class(status: NotificationStatus) -> &'static str {
    match status {
        NotificationStatus::Sent => "badge active",
        NotificationStatus::Pending => "badge",
        NotificationStatus::Failed | NotificationStatus::Undeliverable => "badge disabled",
    }
}

/// The project's recent notifications: what was sent, what waits for a retry and why.
fn notification_list(
    prefix: &str,
    org: &Organization,
    notifications: &[Notification],
    rule_names: &HashMap<i64, String>,
    now: f64,
) -> Markup {
    html! {
        section.key.notifications {
            h2 { "Recent notifications of this project" }
            @if notifications.is_empty() {
                p.muted { "None yet." }
            } @else {
                div.table-scroll {
                table.notifications {
                    thead { tr { th { "Created" } th { "Rule" } th { "Issue" } th { "Why" } th { "To" } th { "Status" } th { "Attempts" } th { "Last error" } th { "Next" } } }
                    tbody {
                        @for n in notifications {
                            tr {
                                td { (time_ago(n.created, now)) }
                                td { (rule_names.get(&n.rule_id).map_or(format!("#{} (deleted)", n.rule_id), Clone::clone)) }
                                td { a href={ (prefix) "/organizations/" (org.slug) "/issues/" (n.issue_id) "/" } { "#" (n.issue_id) } }
                                td { (n.trigger) }
                                td.target { (n.kind) ": " (n.target) }
                                td { span class=(status_class(n.status)) { (n.status.as_str()) } }
                                td.num { (n.attempts) }
                                td.error-text { (n.last_error.as_deref().unwrap_or("")) }
                                td {
                                    @match (n.status, n.sent_at) {
                                        (_, Some(sent)) => { "sent " (time_ago(sent, now)) }
                                        (NotificationStatus::Pending, None) => { (iso_or_now(n.next_attempt, now)) }
                                        _ => { "—" }
                                    }
                                }
                            }
                        }
                    }
                }
                }
            }
        }
    }
}

/// When a pending notification is due: "now" when it already is.
fn iso_or_now(at: f64, now: f64) -> String {
    if at <= now {
        "now".into()
    } else {
        format!("in {} s", (at - now).ceil() as i64)
    }
}

/// What a form page needs besides the form.
struct PageData {
    members: Vec<(User, String)>,
    environments: Vec<String>,
    notifications: Vec<Notification>,
    rule_names: HashMap<i64, String>,
}

async fn page_data(
    state: &AppState,
    org: &Organization,
    project: &Project,
    with_notifications: bool,
) -> Result<PageData, WebError> {
    let members = state.store.organization_members(org.id).await?;
    let environments = state
        .web
        .environments(state.store.as_ref(), project.id)
        .await?;
    let (notifications, rule_names) = if with_notifications {
        let notifications = state
            .store
            .list_notifications(project.id, NOTIFICATIONS_SHOWN)
            .await?;
        let names = state
            .store
            .alert_rules(project.id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        (notifications, names)
    } else {
        (Vec::new(), HashMap::new())
    };
    Ok(PageData {
        members,
        environments,
        notifications,
        rule_names,
    })
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    rule: Option<&AlertRule>,
    form: &RuleForm,
    error: Option<&str>,
    saved: bool,
) -> Result<Html<String>, WebError> {
    let data = page_data(state, org, project, rule.is_some()).await?;
    Ok(form_page(
        state,
        viewer,
        FormPage {
            org,
            project,
            rule,
            form,
            error,
            saved,
            members: &data.members,
            environments: &data.environments,
            notifications: &data.notifications,
            rule_names: &data.rule_names,
        },
    ))
}

/// `GET /organizations/{org}/alerts/rules/{project}/new/`.
pub async fn new_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    render(
        &state,
        &viewer,
        &org,
        &project,
        None,
        &RuleForm::new_rule(),
        None,
        false,
    )
    .await
}

/// Checks the CSRF token and reads the posted rule form.
fn posted(viewer: &Viewer, fields: Vec<(String, String)>) -> Result<RuleForm, WebError> {
    let fields: HashMap<String, String> = fields.into_iter().collect();
    viewer.check_csrf(fields.get("csrf").map_or("", String::as_str))?;
    Ok(RuleForm::from_fields(&fields))
}

/// The rule the form describes, or the form again with the parser's reason (400).
#[allow(clippy::too_many_arguments)]
async fn validated(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    project: &Project,
    rule: Option<&AlertRule>,
    form: &RuleForm,
) -> Result<Result<vigil_store::NewAlertRule, Response>, WebError> {
    match vigil_alerts::parse_rule(&form.to_body()) {
        Ok(spec) => Ok(Ok(spec.into_new_rule(project.id, Some(viewer.user.id)))),
        Err(err) => {
            let message = format!("{}: {}", err.field, err.reason);
            let html = render(
                state,
                viewer,
                org,
                project,
                rule,
                form,
                Some(&message),
                false,
            )
            .await?;
            Ok(Err((StatusCode::BAD_REQUEST, html).into_response()))
        }
    }
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
    tracing::info!(
        rule_id = rule.id,
        project_id = project.id,
        user_id = viewer.user.id,
        "alert rule created in the web UI"
    );
    let prefix = state.config.path_prefix();
    Ok(Redirect::to(&format!(
        "{}?saved=1",
        rule_url(&prefix, &org, &project, rule.id)
    ))
    .into_response())
}

/// `GET /organizations/{org}/alerts/rules/{project}/{rule_id}/`.
pub async fn edit_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let rule = project_rule(&state, &project, &rule_id).await?;
    let saved = raw.as_deref() == Some("saved=1");
    render(
        &state,
        &viewer,
        &org,
        &project,
        Some(&rule),
        &RuleForm::of(&rule),
        None,
        saved,
    )
    .await
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
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let rule = project_rule(&state, &project, &rule_id).await?;
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
    tracing::info!(
        rule_id = rule.id,
        project_id = project.id,
        user_id = viewer.user.id,
        "alert rule changed in the web UI"
    );
    let prefix = state.config.path_prefix();
    Ok(Redirect::to(&format!(
        "{}?saved=1",
        rule_url(&prefix, &org, &project, rule.id)
    ))
    .into_response())
}

/// `GET /organizations/{org}/alerts/rules/{project}/{rule_id}/delete/`: asks first (works
/// without script).
pub async fn delete_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, rule_id)): Path<(String, String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let rule = project_rule(&state, &project, &rule_id).await?;
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
        shell(&prefix, &viewer, &org, "Delete alert rule"),
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
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let rule = project_rule(&state, &project, &rule_id).await?;
    state.store.delete_alert_rule(rule.id).await?;
    tracing::info!(
        rule_id = rule.id,
        project_id = project.id,
        user_id = viewer.user.id,
        "alert rule deleted in the web UI"
    );
    let prefix = state.config.path_prefix();
    Ok(Redirect::to(&rules_url(&prefix, &org)).into_response())
}

/// The issue page's list of alerts sent for the issue (`Store::issue_activities`).
pub fn activity_list(activities: &[vigil_store::IssueActivity], now: f64) -> Markup {
    let field = |data: &Value, names: &[&str]| -> String {
        names
            .iter()
            .find_map(|name| data.get(*name).map(|v| text(Some(v))))
            .unwrap_or_default()
    };
    html! {
        section.activity {
            h2 { "Activity" }
            @if activities.is_empty() {
                p.muted { "No alerts sent for this issue." }
            } @else {
                ul.activity {
                    @for activity in activities {
                        @let kind = field(&activity.data, &["kind"]);
                        @let target = field(&activity.data, &["target"]);
                        @let rule = field(&activity.data, &["ruleName", "rule_name", "rule", "ruleId", "rule_id"]);
                        li {
                            @if activity.kind == "notification" {
                                "Alert sent"
                                @if !kind.is_empty() { " by " (kind) }
                                @if !target.is_empty() { " to " span.target { (target) } }
                                @if !rule.is_empty() { " (rule " (rule) ")" }
                            } @else {
                                (activity.kind)
                            }
                            " · " (time_ago(activity.date_created, now))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_rows_are_left_out_of_the_body() {
        let form = RuleForm::from_fields(&fields(&[
            ("name", " Spikes "),
            ("environment", ""),
            ("frequency", "60"),
            ("action_match", "any"),
            ("filter_match", "all"),
            ("conditions-0-id", FREQUENCY),
            ("conditions-0-value", "5"),
            ("conditions-0-interval", "1m"),
            ("conditions-1-id", ""),
            ("conditions-2-id", FIRST_SEEN),
            ("levels-0-match", "gte"),
            ("levels-0-level", "40"),
            ("tags-0-key", ""),
            ("tags-1-key", "browser"),
            ("tags-1-match", "sw"),
            ("tags-1-value", "Chrome"),
            ("actions-0-kind", "slack"),
            ("actions-0-url", "https://hooks.example.com/x"),
            ("actions-1-kind", ""),
            ("actions-1-url", "https://ignored.example.com"),
            ("actions-2-kind", "email"),
            ("actions-2-target_type", "Member"),
            ("actions-2-member", "7"),
            ("actions-2-fallthrough", "NoOne"),
        ]));
        assert_eq!(
            form.to_body(),
            json!({
                "name": "Spikes",
                "environment": null,
                "frequency": 60,
                "actionMatch": "any",
                "filterMatch": "all",
                "conditions": [
                    {"id": FREQUENCY, "value": 5, "interval": "1m", "comparisonType": "count"},
                    {"id": FIRST_SEEN},
                ],
                "filters": [
                    {"id": LEVEL_FILTER, "match": "gte", "level": "40"},
                    {"id": TAG_FILTER, "key": "browser", "match": "sw", "value": "Chrome"},
                ],
                "actions": [
                    {"id": SLACK_ACTION, "webhook_url": "https://hooks.example.com/x"},
                    {"id": EMAIL_ACTION, "targetType": "Member", "targetIdentifier": 7, "fallthroughType": "NoOne"},
                ],
            })
        );
    }

    #[test]
    fn a_stored_rule_round_trips_through_the_form() {
        let rule = AlertRule {
            id: 3,
            project_id: 1,
            name: "Everything".into(),
            environment: Some("production".into()),
            frequency_minutes: 45,
            action_match: "all".into(),
            filter_match: "none".into(),
            conditions: json!([
                {"id": UNIQUE_USERS, "value": 10, "interval": "1h", "comparisonType": "count"},
                {"id": REGRESSION}, {"id": REAPPEARED}, {"id": FIRST_SEEN}
            ]),
            filters: json!([{"id": TAG_FILTER, "key": "k", "match": "is", "value": ""}]),
            actions: json!([
                {"id": WEBHOOK_ACTION, "url": "http://127.0.0.1:9/hook"},
                {"id": EMAIL_ACTION, "targetType": "Team", "targetIdentifier": 12, "fallthroughType": "AllMembers"},
            ]),
            created_by: None,
            date_created: 0.0,
        };
        let form = RuleForm::of(&rule);
        // Four conditions used: one spare row after them.
        assert_eq!(form.conditions.len(), 5);
        assert_eq!(form.tags.len(), 2);
        assert_eq!(form.actions.len(), 3);
        let body = form.to_body();
        assert_eq!(body["environment"], "production");
        assert_eq!(body["frequency"], 45);
        assert_eq!(body["conditions"], rule.conditions);
        assert_eq!(body["filters"], rule.filters);
        assert_eq!(body["actions"], rule.actions);
        // Posting the rendered fields back gives the same form.
        let mut posted = HashMap::new();
        posted.insert("name".to_string(), form.name.clone());
        for (i, row) in form.conditions.iter().enumerate() {
            posted.insert(format!("conditions-{i}-id"), row.id.clone());
            posted.insert(format!("conditions-{i}-value"), row.value.clone());
        }
        let again = RuleForm::from_fields(&posted);
        assert_eq!(
            again.conditions,
            form.conditions
                .iter()
                .map(|r| ConditionRow {
                    interval: String::new(),
                    ..r.clone()
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn row_indices_beyond_the_limit_are_ignored() {
        let form = RuleForm::from_fields(&fields(&[
            ("conditions-100000000-id", FIRST_SEEN),
            ("conditions-x-id", FIRST_SEEN),
            ("conditions-1", FIRST_SEEN),
        ]));
        assert_eq!(form.conditions.len(), MIN_CONDITIONS);
        assert!(form.conditions.iter().all(|r| r.id.is_empty()));
    }
}
