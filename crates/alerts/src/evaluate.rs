//! Whether a rule fires for one stored event.
//!
//! Pure and cheap: the facts come from what `save_events` reported, and the counts of
//! frequency conditions from one `issue_counts` call per interval and batch, made by the
//! server before it evaluates (see [`count_windows`]). A rule with an environment sees only
//! events of that environment; its filters are checked before its conditions because they
//! cost nothing, and its conditions combine by `actionMatch`.

use serde_json::Value;
use vigil_model::{AlertRule, Issue, IssueCounts};

use crate::vocabulary::{self as vocab, interval_secs, level_number};

/// What evaluation knows of one event after it was stored.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub issue: &'a Issue,
    pub event_id: &'a str,
    pub level: &'a str,
    pub environment: Option<&'a str>,
    pub tags: &'a [(String, String)],
    /// `SavedEvent::new_issue`.
    pub new_issue: bool,
    /// `SavedEvent::regressed`.
    pub regressed: bool,
    /// `SavedEvent::reappeared`.
    pub reappeared: bool,
    pub received: f64,
}

/// The count windows (seconds) that the frequency conditions of these rules need, ascending
/// and each once, so the server fetches `issue_counts` once per window per batch.
pub fn count_windows(rules: &[AlertRule]) -> Vec<u64> {
    windows_of(
        rules,
        &[vocab::EVENT_FREQUENCY, vocab::UNIQUE_USER_FREQUENCY],
    )
}

/// The windows of [`count_windows`] in which distinct users must be counted too (those of
/// unique-user conditions): counting users reads the events, counting events does not.
pub fn user_count_windows(rules: &[AlertRule]) -> Vec<u64> {
    windows_of(rules, &[vocab::UNIQUE_USER_FREQUENCY])
}

/// For each window of a unique-user condition, the smallest `value` it must exceed: an issue
/// with no more users than that in all its life cannot fire any of them, so its users in the
/// window need not be counted.
pub fn user_count_thresholds(rules: &[AlertRule]) -> Vec<(u64, u64)> {
    let mut thresholds: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for node in rules.iter().flat_map(|rule| nodes(&rule.conditions)) {
        if node_id(node) != vocab::UNIQUE_USER_FREQUENCY {
            continue;
        }
        let Some(window) = node
            .get("interval")
            .and_then(Value::as_str)
            .and_then(interval_secs)
        else {
            continue;
        };
        let value = node.get("value").and_then(Value::as_u64).unwrap_or(0);
        thresholds
            .entry(window)
            .and_modify(|least| *least = (*least).min(value))
            .or_insert(value);
    }
    thresholds.into_iter().collect()
}

/// The intervals of the conditions with one of these ids, in seconds, ascending, each once.
fn windows_of(rules: &[AlertRule], condition_ids: &[&str]) -> Vec<u64> {
    let mut windows: Vec<u64> = rules
        .iter()
        .flat_map(|rule| nodes(&rule.conditions))
        .filter(|node| condition_ids.contains(&node_id(node)))
        .filter_map(|node| node.get("interval").and_then(Value::as_str))
        .filter_map(interval_secs)
        .collect();
    windows.sort_unstable();
    windows.dedup();
    windows
}

/// Whether the rule fires for this event, and why: `None`, or the trigger of the first
/// condition that holds (`first_seen`, `regression`, `reappeared`, `frequency`,
/// `unique_users`). A rule whose `actionMatch` is `none` fires when no condition holds; its
/// trigger is then its first condition's kind, so that the firing still says which rule of
/// thumb it follows.
///
/// `counts(window_secs)` gives the issue's counts in that window, this event included;
/// `None` (not looked up) makes a frequency condition false rather than guessed.
pub fn evaluate(
    rule: &AlertRule,
    facts: &EventFacts,
    counts: &dyn Fn(u64) -> Option<IssueCounts>,
) -> Option<&'static str> {
    if let Some(environment) = &rule.environment {
        if facts.environment != Some(environment.as_str()) {
            return None;
        }
    }
    let filters = nodes(&rule.filters);
    if !filters.is_empty() {
        let passed = filters.iter().map(|filter| filter_passes(filter, facts));
        if !combine(&rule.filter_match, passed) {
            return None;
        }
    }
    let conditions = nodes(&rule.conditions);
    let first_kind = conditions.iter().find_map(trigger_of)?;
    let mut holding = conditions.iter().filter_map(|condition| {
        let kind = trigger_of(condition)?;
        Some((kind, condition_holds(condition, facts, counts)))
    });
    // Lazily, in the rule's order: a frequency condition behind a failed `all` costs nothing,
    // and under `any` the first condition that holds is the trigger.
    match rule.action_match.as_str() {
        "all" => holding.all(|(_, holds)| holds).then_some(first_kind),
        "any" => holding.find(|(_, holds)| *holds).map(|(kind, _)| kind),
        "none" => (!holding.any(|(_, holds)| holds)).then_some(first_kind),
        _ => None,
    }
}

/// `all`, `any` or `none` over results (an unknown mode passes nothing).
fn combine(mode: &str, mut results: impl Iterator<Item = bool>) -> bool {
    match mode {
        "all" => results.all(|r| r),
        "any" => results.any(|r| r),
        "none" => !results.any(|r| r),
        _ => false,
    }
}

fn trigger_of(condition: &Value) -> Option<&'static str> {
    Some(match node_id(condition) {
        vocab::FIRST_SEEN => "first_seen",
        vocab::REGRESSION => "regression",
        vocab::REAPPEARED => "reappeared",
        vocab::EVENT_FREQUENCY => "frequency",
        vocab::UNIQUE_USER_FREQUENCY => "unique_users",
        _ => return None,
    })
}

fn condition_holds(
    condition: &Value,
    facts: &EventFacts,
    counts: &dyn Fn(u64) -> Option<IssueCounts>,
) -> bool {
    let id = node_id(condition);
    match id {
        vocab::FIRST_SEEN => facts.new_issue,
        vocab::REGRESSION => facts.regressed,
        vocab::REAPPEARED => facts.reappeared,
        vocab::EVENT_FREQUENCY | vocab::UNIQUE_USER_FREQUENCY => {
            let Some(window) = condition
                .get("interval")
                .and_then(Value::as_str)
                .and_then(interval_secs)
            else {
                return false;
            };
            let Some(threshold) = condition.get("value").and_then(Value::as_u64) else {
                return false;
            };
            let Some(counts) = counts(window) else {
                return false;
            };
            let seen = if id == vocab::EVENT_FREQUENCY {
                counts.events
            } else {
                counts.users
            };
            // Sentry: "seen *more than* {value} times".
            seen > threshold
        }
        _ => false,
    }
}

fn filter_passes(filter: &Value, facts: &EventFacts) -> bool {
    match node_id(filter) {
        vocab::LEVEL_FILTER => level_passes(filter, facts.level),
        vocab::TAGGED_EVENT_FILTER => tag_passes(filter, facts),
        _ => false,
    }
}

/// Sentry's LevelFilter: the event's level as Sentry's number against the rule's. An event
/// of a level Sentry does not know does not pass, as in Sentry.
fn level_passes(filter: &Value, event_level: &str) -> bool {
    let wanted = match filter.get("level") {
        Some(Value::String(s)) => s.parse::<u8>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        _ => None,
    };
    let (Some(wanted), Some(level)) = (wanted, level_number(&event_level.to_ascii_lowercase()))
    else {
        return false;
    };
    match filter.get("match").and_then(Value::as_str) {
        Some("eq") => level == wanted,
        Some("gte") => level >= wanted,
        Some("lte") => level <= wanted,
        _ => false,
    }
}

/// Sentry's TaggedEventFilter: keys and values compared case-insensitively; `ne` and `nc`
/// pass when no value of the key matches (so also when the key is missing).
fn tag_passes(filter: &Value, facts: &EventFacts) -> bool {
    let (Some(key), Some(matching)) = (
        filter.get("key").and_then(Value::as_str),
        filter.get("match").and_then(Value::as_str),
    ) else {
        return false;
    };
    let key = key.to_lowercase();
    let mut values: Vec<String> = facts
        .tags
        .iter()
        .filter(|(k, _)| k.to_lowercase() == key)
        .map(|(_, v)| v.to_lowercase())
        .collect();
    // Sentry's event tags always carry the level and environment; ours may not repeat them.
    if values.is_empty() {
        match key.as_str() {
            "level" => values.push(facts.level.to_lowercase()),
            "environment" => values.extend(facts.environment.map(str::to_lowercase)),
            _ => {}
        }
    }
    let wanted = filter
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let any = |test: &dyn Fn(&str) -> bool| values.iter().any(|v| test(v));
    match matching {
        "eq" => any(&|v| v == wanted),
        "ne" => !any(&|v| v == wanted),
        "sw" => any(&|v| v.starts_with(&wanted)),
        "ew" => any(&|v| v.ends_with(&wanted)),
        "co" => any(&|v| v.contains(&wanted)),
        "nc" => !any(&|v| v.contains(&wanted)),
        "is" => !values.is_empty(),
        "ns" => values.is_empty(),
        _ => false,
    }
}

fn nodes(list: &Value) -> &[Value] {
    list.as_array().map_or(&[], Vec::as_slice)
}

fn node_id(node: &Value) -> &str {
    node.get("id").and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vigil_model::AlertRule;

    use super::{count_windows, user_count_thresholds, user_count_windows};
    use crate::vocabulary as vocab;

    fn rule(conditions: serde_json::Value) -> AlertRule {
        AlertRule {
            id: 1,
            project_id: 1,
            name: "spike".into(),
            environment: None,
            frequency_minutes: 30,
            action_match: "any".into(),
            filter_match: "all".into(),
            conditions,
            filters: json!([]),
            actions: json!([]),
            created_by: None,
            date_created: 0.0,
        }
    }

    #[test]
    fn user_count_windows_are_those_of_unique_user_conditions_only() {
        let rules = [
            rule(json!([
                {"id": vocab::EVENT_FREQUENCY, "value": 10, "interval": "1h"},
                {"id": vocab::UNIQUE_USER_FREQUENCY, "value": 3, "interval": "5m"},
            ])),
            rule(json!([
                {"id": vocab::UNIQUE_USER_FREQUENCY, "value": 3, "interval": "1d"},
                {"id": vocab::UNIQUE_USER_FREQUENCY, "value": 9, "interval": "5m"},
                {"id": vocab::EVENT_FREQUENCY, "value": 1, "interval": "1m"},
            ])),
        ];
        assert_eq!(user_count_windows(&rules), vec![300, 86_400]);
        // The least value per window: 3 and 9 in 5 minutes → 3.
        assert_eq!(user_count_thresholds(&rules), vec![(300, 3), (86_400, 3)]);
        assert_eq!(count_windows(&rules), vec![60, 300, 3600, 86_400]);
        assert!(user_count_windows(&rules[..0]).is_empty());
        let events_only = [rule(json!([
            {"id": vocab::EVENT_FREQUENCY, "value": 10, "interval": "1h"},
        ]))];
        assert!(user_count_windows(&events_only).is_empty());
    }
}
