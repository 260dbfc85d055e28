//! Whether a rule fires for one stored event.
//!
//! Pure and cheap: the facts come from what `save_events` reported, and the counts of
//! frequency conditions from one `issue_counts` call per interval and batch, made by the
//! server before it evaluates (see [`count_windows`]). A rule with an environment sees only
//! events of that environment; its filters are checked before its conditions because they
//! cost nothing, and its conditions combine by `actionMatch`.

use serde_json::Value;
use vigil_store::{AlertRule, Issue, IssueCounts};

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
    let mut windows: Vec<u64> = rules
        .iter()
        .flat_map(|rule| nodes(&rule.conditions))
        .filter(|node| {
            matches!(
                node_id(node),
                vocab::EVENT_FREQUENCY | vocab::UNIQUE_USER_FREQUENCY
            )
        })
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
