//! What a firing sends: who gets the email, what the email, the webhook body and the Slack
//! message say (rendered from a real Python SDK event), and digests.

mod common;

use common::EMAIL;
use serde_json::{json, Value};
use vigil_alerts::{email_recipients, render_digest, render_notifications, AlertContext};
use vigil_model::{AlertRule, NewNotification, Notification, NotificationStatus};

const PERMALINK: &str = "https://vigil.example.com/organizations/acme/issues/42/";

fn rule_with_actions(actions: Value) -> AlertRule {
    common::stored_rule(json!({
        "name": "Checkout errors",
        "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
        "actions": actions,
    }))
}

fn render(rule: &AlertRule, event: &Value, issue: &vigil_model::Issue) -> Vec<NewNotification> {
    let (organization, project, members) =
        (common::organization(), common::project(), common::members());
    render_notifications(&AlertContext {
        organization: &organization,
        project: &project,
        issue,
        event,
        rule,
        trigger: "first_seen",
        permalink: PERMALINK,
        members: &members,
    })
}

fn recipients(action: Value) -> Vec<String> {
    email_recipients(&action, &common::members())
}

#[test]
fn recipients_follow_target_and_fallthrough() {
    let all = ["owner@acme.test", "dev@acme.test", "ops@acme.test"];
    assert_eq!(
        recipients(json!({"id": EMAIL, "targetType": "Member", "targetIdentifier": 2})),
        ["dev@acme.test"]
    );
    assert!(
        recipients(json!({"id": EMAIL, "targetType": "Member", "targetIdentifier": 99})).is_empty(),
        "not a member: nobody"
    );
    assert_eq!(
        recipients(json!({"id": EMAIL, "targetType": "Team", "targetIdentifier": 1})),
        all
    );
    for fallthrough in ["AllMembers", "ActiveMembers"] {
        assert_eq!(
            recipients(
                json!({"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": fallthrough})
            ),
            all
        );
    }
    assert!(recipients(
        json!({"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "NoOne"})
    )
    .is_empty());
}

#[test]
fn one_email_per_recipient_even_across_actions() {
    let rule = rule_with_actions(json!([
        {"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "AllMembers"},
        {"id": EMAIL, "targetType": "Member", "targetIdentifier": 2},
        {"id": "vigil.actions.WebhookAction", "url": "https://hooks.example.com/a"},
        {"id": "vigil.actions.SlackWebhookAction", "webhook_url": "https://hooks.slack.com/services/T/B/X"}
    ]));
    let sent = render(&rule, &common::django_event(), &common::issue());
    let targets: Vec<(&str, &str)> = sent
        .iter()
        .map(|n| (n.kind.as_str(), n.target.as_str()))
        .collect();
    assert_eq!(
        targets,
        [
            ("email", "owner@acme.test"),
            ("email", "dev@acme.test"),
            ("email", "ops@acme.test"),
            ("webhook", "https://hooks.example.com/a"),
            ("slack", "https://hooks.slack.com/services/T/B/X"),
        ]
    );
}

#[test]
fn email_tells_the_issue_with_its_in_app_frames_and_permalink() {
    let rule =
        rule_with_actions(json!([{"id": EMAIL, "targetType": "Member", "targetIdentifier": 1}]));
    let sent = render(&rule, &common::django_event(), &common::issue());
    assert_eq!(sent.len(), 1);
    let email = &sent[0].payload;
    assert_eq!(
        email["subject"],
        json!("[Vigil] SHOP-1A - ZeroDivisionError: division by zero")
    );
    let text = email["text"].as_str().expect("text part");
    let html = email["html"].as_str().expect("html part");
    for part in [text, html] {
        assert!(part.contains(PERMALINK), "permalink in {part}");
        assert!(part.contains("ZeroDivisionError: division by zero"));
        assert!(
            part.contains("python_scenarios.py:70 in trigger_error"),
            "{part}"
        );
        assert!(
            part.contains("division_by_zero = 1 / 0"),
            "context line in {part}"
        );
        assert!(part.contains("/sentry-debug/"), "culprit");
        assert!(part.contains("shop"), "project");
    }
    // The facts of the real event: environment and release of the capture, the issue's count.
    assert!(text.contains("Environment: production"), "{text}");
    assert!(text.contains("Release:"));
    assert!(text.contains("Level:       error"));
    assert!(text.contains("Events:      12"));
    assert!(text.contains("First seen:  2026-11-25 "), "{text}");
    // Only in-app frames: Django's own frames are not listed.
    assert!(!text.contains("django/core/handlers"), "{text}");
    // What a digest needs later.
    assert_eq!(email["permalink"], json!(PERMALINK));
    assert_eq!(email["title"], json!("ZeroDivisionError: division by zero"));
    assert_eq!(email["project"], json!("shop"));
    assert_eq!(email["level"], json!("error"));
    assert_eq!(email["count"], json!(12));
}

#[test]
fn event_data_cannot_inject_html_or_headers() {
    let mut issue = common::issue();
    issue.title = "<script>alert('x')</script>\r\nBcc: victim@example.com".into();
    issue.culprit = "<img src=x onerror=alert(1)>".into();
    let mut event = common::django_event();
    event["environment"] = json!("<b>prod</b>");
    event["exception"]["values"][0]["stacktrace"]["frames"] = json!([
        {"filename": "<svg onload=alert(1)>.py", "lineno": 1, "function": "f\"&", "in_app": true,
         "context_line": "x = '<script>'"}
    ]);
    let rule =
        rule_with_actions(json!([{"id": EMAIL, "targetType": "Member", "targetIdentifier": 1}]));
    let sent = render(&rule, &event, &issue);
    let email = &sent[0].payload;
    let html = email["html"].as_str().expect("html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<svg"), "{html}");
    assert!(!html.contains("<b>prod"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let subject = email["subject"].as_str().expect("subject");
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject:?}"
    );
}

#[test]
fn webhook_body_has_the_legacy_plugin_fields() {
    let rule = rule_with_actions(json!([
        {"id": "vigil.actions.WebhookAction", "url": "https://hooks.example.com/sentry"}
    ]));
    let event = common::django_event();
    let sent = render(&rule, &event, &common::issue());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "webhook");
    assert_eq!(sent[0].target, "https://hooks.example.com/sentry");
    let body = &sent[0].payload;
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "project",
        "project_name",
        "project_slug",
        "logger",
        "level",
        "culprit",
        "message",
        "url",
        "triggering_rules",
        "event",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(body["id"], json!("42"));
    assert_eq!(body["project"], json!("shop"));
    assert_eq!(body["project_name"], json!("Shop"));
    assert_eq!(body["project_slug"], json!("shop"));
    assert_eq!(body["level"], json!("error"));
    assert_eq!(body["culprit"], json!("/sentry-debug/"));
    assert_eq!(body["url"], json!(PERMALINK));
    assert_eq!(body["triggering_rules"], json!(["Checkout errors"]));
    assert_eq!(
        body["message"],
        json!("ZeroDivisionError: division by zero")
    );
    let inner = &body["event"];
    let event_id = event["event_id"].as_str().expect("the capture has an id");
    assert_eq!(inner["event_id"], json!(event_id));
    assert_eq!(inner["id"], json!(event_id));
    assert_eq!(inner["platform"], json!("python"));
    assert_eq!(inner["level"], json!("error"));
    assert_eq!(inner["culprit"], json!("/sentry-debug/"));
    assert_eq!(inner["title"], json!("ZeroDivisionError: division by zero"));
    assert!(inner["exception"]["values"].is_array());
    assert!(inner["request"].is_object());
    assert!(inner["sdk"].is_object());
    let tags = inner["tags"].as_array().expect("tags as pairs");
    assert!(tags
        .iter()
        .all(|pair| pair.as_array().is_some_and(|p| p.len() == 2)));
    assert!(tags.contains(&json!(["server_name", "web-1"])), "{tags:?}");
}

#[test]
fn slack_message_has_text_and_blocks() {
    let rule = rule_with_actions(json!([
        {"id": "vigil.actions.SlackWebhookAction", "webhook_url": "https://chat.example.com/hooks/abc"}
    ]));
    let sent = render(&rule, &common::django_event(), &common::issue());
    assert_eq!(sent[0].kind, "slack");
    assert_eq!(sent[0].target, "https://chat.example.com/hooks/abc");
    let message = &sent[0].payload;
    let text = message["text"].as_str().expect("fallback text");
    assert!(
        text.contains(PERMALINK) && text.contains("ZeroDivisionError"),
        "{text}"
    );
    let blocks = message["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], json!("section"));
    let summary = blocks[0]["text"]["text"].as_str().expect("summary");
    assert_eq!(
        summary,
        format!("*<{PERMALINK}|ZeroDivisionError: division by zero>*\n/sentry-debug/")
    );
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["text"].as_str().expect("field text"))
        .collect();
    assert_eq!(
        fields,
        [
            "*Project*\nshop",
            "*Environment*\nproduction",
            "*Level*\nerror",
            "*Events*\n12"
        ]
    );
}

fn queued(issue_id: i64, payload: Value) -> Notification {
    Notification {
        id: issue_id * 10,
        rule_id: 5,
        project_id: 7,
        issue_id,
        event_id: format!("{issue_id:032x}"),
        trigger: "first_seen".into(),
        kind: "email".into(),
        target: "dev@acme.test".into(),
        payload,
        status: NotificationStatus::Pending,
        attempts: 0,
        next_attempt: 0.0,
        last_error: None,
        created: 1_795_574_487.0,
        sent_at: None,
    }
}

#[test]
fn digest_lists_every_issue_once() {
    let rule =
        rule_with_actions(json!([{"id": EMAIL, "targetType": "Member", "targetIdentifier": 2}]));
    let event = common::django_event();
    let mut notifications = Vec::new();
    for n in 1..=12 {
        let mut issue = common::issue();
        issue.id = n;
        issue.short_id = n;
        issue.title = format!("ValueError: burst <{n}>");
        issue.times_seen = n;
        let permalink = format!("https://vigil.example.com/organizations/acme/issues/{n}/");
        let (organization, project, members) =
            (common::organization(), common::project(), common::members());
        let sent = render_notifications(&AlertContext {
            organization: &organization,
            project: &project,
            issue: &issue,
            event: &event,
            rule: &rule,
            trigger: "first_seen",
            permalink: &permalink,
            members: &members,
        });
        notifications.push(queued(n, sent[0].payload.clone()));
    }
    // The same issue twice (two firings of one rule): listed once, with the higher count.
    let mut again = notifications[2].clone();
    again.payload["count"] = json!(99);
    notifications.push(again);

    let digest = render_digest(&notifications);
    assert_eq!(digest["subject"], json!("[Vigil] 12 new alerts from shop"));
    let text = digest["text"].as_str().expect("text");
    let html = digest["html"].as_str().expect("html");
    for n in 1..=12 {
        let link = format!("https://vigil.example.com/organizations/acme/issues/{n}/");
        assert_eq!(
            text.matches(&format!("{link}\n")).count(),
            1,
            "{link} once in {text}"
        );
        assert!(html.contains(&link));
        assert!(text.contains(&format!("ValueError: burst <{n}>")));
        assert!(html.contains(&format!("ValueError: burst &lt;{n}&gt;")));
    }
    assert!(text.contains("99 events"), "{text}");
    assert!(!html.contains("<1>"), "escaped");
}
