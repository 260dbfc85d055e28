//! The rule form as a value: read from a stored rule or from posted fields, padded with spare
//! rows, and turned into the rules API's JSON body, which `vigil_alerts::parse_rule` then
//! validates exactly as it does the API's.
//!
//! Without script the form has a fixed number of rows per section (one spare more than the rule
//! uses); empty rows are ignored.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use vigil_alerts::vocabulary::{
    EMAIL_ACTION, EVENT_FREQUENCY, FIRST_SEEN, LEVEL_FILTER, SLACK_ACTION, TAGGED_EVENT_FILTER,
    UNIQUE_USER_FREQUENCY, WEBHOOK_ACTION,
};
use vigil_store::AlertRule;

use super::text;

/// Rows the form offers at least, per section; a rule using more gets one spare after them.
const MIN_CONDITIONS: usize = 3;
const MIN_LEVEL_FILTERS: usize = 1;
const MIN_TAG_FILTERS: usize = 2;
const MIN_ACTIONS: usize = 3;
/// Rows read back from a form at most: indices beyond are not a form this page made.
const MAX_ROWS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ConditionRow {
    pub(super) id: String,
    pub(super) value: String,
    pub(super) interval: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct LevelRow {
    pub(super) matches: String,
    pub(super) level: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TagRow {
    pub(super) key: String,
    pub(super) matches: String,
    pub(super) value: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ActionRow {
    /// `email`, `webhook`, `slack`, or empty: no action.
    pub(super) kind: String,
    pub(super) target_type: String,
    pub(super) member: String,
    pub(super) fallthrough: String,
    /// The `targetIdentifier` of a Team action, kept as the API set it.
    pub(super) team: String,
    pub(super) url: String,
}

/// The rule form as typed (kept as text so that a wrong value is shown back as it was).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct RuleForm {
    pub(super) name: String,
    pub(super) environment: String,
    pub(super) frequency: String,
    pub(super) action_match: String,
    pub(super) filter_match: String,
    pub(super) conditions: Vec<ConditionRow>,
    pub(super) levels: Vec<LevelRow>,
    pub(super) tags: Vec<TagRow>,
    pub(super) actions: Vec<ActionRow>,
}

/// A number when the text is one, else the text: the parser names a wrong value's field.
fn number_or_text(value: &str) -> Value {
    let value = value.trim();
    match value.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(value),
    }
}

/// Rows of one section read from `section-N-field` names.
fn rows<T: Default>(
    fields: &HashMap<String, String>,
    section: &str,
    fill: impl Fn(&mut T, &str, &str),
) -> Vec<T> {
    let mut found: Vec<(usize, &str, &str)> = Vec::new();
    for (name, value) in fields {
        let Some(rest) = name.strip_prefix(section).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('-') else {
            continue;
        };
        if let Ok(index) = index.parse::<usize>() {
            if index < MAX_ROWS {
                found.push((index, field, value));
            }
        }
    }
    let count = found.iter().map(|(i, _, _)| i + 1).max().unwrap_or(0);
    let mut out: Vec<T> = (0..count).map(|_| T::default()).collect();
    for (index, field, value) in found {
        fill(&mut out[index], field, value);
    }
    out
}

impl RuleForm {
    /// A new rule's defaults: Sentry's (every 30 minutes, all conditions, all filters).
    pub(super) fn new_rule() -> RuleForm {
        let mut form = RuleForm {
            frequency: "30".into(),
            action_match: "all".into(),
            filter_match: "all".into(),
            conditions: vec![ConditionRow {
                id: FIRST_SEEN.into(),
                ..ConditionRow::default()
            }],
            actions: vec![ActionRow {
                kind: "email".into(),
                target_type: "IssueOwners".into(),
                fallthrough: "ActiveMembers".into(),
                ..ActionRow::default()
            }],
            ..RuleForm::default()
        };
        form.pad();
        form
    }

    /// The form showing a stored rule.
    pub(super) fn of(rule: &AlertRule) -> RuleForm {
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        let mut form = RuleForm {
            name: rule.name.clone(),
            environment: rule.environment.clone().unwrap_or_default(),
            frequency: rule.frequency_minutes.to_string(),
            action_match: rule.action_match.clone(),
            filter_match: rule.filter_match.clone(),
            ..RuleForm::default()
        };
        for condition in list(&rule.conditions) {
            form.conditions.push(ConditionRow {
                id: text(condition.get("id")),
                value: text(condition.get("value")),
                interval: text(condition.get("interval")),
            });
        }
        for filter in list(&rule.filters) {
            match filter.get("id").and_then(Value::as_str) {
                Some(LEVEL_FILTER) => form.levels.push(LevelRow {
                    matches: text(filter.get("match")),
                    level: text(filter.get("level")),
                }),
                Some(TAGGED_EVENT_FILTER) => form.tags.push(TagRow {
                    key: text(filter.get("key")),
                    matches: text(filter.get("match")),
                    value: text(filter.get("value")),
                }),
                _ => {}
            }
        }
        for action in list(&rule.actions) {
            let row = match action.get("id").and_then(Value::as_str) {
                Some(EMAIL_ACTION) => {
                    let target_type = text(action.get("targetType"));
                    let identifier = text(action.get("targetIdentifier"));
                    ActionRow {
                        kind: "email".into(),
                        member: if target_type == "Member" {
                            identifier.clone()
                        } else {
                            String::new()
                        },
                        team: if target_type == "Team" {
                            identifier
                        } else {
                            String::new()
                        },
                        target_type,
                        fallthrough: text(action.get("fallthroughType")),
                        ..ActionRow::default()
                    }
                }
                Some(WEBHOOK_ACTION) => ActionRow {
                    kind: "webhook".into(),
                    url: text(action.get("url")),
                    ..ActionRow::default()
                },
                Some(SLACK_ACTION) => ActionRow {
                    kind: "slack".into(),
                    url: text(action.get("webhook_url")),
                    ..ActionRow::default()
                },
                _ => continue,
            };
            form.actions.push(row);
        }
        form.pad();
        form
    }

    /// The form as posted (`name`, …, `conditions-0-id`, `tags-1-key`, `actions-2-url`, …).
    pub(super) fn from_fields(fields: &HashMap<String, String>) -> RuleForm {
        let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let mut form = RuleForm {
            name: field("name"),
            environment: field("environment"),
            frequency: field("frequency"),
            action_match: field("action_match"),
            filter_match: field("filter_match"),
            conditions: rows(
                fields,
                "conditions",
                |row: &mut ConditionRow, f, v| match f {
                    "id" => row.id = v.into(),
                    "value" => row.value = v.into(),
                    "interval" => row.interval = v.into(),
                    _ => {}
                },
            ),
            levels: rows(fields, "levels", |row: &mut LevelRow, f, v| match f {
                "match" => row.matches = v.into(),
                "level" => row.level = v.into(),
                _ => {}
            }),
            tags: rows(fields, "tags", |row: &mut TagRow, f, v| match f {
                "key" => row.key = v.into(),
                "match" => row.matches = v.into(),
                "value" => row.value = v.into(),
                _ => {}
            }),
            actions: rows(fields, "actions", |row: &mut ActionRow, f, v| match f {
                "kind" => row.kind = v.into(),
                "target_type" => row.target_type = v.into(),
                "member" => row.member = v.into(),
                "fallthrough" => row.fallthrough = v.into(),
                "team" => row.team = v.into(),
                "url" => row.url = v.into(),
                _ => {}
            }),
        };
        form.pad();
        form
    }

    /// At least the minimum rows per section, and one empty row after the used ones.
    fn pad(&mut self) {
        fn fill<T: Default + PartialEq>(rows: &mut Vec<T>, min: usize) {
            let used = rows
                .iter()
                .rposition(|r| *r != T::default())
                .map_or(0, |i| i + 1);
            rows.truncate(used);
            let want = min.max(used + 1).min(MAX_ROWS);
            while rows.len() < want {
                rows.push(T::default());
            }
        }
        fill(&mut self.conditions, MIN_CONDITIONS);
        fill(&mut self.levels, MIN_LEVEL_FILTERS);
        fill(&mut self.tags, MIN_TAG_FILTERS);
        fill(&mut self.actions, MIN_ACTIONS);
    }

    /// The rules API's JSON body for this form; empty rows are left out.
    pub(super) fn to_body(&self) -> Value {
        let environment = self.environment.trim();
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .filter(|row| !row.id.is_empty())
            .map(|row| {
                let mut condition = Map::new();
                condition.insert("id".into(), json!(row.id));
                if row.id == EVENT_FREQUENCY || row.id == UNIQUE_USER_FREQUENCY {
                    condition.insert("value".into(), number_or_text(&row.value));
                    condition.insert("interval".into(), json!(row.interval));
                    condition.insert("comparisonType".into(), json!("count"));
                }
                Value::Object(condition)
            })
            .collect();
        let mut filters: Vec<Value> = self
            .levels
            .iter()
            .filter(|row| !row.matches.is_empty())
            .map(|row| json!({"id": LEVEL_FILTER, "match": row.matches, "level": row.level}))
            .collect();
        filters.extend(
            self.tags
                .iter()
                .filter(|row| !row.key.trim().is_empty())
                .map(|row| {
                    json!({
                        "id": TAGGED_EVENT_FILTER,
                        "key": row.key.trim(),
                        "match": row.matches,
                        "value": row.value,
                    })
                }),
        );
        let actions: Vec<Value> = self
            .actions
            .iter()
            .filter_map(|row| match row.kind.as_str() {
                "email" => {
                    let mut action = Map::new();
                    action.insert("id".into(), json!(EMAIL_ACTION));
                    action.insert("targetType".into(), json!(row.target_type));
                    match row.target_type.as_str() {
                        "Member" => {
                            action.insert("targetIdentifier".into(), number_or_text(&row.member));
                        }
                        "Team" if !row.team.is_empty() => {
                            action.insert("targetIdentifier".into(), number_or_text(&row.team));
                        }
                        _ => {}
                    }
                    action.insert("fallthroughType".into(), json!(row.fallthrough));
                    Some(Value::Object(action))
                }
                "webhook" => Some(json!({"id": WEBHOOK_ACTION, "url": row.url.trim()})),
                "slack" => Some(json!({"id": SLACK_ACTION, "webhook_url": row.url.trim()})),
                _ => None,
            })
            .collect();
        json!({
            "name": self.name.trim(),
            "environment": if environment.is_empty() { Value::Null } else { json!(environment) },
            "frequency": number_or_text(&self.frequency),
            "actionMatch": self.action_match,
            "filterMatch": self.filter_match,
            "conditions": conditions,
            "filters": filters,
            "actions": actions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_alerts::vocabulary::{REAPPEARED, REGRESSION};

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_rows_are_left_out_of_the_body() {
        let form = RuleForm::from_fields(&fields(&[
            ("name", " Spikes "),
            ("environment", ""),
            ("frequency", "60"),
            ("action_match", "any"),
            ("filter_match", "all"),
            ("conditions-0-id", EVENT_FREQUENCY),
            ("conditions-0-value", "5"),
            ("conditions-0-interval", "1m"),
            ("conditions-1-id", ""),
            ("conditions-2-id", FIRST_SEEN),
            ("levels-0-match", "gte"),
            ("levels-0-level", "40"),
            ("tags-0-key", ""),
            ("tags-1-key", "browser"),
            ("tags-1-match", "sw"),
            ("tags-1-value", "Chrome"),
            ("actions-0-kind", "slack"),
            ("actions-0-url", "https://hooks.example.com/x"),
            ("actions-1-kind", ""),
            ("actions-1-url", "https://ignored.example.com"),
            ("actions-2-kind", "email"),
            ("actions-2-target_type", "Member"),
            ("actions-2-member", "7"),
            ("actions-2-fallthrough", "NoOne"),
        ]));
        assert_eq!(
            form.to_body(),
            json!({
                "name": "Spikes",
                "environment": null,
                "frequency": 60,
                "actionMatch": "any",
                "filterMatch": "all",
                "conditions": [
                    {"id": EVENT_FREQUENCY, "value": 5, "interval": "1m", "comparisonType": "count"},
                    {"id": FIRST_SEEN},
                ],
                "filters": [
                    {"id": LEVEL_FILTER, "match": "gte", "level": "40"},
                    {"id": TAGGED_EVENT_FILTER, "key": "browser", "match": "sw", "value": "Chrome"},
                ],
                "actions": [
                    {"id": SLACK_ACTION, "webhook_url": "https://hooks.example.com/x"},
                    {"id": EMAIL_ACTION, "targetType": "Member", "targetIdentifier": 7, "fallthroughType": "NoOne"},
                ],
            })
        );
    }

    #[test]
    fn a_stored_rule_round_trips_through_the_form() {
        let rule = AlertRule {
            id: 3,
            project_id: 1,
            name: "Everything".into(),
            environment: Some("production".into()),
            frequency_minutes: 45,
            action_match: "all".into(),
            filter_match: "none".into(),
            conditions: json!([
                {"id": UNIQUE_USER_FREQUENCY, "value": 10, "interval": "1h", "comparisonType": "count"},
                {"id": REGRESSION}, {"id": REAPPEARED}, {"id": FIRST_SEEN}
            ]),
            filters: json!([{"id": TAGGED_EVENT_FILTER, "key": "k", "match": "is", "value": ""}]),
            actions: json!([
                {"id": WEBHOOK_ACTION, "url": "http://127.0.0.1:9/hook"},
                {"id": EMAIL_ACTION, "targetType": "Team", "targetIdentifier": 12, "fallthroughType": "AllMembers"},
            ]),
            created_by: None,
            date_created: 0.0,
        };
        let form = RuleForm::of(&rule);
        // Four conditions used: one spare row after them.
        assert_eq!(form.conditions.len(), 5);
        assert_eq!(form.tags.len(), 2);
        assert_eq!(form.actions.len(), 3);
        let body = form.to_body();
        assert_eq!(body["environment"], "production");
        assert_eq!(body["frequency"], 45);
        assert_eq!(body["conditions"], rule.conditions);
        assert_eq!(body["filters"], rule.filters);
        assert_eq!(body["actions"], rule.actions);
        // Posting the rendered fields back gives the same form.
        let mut posted = HashMap::new();
        posted.insert("name".to_string(), form.name.clone());
        for (i, row) in form.conditions.iter().enumerate() {
            posted.insert(format!("conditions-{i}-id"), row.id.clone());
            posted.insert(format!("conditions-{i}-value"), row.value.clone());
        }
        let again = RuleForm::from_fields(&posted);
        assert_eq!(
            again.conditions,
            form.conditions
                .iter()
                .map(|r| ConditionRow {
                    interval: String::new(),
                    ..r.clone()
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn row_indices_beyond_the_limit_are_ignored() {
        let form = RuleForm::from_fields(&fields(&[
            ("conditions-100000000-id", FIRST_SEEN),
            ("conditions-x-id", FIRST_SEEN),
            ("conditions-1", FIRST_SEEN),
        ]));
        assert_eq!(form.conditions.len(), MIN_CONDITIONS);
        assert!(form.conditions.iter().all(|r| r.id.is_empty()));
    }
}
