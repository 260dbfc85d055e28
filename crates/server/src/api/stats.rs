//! `GET /api/0/organizations/{org}/stats_v2/`: Sentry's usage stats, the outcomes of what the
//! organization's projects sent, summed per interval and grouped by outcome, category, reason
//! or project, with Sentry's parameters, answer and error messages (`sentry.snuba.outcomes`,
//! `OrganizationStatsEndpointV2`).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{DataCategory, Outcome, OutcomeQuery, OutcomeRow, Project};

use super::access::OrgAccess;
use super::error::ApiError;
use crate::query::{self, QueryPairs};
use crate::time::unix_now;
use crate::AppState;

/// The parameters the endpoint reads; any other is refused, as Sentry refuses it.
const VALID_PARAMETERS: &[&str] = &[
    "project",
    "statsPeriod",
    "interval",
    "field",
    "start",
    "end",
    "outcome",
    "category",
    "reason",
    "groupBy",
];
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// Sentry's default range when none is given (`MAX_STATS_PERIOD`).
const DEFAULT_PERIOD: i64 = 90 * DAY;
/// Sentry's bound on intervals in one answer.
const MAX_POINTS: i64 = 1000;

/// What the answer sums.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Quantity,
    TimesSeen,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        match name {
            "sum(quantity)" => Some(Field::Quantity),
            "sum(times_seen)" => Some(Field::TimesSeen),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Quantity => "sum(quantity)",
            Field::TimesSeen => "sum(times_seen)",
        }
    }

    fn of(self, row: &OutcomeRow) -> i64 {
        match self {
            Field::Quantity => row.quantity,
            Field::TimesSeen => row.times_seen,
        }
    }
}

/// What groups are made by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum GroupBy {
    Outcome,
    Category,
    Reason,
    Project,
}

impl GroupBy {
    fn parse(name: &str) -> Option<GroupBy> {
        match name {
            "outcome" => Some(GroupBy::Outcome),
            "category" => Some(GroupBy::Category),
            "reason" => Some(GroupBy::Reason),
            "project" => Some(GroupBy::Project),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GroupBy::Outcome => "outcome",
            GroupBy::Category => "category",
            GroupBy::Reason => "reason",
            GroupBy::Project => "project",
        }
    }

    /// The row's value for this dimension, as the API shows it.
    fn value_of(self, row: &OutcomeRow) -> GroupValue {
        match self {
            GroupBy::Outcome => GroupValue::Text(row.outcome.api_name().to_owned()),
            GroupBy::Category => GroupValue::Text(row.category.api_name().to_owned()),
            GroupBy::Reason => GroupValue::Text(shown_reason(&row.reason).to_owned()),
            GroupBy::Project => GroupValue::Id(row.project_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GroupValue {
    Id(i64),
    Text(String),
}

impl GroupValue {
    fn to_json(&self) -> Value {
        match self {
            GroupValue::Id(id) => json!(id),
            GroupValue::Text(text) => json!(text),
        }
    }
}

/// Sentry stores spike protection as `smart_rate_limit` and shows it as `spike_protection`.
fn shown_reason(reason: &str) -> &str {
    if reason == "smart_rate_limit" {
        "spike_protection"
    } else {
        reason
    }
}

fn stored_reason(reason: &str) -> &str {
    if reason == "spike_protection" {
        "smart_rate_limit"
    } else {
        reason
    }
}

/// A 400 with Sentry's `{"detail": …}`.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Invalid(message.into())
}

/// A parsed request.
struct StatsQuery {
    fields: Vec<Field>,
    group_by: Vec<GroupBy>,
    /// `[start, end)` in unix seconds, on interval boundaries.
    start: i64,
    end: i64,
    interval: i64,
    query: OutcomeQuery,
}

/// Whole seconds, as Sentry prints the range and the intervals.
fn iso_seconds(secs: i64) -> String {
    let full = vigil_protocol::timestamp::format_iso(secs as f64);
    format!("{}Z", &full[..19])
}

/// Seconds of an interval or period (`1h`, `1d`, `90m`); `None` when it is not one.
fn duration_secs(text: &str) -> Option<i64> {
    let secs = query::stats_period_secs(text)?;
    (secs.fract() == 0.0 && secs > 0.0 && secs < 1e12).then_some(secs as i64)
}

/// The interval, as Sentry constrains it (`get_constrained_date_range`).
fn parse_interval(params: &[(String, String)]) -> Result<i64, ApiError> {
    let text = query::first(params, "interval").unwrap_or("1h");
    let interval =
        duration_secs(text).ok_or_else(|| invalid(format!("Invalid interval: \"{text}\"")))?;
    if interval % HOUR != 0 {
        return Err(invalid(
            "The interval has to be a multiple of the minimum interval of one hour.",
        ));
    }
    if interval > DAY {
        return Err(invalid("The interval has to be less than one day."));
    }
    if DAY % interval != 0 {
        return Err(invalid(
            "The interval should divide one day without a remainder.",
        ));
    }
    Ok(interval)
}

/// `(start, end)` from `statsPeriod` or `start` and `end` (default 90 days), aligned to the
/// interval: the start down, the end up.
fn parse_range(
    params: &[(String, String)],
    interval: i64,
    now: f64,
) -> Result<(i64, i64), ApiError> {
    let start = query::first(params, "start").filter(|s| !s.is_empty());
    let end = query::first(params, "end").filter(|s| !s.is_empty());
    let (mut since, until) = match (start, end) {
        (Some(start), Some(end)) => {
            let parse = |text: &str| {
                vigil_protocol::timestamp::parse_rfc3339(text)
                    .ok_or_else(|| invalid(format!("{text} is not a valid ISO8601 date query")))
            };
            (parse(start)?, parse(end)?)
        }
        (None, None) => {
            let period = match query::first(params, "statsPeriod").filter(|p| !p.is_empty()) {
                Some(text) => duration_secs(text)
                    .ok_or_else(|| invalid(format!("Invalid statsPeriod: '{text}'")))?,
                None => DEFAULT_PERIOD,
            };
            (now - period as f64, now)
        }
        _ => return Err(invalid("start and end are both required")),
    };
    if since > until {
        return Err(invalid("start must be before end"));
    }
    if since > now {
        since = now;
    }
    let start = (since.floor() as i64).div_euclid(interval) * interval;
    let until = until.ceil() as i64;
    let end = if until % interval == 0 {
        until
    } else {
        (until.div_euclid(interval) + 1) * interval
    };
    let end = end.max(start + interval);
    if (end - start) / interval > MAX_POINTS {
        return Err(invalid(
            "Your interval and date range would create too many results. \
             Use a larger interval, or a smaller date range.",
        ));
    }
    Ok((start, end))
}

fn parse(
    params: &[(String, String)],
    projects: &[Project],
    now: f64,
) -> Result<StatsQuery, ApiError> {
    if let Some((name, _)) = params
        .iter()
        .find(|(name, _)| !VALID_PARAMETERS.contains(&name.as_str()))
    {
        return Err(invalid(format!("Invalid parameter: \"{name}\"")));
    }
    let field_names = query::all(params, "field");
    if field_names.is_empty() {
        return Err(invalid("At least one \"field\" is required."));
    }
    let mut fields = Vec::new();
    for name in field_names {
        let field =
            Field::parse(name).ok_or_else(|| invalid(format!("Invalid field: \"{name}\"")))?;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    let interval = parse_interval(params)?;
    let (start, end) = parse_range(params, interval, now)?;
    let mut group_by = Vec::new();
    for name in query::all(params, "groupBy") {
        let group =
            GroupBy::parse(name).ok_or_else(|| invalid(format!("Invalid groupBy: \"{name}\"")))?;
        if !group_by.contains(&group) {
            group_by.push(group);
        }
    }

    let mut categories = BTreeSet::new();
    for name in query::all(params, "category") {
        let category = DataCategory::parse(name)
            .ok_or_else(|| invalid(format!("Invalid category: \"{name}\"")))?;
        if category == DataCategory::Error {
            // `error` is every error category, as Sentry's stats show them.
            categories.extend([
                DataCategory::Default,
                DataCategory::Error,
                DataCategory::Security,
            ]);
        } else {
            categories.insert(category);
        }
    }
    if categories.contains(&DataCategory::Attachment) && categories.len() > 1 {
        return Err(invalid(
            "if filtering by attachment no other category may be present",
        ));
    }
    if categories.is_empty() && !group_by.contains(&GroupBy::Category) {
        return Err(invalid("Query must have category as groupby or filter"));
    }
    let mut outcomes = Vec::new();
    for name in query::all(params, "outcome") {
        let outcome =
            Outcome::parse(name).ok_or_else(|| invalid(format!("Invalid outcome: \"{name}\"")))?;
        outcomes.push(outcome);
    }
    let reasons = query::all(params, "reason")
        .into_iter()
        .map(|r| stored_reason(r).to_owned())
        .collect();

    let mut project_ids = Vec::new();
    for id in query::all(params, "project") {
        let id: i64 = id
            .parse()
            .map_err(|_| invalid("Invalid project parameter. Values must be numbers."))?;
        if id == -1 {
            continue;
        }
        // Sentry answers 403 for a project the caller cannot see.
        if !projects.iter().any(|p| p.id == id) {
            return Err(ApiError::Forbidden);
        }
        project_ids.push(id);
    }
    if projects.is_empty() {
        return Err(invalid("No projects available"));
    }
    if project_ids.is_empty() {
        project_ids = projects.iter().map(|p| p.id).collect();
    }
    Ok(StatsQuery {
        fields,
        group_by,
        start,
        end,
        interval,
        query: OutcomeQuery {
            project_ids,
            since_hour: start,
            until_hour: end,
            categories: categories.into_iter().collect(),
            outcomes,
            reasons,
        },
    })
}

/// Sums of one group: totals, and one value per interval.
struct Sums {
    totals: Vec<i64>,
    series: Vec<Vec<i64>>,
}

/// The answer to a parsed query over the rows it selected.
fn answer(query: &StatsQuery, rows: &[OutcomeRow]) -> Value {
    let intervals = ((query.end - query.start) / query.interval) as usize;
    let empty = || Sums {
        totals: vec![0; query.fields.len()],
        series: vec![vec![0; intervals]; query.fields.len()],
    };
    let mut groups: BTreeMap<Vec<GroupValue>, Sums> = BTreeMap::new();
    if query.group_by.is_empty() {
        // Without grouping there is always one group, zeros when nothing was counted.
        groups.insert(Vec::new(), empty());
    }
    for row in rows {
        let key: Vec<GroupValue> = query.group_by.iter().map(|g| g.value_of(row)).collect();
        let sums = groups.entry(key).or_insert_with(empty);
        let slot = ((row.hour - query.start) / query.interval) as usize;
        for (i, field) in query.fields.iter().enumerate() {
            let value = field.of(row);
            sums.totals[i] += value;
            if let Some(cell) = sums.series[i].get_mut(slot) {
                *cell += value;
            }
        }
    }
    // Grouped by project, Sentry answers totals only.
    let with_series = !query.group_by.contains(&GroupBy::Project);
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(key, sums)| {
            let by: Map<String, Value> = query
                .group_by
                .iter()
                .zip(&key)
                .map(|(g, v)| (g.name().to_owned(), v.to_json()))
                .collect();
            let totals: Map<String, Value> = query
                .fields
                .iter()
                .zip(&sums.totals)
                .map(|(f, t)| (f.name().to_owned(), json!(t)))
                .collect();
            let mut group = json!({"by": by, "totals": totals});
            if with_series {
                let series: Map<String, Value> = query
                    .fields
                    .iter()
                    .zip(&sums.series)
                    .map(|(f, s)| (f.name().to_owned(), json!(s)))
                    .collect();
                group["series"] = Value::Object(series);
            }
            group
        })
        .collect();
    let mut out = json!({
        "start": iso_seconds(query.start),
        "end": iso_seconds(query.end),
        "groups": groups,
    });
    if with_series {
        out["intervals"] = (0..intervals as i64)
            .map(|i| json!(iso_seconds(query.start + i * query.interval)))
            .collect();
    }
    out
}

pub async fn stats_v2(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let projects = state.store.list_projects(Some(org.id)).await?;
    let query = parse(&params, &projects, unix_now())?;
    let rows = state.store.outcomes(&query.query).await?;
    Ok(Json(answer(&query, &rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// 2021-03-14T12:27:28Z, the instant Sentry's own tests of this endpoint freeze.
    const NOW: f64 = 1_615_724_848.0;

    #[test]
    fn ranges_align_as_sentrys_do() {
        let day = pairs(&[("statsPeriod", "1d"), ("interval", "1d")]);
        let (start, end) = parse_range(&day, DAY, NOW).expect("range");
        assert_eq!(iso_seconds(start), "2021-03-13T00:00:00Z");
        assert_eq!(iso_seconds(end), "2021-03-15T00:00:00Z");
        let six = pairs(&[("statsPeriod", "1d"), ("interval", "6h")]);
        let (start, end) = parse_range(&six, 6 * HOUR, NOW).expect("range");
        assert_eq!(iso_seconds(start), "2021-03-13T12:00:00Z");
        assert_eq!(iso_seconds(end), "2021-03-14T18:00:00Z");
        // A range in the future starts now, as Sentry's.
        let future = pairs(&[
            ("start", "2021-03-14T15:30:00"),
            ("end", "2021-03-14T16:30:00"),
        ]);
        let (start, end) = parse_range(&future, HOUR, NOW).expect("range");
        assert_eq!(iso_seconds(start), "2021-03-14T12:00:00Z");
        assert_eq!(iso_seconds(end), "2021-03-14T17:00:00Z");
    }

    #[test]
    fn intervals_are_constrained() {
        for (interval, message) in [
            (
                "15m",
                "The interval has to be a multiple of the minimum interval of one hour.",
            ),
            ("2d", "The interval has to be less than one day."),
            (
                "5h",
                "The interval should divide one day without a remainder.",
            ),
            ("bad_interval", "Invalid interval: \"bad_interval\""),
        ] {
            match parse_interval(&pairs(&[("interval", interval)])) {
                Err(ApiError::Invalid(got)) => assert_eq!(got, message),
                other => panic!("{interval}: {other:?}"),
            }
        }
    }
}
