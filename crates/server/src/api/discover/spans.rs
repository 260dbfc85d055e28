//! Discover's spans dataset as Sentry's MCP server and Grafana's data source list spans:
//! segment root spans (transactions, `is_transaction:true`) and the spans below them, as rows.
//! Aggregates over spans are refused (the transactions dataset has them per transaction).

use serde_json::{json, Map, Value};
use vigil_store::search::{parse_search, SearchTerm};
use vigil_store::{Comparison, SpanColumn, SpanCondition, SpanOrder, SpanQuery, SpanRow};

use super::super::error::ApiError;
use super::Common;
use crate::serialize::iso;

/// A column of one span, as a `field=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Id,
    Trace,
    Op,
    Description,
    Duration,
    Transaction,
    Project,
    ProjectId,
    Timestamp,
    Status,
    IsTransaction,
    ParentSpan,
}

pub struct Field {
    pub name: String,
    pub col: Col,
}

impl Field {
    pub fn parse(name: &str) -> Result<Field, ApiError> {
        let col = match name.trim() {
            "id" | "span_id" => Col::Id,
            "trace" => Col::Trace,
            "span.op" => Col::Op,
            "span.description" => Col::Description,
            "span.duration" => Col::Duration,
            "transaction" => Col::Transaction,
            "project" | "project.name" => Col::Project,
            "project.id" | "project_id" => Col::ProjectId,
            "timestamp" => Col::Timestamp,
            "span.status" => Col::Status,
            "is_transaction" => Col::IsTransaction,
            "parent_span" => Col::ParentSpan,
            other if other.ends_with(')') => {
                return Err(ApiError::Invalid(format!(
                    "aggregates are not supported on the spans dataset: {other} (the transactions dataset aggregates per transaction)"
                )))
            }
            other => {
                return Err(ApiError::Invalid(format!(
                    "Unknown field for the spans dataset: {other}"
                )))
            }
        };
        Ok(Field {
            name: name.to_owned(),
            col,
        })
    }

    pub fn meta_type(&self) -> &'static str {
        match self.col {
            Col::Duration => "duration",
            Col::ProjectId => "integer",
            Col::Timestamp => "date",
            Col::IsTransaction => "boolean",
            _ => "string",
        }
    }
}

/// `span.duration:>100ms`: milliseconds of a number with an optional unit (`ms`, `s`, `m`).
fn duration_ms(value: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (value, 1.0)
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| n * factor)
}

fn comparison(value: &str) -> (Comparison, &str) {
    for (prefix, op) in [
        (">=", Comparison::GreaterOrEqual),
        ("<=", Comparison::LessOrEqual),
        (">", Comparison::Greater),
        ("<", Comparison::Less),
    ] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Comparison::Equal, value)
}

/// The span query of a request: the terms translated are `span.op:`, `span.description:`,
/// `transaction:`, `trace:`, `span.status:`, `id:`/`span_id:`, `project:`, `project.id:`,
/// `is_transaction:`, `span.duration:` comparisons and free text (in the description).
pub fn span_query(common: &Common, query: &str) -> Result<SpanQuery, ApiError> {
    if !common.environments.is_empty() {
        return Err(ApiError::Invalid(
            "environment: spans are not filtered by environment here; use the transactions dataset"
                .into(),
        ));
    }
    let search = parse_search(query).map_err(|err| ApiError::Invalid(format!("query: {err}")))?;
    let mut conditions = Vec::new();
    for term in search.terms {
        let term = super::search::as_dataset_term(term, &common.all)
            .map_err(|reason| ApiError::Invalid(format!("query: {reason}")))?;
        match term {
            SearchTerm::Text(text) => conditions.push(SpanCondition::Matches {
                column: SpanColumn::Description,
                pattern: format!("*{text}*"),
                negated: false,
            }),
            SearchTerm::Tag {
                key,
                value,
                negated,
            } => {
                let column = match key.as_str() {
                    "span.op" => SpanColumn::Op,
                    "span.description" => SpanColumn::Description,
                    "transaction" => SpanColumn::Transaction,
                    "trace" => SpanColumn::Trace,
                    "span.status" => SpanColumn::Status,
                    "id" | "span_id" => SpanColumn::SpanId,
                    "project.id" | "project_id" => SpanColumn::ProjectId,
                    "is_transaction" => SpanColumn::IsTransaction,
                    "span.duration" => {
                        let (op, rest) = comparison(&value);
                        let ms = duration_ms(rest).ok_or_else(|| {
                            ApiError::Invalid(format!(
                                "query: not a duration: span.duration:{value}"
                            ))
                        })?;
                        if negated {
                            return Err(ApiError::Invalid(
                                "query: !span.duration is not supported".into(),
                            ));
                        }
                        conditions.push(SpanCondition::Duration { op, ms });
                        continue;
                    }
                    "project" | "project.name" => {
                        let project =
                            common.all.iter().find(|p| p.slug == value).ok_or_else(|| {
                                ApiError::Invalid(format!("query: unknown project: {value}"))
                            })?;
                        conditions.push(SpanCondition::Equals {
                            column: SpanColumn::ProjectId,
                            values: vec![project.id.to_string()],
                            negated,
                        });
                        continue;
                    }
                    other => {
                        return Err(ApiError::Invalid(format!(
                            "query: unknown field for the spans dataset: {other}"
                        )))
                    }
                };
                let value = if column == SpanColumn::IsTransaction {
                    match value.to_ascii_lowercase().as_str() {
                        "true" | "1" => "true".to_owned(),
                        "false" | "0" => "false".to_owned(),
                        _ => {
                            return Err(ApiError::Invalid(format!(
                                "query: is_transaction is true or false, not {value}"
                            )))
                        }
                    }
                } else {
                    value
                };
                if value.starts_with(['>', '<']) {
                    return Err(ApiError::Invalid(format!(
                        "query: comparisons are not supported on {key}"
                    )));
                }
                conditions.push(if value.contains('*') {
                    SpanCondition::Matches {
                        column,
                        pattern: value,
                        negated,
                    }
                } else {
                    SpanCondition::Equals {
                        column,
                        values: vec![value],
                        negated,
                    }
                });
            }
            SearchTerm::Level { .. }
            | SearchTerm::Status { .. }
            | SearchTerm::Unhandled { .. }
            | SearchTerm::Kind { .. }
            | SearchTerm::Has { .. } => {
                return Err(ApiError::Invalid(format!(
                    "query: {} is not supported on the spans dataset",
                    term_name(&term)
                )))
            }
            // `as_dataset_term` turned or refused the rest.
            other => {
                return Err(ApiError::Invalid(format!(
                    "query: {other:?} is not supported on the spans dataset"
                )))
            }
        }
    }
    Ok(SpanQuery {
        organization_id: common.org.id,
        project_ids: common.project_ids.clone(),
        since: common.since,
        until: common.until,
        conditions,
    })
}

fn term_name(term: &SearchTerm) -> String {
    match term {
        SearchTerm::Level { .. } => "level:".into(),
        SearchTerm::Has { key, .. } => format!("has:{key}"),
        _ => "is:".into(),
    }
}

/// `sort=` of a span list: by timestamp or duration.
pub fn order(sort: Option<&str>, fields: &[Field]) -> Result<SpanOrder, ApiError> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(SpanOrder::Newest);
    };
    let (name, descending) = match sort.strip_prefix('-') {
        Some(name) => (name, true),
        None => (sort, false),
    };
    let field = fields.iter().find(|f| f.name == name).ok_or_else(|| {
        ApiError::Invalid(format!(
            "sort: Cannot sort by a field that is not selected: {name}"
        ))
    })?;
    Ok(match (field.col, descending) {
        (Col::Timestamp, true) => SpanOrder::Newest,
        (Col::Timestamp, false) => SpanOrder::Oldest,
        (Col::Duration, true) => SpanOrder::Slowest,
        (Col::Duration, false) => SpanOrder::Fastest,
        _ => {
            return Err(ApiError::Invalid(
                "sort: spans are sorted by timestamp or span.duration".into(),
            ))
        }
    })
}

pub fn row(fields: &[Field], span: &SpanRow, common: &Common) -> Value {
    let mut row = Map::new();
    for field in fields {
        let value = match field.col {
            Col::Id => json!(span.span_id),
            Col::Trace => json!(span.trace_id),
            Col::Op => json!(span.op),
            Col::Description => json!(span.description),
            Col::Duration => json!(span.duration_ms),
            Col::Transaction => json!(span.transaction),
            Col::Project => json!(common
                .all
                .iter()
                .find(|p| p.id == span.project_id)
                .map(|p| p.slug.clone())),
            Col::ProjectId => json!(span.project_id),
            Col::Timestamp => json!(iso(span.start)),
            Col::Status => json!(span.status),
            Col::IsTransaction => json!(span.is_transaction),
            Col::ParentSpan => json!(span.parent_span_id),
        };
        row.insert(field.name.clone(), value);
    }
    Value::Object(row)
}

pub fn meta(fields: &[Field]) -> Value {
    let mut types = Map::new();
    let mut units = Map::new();
    for field in fields {
        types.insert(field.name.clone(), json!(field.meta_type()));
        let unit = (field.col == Col::Duration).then_some("millisecond");
        units.insert(field.name.clone(), json!(unit));
    }
    json!({
        "fields": types,
        "units": units,
        "isMetricsData": false,
        "isMetricsExtractedData": false,
        "tips": {},
        "datasetReason": "unchanged",
        "dataset": "spans",
        "dataScanned": "full",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(duration_ms("100"), Some(100.0));
        assert_eq!(duration_ms("1.5s"), Some(1500.0));
        assert_eq!(duration_ms("20ms"), Some(20.0));
        assert_eq!(duration_ms("fast"), None);
        assert_eq!(comparison(">=10").0, Comparison::GreaterOrEqual);
    }
}
