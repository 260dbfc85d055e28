//! Records the alert tests build on: an organization, a project, an issue, members and rules
//! as the store hands them out, and a real SDK event as the pipeline stored it.

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;
use vigil_alerts::parse_rule;
use vigil_model::{AlertRule, Issue, IssueStatus, Organization, Project, User};

/// Sentry's ids of the conditions, filters and actions the tests write rules with, spelled out
/// as Sentry's API takes them (not taken from the crate under test).
pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
pub const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
pub const REAPPEARED: &str = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
pub const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
pub const UNIQUE_USERS: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";
pub const LEVEL: &str = "sentry.rules.filters.level.LevelFilter";
pub const TAGGED: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
pub const EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";

pub fn organization() -> Organization {
    Organization {
        id: 1,
        slug: "acme".into(),
        name: "Acme".into(),
        date_created: 1_700_000_000.0,
    }
}

pub fn project() -> Project {
    Project {
        id: 7,
        organization_id: 1,
        slug: "shop".into(),
        name: "Shop".into(),
        platform: Some("python".into()),
        date_created: 1_700_000_000.0,
    }
}

pub fn issue() -> Issue {
    Issue {
        id: 42,
        project_id: 7,
        short_id: 42,
        status: IssueStatus::Unresolved,
        substatus: "new".into(),
        level: "error".into(),
        event_type: "error".into(),
        title: "ZeroDivisionError: division by zero".into(),
        culprit: "/sentry-debug/".into(),
        metadata: serde_json::json!({"type": "ZeroDivisionError", "value": "division by zero"}),
        platform: "python".into(),
        first_seen: 1_795_574_486.0,
        last_seen: 1_795_574_490.0,
        times_seen: 12,
        user_count: 3,
        first_release: Some("shop@1.0.0".into()),
        is_unhandled: true,
        resolved_at: None,
    }
}

pub fn user(id: i64, email: &str) -> (User, String) {
    (
        User {
            id,
            email: email.into(),
            password_hash: String::new(),
            is_admin: false,
            date_created: 1_700_000_000.0,
        },
        "member".into(),
    )
}

pub fn members() -> Vec<(User, String)> {
    vec![
        user(1, "owner@acme.test"),
        user(2, "dev@acme.test"),
        user(3, "ops@acme.test"),
    ]
}

/// A stored rule made from an API body, as the server would store it.
pub fn stored_rule(body: Value) -> AlertRule {
    let spec = parse_rule(&body).unwrap_or_else(|e| panic!("test rule is valid: {e}"));
    let new = spec.into_new_rule(7, Some(1));
    AlertRule {
        id: 5,
        project_id: new.project_id,
        name: new.name,
        environment: new.environment,
        frequency_minutes: new.frequency_minutes,
        action_match: new.action_match,
        filter_match: new.filter_match,
        conditions: new.conditions,
        filters: new.filters,
        actions: new.actions,
        created_by: new.created_by,
        date_created: 1_795_000_000.0,
    }
}

/// The event of the `django-zerodivision` capture (the real Python SDK) as the pipeline
/// stores it: the normalized event with all its tags, read from processing's snapshot.
pub fn django_event() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../processing/tests/snapshots/\
         normalize__django-zerodivision__001-post-api-42-envelope__0_event.snap",
    );
    let text = std::fs::read_to_string(&path).expect("processing's snapshot of the capture");
    let json = text
        .splitn(3, "---")
        .nth(2)
        .expect("an insta snapshot has a header between --- lines");
    let snapshot: Value = serde_json::from_str(json).expect("the snapshot is JSON");
    let mut event = snapshot["event"].clone();
    event["tags"] = snapshot["tags"].clone();
    event
}
