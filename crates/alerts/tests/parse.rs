//! Rule bodies of Sentry's issue-alert API: the shapes of Sentry's documentation are accepted
//! and normalized, and every invalid body is refused with the field and a reason.

mod common;

use common::{EMAIL, FIRST_SEEN, FREQUENCY, LEVEL, TAGGED, UNIQUE_USERS};
use serde_json::{json, Value};
use vigil_alerts::{default_rule, parse_rule, rule_json, RuleError};

/// The example of Sentry's "Create an Issue Alert Rule for a Project" page, with each of the
/// documented conditions, filters and actions Vigil supports.
fn documented_body() -> Value {
    json!({
        "name": "My Custom Alert",
        "frequency": 60,
        "environment": "production",
        "actionMatch": "any",
        "filterMatch": "all",
        "conditions": [
            {"id": FIRST_SEEN},
            {"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"},
            {"id": "sentry.rules.conditions.reappeared_event.ReappearedEventCondition"},
            {"id": FREQUENCY, "value": 100, "comparisonType": "count", "interval": "1h"},
            {"id": UNIQUE_USERS, "value": 1000, "comparisonType": "count", "interval": "15m"}
        ],
        "filters": [
            {"id": LEVEL, "match": "gte", "level": "50"},
            {"id": TAGGED, "key": "level", "match": "eq", "value": "error"}
        ],
        "actions": [
            {"id": EMAIL, "targetType": "Member", "fallthroughType": "ActiveMembers",
             "targetIdentifier": 4524986223u64},
            {"id": "vigil.actions.WebhookAction", "url": "https://hooks.example.com/sentry"},
            {"id": "vigil.actions.SlackWebhookAction",
             "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"}
        ]
    })
}

fn refused(body: Value) -> RuleError {
    match parse_rule(&body) {
        Ok(spec) => panic!("expected a refusal, got {spec:?}"),
        Err(e) => e,
    }
}

/// The documented body with one top-level key replaced (or removed with `Null` for
/// `remove`).
fn with(key: &str, value: Value) -> Value {
    let mut body = documented_body();
    body[key] = value;
    body
}

fn without(key: &str) -> Value {
    let mut body = documented_body();
    body.as_object_mut().expect("object").remove(key);
    body
}

#[test]
fn documented_body_is_accepted_and_normalized() {
    let spec = parse_rule(&documented_body()).expect("Sentry's documented body is valid");
    assert_eq!(spec.name, "My Custom Alert");
    assert_eq!(spec.frequency_minutes, 60);
    assert_eq!(spec.environment.as_deref(), Some("production"));
    assert_eq!(spec.action_match, "any");
    assert_eq!(spec.filter_match, "all");
    assert_eq!(spec.conditions.as_array().map(Vec::len), Some(5));
    assert_eq!(
        spec.conditions[3],
        json!({"id": FREQUENCY, "value": 100, "interval": "1h", "comparisonType": "count"})
    );
    assert_eq!(
        spec.filters[0],
        json!({"id": LEVEL, "match": "gte", "level": "50"})
    );
    assert_eq!(
        spec.actions[0],
        json!({"id": EMAIL, "targetType": "Member", "fallthroughType": "ActiveMembers",
               "targetIdentifier": 4524986223u64})
    );
    let new = spec.into_new_rule(7, Some(3));
    assert_eq!((new.project_id, new.created_by), (7, Some(3)));
}

#[test]
fn defaults_are_sentrys() {
    let spec = parse_rule(&json!({
        "name": "New issues",
        "conditions": [{"id": FIRST_SEEN}],
        "actions": [{"id": EMAIL, "targetType": "IssueOwners"}]
    }))
    .expect("valid");
    assert_eq!(spec.frequency_minutes, 30);
    assert_eq!(spec.action_match, "all");
    assert_eq!(spec.filter_match, "all");
    assert_eq!(spec.environment, None);
    assert_eq!(spec.filters, json!([]));
    assert_eq!(
        spec.actions[0],
        json!({"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "ActiveMembers"})
    );
}

#[test]
fn numbers_sent_as_strings_are_typed() {
    let spec = parse_rule(&json!({
        "name": "Spikes",
        "frequency": "15",
        "environment": null,
        "conditions": [{"id": UNIQUE_USERS, "value": "20", "interval": "1d"}],
        "filters": [{"id": LEVEL, "match": "lte", "level": 30}],
        "actions": [{"id": EMAIL, "targetType": "Member", "targetIdentifier": "2"}]
    }))
    .expect("valid");
    assert_eq!(spec.frequency_minutes, 15);
    assert_eq!(spec.conditions[0]["value"], json!(20));
    assert_eq!(spec.filters[0]["level"], json!("30"));
    assert_eq!(spec.actions[0]["targetIdentifier"], json!(2));
}

#[test]
fn labels_sent_back_by_clients_are_dropped_and_shown_again() {
    let mut body = documented_body();
    body["conditions"][0]["name"] = json!("A new issue is created");
    let spec = parse_rule(&body).expect("valid");
    assert_eq!(spec.conditions[0], json!({"id": FIRST_SEEN}));

    let rule = common::stored_rule(body);
    let shown = rule_json(&rule, "shop");
    assert_eq!(shown["id"], json!("5"));
    assert_eq!(shown["frequency"], json!(60));
    assert_eq!(shown["projects"], json!(["shop"]));
    assert_eq!(shown["status"], json!("active"));
    assert_eq!(shown["owner"], Value::Null);
    assert_eq!(shown["snooze"], json!(false));
    assert_eq!(shown["environment"], json!("production"));
    assert!(shown["dateCreated"]
        .as_str()
        .is_some_and(|d| d.ends_with('Z')));
    let names: Vec<&str> = ["conditions", "filters", "actions"]
        .iter()
        .flat_map(|key| shown[key].as_array().expect("array").iter())
        .map(|node| node["name"].as_str().expect("every node has a name"))
        .collect();
    assert_eq!(
        names,
        [
            "A new issue is created",
            "The issue changes state from resolved to unresolved",
            "The issue changes state from ignored to unresolved",
            "The issue is seen more than 100 times in one hour",
            "The issue is seen by more than 1000 users in 15 minutes",
            "The event's level is greater than or equal to fatal",
            "The event's tags match level equals error",
            "Send a notification to Member",
            "Send a webhook to https://hooks.example.com/sentry",
            "Send a Slack message through an incoming webhook",
        ]
    );
}

#[test]
fn the_default_rule_emails_issue_owners_falling_through_to_active_members() {
    let rule = default_rule(9);
    assert_eq!(rule.project_id, 9);
    assert_eq!(rule.conditions, json!([{"id": FIRST_SEEN}]));
    assert_eq!(rule.actions[0]["targetType"], json!("IssueOwners"));
    assert_eq!(rule.actions[0]["fallthroughType"], json!("ActiveMembers"));
    assert_eq!(rule.frequency_minutes, 30);
}

#[test]
fn each_invalid_field_is_named() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "non_field_errors", "JSON object"),
        (without("name"), "name", "required"),
        (with("name", json!("   ")), "name", "blank"),
        (with("name", json!(7)), "name", "string"),
        (with("name", json!("x".repeat(257))), "name", "256"),
        (
            with("frequency", json!(4)),
            "frequency",
            "greater than or equal to 5",
        ),
        (
            with("frequency", json!(43_201)),
            "frequency",
            "less than or equal to 43200",
        ),
        (with("frequency", json!("often")), "frequency", "integer"),
        (
            with("actionMatch", json!("most")),
            "actionMatch",
            "not a valid choice",
        ),
        (
            with("filterMatch", json!(1)),
            "filterMatch",
            "not a valid choice",
        ),
        (
            with("environment", json!(["prod"])),
            "environment",
            "environment name",
        ),
        (without("conditions"), "conditions", "required"),
        (with("conditions", json!([])), "conditions", "At least one"),
        (
            with("conditions", json!({"id": FIRST_SEEN})),
            "conditions",
            "list",
        ),
        (
            with("conditions", json!(["first_seen"])),
            "conditions",
            "not an object",
        ),
        (
            with("conditions", json!([{"value": 1}])),
            "conditions",
            "no id",
        ),
        (
            with(
                "conditions",
                json!([{"id": "sentry.rules.conditions.every_event.EveryEventCondition"}]),
            ),
            "conditions",
            "unknown condition",
        ),
        (
            with("conditions", json!([{"id": FREQUENCY, "interval": "1h"}])),
            "conditions",
            "value is required",
        ),
        (
            with(
                "conditions",
                json!([{"id": FREQUENCY, "value": 0, "interval": "1h"}]),
            ),
            "conditions",
            "at least 1",
        ),
        (
            with(
                "conditions",
                json!([{"id": FREQUENCY, "value": "many", "interval": "1h"}]),
            ),
            "conditions",
            "whole number",
        ),
        (
            with(
                "conditions",
                json!([{"id": UNIQUE_USERS, "value": 5, "interval": "2h"}]),
            ),
            "conditions",
            "interval \"2h\" is not one of 1m, 5m, 15m, 1h, 1d, 1w, 30d",
        ),
        (
            with("conditions", json!([{"id": FREQUENCY, "value": 5}])),
            "conditions",
            "interval is required",
        ),
        (
            with(
                "conditions",
                json!([{"id": FREQUENCY, "value": 5, "interval": "1h",
                        "comparisonType": "percent", "comparisonInterval": "1w"}]),
            ),
            "conditions",
            "\"percent\"",
        ),
        (with("filters", json!("level")), "filters", "list"),
        (
            with(
                "filters",
                json!([{"id": "sentry.rules.filters.age_comparison.AgeComparisonFilter"}]),
            ),
            "filters",
            "unknown filter",
        ),
        (
            with(
                "filters",
                json!([{"id": LEVEL, "match": "gt", "level": 40}]),
            ),
            "filters",
            "match \"gt\" is not one of eq, gte, lte",
        ),
        (
            with(
                "filters",
                json!([{"id": LEVEL, "match": "eq", "level": 45}]),
            ),
            "filters",
            "level 45",
        ),
        (
            with("filters", json!([{"id": LEVEL, "match": "eq"}])),
            "filters",
            "level is required",
        ),
        (
            with(
                "filters",
                json!([{"id": TAGGED, "match": "eq", "value": "x"}]),
            ),
            "filters",
            "key is required",
        ),
        (
            with(
                "filters",
                json!([{"id": TAGGED, "key": "url", "match": "regex", "value": "x"}]),
            ),
            "filters",
            "match \"regex\"",
        ),
        (
            with(
                "filters",
                json!([{"id": TAGGED, "key": "url", "match": "co"}]),
            ),
            "filters",
            "value is required",
        ),
        (with("actions", json!([])), "actions", "At least one"),
        (without("actions"), "actions", "required"),
        (
            with(
                "actions",
                json!([{"id": "sentry.integrations.slack.notify_action.SlackNotifyServiceAction"}]),
            ),
            "actions",
            "unknown action",
        ),
        (
            with("actions", json!([{"id": EMAIL}])),
            "actions",
            "targetType is required",
        ),
        (
            with("actions", json!([{"id": EMAIL, "targetType": "Everyone"}])),
            "actions",
            "targetType \"Everyone\"",
        ),
        (
            with("actions", json!([{"id": EMAIL, "targetType": "Member"}])),
            "actions",
            "Team or Member",
        ),
        (
            with(
                "actions",
                json!([{"id": EMAIL, "targetType": "Team", "targetIdentifier": "None"}]),
            ),
            "actions",
            "Team or Member",
        ),
        (
            with(
                "actions",
                json!([{"id": EMAIL, "targetType": "Member", "targetIdentifier": "bob"}]),
            ),
            "actions",
            "integer",
        ),
        (
            with(
                "actions",
                json!([{"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "Owners"}]),
            ),
            "actions",
            "fallthroughType",
        ),
        (
            with("actions", json!([{"id": "vigil.actions.WebhookAction"}])),
            "actions",
            "url is required",
        ),
        (
            with(
                "actions",
                json!([{"id": "vigil.actions.WebhookAction", "url": "ftp://x.test/"}]),
            ),
            "actions",
            "http:// or https://",
        ),
        (
            with(
                "actions",
                json!([{"id": "vigil.actions.WebhookAction", "url": "not a url"}]),
            ),
            "actions",
            "not a valid URL",
        ),
        (
            with(
                "actions",
                json!([{"id": "vigil.actions.SlackWebhookAction", "url": "https://hooks.slack.com/x"}]),
            ),
            "actions",
            "webhook_url is required",
        ),
    ];
    for (body, field, reason) in cases {
        let error = refused(body.clone());
        assert_eq!(error.field, field, "field of {error} for {body}");
        assert!(
            error.reason.contains(reason),
            "reason {:?} should say {reason:?} (body {body})",
            error.reason
        );
        assert_eq!(
            error.to_string(),
            format!("{}: {}", error.field, error.reason)
        );
    }
}

#[test]
fn reasons_name_the_item_by_position() {
    let error = refused(with(
        "conditions",
        json!([{"id": FIRST_SEEN}, {"id": FREQUENCY, "value": 3, "interval": "3h"}]),
    ));
    assert_eq!(error.field, "conditions");
    assert!(
        error.reason.starts_with("condition 2 ("),
        "{}",
        error.reason
    );
}

#[test]
fn tag_presence_filters_need_no_value() {
    let spec = parse_rule(&with(
        "filters",
        json!([{"id": TAGGED, "key": "customer", "match": "is"},
               {"id": TAGGED, "key": "beta", "match": "ns", "value": ""}]),
    ))
    .expect("valid");
    assert_eq!(
        spec.filters,
        json!([{"id": TAGGED, "key": "customer", "match": "is"},
               {"id": TAGGED, "key": "beta", "match": "ns"}])
    );
}
