//! The rules of every project of the organization, each in the words of Sentry's rule list.

use axum::extract::State;
use axum::response::Html;
use maud::html;
use serde_json::Value;
use vigil_alerts::vocabulary::{
    frequency_label, match_label, EMAIL_ACTION, FALLTHROUGH_LABELS, SLACK_ACTION, WEBHOOK_ACTION,
};
use vigil_store::{AlertRule, User};

use super::{rule_url, rules_url, text};
use crate::time::unix_now;
use crate::web::access::ViewerOrg;
use crate::web::error::WebError;
use crate::web::layout::{page, time_ago, Shell};
use crate::AppState;

/// One line per condition, as Sentry's rule list says it.
fn describe_conditions(rule: &AlertRule) -> Vec<String> {
    let list = rule.conditions.as_array().cloned().unwrap_or_default();
    list.iter().map(vigil_alerts::node_label).collect()
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
                            match_label(FALLTHROUGH_LABELS, &fallthrough)
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

/// `GET /organizations/{org}/alerts/rules/`: the rules of every project of the organization.
pub async fn list(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
) -> Result<Html<String>, WebError> {
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
                                        span.muted { (rule.action_match) " of:" }
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
    Ok(page(
        Shell::of_org("Alert rules", &prefix, &viewer, &org),
        body,
    ))
}
