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
    // The body itself.
    assert_refused(json!([]), "non_field_errors", "JSON object");
    // A required field left out of the documented body.
    for field in ["name", "conditions", "actions"] {
        assert_refused(without(field), field, "required");
    }
    // One field of the documented body replaced: that field is the one named.
    let replaced: Vec<(&str, Value, &str)> = vec![
        ("name", json!("   "), "blank"),
        ("name", json!(7), "string"),
        ("name", json!("x".repeat(257)), "256"),
        ("frequency", json!(4), "greater than or equal to 5"),
        ("frequency", json!(43_201), "less than or equal to 43200"),
        ("frequency", json!("often"), "integer"),
        ("actionMatch", json!("most"), "not a valid choice"),
        ("filterMatch", json!(1), "not a valid choice"),
        ("environment", json!(["prod"]), "environment name"),
        ("conditions", json!([]), "At least one"),
        ("conditions", json!({"id": FIRST_SEEN}), "list"),
        ("filters", json!("level"), "list"),
        ("actions", json!([]), "At least one"),
    ];
    for (field, value, reason) in replaced {
        assert_refused(with(field, value), field, reason);
    }
    // A list field replaced by a list of one bad item: that list field is the one named.
    let lone_items: Vec<(&str, Vec<(Value, &str)>)> = vec![
        (
            "conditions",
            vec![
                (json!("first_seen"), "not an object"),
                (json!({"value": 1}), "no id"),
                (
                    json!({"id": "sentry.rules.conditions.every_event.EveryEventCondition"}),
                    "unknown condition",
                ),
                (
                    json!({"id": FREQUENCY, "interval": "1h"}),
                    "value is required",
                ),
                (
                    json!({"id": FREQUENCY, "value": 0, "interval": "1h"}),
                    "at least 1",
                ),
                (
                    json!({"id": FREQUENCY, "value": "many", "interval": "1h"}),
                    "whole number",
                ),
                (
                    json!({"id": UNIQUE_USERS, "value": 5, "interval": "2h"}),
                    "interval \"2h\" is not one of 1m, 5m, 15m, 1h, 1d, 1w, 30d",
                ),
                (json!({"id": FREQUENCY, "value": 5}), "interval is required"),
                (
                    json!({"id": FREQUENCY, "value": 5, "interval": "1h", "comparisonType": "percent", "comparisonInterval": "1w"}),
                    "\"percent\"",
                ),
            ],
        ),
        (
            "filters",
            vec![
                (
                    json!({"id": "sentry.rules.filters.age_comparison.AgeComparisonFilter"}),
                    "unknown filter",
                ),
                (
                    json!({"id": LEVEL, "match": "gt", "level": 40}),
                    "match \"gt\" is not one of eq, gte, lte",
                ),
                (json!({"id": LEVEL, "match": "eq", "level": 45}), "level 45"),
                (json!({"id": LEVEL, "match": "eq"}), "level is required"),
                (
                    json!({"id": TAGGED, "match": "eq", "value": "x"}),
                    "key is required",
                ),
                (
                    json!({"id": TAGGED, "key": "url", "match": "regex", "value": "x"}),
                    "match \"regex\"",
                ),
                (
                    json!({"id": TAGGED, "key": "url", "match": "co"}),
                    "value is required",
                ),
            ],
        ),
        (
            "actions",
            vec![
                (
                    json!({"id": "sentry.integrations.slack.notify_action.SlackNotifyServiceAction"}),
                    "unknown action",
                ),
                (json!({"id": EMAIL}), "targetType is required"),
                (
                    json!({"id": EMAIL, "targetType": "Everyone"}),
                    "targetType \"Everyone\"",
                ),
                (
                    json!({"id": EMAIL, "targetType": "Member"}),
                    "Team or Member",
                ),
                (
                    json!({"id": EMAIL, "targetType": "Team", "targetIdentifier": "None"}),
                    "Team or Member",
                ),
                (
                    json!({"id": EMAIL, "targetType": "Member", "targetIdentifier": "bob"}),
                    "integer",
                ),
                (
                    json!({"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "Owners"}),
                    "fallthroughType",
                ),
                (
                    json!({"id": "vigil.actions.WebhookAction"}),
                    "url is required",
                ),
                (
                    json!({"id": "vigil.actions.WebhookAction", "url": "ftp://x.test/"}),
                    "http:// or https://",
                ),
                (
                    json!({"id": "vigil.actions.WebhookAction", "url": "not a url"}),
                    "not a valid URL",
                ),
                (
                    json!({"id": "vigil.actions.SlackWebhookAction", "url": "https://hooks.slack.com/x"}),
                    "webhook_url is required",
                ),
            ],
        ),
    ];
    for (field, items) in lone_items {
        for (item, reason) in items {
            assert_refused(with(field, json!([item])), field, reason);
        }
    }
}

/// Checks that `body` is refused, naming `field`, with a reason that says `reason`.
fn assert_refused(body: Value, field: &str, reason: &str) {
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
