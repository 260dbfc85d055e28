//! Discover's `query=` (Sentry's search syntax) and time range, turned into what a
//! [`vigil_store::TransactionQuery`] can say. Anything it cannot say is refused with a reason
//! rather than silently ignored, so a query never answers more rows than it asked for.

use vigil_store::search::{parse_search, SearchTerm, TextField};

/// A term the search grammar reads as one of an issue's fields (`message:`, `error.type:`,
/// `error.value:`, `project:`, `id:`, `issue:`) put back as the `key:value` term the error and
/// span datasets translate; any other term passes unchanged. Terms only issues have
/// (comparisons on their counters, `firstSeen:`-style dates, `OR` groups, substatuses, first
/// releases) are refused, naming them.
pub fn as_dataset_term(
    term: SearchTerm,
    projects: &[vigil_store::Project],
) -> Result<SearchTerm, String> {
    let tag = |key: &str, value: String, negated: bool| SearchTerm::Tag {
        key: key.to_owned(),
        value,
        negated,
    };
    Ok(match term {
        SearchTerm::Field {
            field,
            value,
            negated,
        } => {
            let key = match field {
                TextField::Message => "message",
                TextField::ErrorType => "error.type",
                TextField::ErrorValue => "error.value",
                TextField::Project => "project",
                TextField::FirstRelease => {
                    return Err("firstRelease: applies to issues, not to events".into())
                }
            };
            tag(key, value, negated)
        }
        SearchTerm::EventId { id, negated } => tag("id", id, negated),
        SearchTerm::ShortId {
            project,
            number,
            negated,
        } => {
            let project = projects
                .iter()
                .find(|p| p.slug == project)
                .ok_or_else(|| format!("unknown project: {project}"))?;
            tag("issue", project.short_id(number), negated)
        }
        SearchTerm::Number { .. } => {
            return Err("times_seen and user.count compare issues, not events".into())
        }
        SearchTerm::Date { .. } => {
            return Err(
                "firstSeen, lastSeen, age and timestamp are not filters of this dataset; use \
                 statsPeriod or start and end"
                    .into(),
            )
        }
        SearchTerm::Substatus { substatus, .. } => {
            return Err(format!("is:{substatus} applies to issues, not to events"))
        }
        SearchTerm::Any(_) => return Err("OR groups are not supported on this dataset".into()),
        SearchTerm::Assigned { .. }
        | SearchTerm::Bookmarked { .. }
        | SearchTerm::ForReview { .. } => {
            return Err(
                "is:assigned, is:unassigned, is:for_review and is:bookmarked apply to issues"
                    .into(),
            )
        }
        other => other,
    })
}

/// The filters of a `query=` string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub transaction: Option<String>,
    pub environments: Vec<String>,
    /// `project:slug` terms.
    pub project_slugs: Vec<String>,
    /// `(key, value, negated)`, as [`vigil_store::TransactionQuery::conditions`].
    pub conditions: Vec<(String, String, bool)>,
}

/// Keys whose values are numbers or dates; a `key:value` on them would be compared as a tag
/// and match nothing, so they are refused.
const UNFILTERABLE: &[&str] = &["transaction.duration", "timestamp", "id", "project.id"];

/// Parses `query=`. `event.type:transaction` may be given or left out; other event types are
/// refused (only transactions are stored here). Free text is refused: Sentry matches it
/// against the message, which a transaction does not have.
pub fn parse_filters(input: &str) -> Result<Filters, String> {
    let search = parse_search(input).map_err(|err| err.to_string())?;
    let mut filters = Filters::default();
    for term in search.terms {
        match term {
            SearchTerm::Tag {
                key,
                value,
                negated,
            } => add_term(&mut filters, key, value, negated)?,
            SearchTerm::Text(text) => {
                return Err(format!(
                    "free text search is not supported here (\"{text}\"); use transaction:NAME"
                ))
            }
            SearchTerm::Level { .. } => {
                return Err("level: applies to errors; only transactions are queryable here".into())
            }
            SearchTerm::Status { .. } | SearchTerm::Unhandled { .. } | SearchTerm::Kind { .. } => {
                return Err("is: applies to issues; only transactions are queryable here".into())
            }
            SearchTerm::Has { key, .. } => {
                return Err(format!("has:{key} is not supported for transactions"))
            }
            // `project:slug` is a field of issues; here it is the project filter.
            SearchTerm::Field {
                field: TextField::Project,
                value,
                negated,
            } => add_term(&mut filters, "project".into(), value, negated)?,
            _ => {
                return Err(
                    "comparisons, dates, ids, error fields, message: and OR groups \
                            apply to issues; only transactions are queryable here"
                        .into(),
                )
            }
        }
    }
    Ok(filters)
}

fn add_term(
    filters: &mut Filters,
    key: String,
    value: String,
    negated: bool,
) -> Result<(), String> {
    if value.starts_with(['>', '<']) || UNFILTERABLE.contains(&key.as_str()) {
        return Err(format!("comparisons on {key} are not supported"));
    }
    if value.contains('*') {
        return Err(format!("wildcards are not supported ({key}:{value})"));
    }
    match key.as_str() {
        "event.type" => match (value.as_str(), negated) {
            ("transaction", false) => {}
            _ => {
                return Err("only transactions are queryable here (event.type:transaction)".into())
            }
        },
        "transaction" if !negated => {
            if filters.transaction.is_some() {
                return Err("only one transaction: term is supported".into());
            }
            filters.transaction = Some(value);
        }
        "environment" if !negated => filters.environments.push(value),
        "project" if !negated => filters.project_slugs.push(value),
        "transaction" | "environment" | "project" => {
            return Err(format!("!{key}: is not supported"));
        }
        _ => {
            let key = key
                .strip_prefix("tags[")
                .and_then(|k| k.strip_suffix(']'))
                .map(str::to_owned)
                .unwrap_or(key);
            filters.conditions.push((key, value, negated));
        }
    }
    Ok(())
}

/// `[since, until)` from `start`/`end` (ISO 8601) or `statsPeriod` (default 14 days, as
/// Sentry's events API), given the time now.
pub fn time_range(
    stats_period: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    now: f64,
) -> Result<(f64, f64), (&'static str, String)> {
    let parse = |key: &'static str, value: &str| {
        vigil_protocol::timestamp::parse_rfc3339(value)
            .ok_or((key, format!("{key} is not an ISO 8601 date: {value}")))
    };
    let (since, until) = match (
        start.filter(|s| !s.is_empty()),
        end.filter(|s| !s.is_empty()),
    ) {
        (Some(start), Some(end)) => (parse("start", start)?, parse("end", end)?),
        (None, None) => {
            let period = stats_period.filter(|p| !p.is_empty()).unwrap_or("14d");
            let secs = crate::query::stats_period_secs(period)
                .filter(|s| *s > 0.0)
                .ok_or(("statsPeriod", format!("Invalid statsPeriod: {period}")))?;
            (now - secs, now)
        }
        _ => return Err(("start", "start and end must be given together".to_string())),
    };
    if since >= until {
        return Err(("start", "start must be before end".to_string()));
    }
    Ok((since, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_environment_and_tags_become_filters() {
        let filters = parse_filters(
            r#"event.type:transaction transaction:"GET /api/items" environment:prod !browser:Chrome transaction.op:http.server"#,
        )
        .expect("parses");
        assert_eq!(filters.transaction.as_deref(), Some("GET /api/items"));
        assert_eq!(filters.environments, vec!["prod"]);
        assert_eq!(
            filters.conditions,
            vec![
                ("browser".to_string(), "Chrome".to_string(), true),
                (
                    "transaction.op".to_string(),
                    "http.server".to_string(),
                    false
                ),
            ]
        );
    }

    #[test]
    fn errors_free_text_and_comparisons_are_refused() {
        assert!(parse_filters("event.type:error").is_err());
        assert!(parse_filters("checkout").is_err());
        assert!(parse_filters("transaction.duration:>300ms").is_err());
        assert!(parse_filters("").expect("empty").conditions.is_empty());
    }

    #[test]
    fn periods_and_dates() {
        assert_eq!(
            time_range(Some("1h"), None, None, 10_000.0),
            Ok((6_400.0, 10_000.0))
        );
        assert!(time_range(Some("1y"), None, None, 10_000.0).is_err());
        assert_eq!(
            time_range(
                None,
                Some("2024-01-01T00:00:00Z"),
                Some("2024-01-01T01:00:00Z"),
                0.0
            ),
            Ok((1_704_067_200.0, 1_704_070_800.0))
        );
        assert!(time_range(None, Some("2024-01-01T00:00:00Z"), None, 0.0).is_err());
    }
}
