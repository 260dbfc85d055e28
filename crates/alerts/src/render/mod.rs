//! What one rule firing sends, rendered when it fires: the outbox keeps finished payloads, so
//! a sender only delivers bytes and a retry after a restart sends what would have been sent.

mod digest;
mod email;
mod slack;
mod webhook;

pub use digest::render_digest;

use serde_json::Value;
use vigil_model::{AlertRule, Issue, NewNotification, Organization, Project, User};

use crate::recipients::email_recipients;
use crate::vocabulary as vocab;

/// Everything a firing's notifications are made of.
#[derive(Debug, Clone, Copy)]
pub struct AlertContext<'a> {
    pub organization: &'a Organization,
    pub project: &'a Project,
    pub issue: &'a Issue,
    /// The stored normalized event data of the event that fired the rule.
    pub event: &'a Value,
    pub rule: &'a AlertRule,
    /// `first_seen`, `regression`, `reappeared`, `frequency` or `unique_users`.
    pub trigger: &'a str,
    /// `{public_url}/organizations/{org}/issues/{id}/`.
    pub permalink: &'a str,
    pub members: &'a [(User, String)],
}

/// Everything one rule firing sends: one email per recipient (kind `email`, payload
/// `{"subject", "text", "html"}` plus the issue's facts a digest lists), one legacy webhook
/// body per WebhookAction (kind `webhook`) and one Slack message per SlackWebhookAction (kind
/// `slack`). Two actions that reach the same target send once.
pub fn render_notifications(ctx: &AlertContext) -> Vec<NewNotification> {
    let mut out: Vec<NewNotification> = Vec::new();
    let mut push = |kind: &str, target: String, payload: &dyn Fn() -> Value| {
        if out.iter().any(|n| n.kind == kind && n.target == target) {
            return;
        }
        out.push(NewNotification {
            kind: kind.to_string(),
            target,
            payload: payload(),
        });
    };
    // Every recipient gets the same email: rendered once.
    let email = std::cell::OnceCell::new();
    let actions = ctx.rule.actions.as_array().map_or(&[][..], Vec::as_slice);
    for action in actions {
        let text = |key: &str| {
            action
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match action.get("id").and_then(Value::as_str) {
            Some(vocab::EMAIL_ACTION) => {
                for address in email_recipients(action, ctx.members) {
                    push("email", address, &|| {
                        email.get_or_init(|| email::render_email(ctx)).clone()
                    });
                }
            }
            Some(vocab::WEBHOOK_ACTION) if !text("url").is_empty() => {
                push("webhook", text("url"), &|| webhook::render_webhook(ctx));
            }
            Some(vocab::SLACK_ACTION) if !text("webhook_url").is_empty() => {
                push("slack", text("webhook_url"), &|| slack::render_slack(ctx));
            }
            _ => {}
        }
    }
    out
}

/// What a notification says about the trigger, in a person's words.
fn trigger_sentence(trigger: &str) -> &'static str {
    match trigger {
        "first_seen" => "New issue",
        "regression" => "Regression: a resolved issue was seen again",
        "reappeared" => "An ignored issue reappeared",
        "frequency" => "The issue is seen more often than the rule allows",
        "unique_users" => "The issue affects more users than the rule allows",
        _ => "Alert",
    }
}

/// A string field of the event.
fn event_str<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
    event
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The environment of the event: its field, else its tag.
fn event_environment(event: &Value) -> Option<String> {
    event_str(event, "environment")
        .map(str::to_string)
        .or_else(|| event_tag(event, "environment"))
}

fn event_tag(event: &Value, key: &str) -> Option<String> {
    event.get("tags")?.as_array()?.iter().find_map(|pair| {
        let pair = pair.as_array()?;
        (pair.first()?.as_str()? == key).then(|| pair.get(1)?.as_str().map(str::to_string))?
    })
}

/// One line of a stack trace, as a notification shows it.
#[derive(Debug, Clone, PartialEq)]
struct FrameLine {
    /// `file:line in function`.
    location: String,
    /// The source line, when the SDK sent it.
    context: Option<String>,
}

/// The last five in-app frames of the event's exceptions, innermost first: where a reader
/// looks first.
fn top_in_app_frames(event: &Value) -> Vec<FrameLine> {
    const SHOWN: usize = 5;
    let values = event
        .get("exception")
        .and_then(|e| e.get("values").or(Some(e)))
        .and_then(Value::as_array);
    let frames: Vec<&Value> = values
        .into_iter()
        .flatten()
        .filter_map(|exception| exception.get("stacktrace")?.get("frames")?.as_array())
        .flatten()
        .filter(|frame| frame.get("in_app").and_then(Value::as_bool) == Some(true))
        .collect();
    frames
        .iter()
        .rev()
        .take(SHOWN)
        .map(|frame| frame_line(frame))
        .collect()
}

fn frame_line(frame: &Value) -> FrameLine {
    let file = ["filename", "abs_path", "module", "package"]
        .iter()
        .find_map(|key| event_str(frame, key))
        .unwrap_or("?");
    let mut location = file.to_string();
    if let Some(line) = frame.get("lineno").and_then(Value::as_u64) {
        location.push_str(&format!(":{line}"));
    }
    if let Some(function) = event_str(frame, "function") {
        location.push_str(&format!(" in {function}"));
    }
    let context = event_str(frame, "context_line")
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| cut(line, 200));
    FrameLine { location, context }
}

/// A time as a person reads it in an email: `2026-11-25 02:41:26 UTC`.
fn human_time(ts: f64) -> String {
    let iso = vigil_protocol::timestamp::format_iso(ts);
    format!("{} UTC", iso.get(..19).unwrap_or(&iso).replace('T', " "))
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// Text safe inside HTML elements and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A one-line header value: control characters (a newline would start a new mail header)
/// become spaces.
fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_ids_use_crockford_base32() {
        let project = Project {
            id: 1,
            organization_id: 1,
            slug: "shop".into(),
            name: "Shop".into(),
            platform: None,
            date_created: 0.0,
        };
        assert_eq!(project.short_id(1), "SHOP-1");
        assert_eq!(project.short_id(18), "SHOP-J");
        assert_eq!(project.short_id(42), "SHOP-1A");
    }

    #[test]
    fn frames_are_the_last_five_in_app_innermost_first() {
        let frames: Vec<Value> = (1..=8)
            .map(|i| json!({"filename": format!("f{i}.py"), "lineno": i, "function": format!("fn{i}"), "in_app": i != 7}))
            .collect();
        let event = json!({"exception": {"values": [{"stacktrace": {"frames": frames}}]}});
        let lines: Vec<String> = top_in_app_frames(&event)
            .into_iter()
            .map(|f| f.location)
            .collect();
        assert_eq!(
            lines,
            [
                "f8.py:8 in fn8",
                "f6.py:6 in fn6",
                "f5.py:5 in fn5",
                "f4.py:4 in fn4",
                "f3.py:3 in fn3"
            ]
        );
    }

    #[test]
    fn header_text_has_no_line_breaks() {
        assert_eq!(one_line("a\r\nBcc: x@y\tz"), "a Bcc: x@y z");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }
}
