//! An issue (Sentry's "group") as Sentry's `GroupSerializer` shows it.

use serde_json::{json, Value};
use vigil_store::{Issue, Organization, Project};

use super::iso;
use crate::config::ServerConfig;
use crate::links::permalink;

/// `SHOP-1A` (see [`Project::short_id`]).
pub fn short_id(project: &Project, number: i64) -> String {
    project.short_id(number)
}

/// Sentry's initial priority: by level.
fn priority(level: &str) -> &'static str {
    match level {
        "fatal" | "error" => "high",
        "warning" => "medium",
        _ => "low",
    }
}

/// Performance issues carry their Sentry issue type as event type
/// (`performance_n_plus_one_db_queries`, `performance_slow_db_query`, …).
fn is_performance(event_type: &str) -> bool {
    event_type.starts_with("performance_")
}

fn issue_category(event_type: &str) -> &'static str {
    match event_type {
        "feedback" => "feedback",
        t if is_performance(t) => "performance",
        _ => "error",
    }
}

/// Sentry's `issueType`: the performance issue's type, else `error`.
fn issue_type(event_type: &str) -> &str {
    if is_performance(event_type) {
        event_type
    } else {
        "error"
    }
}

/// Sentry's `type`: the type of the issue's events; a performance issue's are transactions.
fn event_type(event_type: &str) -> &str {
    if is_performance(event_type) {
        "transaction"
    } else {
        event_type
    }
}

pub fn serialize_issue(
    issue: &Issue,
    project: &Project,
    org: &Organization,
    config: &ServerConfig,
) -> Value {
    let status_details = match issue.status {
        vigil_store::IssueStatus::Resolved => json!({}),
        _ => json!({}),
    };
    json!({
        "id": issue.id.to_string(),
        "shareId": null,
        "shortId": short_id(project, issue.short_id),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": permalink(config, org, issue.id),
        "logger": issue.metadata.get("logger").cloned().unwrap_or(Value::Null),
        "level": issue.level,
        "status": issue.status.as_str(),
        "statusDetails": status_details,
        "substatus": if issue.substatus.is_empty() { Value::Null } else { Value::String(issue.substatus.clone()) },
        "isPublic": false,
        "platform": issue.platform,
        "project": {
            "id": project.id.to_string(),
            "name": project.name,
            "slug": project.slug,
            "platform": project.platform,
        },
        "type": event_type(&issue.event_type),
        "metadata": issue.metadata,
        "numComments": 0,
        "assignedTo": null,
        "isBookmarked": false,
        "isSubscribed": false,
        "subscriptionDetails": null,
        "hasSeen": false,
        "annotations": [],
        "issueType": issue_type(&issue.event_type),
        "issueCategory": issue_category(&issue.event_type),
        "priority": priority(&issue.level),
        "priorityLockedAt": null,
        "isUnhandled": issue.is_unhandled,
        "count": issue.times_seen.to_string(),
        "userCount": issue.user_count,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
        "firstRelease": issue.first_release.as_ref().map(|v| json!({"version": v, "shortVersion": v})),
    })
}
