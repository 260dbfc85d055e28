//! Discover's errors dataset: error events as rows, or aggregated per group of the selected
//! columns (Sentry's semantics: every non-aggregate field selected next to an aggregate is
//! grouped by), and counted over time for `events-stats/`.
//!
//! Every field and search term is either answered exactly or refused with a 400 naming it.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use vigil_store::search::{parse_search, SearchTerm};
use vigil_store::{
    ErrorColumn, ErrorCondition, ErrorGroup, ErrorOrder, ErrorQuery, Project, StoredEvent,
    MAX_GROUP_COLUMNS,
};

use super::super::error::ApiError;
use super::Common;
use crate::serialize::iso;
use crate::AppState;

/// A column of one error event, as a `field=` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Col {
    Id,
    Title,
    Message,
    /// The issue's short id (`SHOP-1A`).
    Issue,
    IssueId,
    Project,
    ProjectId,
    Level,
    ErrorType,
    ErrorValue,
    Culprit,
    Timestamp,
    /// The `user` tag.
    User,
    UserDisplay,
    UserEmail,
    UserId,
    UserUsername,
    UserIp,
    Trace,
    Release,
    Environment,
    Transaction,
    Platform,
    EventType,
    Tag(String),
}

/// An aggregate over a group of error events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Count,
    CountUniqueUser,
    LastSeen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Col(Col),
    Agg(Agg),
}

/// One `field=` of the errors dataset; `name` is the string as given, the key of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: Kind,
}

/// The columns every error event has, by the names Sentry's Discover gives them.
fn known_column(name: &str) -> Option<Col> {
    Some(match name {
        "id" => Col::Id,
        "title" => Col::Title,
        "message" => Col::Message,
        "issue" => Col::Issue,
        "issue.id" => Col::IssueId,
        "project" | "project.name" => Col::Project,
        "project.id" | "project_id" => Col::ProjectId,
        "level" => Col::Level,
        "error.type" => Col::ErrorType,
        "error.value" => Col::ErrorValue,
        "culprit" => Col::Culprit,
        "timestamp" => Col::Timestamp,
        "user" => Col::User,
        "user.display" => Col::UserDisplay,
        "user.email" => Col::UserEmail,
        "user.id" => Col::UserId,
        "user.username" => Col::UserUsername,
        "user.ip" => Col::UserIp,
        "trace" => Col::Trace,
        "release" => Col::Release,
        "environment" => Col::Environment,
        "transaction" => Col::Transaction,
        "platform" | "platform.name" => Col::Platform,
        "event.type" => Col::EventType,
        _ => return None,
    })
}

/// `tags[key]`'s key.
fn tag_key(name: &str) -> Option<&str> {
    name.strip_prefix("tags[")
        .and_then(|k| k.strip_suffix(']'))
        .filter(|k| !k.is_empty())
}

/// A bare name that is neither a column nor a function: a tag, if one with that key exists.
fn looks_like_tag(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'))
}

/// Whether a name is one only error events have: it makes a query without `dataset=` an
/// errors query (Sentry's default dataset covers errors and transactions).
pub fn is_error_only(name: &str) -> bool {
    matches!(
        name.trim(),
        "title"
            | "message"
            | "issue"
            | "issue.id"
            | "level"
            | "error.type"
            | "error.value"
            | "culprit"
            | "last_seen()"
            | "user.display"
    )
}

impl Field {
    /// Parses a `field=`; a bare name that is no column is a tag only if the projects have
    /// seen that tag, else it is refused as unknown.
    pub async fn parse(state: &AppState, common: &Common, name: &str) -> Result<Field, ApiError> {
        let trimmed = name.trim();
        let kind = if let Some(col) = known_column(trimmed) {
            Kind::Col(col)
        } else if let Some(key) = tag_key(trimmed) {
            Kind::Col(Col::Tag(key.to_owned()))
        } else if trimmed.ends_with(')') {
            Kind::Agg(match trimmed {
                "count()" | "count(id)" => Agg::Count,
                "count_unique(user)" => Agg::CountUniqueUser,
                "last_seen()" => Agg::LastSeen,
                _ => {
                    return Err(ApiError::Invalid(format!(
                        "Unknown field for the errors dataset: {trimmed}"
                    )))
                }
            })
        } else if looks_like_tag(trimmed) && tag_exists(state, common, trimmed).await? {
            Kind::Col(Col::Tag(trimmed.to_owned()))
        } else {
            return Err(ApiError::Invalid(format!(
                "Unknown field for the errors dataset: {trimmed}"
            )));
        };
        Ok(Field {
            name: name.to_owned(),
            kind,
        })
    }

    pub fn is_aggregate(&self) -> bool {
        matches!(self.kind, Kind::Agg(_))
    }

    /// Sentry's meta type; `grouped` when the value is a group's (one error type, not the
    /// event's list).
    pub fn meta_type(&self, grouped: bool) -> &'static str {
        match &self.kind {
            Kind::Agg(Agg::Count | Agg::CountUniqueUser) => "integer",
            Kind::Agg(Agg::LastSeen) | Kind::Col(Col::Timestamp) => "date",
            Kind::Col(Col::IssueId | Col::ProjectId) => "integer",
            Kind::Col(Col::ErrorType | Col::ErrorValue) if !grouped => "array",
            Kind::Col(_) => "string",
        }
    }
}

async fn tag_exists(state: &AppState, common: &Common, key: &str) -> Result<bool, ApiError> {
    Ok(state
        .store
        .error_tag_key_exists(common.org.id, &common.project_ids, key)
        .await?)
}

/// What a column is filtered and grouped by in the store; `None` for what only a row has.
fn store_column(col: &Col) -> Option<ErrorColumn> {
    Some(match col {
        Col::Id => ErrorColumn::EventId,
        Col::Title => ErrorColumn::Title,
        Col::Message => ErrorColumn::Message,
        Col::Issue | Col::IssueId => ErrorColumn::IssueId,
        Col::Project | Col::ProjectId => ErrorColumn::ProjectId,
        Col::Level => ErrorColumn::Level,
        Col::ErrorType => ErrorColumn::ErrorType,
        Col::ErrorValue => ErrorColumn::ErrorValue,
        Col::Culprit => ErrorColumn::Culprit,
        Col::User => ErrorColumn::User,
        Col::Trace => ErrorColumn::Trace,
        Col::Release => ErrorColumn::Release,
        Col::Environment => ErrorColumn::Environment,
        Col::Transaction => ErrorColumn::Transaction,
        Col::Platform => ErrorColumn::Platform,
        Col::EventType => ErrorColumn::EventType,
        Col::Tag(key) => ErrorColumn::Tag(key.clone()),
        Col::Timestamp
        | Col::UserDisplay
        | Col::UserEmail
        | Col::UserId
        | Col::UserUsername
        | Col::UserIp => return None,
    })
}

/// `[a,b]` → `a`, `b`; anything else is one value.
fn values_of(value: &str) -> Vec<String> {
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(list) => list
            .split(',')
            .map(|v| v.trim().trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
            .collect(),
        None => vec![value.to_owned()],
    }
}

/// The conditions of `query=` and `environment=`: the terms translated are `issue:`,
/// `issue.id:`, `project:`, `project.id:`, `level:`, `event.type:`, `error.type:`,
/// `error.value:`, `title:`, `message:`, `culprit:`, `environment:`, `release:`,
/// `transaction:`, `user:`, `trace:`, `platform:`, `id:`, `tags[k]:` and tags, `has:` of
/// any of those, `is:unresolved|resolved|ignored` and free text, each negatable with `!`
/// and `*` wildcards in values. Anything else is refused naming it.
pub async fn conditions(
    state: &AppState,
    common: &Common,
    query: &str,
) -> Result<Vec<ErrorCondition>, ApiError> {
    let search = parse_search(query).map_err(|err| ApiError::Invalid(format!("query: {err}")))?;
    let mut out = Vec::new();
    if !common.environments.is_empty() {
        out.push(ErrorCondition::Equals {
            column: ErrorColumn::Environment,
            values: common.environments.clone(),
            negated: false,
        });
    }
    for term in search.terms {
        let term = super::search::as_dataset_term(term, &common.all)
            .map_err(|reason| ApiError::Invalid(format!("query: {reason}")))?;
        let condition = match term {
            SearchTerm::Text(text) => ErrorCondition::Text(text),
            SearchTerm::Level { value, negated } => {
                value_condition(ErrorColumn::Level, &value, negated)
            }
            SearchTerm::Status { status, negated } => ErrorCondition::Equals {
                column: ErrorColumn::IssueStatus,
                values: vec![status.as_str().to_owned()],
                negated,
            },
            SearchTerm::Unhandled { .. } => {
                return Err(ApiError::Invalid(
                    "query: is:unhandled is not supported on the errors dataset; use the issues endpoint".into(),
                ))
            }
            SearchTerm::Kind { .. } => {
                return Err(ApiError::Invalid(
                    "query: issue.category and issue.type are not supported on the errors dataset"
                        .into(),
                ))
            }
            SearchTerm::Has { key, negated } => {
                let column = match term_column(state, common, &key).await? {
                    TermColumn::Column(column) => column,
                    TermColumn::Issue => ErrorColumn::IssueId,
                    TermColumn::Project => ErrorColumn::ProjectId,
                };
                ErrorCondition::Has { column, negated }
            }
            SearchTerm::Tag {
                key,
                value,
                negated,
            } => {
                if value.starts_with(['>', '<']) {
                    return Err(ApiError::Invalid(format!(
                        "query: comparisons are not supported on {key} in the errors dataset"
                    )));
                }
                match term_column(state, common, &key).await? {
                    TermColumn::Issue => issue_condition(common, &value, negated)?,
                    TermColumn::Project => {
                        let mut ids = Vec::new();
                        for slug in values_of(&value) {
                            let project = common
                                .all
                                .iter()
                                .find(|p| p.slug == slug)
                                .ok_or_else(|| {
                                    ApiError::Invalid(format!("query: unknown project: {slug}"))
                                })?;
                            ids.push(project.id.to_string());
                        }
                        ErrorCondition::Equals {
                            column: ErrorColumn::ProjectId,
                            values: ids,
                            negated,
                        }
                    }
                    TermColumn::Column(column) => value_condition(column, &value, negated),
                }
            }
            // `as_dataset_term` turned or refused the rest.
            other => {
                return Err(ApiError::Invalid(format!(
                    "query: {other:?} is not supported on the errors dataset"
                )))
            }
        };
        out.push(condition);
    }
    Ok(out)
}

/// `key:value` on a column, with `*` wildcards and `[a,b]` lists.
fn value_condition(column: ErrorColumn, value: &str, negated: bool) -> ErrorCondition {
    if value.contains('*') {
        ErrorCondition::Matches {
            column,
            pattern: value.to_owned(),
            negated,
        }
    } else {
        ErrorCondition::Equals {
            column,
            values: values_of(value),
            negated,
        }
    }
}

enum TermColumn {
    Column(ErrorColumn),
    /// `issue:SHOP-1A`: short ids.
    Issue,
    /// `project:slug`.
    Project,
}

async fn term_column(state: &AppState, common: &Common, key: &str) -> Result<TermColumn, ApiError> {
    Ok(match key {
        "issue" => TermColumn::Issue,
        "project" | "project.name" => TermColumn::Project,
        "issue.id" => TermColumn::Column(ErrorColumn::IssueId),
        "project.id" | "project_id" => TermColumn::Column(ErrorColumn::ProjectId),
        "id" => TermColumn::Column(ErrorColumn::EventId),
        "title" => TermColumn::Column(ErrorColumn::Title),
        "message" => TermColumn::Column(ErrorColumn::Message),
        "level" => TermColumn::Column(ErrorColumn::Level),
        "culprit" => TermColumn::Column(ErrorColumn::Culprit),
        "environment" => TermColumn::Column(ErrorColumn::Environment),
        "release" => TermColumn::Column(ErrorColumn::Release),
        "transaction" => TermColumn::Column(ErrorColumn::Transaction),
        "user" => TermColumn::Column(ErrorColumn::User),
        "trace" => TermColumn::Column(ErrorColumn::Trace),
        "platform" | "platform.name" => TermColumn::Column(ErrorColumn::Platform),
        "event.type" => TermColumn::Column(ErrorColumn::EventType),
        "error.type" => TermColumn::Column(ErrorColumn::ErrorType),
        "error.value" => TermColumn::Column(ErrorColumn::ErrorValue),
        other => {
            if let Some(tag) = tag_key(other) {
                TermColumn::Column(ErrorColumn::Tag(tag.to_owned()))
            } else if looks_like_tag(other) && tag_exists(state, common, other).await? {
                TermColumn::Column(ErrorColumn::Tag(other.to_owned()))
            } else {
                return Err(ApiError::Invalid(format!(
                    "query: unknown field or tag for the errors dataset: {other}"
                )));
            }
        }
    })
}

/// `issue:SHOP-1A` (or a list): the issues by short id; a project slug Vigil does not have
/// is refused.
fn issue_condition(
    common: &Common,
    value: &str,
    negated: bool,
) -> Result<ErrorCondition, ApiError> {
    let mut short_ids = Vec::new();
    for short_id in values_of(value) {
        let (slug, number) = vigil_store::parse_short_id(&short_id).ok_or_else(|| {
            ApiError::Invalid(format!("query: not an issue short id: {short_id}"))
        })?;
        let project = common
            .all
            .iter()
            .find(|p| p.slug.eq_ignore_ascii_case(&slug))
            .ok_or_else(|| ApiError::Invalid(format!("query: unknown issue: {short_id}")))?;
        short_ids.push((project.id, number));
    }
    Ok(ErrorCondition::Issues { short_ids, negated })
}

/// The query of a request's scope and conditions.
pub fn error_query(common: &Common, conditions: Vec<ErrorCondition>) -> ErrorQuery {
    ErrorQuery {
        organization_id: common.org.id,
        project_ids: common.project_ids.clone(),
        since: common.since,
        until: common.until,
        conditions,
    }
}

/// Short ids of issues by id, read once each.
pub async fn short_ids(
    state: &AppState,
    common: &Common,
    ids: Vec<i64>,
) -> Result<HashMap<i64, String>, ApiError> {
    let mut out = HashMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(issue) = state.store.issue_by_id(id).await? {
            if let Some(project) = common.all.iter().find(|p| p.id == issue.project_id) {
                out.insert(id, project.short_id(issue.short_id));
            }
        }
    }
    Ok(out)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The types (or values) of the event's exceptions, outermost last as Sentry lists them.
fn exception_list(event: &StoredEvent, key: &str) -> Value {
    let values = event.data["exception"]["values"]
        .as_array()
        .or_else(|| event.data["exception"].as_array());
    json!(values
        .map(|values| values
            .iter()
            .filter_map(|v| text(&v[key]))
            .collect::<Vec<_>>())
        .unwrap_or_default())
}

/// One column's value of an event row.
pub fn row_value(
    col: &Col,
    event: &StoredEvent,
    project: Option<&Project>,
    short_ids: &HashMap<i64, String>,
) -> Value {
    let optional = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    let user = &event.data["user"];
    match col {
        Col::Id => json!(event.event_id),
        Col::Title => json!(event.title),
        Col::Message => json!(text(&event.data["logentry"]["formatted"])
            .or_else(|| text(&event.data["logentry"]["message"]))
            .or_else(|| text(&event.data["message"]))
            .unwrap_or_else(|| event.title.clone())),
        Col::Issue => json!(event.issue_id.and_then(|id| short_ids.get(&id))),
        Col::IssueId => json!(event.issue_id),
        Col::Project => json!(project.map(|p| p.slug.clone())),
        Col::ProjectId => json!(event.project_id),
        Col::Level => json!(event.level),
        Col::ErrorType => exception_list(event, "type"),
        Col::ErrorValue => exception_list(event, "value"),
        Col::Culprit => json!(event.culprit),
        Col::Timestamp => json!(iso(event.timestamp)),
        Col::User => optional(&event.user_tag),
        Col::UserDisplay => json!(["email", "username", "id", "ip_address"]
            .iter()
            .find_map(|k| text(&user[*k]))),
        Col::UserEmail => json!(text(&user["email"])),
        Col::UserId => json!(text(&user["id"])),
        Col::UserUsername => json!(text(&user["username"])),
        Col::UserIp => json!(text(&user["ip_address"])),
        Col::Trace => json!(text(&event.data["contexts"]["trace"]["trace_id"])),
        Col::Release => optional(&event.release),
        Col::Environment => optional(&event.environment),
        Col::Transaction => optional(&event.transaction),
        Col::Platform => json!(event.platform),
        Col::EventType => json!(event.event_type),
        Col::Tag(key) => json!(event
            .tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())),
    }
}

/// The columns an aggregate query groups by (each once), and for each field the index of
/// its column among them.
pub fn grouping(fields: &[Field]) -> Result<(Vec<ErrorColumn>, Vec<Option<usize>>), ApiError> {
    let mut by: Vec<ErrorColumn> = Vec::new();
    let mut index_of = Vec::new();
    for field in fields {
        let Kind::Col(col) = &field.kind else {
            index_of.push(None);
            continue;
        };
        let column = store_column(col).ok_or_else(|| {
            ApiError::Invalid(format!(
                "cannot group by {} in the errors dataset; select it without aggregates",
                field.name
            ))
        })?;
        let index = match by.iter().position(|c| *c == column) {
            Some(i) => i,
            None => {
                by.push(column);
                by.len() - 1
            }
        };
        index_of.push(Some(index));
    }
    if by.len() > MAX_GROUP_COLUMNS {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_GROUP_COLUMNS} columns can be grouped by"
        )));
    }
    Ok((by, index_of))
}

/// One field's value of a group row.
pub fn group_value(
    field: &Field,
    index: Option<usize>,
    group: &ErrorGroup,
    common: &Common,
    short_ids: &HashMap<i64, String>,
) -> Value {
    let key = index.and_then(|i| group.keys.get(i).cloned().flatten());
    match &field.kind {
        Kind::Agg(Agg::Count) => json!(group.count),
        Kind::Agg(Agg::CountUniqueUser) => json!(group.users),
        Kind::Agg(Agg::LastSeen) => {
            if group.count == 0 {
                Value::Null
            } else {
                json!(iso(group.last_seen))
            }
        }
        Kind::Col(Col::IssueId | Col::ProjectId) => {
            json!(key.and_then(|k| k.parse::<i64>().ok()))
        }
        Kind::Col(Col::Issue) => json!(key
            .and_then(|k| k.parse::<i64>().ok())
            .and_then(|id| short_ids.get(&id))),
        Kind::Col(Col::Project) => json!(key
            .and_then(|k| k.parse::<i64>().ok())
            .and_then(|id| common.all.iter().find(|p| p.id == id))
            .map(|p| p.slug.clone())),
        Kind::Col(_) => json!(key),
    }
}

/// Fields as Sentry's meta gives them.
pub fn meta(fields: &[Field], grouped: bool) -> Value {
    let mut types = Map::new();
    let mut units = Map::new();
    for field in fields {
        types.insert(field.name.clone(), json!(field.meta_type(grouped)));
        units.insert(field.name.clone(), Value::Null);
    }
    json!({
        "fields": types,
        "units": units,
        "isMetricsData": false,
        "isMetricsExtractedData": false,
        "tips": {},
        "datasetReason": "unchanged",
        "dataset": "errors",
    })
}

/// How rows of single events are ordered: only by `timestamp`.
pub fn row_order(sort: Option<(&Field, bool)>) -> Result<ErrorOrder, ApiError> {
    match sort {
        None => Ok(ErrorOrder::Newest),
        Some((field, descending)) if field.kind == Kind::Col(Col::Timestamp) => Ok(if descending {
            ErrorOrder::Newest
        } else {
            ErrorOrder::Oldest
        }),
        Some((field, _)) => Err(ApiError::Invalid(format!(
            "sort: error events are listed by timestamp; to sort by {} add an aggregate such as count()",
            field.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_single_values() {
        assert_eq!(values_of("[a, b]"), vec!["a", "b"]);
        assert_eq!(values_of("error"), vec!["error"]);
    }

    #[test]
    fn grouping_dedupes_columns_and_refuses_row_only_ones() {
        let fields: Vec<Field> = [
            ("issue", Kind::Col(Col::Issue)),
            ("issue.id", Kind::Col(Col::IssueId)),
            ("count()", Kind::Agg(Agg::Count)),
        ]
        .into_iter()
        .map(|(name, kind)| Field {
            name: name.into(),
            kind,
        })
        .collect();
        let (by, index_of) = grouping(&fields).expect("groups");
        assert_eq!(by, vec![ErrorColumn::IssueId]);
        assert_eq!(index_of, vec![Some(0), Some(0), None]);
        let timestamp = Field {
            name: "timestamp".into(),
            kind: Kind::Col(Col::Timestamp),
        };
        assert!(grouping(&[timestamp]).is_err());
    }
}
