//! Sentry's Discover API for transactions: `GET /organizations/{org}/events/` (a table: rows
//! of transactions, or aggregates per transaction name) and `…/events-stats/` (aggregates over
//! time), as Grafana's Sentry data source and scripts call them.
//!
//! Only what the store can answer exactly is accepted; the rest is a 400 naming what is not
//! supported, never a silently wider answer.

pub mod errors;
pub mod fields;
pub mod search;
pub mod spans;
pub mod validate;

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

/// What every dataset's request covers: the organization, its projects, the ones queried,
/// `environment=` and the period.
pub struct Common {
    pub org: Organization,
    /// Every project of the organization.
    pub all: Vec<Project>,
    /// The projects queried (all of the organization's for none or `-1`).
    pub projects: Vec<Project>,
    /// `project=` ids (empty: all).
    pub project_ids: Vec<i64>,
    pub environments: Vec<String>,
    pub since: f64,
    pub until: f64,
}

impl Common {
    pub async fn from_params(
        state: &AppState,
        org: Organization,
        params: &[(String, String)],
    ) -> Result<Common, ApiError> {
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
            if !projects.iter().any(|p| p.id == id) {
                projects.push(project.clone());
            }
        }
        let project_ids = projects.iter().map(|p| p.id).collect();
        if projects.is_empty() {
            projects = all.clone();
        }
        let environments = query::all(params, "environment")
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Common {
            org,
            all,
            projects,
            project_ids,
            environments,
            since,
            until,
        })
    }
}

/// What a transactions request covers: its projects, filters and period.
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
        let common = Common::from_params(state, org, params).await?;
        let mut projects: Vec<Project> = if common.project_ids.is_empty() {
            Vec::new()
        } else {
            common.projects.clone()
        };
        for slug in &filters.project_slugs {
            let project =
                common.all.iter().find(|p| &p.slug == slug).ok_or_else(|| {
                    ApiError::bad_field("query", format!("unknown project: {slug}"))
                })?;
            if !projects.iter().any(|p| p.id == project.id) {
                projects.push(project.clone());
            }
        }
        let project_ids = projects.iter().map(|p| p.id).collect();
        if projects.is_empty() {
            projects = common.all.clone();
        }
        let mut environments = common.environments.clone();
        environments.extend(filters.environments);
        Ok(Scope {
            query: TransactionQuery {
                organization_id: common.org.id,
                project_ids,
                environments,
                transaction: filters.transaction,
                since: Some(common.since),
                until: Some(common.until),
                conditions: filters.conditions,
            },
            org: common.org,
            projects,
            since: common.since,
            until: common.until,
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

/// The dataset a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Transactions,
    Errors,
    Spans,
}

/// `dataset=`, or for none (Sentry's default covers errors and transactions together) the one
/// the fields and query name: errors when any of them only error events have, else
/// transactions. Logs are refused until Vigil stores them.
pub fn dataset_of(params: &[(String, String)]) -> Result<Dataset, ApiError> {
    match query::first(params, "dataset").filter(|d| !d.is_empty()) {
        Some("transactions") => Ok(Dataset::Transactions),
        Some("errors") => Ok(Dataset::Errors),
        Some("spans") => Ok(Dataset::Spans),
        Some("logs" | "ourlogs") => Err(ApiError::Invalid(
            "dataset: the logs dataset is not available: Vigil does not store logs yet".into(),
        )),
        Some("discover") | None => Ok(inferred_dataset(params)),
        Some(other) => Err(ApiError::Invalid(format!(
            "dataset: unknown or unsupported dataset: {other} (errors, transactions or spans)"
        ))),
    }
}

fn inferred_dataset(params: &[(String, String)]) -> Dataset {
    let fields = query::all(params, "field")
        .into_iter()
        .chain(query::all(params, "yAxis"));
    if fields.into_iter().any(errors::is_error_only) {
        return Dataset::Errors;
    }
    let Ok(search) = vigil_store::search::parse_search(query::first(params, "query").unwrap_or(""))
    else {
        return Dataset::Transactions;
    };
    let error_term = search.terms.iter().any(|term| match term {
        vigil_store::SearchTerm::Level { .. } => true,
        vigil_store::SearchTerm::Tag { key, value, .. } => {
            (key == "event.type" && value != "transaction") || errors::is_error_only(key)
        }
        _ => false,
    });
    if error_term {
        Dataset::Errors
    } else {
        Dataset::Transactions
    }
}

/// `GET /api/0/organizations/{org}/events/`.
pub async fn list_events(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    match dataset_of(&params)? {
        Dataset::Transactions => transaction_events(&state, org, &params).await,
        Dataset::Errors => error_events(&state, org, &params).await,
        Dataset::Spans => span_events(&state, org, &params).await,
    }
}

/// Sentry's alias of a field in `sort=`: `last_seen()` is `last_seen`, `count_unique(user)`
/// is `count_unique_user`.
fn alias(name: &str) -> String {
    name.trim_end_matches("()")
        .replace(['(', '.', ','], "_")
        .replace(')', "")
}

/// `sort=-name`: the selected field it names (by name or alias) and whether descending.
fn sort_of<'a, F>(
    sort: Option<&str>,
    fields: &'a [F],
    name_of: impl Fn(&F) -> &str,
) -> Result<Option<(&'a F, bool)>, ApiError> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let (name, descending) = match sort.strip_prefix('-') {
        Some(name) => (name, true),
        None => (sort, false),
    };
    let field = fields
        .iter()
        .find(|f| name_of(f) == name || alias(name_of(f)) == name)
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "sort: Cannot sort by a field that is not selected: {name}"
            ))
        })?;
    Ok(Some((field, descending)))
}

fn events_link(state: &AppState, org: &Organization) -> String {
    format!(
        "{}/api/0/organizations/{}/events/",
        state.config.base_url(),
        org.slug
    )
}

/// The errors dataset's rows: single events, or aggregates per group of the other fields.
async fn error_events(
    state: &AppState,
    org: Organization,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let common = Common::from_params(state, org, params).await?;
    let names = query::all(params, "field");
    if names.is_empty() {
        return Err(ApiError::Invalid("field: No columns selected".into()));
    }
    let mut fields = Vec::new();
    for name in names {
        fields.push(errors::Field::parse(state, &common, name).await?);
    }
    let page = Page::from_params(
        query::first(params, "cursor"),
        Some(query::first(params, "per_page").unwrap_or(DEFAULT_PER_PAGE)),
    )?;
    let sort = sort_of(query::first(params, "sort"), &fields, |f| f.name.as_str())?;
    let conditions =
        errors::conditions(state, &common, query::first(params, "query").unwrap_or("")).await?;
    let query = errors::error_query(&common, conditions);
    let grouped = fields.iter().any(errors::Field::is_aggregate);
    let (rows, has_next) = if grouped {
        let (by, index_of) = errors::grouping(&fields)?;
        let groups = state.store.error_groups(&query, &by).await?;
        let sort = sort.or_else(|| {
            fields
                .iter()
                .find(|f| f.kind == errors::Kind::Agg(errors::Agg::Count))
                .or_else(|| fields.iter().find(|f| f.is_aggregate()))
                .map(|f| (f, true))
        });
        let no_short_ids = std::collections::HashMap::new();
        let mut ordered: Vec<(Value, &vigil_store::ErrorGroup)> = groups
            .iter()
            .map(|group| {
                let key = sort.map_or(Value::Null, |(field, _)| {
                    let index = fields
                        .iter()
                        .position(|f| f == field)
                        .and_then(|i| index_of[i]);
                    errors::group_value(field, index, group, &common, &no_short_ids)
                });
                (key, group)
            })
            .collect();
        if let Some((_, descending)) = sort {
            ordered.sort_by(|a, b| {
                let order = compare(Some(&a.0), Some(&b.0));
                if descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
        let has_next = ordered.len() as u64 > page.offset + page.limit;
        let page_groups: Vec<&vigil_store::ErrorGroup> = ordered
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .map(|(_, g)| g)
            .collect();
        let issue_index = fields
            .iter()
            .position(|f| f.kind == errors::Kind::Col(errors::Col::Issue))
            .and_then(|i| index_of[i]);
        let issue_ids: Vec<i64> = page_groups
            .iter()
            .filter_map(|g| {
                issue_index
                    .and_then(|i| g.keys.get(i).cloned().flatten())
                    .and_then(|k| k.parse::<i64>().ok())
            })
            .collect();
        let short_ids = errors::short_ids(state, &common, issue_ids).await?;
        let rows = page_groups
            .iter()
            .map(|group| {
                let mut row = Map::new();
                for (field, index) in fields.iter().zip(&index_of) {
                    row.insert(
                        field.name.clone(),
                        errors::group_value(field, *index, group, &common, &short_ids),
                    );
                }
                Value::Object(row)
            })
            .collect::<Vec<_>>();
        (rows, has_next)
    } else {
        let order = errors::row_order(sort)?;
        let mut events = state
            .store
            .error_events(&query, order, page.limit + 1, page.offset)
            .await?;
        let has_next = events.len() as u64 > page.limit;
        events.truncate(page.limit as usize);
        let short_ids = errors::short_ids(
            state,
            &common,
            events.iter().filter_map(|e| e.issue_id).collect(),
        )
        .await?;
        let rows = events
            .iter()
            .map(|event| {
                let project = common.all.iter().find(|p| p.id == event.project_id);
                let mut row = Map::new();
                for field in &fields {
                    if let errors::Kind::Col(col) = &field.kind {
                        row.insert(
                            field.name.clone(),
                            errors::row_value(col, event, project, &short_ids),
                        );
                    }
                }
                Value::Object(row)
            })
            .collect::<Vec<_>>();
        (rows, has_next)
    };
    let body = json!({"data": rows, "meta": errors::meta(&fields, grouped)});
    let link = page.link_header(&events_link(state, &common.org), params, has_next);
    Ok((link, Json(body)).into_response())
}

/// The spans dataset's rows.
async fn span_events(
    state: &AppState,
    org: Organization,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let common = Common::from_params(state, org, params).await?;
    let names = query::all(params, "field");
    if names.is_empty() {
        return Err(ApiError::Invalid("field: No columns selected".into()));
    }
    let fields = names
        .iter()
        .map(|n| spans::Field::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    let page = Page::from_params(
        query::first(params, "cursor"),
        Some(query::first(params, "per_page").unwrap_or(DEFAULT_PER_PAGE)),
    )?;
    let order = spans::order(query::first(params, "sort"), &fields)?;
    let query = spans::span_query(&common, query::first(params, "query").unwrap_or(""))?;
    let mut rows = state
        .store
        .span_rows(&query, order, page.limit + 1, page.offset)
        .await?;
    let has_next = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    let data: Vec<Value> = rows
        .iter()
        .map(|span| spans::row(&fields, span, &common))
        .collect();
    let body = json!({"data": data, "meta": spans::meta(&fields)});
    let link = page.link_header(&events_link(state, &common.org), params, has_next);
    Ok((link, Json(body)).into_response())
}

/// The transactions dataset's rows.
async fn transaction_events(
    state: &AppState,
    org: Organization,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let params = params.to_vec();
    let state = state.clone();
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
    match dataset_of(&params)? {
        Dataset::Transactions => {
            // With no column to split by, the top series is the one series (Grafana sends
            // `topEvents` on every chart); a split is charted for errors only.
            let splits = query::all(&params, "field")
                .into_iter()
                .any(|f| !f.trim().ends_with(')'));
            if top_events(&params)?.is_some() && splits {
                return Err(ApiError::Invalid(
                    "topEvents: top events by field are charted for the errors dataset only".into(),
                ));
            }
            transaction_stats(&state, org, &params).await
        }
        Dataset::Errors => error_stats(&state, org, &params).await,
        Dataset::Spans => Err(ApiError::Invalid(
            "dataset: spans are not charted over time; use the transactions dataset".into(),
        )),
    }
}

/// `topEvents=`: 1 to 10 groups (Sentry's bounds); none for absent, empty or 0.
fn top_events(params: &[(String, String)]) -> Result<Option<usize>, ApiError> {
    match query::first(params, "topEvents").filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(value) => match value.parse::<usize>() {
            Ok(0) => Ok(None),
            Ok(n) if n <= 10 => Ok(Some(n)),
            _ => Err(ApiError::Invalid(format!(
                "topEvents: must be a number from 1 to 10, not {value}"
            ))),
        },
    }
}

/// One series of counts in Sentry's shape, every bucket from `since` to `until` present.
fn count_series(
    counts: &std::collections::HashMap<i64, u64>,
    since: f64,
    until: f64,
    width: f64,
    order: usize,
    field: &errors::Field,
) -> Value {
    let mut data = Vec::new();
    let mut bucket = since;
    while bucket < until {
        let count = counts.get(&(bucket as i64)).copied().unwrap_or(0);
        data.push(json!([bucket as i64, [{"count": count}]]));
        bucket += width;
    }
    json!({
        "data": data,
        "start": since as i64,
        "end": until as i64,
        "order": order,
        "isMetricsData": false,
        "meta": errors::meta(std::slice::from_ref(field), true),
    })
}

/// Error events counted over time: one series, or one per top group of `field=` with
/// `topEvents` (and an `Other` series for the rest unless `excludeOther=1`).
async fn error_stats(
    state: &AppState,
    org: Organization,
    params: &[(String, String)],
) -> Result<Json<Value>, ApiError> {
    let common = Common::from_params(state, org, params).await?;
    let mut y_axis = query::all(params, "yAxis");
    if y_axis.is_empty() {
        y_axis.push("count()");
    }
    y_axis.dedup();
    let axis = match y_axis.as_slice() {
        [one] => errors::Field::parse(state, &common, one).await?,
        _ => {
            return Err(ApiError::Invalid(
                "yAxis: the errors dataset charts one yAxis, count()".into(),
            ))
        }
    };
    if axis.kind != errors::Kind::Agg(errors::Agg::Count) {
        return Err(ApiError::Invalid(format!(
            "yAxis: the errors dataset charts count(), not {}",
            axis.name
        )));
    }
    let interval = interval_secs(
        query::first(params, "interval"),
        common.until - common.since,
    )?;
    let width = interval as f64;
    let since = (common.since / width).floor() * width;
    // `partial=1` keeps the bucket the period ends in, which is not over yet.
    let until = match query::first(params, "partial").unwrap_or("0") {
        "1" => (common.until / width).ceil() * width,
        "0" | "" => (common.until / width).floor() * width,
        other => return Err(ApiError::Invalid(format!("partial: 0 or 1, not {other}"))),
    }
    .max(since + width);
    let exclude_other = match query::first(params, "excludeOther").unwrap_or("0") {
        "1" => true,
        "0" | "" => false,
        other => {
            return Err(ApiError::Invalid(format!(
                "excludeOther: 0 or 1, not {other}"
            )))
        }
    };
    let conditions =
        errors::conditions(state, &common, query::first(params, "query").unwrap_or("")).await?;
    let mut query = errors::error_query(&common, conditions);
    query.since = since;
    query.until = until;
    let totals = |buckets: &[vigil_store::ErrorBucket]| {
        let mut counts = std::collections::HashMap::new();
        for b in buckets {
            *counts.entry(b.bucket as i64).or_insert(0) += b.count;
        }
        counts
    };
    let Some(top) = top_events(params)? else {
        let buckets = state.store.error_series(&query, interval, &[]).await?;
        return Ok(Json(count_series(
            &totals(&buckets),
            since,
            until,
            width,
            0,
            &axis,
        )));
    };
    let mut group_fields = Vec::new();
    for name in query::all(params, "field") {
        let field = errors::Field::parse(state, &common, name).await?;
        if !field.is_aggregate() {
            group_fields.push(field);
        }
    }
    if group_fields.is_empty() {
        // Nothing to split by: the top series is the one series.
        let buckets = state.store.error_series(&query, interval, &[]).await?;
        return Ok(Json(count_series(
            &totals(&buckets),
            since,
            until,
            width,
            0,
            &axis,
        )));
    }
    let (by, index_of) = errors::grouping(&group_fields)?;
    let mut groups = state.store.error_groups(&query, &by).await?;
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_seen.total_cmp(&a.last_seen))
    });
    let others = groups.len() > top;
    groups.truncate(top);
    let issue_ids: Vec<i64> = groups
        .iter()
        .flat_map(|g| {
            g.keys
                .iter()
                .flatten()
                .filter_map(|k| k.parse::<i64>().ok())
        })
        .collect();
    let short_ids = errors::short_ids(state, &common, issue_ids).await?;
    let buckets = state.store.error_series(&query, interval, &by).await?;
    let mut out = Map::new();
    let mut top_counts: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
    for (order, group) in groups.iter().enumerate() {
        let label: Vec<String> = group_fields
            .iter()
            .zip(&index_of)
            .map(|(field, index)| {
                match errors::group_value(field, *index, group, &common, &short_ids) {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                }
            })
            .collect();
        let mine: Vec<vigil_store::ErrorBucket> = buckets
            .iter()
            .filter(|b| b.keys == group.keys)
            .cloned()
            .collect();
        let counts = totals(&mine);
        for (bucket, count) in &counts {
            *top_counts.entry(*bucket).or_insert(0) += count;
        }
        out.insert(
            label.join(","),
            count_series(&counts, since, until, width, order, &axis),
        );
    }
    if others && !exclude_other {
        let mut rest = totals(&buckets);
        for (bucket, count) in &top_counts {
            if let Some(total) = rest.get_mut(bucket) {
                *total = total.saturating_sub(*count);
            }
        }
        out.insert(
            "Other".into(),
            count_series(&rest, since, until, width, groups.len(), &axis),
        );
    }
    Ok(Json(Value::Object(out)))
}

/// Transactions aggregated over time.
async fn transaction_stats(
    state: &AppState,
    org: Organization,
    params: &[(String, String)],
) -> Result<Json<Value>, ApiError> {
    let params = params.to_vec();
    let state = state.clone();
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
