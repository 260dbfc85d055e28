//! Sentry's Discover API for transactions: `GET /organizations/{org}/events/` (a table: rows
//! of transactions, or aggregates per transaction name) and `…/events-stats/` (aggregates over
//! time), as Grafana's Sentry data source and scripts call them.
//!
//! Only what the store can answer exactly is accepted; the rest is a 400 naming what is not
//! supported, never a silently wider answer.

pub mod fields;
pub mod search;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{Organization, Project, TransactionAggregate, TransactionQuery, TransactionSort};

use self::fields::{
    aggregate_value, column_value, series_value, Aggregate, Column, Field, FieldKind,
};
use super::access::OrgAccess;
use super::error::ApiError;
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::time::unix_now;
use crate::AppState;

/// Rows per page unless `per_page` says otherwise (Sentry's default for this endpoint).
const DEFAULT_PER_PAGE: &str = "50";
/// Sentry refuses series with more points than this.
const MAX_SERIES_POINTS: f64 = 10_000.0;

/// What a request covers: its projects, filters and period.
struct Scope {
    org: Organization,
    /// The projects queried (all of the organization's for none or `-1`).
    projects: Vec<Project>,
    query: TransactionQuery,
    since: f64,
    until: f64,
}

impl Scope {
    async fn from_params(
        state: &AppState,
        org: Organization,
        params: &[(String, String)],
    ) -> Result<Scope, ApiError> {
        let filters = search::parse_filters(query::first(params, "query").unwrap_or(""))
            .map_err(|reason| ApiError::bad_field("query", reason))?;
        let (since, until) = search::time_range(
            query::first(params, "statsPeriod"),
            query::first(params, "start"),
            query::first(params, "end"),
            unix_now(),
        )
        .map_err(|(field, reason)| ApiError::bad_field(field, reason))?;

        let all = state.store.list_projects(Some(org.id)).await?;
        let mut projects: Vec<Project> = Vec::new();
        for id in query::all(params, "project") {
            let id: i64 = id.parse().map_err(|_| {
                ApiError::bad_field(
                    "project",
                    "Invalid project parameter. Values must be numbers.",
                )
            })?;
            if id == -1 {
                continue;
            }
            // Sentry answers 403 for a project id the caller cannot see.
            let project = all.iter().find(|p| p.id == id).ok_or(ApiError::Forbidden)?;
            projects.push(project.clone());
        }
        for slug in &filters.project_slugs {
            let project = all
                .iter()
                .find(|p| &p.slug == slug)
                .ok_or_else(|| ApiError::bad_field("query", format!("unknown project: {slug}")))?;
            if !projects.iter().any(|p| p.id == project.id) {
                projects.push(project.clone());
            }
        }
        let project_ids = projects.iter().map(|p| p.id).collect();
        if projects.is_empty() {
            projects = all;
        }
        let mut environments: Vec<String> = query::all(params, "environment")
            .into_iter()
            .map(str::to_owned)
            .collect();
        environments.extend(filters.environments);
        Ok(Scope {
            query: TransactionQuery {
                organization_id: org.id,
                project_ids,
                environments,
                transaction: filters.transaction,
                since: Some(since),
                until: Some(until),
                conditions: filters.conditions,
            },
            org,
            projects,
            since,
            until,
        })
    }

    fn project(&self, id: i64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// `apdex(N)` is answered only when N is the threshold the store computes with (each
    /// project's own): the store keeps satisfied/tolerated counts, not durations to re-bucket.
    async fn check_apdex(
        &self,
        state: &AppState,
        aggregates: &[Aggregate],
    ) -> Result<(), ApiError> {
        for aggregate in aggregates {
            let Aggregate::Apdex(Some(threshold)) = aggregate else {
                continue;
            };
            for project in &self.projects {
                let settings = state.store.performance_settings(project.id).await?;
                if (settings.apdex_threshold_ms - threshold).abs() > f64::EPSILON {
                    return Err(ApiError::bad_field(
                        "field",
                        format!(
                            "apdex({threshold}) differs from project {}'s threshold ({} ms); use apdex() or change the threshold",
                            project.slug, settings.apdex_threshold_ms
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn meta(fields: &[Field]) -> Value {
    let mut types = Map::new();
    let mut units = Map::new();
    for field in fields {
        types.insert(field.name.clone(), json!(field.meta_type()));
        units.insert(field.name.clone(), json!(field.unit()));
    }
    json!({
        "fields": types,
        "units": units,
        "isMetricsData": false,
        "isMetricsExtractedData": false,
        "tips": {},
        "dataset": "transactions",
        "datasetReason": "unchanged",
    })
}

fn parse_fields(values: &[&str], param: &str) -> Result<Vec<Field>, ApiError> {
    values
        .iter()
        .map(|f| Field::parse(f).map_err(|reason| ApiError::bad_field(param, reason)))
        .collect()
}

fn aggregates_of(fields: &[Field]) -> Vec<Aggregate> {
    fields
        .iter()
        .filter_map(|f| match f.kind {
            FieldKind::Aggregate(a) => Some(a),
            FieldKind::Column(_) => None,
        })
        .collect()
}

/// `GET /api/0/organizations/{org}/events/`.
pub async fn list_events(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let scope = Scope::from_params(&state, org, &params).await?;
    let field_names = query::all(&params, "field");
    if field_names.is_empty() {
        return Err(ApiError::bad_field("field", "No columns selected"));
    }
    let fields = parse_fields(&field_names, "field")?;
    let page = Page::from_params(
        query::first(&params, "cursor"),
        Some(query::first(&params, "per_page").unwrap_or(DEFAULT_PER_PAGE)),
    )?;
    let sort = parse_sort(query::first(&params, "sort"), &fields)?;

    let request = RowsRequest {
        state: &state,
        scope: &scope,
        fields: &fields,
        sort,
        page,
    };
    let (rows, has_next) = if fields.iter().any(Field::is_aggregate) {
        aggregate_rows(&request).await?
    } else {
        transaction_rows(&request).await?
    };
    let base = format!(
        "{}/api/0/organizations/{}/events/",
        state.config.base_url(),
        scope.org.slug
    );
    let body = json!({"data": rows, "meta": meta(&fields)});
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}

/// `sort=-p95()`: the field and whether descending; it must be one of the selected fields,
/// as in Sentry.
fn parse_sort<'a>(
    sort: Option<&str>,
    fields: &'a [Field],
) -> Result<Option<(&'a Field, bool)>, ApiError> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let (name, descending) = match sort.strip_prefix('-') {
        Some(name) => (name, true),
        None => (sort, false),
    };
    let field = fields.iter().find(|f| f.name == name).ok_or_else(|| {
        ApiError::bad_field(
            "sort",
            format!("Cannot sort by a field that is not selected: {name}"),
        )
    })?;
    Ok(Some((field, descending)))
}

/// What the rows of one `list_events` call are read with: its selected fields, sort and page.
struct RowsRequest<'a> {
    state: &'a AppState,
    scope: &'a Scope,
    fields: &'a [Field],
    sort: Option<(&'a Field, bool)>,
    page: Page,
}

/// Rows of single transactions, newest or slowest first.
async fn transaction_rows(request: &RowsRequest<'_>) -> Result<(Vec<Value>, bool), ApiError> {
    let order = match request.sort.map(|(f, descending)| (f.kind, descending)) {
        None | Some((FieldKind::Column(Column::Timestamp), true)) => TransactionSort::Newest,
        Some((FieldKind::Column(Column::Duration), true)) => TransactionSort::Slowest,
        Some(_) => {
            return Err(ApiError::bad_field(
                "sort",
                "transactions can be sorted by -timestamp or -transaction.duration",
            ))
        }
    };
    let mut transactions = request
        .state
        .store
        .list_transactions(
            &request.scope.query,
            order,
            request.page.limit + 1,
            request.page.offset,
        )
        .await?;
    let has_next = transactions.len() as u64 > request.page.limit;
    transactions.truncate(request.page.limit as usize);
    let rows = transactions
        .iter()
        .filter_map(|t| {
            let project = request.scope.project(t.project_id)?;
            let mut row = Map::new();
            for field in request.fields {
                if let FieldKind::Column(column) = field.kind {
                    row.insert(field.name.clone(), column_value(column, t, project));
                }
            }
            Some(Value::Object(row))
        })
        .collect();
    Ok((rows, has_next))
}

/// Rows of aggregates: one over everything, or one per project and transaction name.
async fn aggregate_rows(request: &RowsRequest<'_>) -> Result<(Vec<Value>, bool), ApiError> {
    let mut by_transaction = false;
    for field in request.fields {
        match field.kind {
            FieldKind::Column(Column::Transaction) => by_transaction = true,
            FieldKind::Column(Column::Project | Column::ProjectId) | FieldKind::Aggregate(_) => {}
            FieldKind::Column(_) => {
                return Err(ApiError::bad_field(
                    "field",
                    format!(
                        "cannot group by {}: aggregates group by transaction (and project) only",
                        field.name
                    ),
                ))
            }
        }
    }
    let grouped_by_project = request.fields.iter().any(|f| {
        matches!(
            f.kind,
            FieldKind::Column(Column::Project | Column::ProjectId)
        )
    });
    if grouped_by_project && !by_transaction {
        return Err(ApiError::bad_field(
            "field",
            "cannot group by project alone: add transaction",
        ));
    }
    request
        .scope
        .check_apdex(request.state, &aggregates_of(request.fields))
        .await?;

    let mut groups = request
        .state
        .store
        .aggregate_transactions(&request.scope.query, by_transaction)
        .await?;
    if groups.is_empty() && !by_transaction {
        // Sentry answers one row of zeros for an ungrouped aggregate over nothing.
        groups.push(TransactionAggregate::default());
    }
    let range_secs = request.scope.until - request.scope.since;
    let mut rows: Vec<Map<String, Value>> = groups
        .iter()
        .map(|group| {
            let mut row = Map::new();
            for field in request.fields {
                let value = match field.kind {
                    FieldKind::Aggregate(a) => aggregate_value(a, group, range_secs),
                    FieldKind::Column(Column::Transaction) => json!(group.transaction),
                    FieldKind::Column(Column::ProjectId) => json!(group.project_id),
                    FieldKind::Column(_) => json!(group
                        .project_id
                        .and_then(|id| request.scope.project(id))
                        .map(|p| p.slug.clone())),
                };
                row.insert(field.name.clone(), value);
            }
            row
        })
        .collect();
    let sort = request.sort.or_else(|| {
        request
            .fields
            .iter()
            .find(|f| f.kind == FieldKind::Aggregate(Aggregate::Count))
            .or_else(|| request.fields.iter().find(|f| f.is_aggregate()))
            .map(|f| (f, true))
    });
    if let Some((field, descending)) = sort {
        rows.sort_by(|a, b| {
            let order = compare(a.get(&field.name), b.get(&field.name));
            if descending {
                order.reverse()
            } else {
                order
            }
        });
    }
    let has_next = rows.len() as u64 > request.page.offset + request.page.limit;
    let rows = rows
        .into_iter()
        .skip(request.page.offset as usize)
        .take(request.page.limit as usize)
        .map(Value::Object)
        .collect();
    Ok((rows, has_next))
}

/// Numbers by value, strings by text, `null` first.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            text(a).cmp(&text(b))
        }
    }
}

/// `interval=` seconds, or Sentry's default for the period: minutes for up to an hour, hours
/// up to 30 days, days beyond.
fn interval_secs(interval: Option<&str>, range_secs: f64) -> Result<u64, ApiError> {
    let secs = match interval.filter(|i| !i.is_empty()) {
        Some(interval) => query::stats_period_secs(interval)
            .filter(|s| *s >= 1.0 && s.fract() == 0.0)
            .ok_or_else(|| {
                ApiError::bad_field("interval", format!("Invalid interval: {interval}"))
            })?,
        None if range_secs <= 3600.0 => 60.0,
        None if range_secs <= 30.0 * 86400.0 => 3600.0,
        None => 86400.0,
    };
    if range_secs / secs > MAX_SERIES_POINTS {
        return Err(ApiError::bad_field(
            "interval",
            "Your interval and date range would create too many results. Use a larger interval, or a smaller date range.",
        ));
    }
    Ok(secs as u64)
}

/// `GET /api/0/organizations/{org}/events-stats/`.
pub async fn events_stats(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let mut scope = Scope::from_params(&state, org, &params).await?;
    let mut y_axis = query::all(&params, "yAxis");
    if y_axis.is_empty() {
        y_axis.push("count()");
    }
    let fields = parse_fields(&y_axis, "yAxis")?;
    let mut axes: Vec<(&Field, Aggregate)> = Vec::new();
    for field in &fields {
        match field.kind {
            FieldKind::Aggregate(aggregate) => axes.push((field, aggregate)),
            FieldKind::Column(_) => {
                return Err(ApiError::bad_field(
                    "yAxis",
                    format!("{} is not an aggregate", field.name),
                ))
            }
        }
    }
    scope.check_apdex(&state, &aggregates_of(&fields)).await?;
    let interval = interval_secs(query::first(&params, "interval"), scope.until - scope.since)?;
    // Buckets on interval boundaries, as Sentry's rollups are.
    let width = interval as f64;
    let since = (scope.since / width).floor() * width;
    let until = (scope.until / width).ceil() * width;
    scope.query.since = Some(since);
    scope.query.until = Some(until);
    let series = state
        .store
        .transaction_series(&scope.query, interval)
        .await?;

    let one = |(field, aggregate): &(&Field, Aggregate), order: usize| -> Value {
        let (field, aggregate) = (*field, *aggregate);
        let data: Vec<Value> = series
            .iter()
            .map(|(bucket, group)| {
                json!([*bucket as i64, [{"count": series_value(aggregate, group, width)}]])
            })
            .collect();
        json!({
            "data": data,
            "start": since as i64,
            "end": until as i64,
            "order": order,
            "isMetricsData": false,
            "meta": meta(std::slice::from_ref(field)),
        })
    };
    if let [axis] = axes.as_slice() {
        return Ok(Json(one(axis, 0)));
    }
    let mut out = Map::new();
    for (order, axis) in axes.iter().enumerate() {
        out.insert(axis.0.name.clone(), one(axis, order));
    }
    Ok(Json(Value::Object(out)))
}
