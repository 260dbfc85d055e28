//! The body of Sentry's legacy webhooks plugin (`WebHooksPlugin.get_group_data`), so that a
//! receiver written for Sentry reads Vigil's unchanged.

use serde_json::{json, Map, Value};

use super::{event_str, event_tag, AlertContext};

pub(super) fn render_webhook(ctx: &AlertContext) -> Value {
    let issue = ctx.issue;
    let level = event_str(ctx.event, "level").unwrap_or(&issue.level);
    let logger = event_tag(ctx.event, "logger")
        .or_else(|| event_str(ctx.event, "logger").map(str::to_string));
    json!({
        "id": issue.id.to_string(),
        "project": ctx.project.slug,
        "project_name": ctx.project.name,
        "project_slug": ctx.project.slug,
        "logger": logger,
        "level": level,
        "culprit": issue.culprit,
        "message": event_message(ctx),
        "url": ctx.permalink,
        "triggering_rules": [ctx.rule.name],
        "event": event_body(ctx),
    })
}

/// Sentry's `event.message`: the formatted log message, else the issue's title.
fn event_message(ctx: &AlertContext) -> String {
    let logentry = ctx.event.get("logentry");
    logentry
        .and_then(|l| l.get("formatted").or_else(|| l.get("message")))
        .and_then(Value::as_str)
        .or_else(|| event_str(ctx.event, "message"))
        .filter(|s| !s.is_empty())
        .unwrap_or(&ctx.issue.title)
        .to_string()
}

/// The event data with Sentry's keys: `event_id` and `id` (both the event id), `tags` as
/// `[[key, value]]`, and the fields a receiver reads first filled from the issue when the
/// stored event lacks them.
fn event_body(ctx: &AlertContext) -> Value {
    let mut event: Map<String, Value> = ctx.event.as_object().cloned().unwrap_or_default();
    let event_id = event_str(ctx.event, "event_id")
        .map(str::to_string)
        .unwrap_or_default();
    event.insert("event_id".into(), Value::String(event_id.clone()));
    event.insert("id".into(), Value::String(event_id));
    if !event.get("tags").is_some_and(Value::is_array) {
        event.insert("tags".into(), Value::Array(Vec::new()));
    }
    let defaults = [
        ("level", &ctx.issue.level),
        ("platform", &ctx.issue.platform),
        ("culprit", &ctx.issue.culprit),
        ("title", &ctx.issue.title),
    ];
    for (key, value) in defaults {
        if event_str(ctx.event, key).is_none() {
            event.insert(key.into(), Value::String(value.clone()));
        }
    }
    event
        .entry("message")
        .or_insert_with(|| Value::String(event_message(ctx)));
    event.insert("project".into(), json!(ctx.project.id));
    Value::Object(event)
}
