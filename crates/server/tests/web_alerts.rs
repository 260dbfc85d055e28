//! The alert-rule pages through the real router and a real SQLite store: the organization's
//! rules (with the project's default rule), creating a rule from the form (stored as the API
//! would store it), the parser's reason for a wrong rule (400, nothing stored), editing,
//! deleting after a confirmation, CSRF, other organizations (404), the project's notifications
//! with attempts and last error, and the issue page's activity.

mod common;

use axum::http::StatusCode;
use common::page::{csrf_of, Session};
use common::{envelope, Harness};
use serde_json::json;
use vigil_store::prelude::*;
use vigil_store::{Firing, NewNotification, NotificationOutcome};

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const TAG_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
const WEBHOOK: &str = "vigil.actions.WebhookAction";
const EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";

/// The form fields of a spike rule: more than 5 events in a minute at error level or above, on
/// the `checkout` tag, POSTed to a webhook; the other rows left empty as a browser sends them.
fn spike_rule<'a>(csrf: &'a str, name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("environment", "production"),
        ("frequency", "60"),
        ("action_match", "any"),
        ("filter_match", "all"),
        ("conditions-0-id", FREQUENCY),
        ("conditions-0-value", "5"),
        ("conditions-0-interval", "1m"),
        ("conditions-1-id", ""),
        ("conditions-1-value", ""),
        ("conditions-1-interval", ""),
        ("conditions-2-id", ""),
        ("conditions-2-value", ""),
        ("conditions-2-interval", ""),
        ("levels-0-match", "gte"),
        ("levels-0-level", "40"),
        ("tags-0-key", "flow"),
        ("tags-0-match", "eq"),
        ("tags-0-value", "checkout"),
        ("tags-1-key", ""),
        ("tags-1-match", "eq"),
        ("tags-1-value", ""),
        ("actions-0-kind", "webhook"),
        ("actions-0-target_type", "IssueOwners"),
        ("actions-0-member", ""),
        ("actions-0-fallthrough", "ActiveMembers"),
        ("actions-0-url", url),
        ("actions-1-kind", ""),
        ("actions-1-url", ""),
        ("actions-2-kind", ""),
        ("actions-2-url", ""),
    ]
}

fn spike_rules(rules: &[vigil_store::AlertRule]) -> Vec<&vigil_store::AlertRule> {
    rules
        .iter()
        .filter(|r| r.name == "Checkout spikes")
        .collect()
}

#[tokio::test]
async fn rules_are_listed_created_edited_and_deleted_through_the_form() {
    let h = Harness::new().await;
    let session = Session::admin(&h).await;

    // The project's default rule (a new issue → email) is on the organization's list, and the
    // keys page links to it.
    let list = session.shown("/organizations/default/alerts/rules/").await;
    assert!(list.body.contains("id=\"project-shop\""), "{}", list.body);
    assert!(
        list.body.contains("A new issue is created"),
        "{}",
        list.body
    );
    assert!(list
        .body
        .contains("/organizations/default/alerts/rules/shop/new/"));
    let keys = session.get("/settings/default/projects/shop/keys/").await;
    assert!(keys.body.contains("/organizations/default/alerts/rules/"));

    // A new rule from the form is stored as the rules API stores it.
    let new = session
        .shown("/organizations/default/alerts/rules/shop/new/")
        .await;
    for name in [
        "conditions-2-id",
        "tags-1-key",
        "actions-2-url",
        "levels-0-match",
    ] {
        assert!(new.body.contains(&format!("name=\"{name}\"")), "{name}");
    }
    let csrf = csrf_of(&new.body);
    let created = session
        .post(
            "/organizations/default/alerts/rules/shop/new/",
            &spike_rule(&csrf, "Checkout spikes", "http://127.0.0.1:9/hook"),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let rules = h.alert_rules().await;
    let found = spike_rules(&rules);
    assert_eq!(found.len(), 1, "{rules:?}");
    let rule = found[0].clone();
    assert_eq!(
        created.location(),
        format!(
            "/organizations/default/alerts/rules/shop/{}/?saved=1",
            rule.id
        )
    );
    assert_eq!(rule.environment.as_deref(), Some("production"));
    assert_eq!(rule.frequency_minutes, 60);
    assert_eq!(rule.action_match, "any");
    assert_eq!(rule.conditions.as_array().map(Vec::len), Some(1));
    assert_eq!(rule.conditions[0]["id"], FREQUENCY);
    assert_eq!(rule.conditions[0]["value"], 5);
    assert_eq!(rule.conditions[0]["interval"], "1m");
    assert_eq!(rule.filters.as_array().map(Vec::len), Some(2));
    assert_eq!(rule.filters[0]["id"], LEVEL_FILTER);
    assert_eq!(rule.filters[1]["id"], TAG_FILTER);
    assert_eq!(rule.filters[1]["key"], "flow");
    assert_eq!(
        rule.actions,
        json!([{"id": WEBHOOK, "url": "http://127.0.0.1:9/hook"}])
    );
    let admin = &h.admin;
    assert_eq!(rule.created_by, Some(admin.id));

    // Its page shows the form filled in.
    let rule_path = format!("/organizations/default/alerts/rules/shop/{}/", rule.id);
    let shown = session.shown(&format!("{rule_path}?saved=1")).await;
    assert!(shown.body.contains("Saved."));
    assert!(shown.body.contains("value=\"Checkout spikes\""));
    assert!(shown.body.contains("value=\"http://127.0.0.1:9/hook\""));
    assert!(shown.body.contains("value=\"checkout\""));
    assert!(
        shown.body.contains("<option value=\"1m\" selected"),
        "interval"
    );
    let listed = session.get("/organizations/default/alerts/rules/").await;
    assert!(listed
        .body
        .contains("The issue is seen more than 5 times in one minute"));
    assert!(listed.body.contains("POST to http://127.0.0.1:9/hook"));

    // Editing replaces it: now an email to a member, for a new issue.
    let csrf = csrf_of(&shown.body);
    let admin_id = admin.id.to_string();
    let edited = session
        .post(
            &rule_path,
            &[
                ("csrf", csrf.as_str()),
                ("name", "New checkout issues"),
                ("environment", ""),
                ("frequency", "30"),
                ("action_match", "all"),
                ("filter_match", "all"),
                ("conditions-0-id", FIRST_SEEN),
                ("levels-0-match", ""),
                ("tags-0-key", ""),
                ("actions-0-kind", "email"),
                ("actions-0-target_type", "Member"),
                ("actions-0-member", admin_id.as_str()),
                ("actions-0-fallthrough", "NoOne"),
                ("actions-0-url", "http://ignored.example/"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let rule = h
        .store
        .alert_rule(rule.id)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(rule.name, "New checkout issues");
    assert_eq!(rule.environment, None);
    assert_eq!(rule.conditions, json!([{"id": FIRST_SEEN}]));
    assert_eq!(rule.filters, json!([]));
    assert_eq!(rule.actions.as_array().map(Vec::len), Some(1));
    assert_eq!(rule.actions[0]["id"], EMAIL);
    assert_eq!(rule.actions[0]["targetType"], "Member");
    assert_eq!(rule.actions[0]["targetIdentifier"], admin.id);
    let listed = session.get("/organizations/default/alerts/rules/").await;
    assert!(
        listed.body.contains("Email admin@example.com"),
        "{}",
        listed.body
    );

    // Deleting asks first, then deletes.
    let confirm = session.get(&format!("{rule_path}delete/")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Delete “New checkout issues”?"));
    assert!(h.store.alert_rule(rule.id).await.expect("read").is_some());
    let csrf = csrf_of(&confirm.body);
    let deleted = session
        .post(&format!("{rule_path}delete/"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/organizations/default/alerts/rules/");
    assert!(h.store.alert_rule(rule.id).await.expect("read").is_none());
    let gone = session.get(&rule_path).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_rule_is_shown_back_with_the_field_and_nothing_is_stored() {
    let h = Harness::new().await;
    let session = Session::admin(&h).await;
    let new = session
        .get("/organizations/default/alerts/rules/shop/new/")
        .await;
    let csrf = csrf_of(&new.body);
    let before = h.alert_rules().await.len();
    let path = "/organizations/default/alerts/rules/shop/new/";

    // A webhook that is not http(s).
    let mut form = spike_rule(&csrf, "Checkout spikes", "ftp://files.example/hook");
    let refused = session.post(path, &form).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("role=\"alert\""));
    assert!(refused.body.contains("actions"), "{}", refused.body);
    // What was typed is shown back.
    assert!(refused.body.contains("value=\"ftp://files.example/hook\""));

    // A frequency condition without an interval.
    form = spike_rule(&csrf, "Checkout spikes", "https://hooks.example/x");
    form.retain(|(k, _)| *k != "conditions-0-interval");
    let refused = session.post(path, &form).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("conditions"), "{}", refused.body);

    // No name; no actions; a frequency out of range.
    for (field, value, named) in [
        ("name", "", "name"),
        ("actions-0-kind", "", "actions"),
        ("frequency", "2", "frequency"),
    ] {
        let mut form = spike_rule(&csrf, "Checkout spikes", "https://hooks.example/x");
        for pair in form.iter_mut() {
            if pair.0 == field {
                pair.1 = value;
            }
        }
        let refused = session.post(path, &form).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{field}");
        let error = &refused.body[refused.body.find("role=\"alert\"").expect("error shown")..];
        assert!(
            error[..200.min(error.len())].contains(named),
            "{field}: {error}"
        );
    }
    assert_eq!(h.alert_rules().await.len(), before);

    // Without the CSRF token nothing is even parsed.
    let mut form = spike_rule("forged", "Checkout spikes", "https://hooks.example/x");
    form.retain(|(k, _)| *k != "csrf");
    let forged = session.post(path, &form).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(h.alert_rules().await.len(), before);
}

#[tokio::test]
async fn other_organizations_rules_are_not_found() {
    let h = Harness::new().await;
    let default_rule = h.alert_rules().await[0].clone();
    let other_project = h.project_in("other", "billing", Some("python")).await;
    let other_rule = h.store.alert_rules(other_project.id).await.expect("rules")[0].clone();
    h.member_of("other", "eve@example.com").await;
    let session = Session::login(&h, "eve@example.com").await;

    let own = session.get("/organizations/other/alerts/rules/").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("billing") && !own.body.contains("project-shop"));
    let csrf = csrf_of(&own.body);
    for path in [
        "/organizations/default/alerts/rules/".to_string(),
        "/organizations/default/alerts/rules/shop/new/".to_string(),
        format!(
            "/organizations/default/alerts/rules/shop/{}/",
            default_rule.id
        ),
        format!(
            "/organizations/default/alerts/rules/shop/{}/delete/",
            default_rule.id
        ),
        // Her organization, a rule of another organization's project: not hers either.
        format!(
            "/organizations/other/alerts/rules/billing/{}/",
            default_rule.id
        ),
        format!(
            "/organizations/other/alerts/rules/shop/{}/",
            default_rule.id
        ),
        "/organizations/other/alerts/rules/billing/nonsense/".to_string(),
    ] {
        let page = session.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    let deleting = session
        .post(
            &format!(
                "/organizations/other/alerts/rules/billing/{}/delete/",
                default_rule.id
            ),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(deleting.status, StatusCode::NOT_FOUND);
    let creating = session
        .post(
            "/organizations/default/alerts/rules/shop/new/",
            &spike_rule(&csrf, "Checkout spikes", "https://hooks.example/x"),
        )
        .await;
    assert_eq!(creating.status, StatusCode::NOT_FOUND);
    assert!(h
        .store
        .alert_rule(default_rule.id)
        .await
        .expect("read")
        .is_some());
    assert!(spike_rules(&h.alert_rules().await).is_empty());
    // Her own rule opens.
    session
        .shown(&format!(
            "/organizations/other/alerts/rules/billing/{}/",
            other_rule.id
        ))
        .await;
}

#[tokio::test]
async fn the_rule_page_shows_notifications_and_the_issue_page_its_activity() {
    let h = Harness::new().await;
    let session = Session::admin(&h).await;
    let event = json!({
        "platform": "python", "level": "error", "environment": "production",
        "exception": {"values": [{"type": "KeyError", "value": "'sku-404'"}]},
    });
    let (status, body) = h
        .post_envelope(envelope("0123456789abcdef0123456789abcdef", &event))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let issue = h.issues().await.pop().expect("the issue");
    let rule = h.alert_rules().await[0].clone();

    // Two notifications of one firing: one retried after an SMTP error, one sent.
    let notification = |target: &str| NewNotification {
        kind: "webhook".into(),
        target: target.into(),
        payload: json!({"id": issue.id.to_string()}),
    };
    let recorded = h
        .store
        .record_firings(vec![Firing {
            rule_id: rule.id,
            project_id: h.project.id,
            issue_id: issue.id,
            event_id: "0123456789abcdef0123456789abcdef".into(),
            trigger: "first_seen".into(),
            at: issue.first_seen,
            frequency_secs: 0.0,
            dedup_key: "web-test".into(),
            notifications: vec![
                notification("http://127.0.0.1:9/failing"),
                notification("http://127.0.0.1:9/working"),
            ],
        }])
        .await
        .expect("record");
    assert_eq!(recorded, vec![true]);
    let now = vigil_server::time::unix_now();
    let ours: Vec<_> = h
        .store
        .list_notifications(h.project.id, 100)
        .await
        .expect("list")
        .into_iter()
        .filter(|n| n.target.starts_with("http://127.0.0.1:9/"))
        .collect();
    assert_eq!(ours.len(), 2);
    for n in &ours {
        let outcome = if n.target.ends_with("/failing") {
            NotificationOutcome::Retry {
                error: "HTTP 500: <b>boom</b>".into(),
                next_attempt: now + 3600.0,
            }
        } else {
            NotificationOutcome::Sent { at: now }
        };
        h.store
            .finish_notification(n.id, outcome)
            .await
            .expect("finish");
    }

    let page = session
        .shown(&format!(
            "/organizations/default/alerts/rules/shop/{}/",
            rule.id
        ))
        .await;
    let list = &page.body[page
        .body
        .find("Recent notifications")
        .expect("notifications section")..];
    assert!(list.contains("http://127.0.0.1:9/failing"));
    assert!(list.contains(">pending<"), "{list}");
    assert!(list.contains(">sent<"), "{list}");
    // The error is shown, escaped.
    assert!(list.contains("HTTP 500: &lt;b&gt;boom&lt;/b&gt;"), "{list}");
    assert!(list.contains(&format!("/organizations/default/issues/{}/", issue.id)));

    // The issue's page lists the alert that was sent, and only that one.
    let issue_page = session
        .get(&format!("/organizations/default/issues/{}/", issue.id))
        .await;
    assert_eq!(issue_page.status, StatusCode::OK);
    let activity = &issue_page.body[issue_page.body.find(">Activity<").expect("activity")..];
    assert!(activity.contains("Alert sent"), "{activity}");
    assert!(
        activity.contains("http://127.0.0.1:9/working"),
        "{activity}"
    );
    assert!(
        !activity.contains("http://127.0.0.1:9/failing"),
        "{activity}"
    );
}
