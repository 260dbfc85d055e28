//! What alerts sent: the project's recent notifications on a rule's page (status, attempts,
//! last error, next try) and the alerts sent for one issue on the issue's page.

use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::Value;
use vigil_store::{Notification, NotificationStatus, Organization, Project};

use super::text;
use crate::web::error::WebError;
use crate::web::layout::time_ago;
use crate::AppState;

/// Notifications listed on a rule's page.
const NOTIFICATIONS_SHOWN: u64 = 50;

/// The project's recent notifications, and the names of its rules by id.
pub(super) async fn recent(
    state: &AppState,
    project: &Project,
) -> Result<(Vec<Notification>, HashMap<i64, String>), WebError> {
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
    Ok((notifications, names))
}

fn status_class(status: NotificationStatus) -> &'static str {
    match status {
        NotificationStatus::Sent => "badge active",
        NotificationStatus::Pending => "badge",
        NotificationStatus::Failed | NotificationStatus::Undeliverable => "badge disabled",
    }
}

/// The project's recent notifications: what was sent, what waits for a retry and why.
pub(super) fn notification_list(
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
