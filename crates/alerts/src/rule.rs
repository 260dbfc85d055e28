//! A rule body of Sentry's issue-alert API (`POST`/`PUT …/rules/`) parsed and validated into
//! the normalized form the store keeps.
//!
//! Normalized means what Sentry's `RuleNodeField` keeps after its form cleaned the node: the
//! `id`, each known option with its type fixed (`value` and `targetIdentifier` integers,
//! `level` Sentry's number as a string, the way its choice field returns it), defaults filled
//! in, and nothing else (a `name` label sent back by Terraform is dropped; the API adds the
//! label again when it shows the rule). `PUT` replaces the whole rule, as in Sentry: there is
//! no partial update.

use serde_json::{json, Map, Value};
use vigil_model::NewAlertRule;

use crate::vocabulary::{self as vocab, interval_secs, level_name, level_number};

/// Sentry's bounds on `frequency`, in minutes.
const FREQUENCY_MINUTES: std::ops::RangeInclusive<u32> = 5..=43_200;
/// Sentry's default `frequency`.
const DEFAULT_FREQUENCY_MINUTES: u32 = 30;
/// Sentry's `max_length` of a rule's name.
const MAX_NAME_CHARS: usize = 256;

/// Why a rule body was refused: the API answers `400 {"<field>": ["<reason>"]}`, as Sentry
/// does, so `field` is a top-level key of the body and `reason` names the item within it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RuleError {
    pub field: String,
    pub reason: String,
}

impl RuleError {
    fn new(field: &str, reason: impl Into<String>) -> RuleError {
        RuleError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// A valid rule body, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub environment: Option<String>,
    pub frequency_minutes: u32,
    pub action_match: String,
    pub filter_match: String,
    /// JSON arrays of normalized `{"id": …, …}` nodes.
    pub conditions: Value,
    pub filters: Value,
    pub actions: Value,
}

impl RuleSpec {
    pub fn into_new_rule(self, project_id: i64, created_by: Option<i64>) -> NewAlertRule {
        NewAlertRule {
            project_id,
            name: self.name,
            environment: self.environment,
            frequency_minutes: self.frequency_minutes,
            action_match: self.action_match,
            filter_match: self.filter_match,
            conditions: self.conditions,
            filters: self.filters,
            actions: self.actions,
            created_by,
        }
    }
}

/// Parses and validates a rule body from the API.
pub fn parse_rule(body: &Value) -> Result<RuleSpec, RuleError> {
    let Some(body) = body.as_object() else {
        return Err(RuleError::new(
            "non_field_errors",
            "the body must be a JSON object",
        ));
    };
    let name = parse_name(body.get("name"))?;
    let environment = parse_environment(body.get("environment"))?;
    let frequency_minutes = parse_frequency(body.get("frequency"))?;
    let action_match = parse_match_mode("actionMatch", body.get("actionMatch"))?;
    let filter_match = parse_match_mode("filterMatch", body.get("filterMatch"))?;
    let conditions = parse_nodes(
        "conditions",
        "condition",
        body.get("conditions"),
        true,
        parse_condition,
    )?;
    let filters = parse_nodes(
        "filters",
        "filter",
        body.get("filters"),
        false,
        parse_filter,
    )?;
    let actions = parse_nodes("actions", "action", body.get("actions"), true, parse_action)?;
    Ok(RuleSpec {
        name,
        environment,
        frequency_minutes,
        action_match,
        filter_match,
        conditions,
        filters,
        actions,
    })
}

fn parse_name(value: Option<&Value>) -> Result<String, RuleError> {
    let name = match value {
        None | Some(Value::Null) => return Err(RuleError::new("name", "This field is required.")),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(RuleError::new("name", "Not a valid string.")),
    };
    if name.is_empty() {
        return Err(RuleError::new("name", "This field may not be blank."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(RuleError::new(
            "name",
            format!("Ensure this field has no more than {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(name.to_string())
}

fn parse_environment(value: Option<&Value>) -> Result<Option<String>, RuleError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        // The UI's "All Environments" sends an empty name.
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(RuleError::new(
            "environment",
            "must be an environment name or null",
        )),
    }
}

fn parse_frequency(value: Option<&Value>) -> Result<u32, RuleError> {
    let minutes = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_FREQUENCY_MINUTES),
        Some(v) => integer(v)
            .ok_or_else(|| RuleError::new("frequency", "A valid integer is required (minutes)."))?,
    };
    let (low, high) = (*FREQUENCY_MINUTES.start(), *FREQUENCY_MINUTES.end());
    if minutes < i64::from(low) {
        return Err(RuleError::new(
            "frequency",
            format!("Ensure this value is greater than or equal to {low}."),
        ));
    }
    if minutes > i64::from(high) {
        return Err(RuleError::new(
            "frequency",
            format!("Ensure this value is less than or equal to {high}."),
        ));
    }
    Ok(u32::try_from(minutes).expect("frequency was checked to lie within 5..=43200"))
}

fn parse_match_mode(field: &str, value: Option<&Value>) -> Result<String, RuleError> {
    match value {
        None | Some(Value::Null) => Ok("all".into()),
        Some(Value::String(s)) if vocab::MATCH_MODES.contains(&s.as_str()) => Ok(s.clone()),
        Some(other) => Err(RuleError::new(
            field,
            format!("{} is not a valid choice: all, any or none.", shown(other)),
        )),
    }
}

type NodeParser = fn(&str, &Map<String, Value>) -> Result<Value, String>;

/// Parses an array of `{"id": …}` nodes with `parse` chosen by the caller; the reasons name
/// the node by its position (1-based, as a person counts the rows of the form).
fn parse_nodes(
    field: &str,
    noun: &str,
    value: Option<&Value>,
    required: bool,
    parse: NodeParser,
) -> Result<Value, RuleError> {
    let items = match value {
        None | Some(Value::Null) if !required => return Ok(Value::Array(Vec::new())),
        None | Some(Value::Null) => {
            return Err(RuleError::new(
                field,
                format!("This field is required: at least one {noun}."),
            ))
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(RuleError::new(field, "Expected a list of items.")),
    };
    if required && items.is_empty() {
        return Err(RuleError::new(
            field,
            format!("At least one {noun} is required."),
        ));
    }
    let mut nodes = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let position = index + 1;
        let Some(node) = item.as_object() else {
            return Err(RuleError::new(
                field,
                format!("{noun} {position} is not an object"),
            ));
        };
        let id = match node.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.as_str(),
            _ => {
                return Err(RuleError::new(
                    field,
                    format!("{noun} {position} has no id"),
                ))
            }
        };
        let normalized = parse(id, node).map_err(|reason| {
            RuleError::new(field, format!("{noun} {position} ({id}): {reason}"))
        })?;
        nodes.push(normalized);
    }
    Ok(Value::Array(nodes))
}

fn parse_condition(id: &str, node: &Map<String, Value>) -> Result<Value, String> {
    match id {
        vocab::FIRST_SEEN | vocab::REGRESSION | vocab::REAPPEARED => Ok(json!({ "id": id })),
        vocab::EVENT_FREQUENCY | vocab::UNIQUE_USER_FREQUENCY => {
            let value = match node.get("value") {
                None | Some(Value::Null) => return Err("value is required".into()),
                Some(v) => integer(v).ok_or("value must be a whole number")?,
            };
            if value < 1 {
                return Err("value must be at least 1".into());
            }
            let interval = match node.get("interval") {
                None | Some(Value::Null) => return Err("interval is required".into()),
                Some(Value::String(s)) if interval_secs(s).is_some() => s.clone(),
                Some(other) => {
                    return Err(format!(
                        "interval {} is not one of {}",
                        shown(other),
                        interval_codes()
                    ))
                }
            };
            match node.get("comparisonType") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s == "count" => {}
                Some(Value::String(s)) if s == "percent" => {
                    return Err("comparisonType \"percent\" (a change against an earlier \
                                period) is not supported by Vigil; use \"count\""
                        .into())
                }
                Some(other) => {
                    return Err(format!(
                        "comparisonType {} is not a valid choice: count",
                        shown(other)
                    ))
                }
            }
            Ok(json!({
                "id": id,
                "value": value,
                "interval": interval,
                "comparisonType": "count",
            }))
        }
        _ => Err("unknown condition".into()),
    }
}

fn parse_filter(id: &str, node: &Map<String, Value>) -> Result<Value, String> {
    match id {
        vocab::LEVEL_FILTER => {
            let matching = choice(node, "match", vocab::LEVEL_MATCHES)?;
            let level = match node.get("level") {
                None | Some(Value::Null) => return Err("level is required".into()),
                Some(v) => parse_level(v).ok_or_else(|| {
                    format!(
                        "level {} is not one of 10 (debug), 20 (info), 30 (warning), \
                         40 (error), 50 (fatal)",
                        shown(v)
                    )
                })?,
            };
            Ok(json!({ "id": id, "match": matching, "level": level.to_string() }))
        }
        vocab::TAGGED_EVENT_FILTER => {
            let key = match node.get("key") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                _ => return Err("key is required".into()),
            };
            let matching = choice(node, "match", vocab::TAG_MATCHES)?;
            let value = match node.get("value") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                None | Some(Value::Null) => None,
                Some(other) => return Err(format!("value {} is not a string", shown(other))),
            };
            // `is set` and `is not set` look at the key alone.
            let needs_value = !matches!(matching.as_str(), "is" | "ns");
            let mut normalized = json!({ "id": id, "key": key, "match": matching });
            match value {
                Some(value) if !value.is_empty() => normalized["value"] = Value::String(value),
                _ if needs_value => return Err("value is required".into()),
                _ => {}
            }
            Ok(normalized)
        }
        _ => Err("unknown filter".into()),
    }
}

fn parse_action(id: &str, node: &Map<String, Value>) -> Result<Value, String> {
    match id {
        vocab::EMAIL_ACTION => {
            let target_type = match node.get("targetType") {
                Some(Value::String(s)) if vocab::TARGET_TYPES.contains(&s.as_str()) => s.clone(),
                None | Some(Value::Null) => return Err("targetType is required".into()),
                Some(other) => {
                    return Err(format!(
                        "targetType {} is not one of IssueOwners, Team, Member",
                        shown(other)
                    ))
                }
            };
            let fallthrough = match node.get("fallthroughType") {
                None | Some(Value::Null) => "ActiveMembers".to_string(),
                Some(Value::String(s)) if vocab::FALLTHROUGH_TYPES.contains(&s.as_str()) => {
                    s.clone()
                }
                Some(other) => {
                    return Err(format!(
                        "fallthroughType {} is not one of AllMembers, ActiveMembers, NoOne",
                        shown(other)
                    ))
                }
            };
            let mut normalized = json!({
                "id": id,
                "targetType": target_type,
                "fallthroughType": fallthrough,
            });
            if target_type != "IssueOwners" {
                let identifier = match node.get("targetIdentifier") {
                    // Sentry's form reads the string "None" (old bad data) as missing.
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.is_empty() || s == "None" => None,
                    Some(v) => Some(integer(v).ok_or("targetIdentifier must be an integer")?),
                };
                let Some(identifier) = identifier else {
                    return Err("You need to specify a Team or Member to send mail to \
                                (targetIdentifier)."
                        .into());
                };
                normalized["targetIdentifier"] = json!(identifier);
            }
            Ok(normalized)
        }
        vocab::WEBHOOK_ACTION => Ok(json!({ "id": id, "url": http_url(node, "url")? })),
        vocab::SLACK_ACTION => Ok(json!({
            "id": id,
            "webhook_url": http_url(node, "webhook_url")?,
        })),
        _ => Err("unknown action".into()),
    }
}

/// A required `http`/`https` URL with a host.
fn http_url(node: &Map<String, Value>, key: &str) -> Result<String, String> {
    let Some(Value::String(raw)) = node.get(key) else {
        return Err(format!("{key} is required"));
    };
    let raw = raw.trim();
    let parsed = url::Url::parse(raw).map_err(|e| format!("{key} is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{key} must be an http:// or https:// URL"));
    }
    Ok(raw.to_string())
}

/// One of a table's codes, required.
fn choice(node: &Map<String, Value>, key: &str, table: &[(&str, &str)]) -> Result<String, String> {
    match node.get(key) {
        Some(Value::String(s)) if table.iter().any(|(code, _)| code == s) => Ok(s.clone()),
        None | Some(Value::Null) => Err(format!("{key} is required")),
        Some(other) => {
            let codes: Vec<&str> = table.iter().map(|(code, _)| *code).collect();
            Err(format!(
                "{key} {} is not one of {}",
                shown(other),
                codes.join(", ")
            ))
        }
    }
}

/// Sentry's level number from a number, a numeric string or a level name.
fn parse_level(value: &Value) -> Option<u8> {
    let number = match value {
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => return level_number(&s.trim().to_ascii_lowercase()),
        },
        other => integer(other)?,
    };
    let number = u8::try_from(number).ok()?;
    level_name(number).map(|_| number)
}

/// A whole number from a JSON number (`100`, `100.0`) or a numeric string (`"100"`).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn interval_codes() -> String {
    let codes: Vec<&str> = vocab::INTERVALS.iter().map(|(code, _, _)| *code).collect();
    codes.join(", ")
}

/// A value as it appears in a reason: JSON, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_and_floats_are_whole_numbers() {
        assert_eq!(integer(&json!(100)), Some(100));
        assert_eq!(integer(&json!("100")), Some(100));
        assert_eq!(integer(&json!(100.0)), Some(100));
        assert_eq!(integer(&json!(1.5)), None);
        assert_eq!(integer(&json!("1h")), None);
        assert_eq!(integer(&json!(true)), None);
    }

    #[test]
    fn levels_parse_from_numbers_strings_and_names() {
        assert_eq!(parse_level(&json!(40)), Some(40));
        assert_eq!(parse_level(&json!("50")), Some(50));
        assert_eq!(parse_level(&json!("warning")), Some(30));
        assert_eq!(parse_level(&json!(35)), None);
        assert_eq!(parse_level(&json!("loud")), None);
    }

    #[test]
    fn long_values_are_cut_in_reasons() {
        let long = Value::String("x".repeat(100));
        assert!(shown(&long).ends_with("..."));
        assert!(shown(&long).chars().count() <= 60);
    }
}
