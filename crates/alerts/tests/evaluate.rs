//! When a rule fires: the truth tables of Sentry's conditions, filters, environments and the
//! `actionMatch`/`filterMatch` modes.

mod common;

use common::{FIRST_SEEN, FREQUENCY, LEVEL, REAPPEARED, REGRESSION, TAGGED, UNIQUE_USERS};
use serde_json::{json, Value};
use vigil_alerts::{count_windows, evaluate, EventFacts};
use vigil_model::{AlertRule, Issue, IssueCounts};

/// An event and what `save_events` said about it.
struct Event {
    issue: Issue,
    level: &'static str,
    environment: Option<&'static str>,
    tags: Vec<(String, String)>,
    new_issue: bool,
    regressed: bool,
    reappeared: bool,
}

impl Event {
    fn ongoing() -> Event {
        Event {
            issue: common::issue(),
            level: "error",
            environment: Some("production"),
            tags: vec![
                ("browser".into(), "Firefox 130.0".into()),
                (
                    "url".into(),
                    "https://shop.example.com/Checkout?step=2".into(),
                ),
                ("customer".into(), "ACME-Corp".into()),
            ],
            new_issue: false,
            regressed: false,
            reappeared: false,
        }
    }

    fn new_issue() -> Event {
        Event {
            new_issue: true,
            ..Event::ongoing()
        }
    }

    fn facts(&self) -> EventFacts<'_> {
        EventFacts {
            issue: &self.issue,
            event_id: "9d3fc4a000024d589aa30cbdf4d2f5a7",
            level: self.level,
            environment: self.environment,
            tags: &self.tags,
            new_issue: self.new_issue,
            regressed: self.regressed,
            reappeared: self.reappeared,
            received: 1_795_574_487.0,
        }
    }
}

fn rule(conditions: Value, filters: Value) -> AlertRule {
    rule_with(json!({"conditions": conditions, "filters": filters}))
}

/// A rule with `conditions` and no filters.
fn condition_rule(conditions: Value) -> AlertRule {
    rule(conditions, json!([]))
}

/// A rule from the given keys on top of a minimal valid body.
fn rule_with(overrides: Value) -> AlertRule {
    let mut body = json!({
        "name": "test rule",
        "conditions": [{"id": FIRST_SEEN}],
        "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}],
    });
    for (key, value) in overrides.as_object().expect("object") {
        body[key] = value.clone();
    }
    common::stored_rule(body)
}

fn no_counts(_: u64) -> Option<IssueCounts> {
    None
}

fn fires(rule: &AlertRule, event: &Event) -> Option<&'static str> {
    evaluate(rule, &event.facts(), &no_counts)
}

/// The issue was seen `events` times by `users` users in every window.
fn fires_with_counts(
    rule: &AlertRule,
    event: &Event,
    events: u64,
    users: u64,
) -> Option<&'static str> {
    let counts = move |_window: u64| {
        Some(IssueCounts {
            issue_id: 42,
            events,
            users,
        })
    };
    evaluate(rule, &event.facts(), &counts)
}

#[test]
fn state_changes_fire_their_conditions() {
    let cases = [
        (FIRST_SEEN, "first_seen"),
        (REGRESSION, "regression"),
        (REAPPEARED, "reappeared"),
    ];
    for (id, trigger) in cases {
        let rule = condition_rule(json!([{ "id": id }]));
        let mut event = Event::ongoing();
        assert_eq!(fires(&rule, &event), None, "{trigger} on an ongoing issue");
        match trigger {
            "first_seen" => event.new_issue = true,
            "regression" => event.regressed = true,
            _ => event.reappeared = true,
        }
        assert_eq!(fires(&rule, &event), Some(trigger));
    }
    // Each condition looks at its own flag only.
    let regression = condition_rule(json!([{ "id": REGRESSION }]));
    assert_eq!(fires(&regression, &Event::new_issue()), None);
}

#[test]
fn frequency_fires_only_above_the_value() {
    let rule = condition_rule(json!([{"id": FREQUENCY, "value": 10, "interval": "1h"}]));
    let event = Event::ongoing();
    assert_eq!(fires_with_counts(&rule, &event, 9, 1), None);
    assert_eq!(
        fires_with_counts(&rule, &event, 10, 1),
        None,
        "Sentry: more than"
    );
    assert_eq!(fires_with_counts(&rule, &event, 11, 1), Some("frequency"));
    assert_eq!(fires(&rule, &event), None, "counts not looked up");
}

#[test]
fn frequency_reads_the_window_of_its_interval() {
    let rule = condition_rule(json!([{"id": FREQUENCY, "value": 2, "interval": "5m"}]));
    let event = Event::ongoing();
    let asked = std::cell::Cell::new(0);
    let counts = |window: u64| {
        asked.set(window);
        Some(IssueCounts {
            issue_id: 42,
            events: if window == 300 { 3 } else { 0 },
            users: 0,
        })
    };
    assert_eq!(evaluate(&rule, &event.facts(), &counts), Some("frequency"));
    assert_eq!(asked.get(), 300);
}

#[test]
fn unique_users_count_users_not_events() {
    let rule = condition_rule(json!([{"id": UNIQUE_USERS, "value": 2, "interval": "1d"}]));
    let event = Event::ongoing();
    assert_eq!(fires_with_counts(&rule, &event, 100, 2), None);
    assert_eq!(fires_with_counts(&rule, &event, 3, 3), Some("unique_users"));
}

#[test]
fn count_windows_lists_each_interval_once() {
    let rules = [
        condition_rule(json!([{"id": FREQUENCY, "value": 1, "interval": "1h"},
                   {"id": UNIQUE_USERS, "value": 1, "interval": "1m"}])),
        condition_rule(
            json!([{"id": FREQUENCY, "value": 5, "interval": "1h"}, {"id": FIRST_SEEN}]),
        ),
        condition_rule(json!([{"id": FIRST_SEEN}])),
        condition_rule(json!([{"id": FREQUENCY, "value": 5, "interval": "30d"}])),
    ];
    assert_eq!(count_windows(&rules), vec![60, 3600, 30 * 86_400]);
    assert!(count_windows(&rules[2..3]).is_empty());
}

#[test]
fn a_rule_with_an_environment_sees_only_its_events() {
    let rule = rule_with(json!({"environment": "staging"}));
    let mut event = Event::new_issue();
    assert_eq!(fires(&rule, &event), None, "production event");
    event.environment = None;
    assert_eq!(fires(&rule, &event), None, "event without environment");
    event.environment = Some("staging");
    assert_eq!(fires(&rule, &event), Some("first_seen"));
    let everywhere = rule_with(json!({"environment": null}));
    event.environment = None;
    assert_eq!(fires(&everywhere, &event), Some("first_seen"));
}

#[test]
fn action_match_combines_conditions() {
    let conditions = json!([
        {"id": FIRST_SEEN},
        {"id": FREQUENCY, "value": 10, "interval": "1h"}
    ]);
    // (new issue, events in the hour) → fires for all / any / none.
    type Expected = Option<&'static str>;
    let table: [(bool, u64, Expected, Expected, Expected); 4] = [
        (false, 1, None, None, Some("first_seen")),
        (true, 1, None, Some("first_seen"), None),
        (false, 50, None, Some("frequency"), None),
        (true, 50, Some("first_seen"), Some("first_seen"), None),
    ];
    for (new_issue, events, all, any, none) in table {
        let event = Event {
            new_issue,
            ..Event::ongoing()
        };
        for (mode, expected) in [("all", all), ("any", any), ("none", none)] {
            let rule = rule_with(json!({"conditions": conditions, "actionMatch": mode}));
            assert_eq!(
                fires_with_counts(&rule, &event, events, 1),
                expected,
                "actionMatch {mode}, new issue {new_issue}, {events} events"
            );
        }
    }
}

#[test]
fn filter_match_combines_filters() {
    let filters = json!([
        {"id": LEVEL, "match": "gte", "level": "40"},
        {"id": TAGGED, "key": "browser", "match": "sw", "value": "firefox"}
    ]);
    // (level, browser) → passes for all / any / none.
    let table = [
        ("error", "Firefox 130.0", true, true, false),
        ("error", "Chrome 120", false, true, false),
        ("info", "Firefox 130.0", false, true, false),
        ("info", "Chrome 120", false, false, true),
    ];
    for (level, browser, all, any, none) in table {
        let event = Event {
            level,
            tags: vec![("browser".into(), browser.into())],
            ..Event::new_issue()
        };
        for (mode, expected) in [("all", all), ("any", any), ("none", none)] {
            let rule = rule_with(json!({"filters": filters, "filterMatch": mode}));
            assert_eq!(
                fires(&rule, &event).is_some(),
                expected,
                "filterMatch {mode}, level {level}, browser {browser}"
            );
        }
    }
    let unfiltered = rule_with(json!({"filters": []}));
    assert_eq!(fires(&unfiltered, &Event::new_issue()), Some("first_seen"));
}

#[test]
fn level_filter_compares_sentrys_numbers() {
    // (rule match, rule level as sent, event level, passes)
    let table: [(&str, Value, &str, bool); 14] = [
        ("eq", json!(40), "error", true),
        ("eq", json!("40"), "warning", false),
        ("eq", json!("error"), "error", true),
        ("gte", json!(30), "warning", true),
        ("gte", json!(30), "error", true),
        ("gte", json!(30), "fatal", true),
        ("gte", json!(30), "info", false),
        ("gte", json!("50"), "error", false),
        ("lte", json!(20), "debug", true),
        ("lte", json!(20), "info", true),
        ("lte", json!(20), "warning", false),
        ("lte", json!("fatal"), "fatal", true),
        ("gte", json!(30), "warn", true),
        ("gte", json!(10), "verbose", false),
    ];
    for (matching, level, event_level, passes) in table {
        let rule =
            rule_with(json!({"filters": [{"id": LEVEL, "match": matching, "level": level}]}));
        let event = Event {
            level: event_level,
            ..Event::new_issue()
        };
        assert_eq!(
            fires(&rule, &event).is_some(),
            passes,
            "level {matching} {level} for a {event_level} event"
        );
    }
}

#[test]
fn tag_filter_operators_match_like_sentry() {
    // (key, match, value, passes) against the tags of `Event::ongoing`.
    let table: [(&str, &str, &str, bool); 22] = [
        ("customer", "eq", "acme-corp", true),
        ("Customer", "eq", "ACME-CORP", true),
        ("customer", "eq", "acme", false),
        ("customer", "ne", "acme", true),
        ("customer", "ne", "Acme-Corp", false),
        ("missing", "ne", "x", true),
        ("url", "sw", "https://shop.", true),
        ("url", "sw", "http://", false),
        ("url", "ew", "step=2", true),
        ("url", "ew", "step=3", false),
        ("url", "co", "/checkout", true),
        ("url", "co", "/cart", false),
        ("url", "nc", "/cart", true),
        ("url", "nc", "/CHECKOUT", false),
        ("missing", "nc", "x", true),
        ("customer", "is", "", true),
        ("missing", "is", "", false),
        ("customer", "ns", "", false),
        ("missing", "ns", "", true),
        ("missing", "eq", "x", false),
        ("level", "eq", "error", true),
        ("environment", "eq", "production", true),
    ];
    for (key, matching, value, passes) in table {
        let mut filter = json!({"id": TAGGED, "key": key, "match": matching});
        if !value.is_empty() {
            filter["value"] = json!(value);
        }
        let rule = rule_with(json!({ "filters": [filter] }));
        assert_eq!(
            fires(&rule, &Event::new_issue()).is_some(),
            passes,
            "tag {key} {matching} {value:?}"
        );
    }
}

#[test]
fn filters_hold_back_a_condition_that_holds() {
    let rule = rule(
        json!([{"id": FIRST_SEEN}]),
        json!([{"id": LEVEL, "match": "eq", "level": "50"}]),
    );
    assert_eq!(fires(&rule, &Event::new_issue()), None);
}

#[test]
fn the_trigger_is_the_first_condition_that_holds() {
    let rule = rule_with(json!({
        "actionMatch": "any",
        "conditions": [
            {"id": REGRESSION},
            {"id": UNIQUE_USERS, "value": 1, "interval": "1h"},
            {"id": FIRST_SEEN}
        ]
    }));
    let event = Event::new_issue();
    assert_eq!(fires_with_counts(&rule, &event, 5, 5), Some("unique_users"));
    assert_eq!(fires_with_counts(&rule, &event, 5, 1), Some("first_seen"));
}

#[test]
fn counts_are_not_looked_up_when_a_cheaper_condition_decided() {
    let rule = condition_rule(
        json!([{"id": FIRST_SEEN}, {"id": FREQUENCY, "value": 1, "interval": "1h"}]),
    );
    let asked = std::cell::Cell::new(false);
    let counts = |_: u64| {
        asked.set(true);
        None
    };
    assert_eq!(evaluate(&rule, &Event::ongoing().facts(), &counts), None);
    assert!(
        !asked.get(),
        "actionMatch all stops at the first condition that fails"
    );
}
