//! A stored rule in the JSON of Sentry's issue-alert API (`GET …/rules/{id}/`), each node
//! with the `name` Sentry's `RuleSerializer` gives it: the sentence the UI shows.

use serde_json::{json, Value};
use vigil_model::AlertRule;

use crate::vocabulary::{self as vocab, interval_label, match_label};

/// Sentry's API JSON of a stored rule.
pub fn rule_json(rule: &AlertRule, project_slug: &str) -> Value {
    json!({
        "id": rule.id.to_string(),
        "conditions": labelled(&rule.conditions),
        "filters": labelled(&rule.filters),
        "actions": labelled(&rule.actions),
        "actionMatch": rule.action_match,
        "filterMatch": rule.filter_match,
        "frequency": rule.frequency_minutes,
        "name": rule.name,
        "dateCreated": vigil_protocol::timestamp::format_iso(rule.date_created),
        // Vigil keeps who created the rule by id only.
        "createdBy": rule.created_by.map(|id| json!({ "id": id })),
        "environment": rule.environment,
        "projects": [project_slug],
        "status": "active",
        "owner": null,
        "snooze": false,
    })
}

fn labelled(nodes: &Value) -> Value {
    let Some(nodes) = nodes.as_array() else {
        return json!([]);
    };
    Value::Array(
        nodes
            .iter()
            .map(|node| {
                let mut node = node.clone();
                let label = node_label(&node);
                if let Some(object) = node.as_object_mut() {
                    object.insert("name".into(), Value::String(label));
                }
                node
            })
            .collect(),
    )
}

/// The sentence Sentry shows for a condition, filter or action.
pub fn node_label(node: &Value) -> String {
    let text = |key: &str| -> String {
        match node.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    match text("id").as_str() {
        id @ (vocab::FIRST_SEEN | vocab::REGRESSION | vocab::REAPPEARED) => {
            match_label(vocab::CONDITIONS, id).to_string()
        }
        vocab::EVENT_FREQUENCY => format!(
            "The issue is seen more than {} times in {}",
            text("value"),
            interval_label(&text("interval"))
        ),
        vocab::UNIQUE_USER_FREQUENCY => format!(
            "The issue is seen by more than {} users in {}",
            text("value"),
            interval_label(&text("interval"))
        ),
        vocab::LEVEL_FILTER => {
            let level = text("level");
            let name = level
                .parse::<u8>()
                .ok()
                .and_then(vocab::level_name)
                .map_or(level.clone(), str::to_string);
            format!(
                "The event's level is {} {}",
                match_label(vocab::LEVEL_MATCHES, &text("match")),
                name
            )
        }
        vocab::TAGGED_EVENT_FILTER => {
            let matching = text("match");
            let label = match_label(vocab::TAG_MATCHES, &matching);
            if matches!(matching.as_str(), "is" | "ns") {
                format!("The event's tags match {} {}", text("key"), label)
            } else {
                format!(
                    "The event's tags match {} {} {}",
                    text("key"),
                    label,
                    text("value")
                )
            }
        }
        vocab::EMAIL_ACTION => {
            let target = text("targetType");
            if target == "IssueOwners" {
                format!(
                    "Send a notification to IssueOwners and if none can be found then send a \
                     notification to {}",
                    text("fallthroughType")
                )
            } else {
                format!("Send a notification to {target}")
            }
        }
        vocab::WEBHOOK_ACTION => format!("Send a webhook to {}", text("url")),
        vocab::SLACK_ACTION => "Send a Slack message through an incoming webhook".into(),
        other => other.to_string(),
    }
}
