//! One email for a burst: the notifications of one rule to one recipient that waited for
//! their minute, built from the facts each email payload kept.

use serde_json::{json, Value};
use vigil_model::Notification;

use super::{cut, escape_html, one_line};

/// One issue as the digest lists it.
struct Entry {
    issue_id: i64,
    title: String,
    culprit: String,
    permalink: String,
    level: String,
    count: i64,
    short_id: String,
}

/// `{"subject", "text", "html"}` listing every issue of these notifications once (the
/// highest count seen wins), in the order they fired.
pub fn render_digest(notifications: &[Notification]) -> Value {
    let mut entries: Vec<Entry> = Vec::new();
    for notification in notifications {
        let p = &notification.payload;
        let text = |key: &str| {
            p.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let count = p.get("count").and_then(Value::as_i64).unwrap_or(0);
        if let Some(known) = entries
            .iter_mut()
            .find(|e| e.issue_id == notification.issue_id)
        {
            known.count = known.count.max(count);
            continue;
        }
        entries.push(Entry {
            issue_id: notification.issue_id,
            title: text("title"),
            culprit: text("culprit"),
            permalink: text("permalink"),
            level: text("level"),
            count,
            short_id: text("short_id"),
        });
    }
    let project = notifications
        .first()
        .and_then(|n| n.payload.get("project"))
        .and_then(Value::as_str)
        .unwrap_or("your project");
    let rule = notifications
        .first()
        .and_then(|n| n.payload.get("rule"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let n = entries.len();
    let noun = if n == 1 { "alert" } else { "alerts" };
    let subject = one_line(&format!("[Vigil] {n} new {noun} from {project}"));

    let mut text =
        format!("{n} issues of project {project} matched the alert rule \"{rule}\":\n\n");
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif;color:#1d1127\">\n\
         <p>{n} issues of project {} matched the alert rule \"{}\":</p>\n<ul>\n",
        escape_html(project),
        escape_html(rule)
    );
    for entry in &entries {
        let title = cut(&one_line(&entry.title), 200);
        let label = if entry.short_id.is_empty() {
            title.clone()
        } else {
            format!("{} - {title}", entry.short_id)
        };
        text.push_str(&format!(
            "- {label}\n  {} · {} · {} events\n  {}\n\n",
            entry.culprit, entry.level, entry.count, entry.permalink
        ));
        html.push_str(&format!(
            "<li><a href=\"{}\">{}</a><br>{} · {} · {} events</li>\n",
            escape_html(&entry.permalink),
            escape_html(&label),
            escape_html(&entry.culprit),
            escape_html(&entry.level),
            entry.count
        ));
    }
    text.push_str("--\nA digest: alerts of one rule are sent at most once a minute.\n");
    html.push_str(
        "</ul>\n<p style=\"color:#80708f;font-size:small\">A digest: alerts of one rule are \
         sent at most once a minute.</p>\n</body></html>\n",
    );
    json!({ "subject": subject, "text": text, "html": html })
}
