//! Issue lists with Sentry's search, one issue, and status changes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_store::search::{self, parse_issue_search, parse_search, SearchQuery, SearchTerm};
use vigil_store::{IssueQuery, IssueSort, IssueStatus, Organization, Project};

use super::access::{IssueAccess, OrgAccess, ProjectAccess};
use super::auth::Caller;
use super::error::{json_body, ApiError};
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::time::unix_now;
use crate::AppState;

/// `GET /api/0/organizations/{org}/issues/`.
pub async fn list_org_issues(
    State(state): State<AppState>,
    OrgAccess { org, caller }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let mut project_ids = Vec::new();
    for id in query::all(&params, "project") {
        // Sentry's "all projects" is -1.
        match id.parse::<i64>() {
            Ok(-1) => {}
            Ok(id) => project_ids.push(id),
            Err(_) => {
                return Err(ApiError::bad_field(
                    "project",
                    "Invalid project parameter. Values must be numbers.",
                ))
            }
        }
    }
    let path = format!("/api/0/organizations/{}/issues/", org.slug);
    list_issues(&state, org, caller.user.id, project_ids, params, &path).await
}

/// `GET /api/0/projects/{org}/{project}/issues/`.
pub async fn list_project_issues(
    State(state): State<AppState>,
    ProjectAccess {
        org,
        project,
        caller,
    }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("/api/0/projects/{}/{}/issues/", org.slug, project.slug);
    list_issues(&state, org, caller.user.id, vec![project.id], params, &path).await
}

async fn list_issues(
    state: &AppState,
    org: Organization,
    user_id: i64,
    project_ids: Vec<i64>,
    params: Vec<(String, String)>,
    path: &str,
) -> Result<Response, ApiError> {
    // Sentry's default search for the issue stream.
    let search_text = query::first(&params, "query").unwrap_or("is:unresolved");
    let search = parse_issue_search(search_text)
        .map_err(|err| ApiError::bad_field("query", err.to_string()))?;
    let sort = IssueSort::parse(query::first(&params, "sort").unwrap_or("date"))
        .ok_or_else(|| ApiError::bad_field("sort", "Invalid sort"))?;
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit"),
    )?;
    let (seen_since, seen_until) = time_range(&params)?;

    // An event id or a short id typed alone answers just its issue, whatever the other
    // filters, with Sentry's `X-Sentry-Direct-Hit` header.
    if let Some(hit) = direct_hit(state, org.id, &project_ids, search_text).await? {
        let mut headers = HeaderMap::new();
        headers.insert("X-Sentry-Direct-Hit", HeaderValue::from_static("1"));
        let body = serialize_list(state, &org, user_id, &[hit], &params).await?;
        return Ok((headers, Json(body)).into_response());
    }

    let issues = state
        .store
        .search_issues(&IssueQuery {
            organization_id: org.id,
            project_ids,
            search,
            environments: query::all(&params, "environment")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            seen_since,
            seen_until,
            viewer: Some(user_id),
            sort,
            offset: page.offset,
            limit: page.limit + 1,
            ..IssueQuery::default()
        })
        .await?;
    let has_next = issues.len() as u64 > page.limit;
    let issues = &issues[..issues.len().min(page.limit as usize)];
    let body = serialize_list(state, &org, user_id, issues, &params).await?;
    let base = format!("{}{}", state.config.base_url(), path);
    let headers: HeaderMap = page.link_header(&base, &params, has_next);
    Ok((headers, Json(body)).into_response())
}

/// The issue an event id (32 hex digits or a UUID) or a short id (`SHOP-1A`) typed alone
/// names, in the organization (and the projects asked for): Sentry's direct hit. `None` when
/// the query is not such an id or names nothing, and the query is then searched as text.
pub async fn direct_hit(
    state: &AppState,
    organization_id: i64,
    project_ids: &[i64],
    text: &str,
) -> Result<Option<vigil_store::Issue>, vigil_store::StoreError> {
    let text = text.trim();
    let term = if let Some(id) = search::event_id(text) {
        SearchTerm::EventId { id, negated: false }
    } else if let Some((project, number)) = search::parse_short_id(text) {
        SearchTerm::ShortId {
            project,
            number,
            negated: false,
        }
    } else {
        return Ok(None);
    };
    let found = state
        .store
        .search_issues(&IssueQuery {
            organization_id,
            project_ids: project_ids.to_vec(),
            search: SearchQuery { terms: vec![term] },
            limit: 1,
            ..IssueQuery::default()
        })
        .await?;
    Ok(found.into_iter().next())
}

/// The issues in Sentry's list shape, with their `stats` (`groupStatsPeriod`).
async fn serialize_list(
    state: &AppState,
    org: &Organization,
    user_id: i64,
    issues: &[vigil_store::Issue],
    params: &[(String, String)],
) -> Result<Vec<Value>, ApiError> {
    let stats_period = query::first(params, "groupStatsPeriod").unwrap_or("24h");
    let stats = group_stats(state, issues, stats_period).await?;
    let mut projects: Vec<Project> = Vec::new();
    let mut body = Vec::new();
    for (issue, stats) in issues.iter().zip(stats) {
        if !projects.iter().any(|p| p.id == issue.project_id) {
            if let Some(p) = state.store.project_by_id(issue.project_id).await? {
                projects.push(p);
            }
        }
        if let Some(project) = projects.iter().find(|p| p.id == issue.project_id) {
            // Sentry's stream serializer: the triage fields as the caller sees them.
            let mut value = super::triage::issue_json(state, issue, project, org, user_id).await?;
            if let Some((period, series)) = &stats {
                value["stats"] = json!({ period.as_str(): series });
            }
            body.push(value);
        }
    }
    Ok(body)
}

/// Sentry's `stats` of issue lists: for `groupStatsPeriod=24h` (the default) 24 hourly
/// `[bucket start, events]` pairs, for `14d` 14 daily ones, oldest first; `""` for none.
async fn group_stats(
    state: &AppState,
    issues: &[vigil_store::Issue],
    period: &str,
) -> Result<Vec<Option<(String, Vec<[i64; 2]>)>>, ApiError> {
    let (buckets, width) = match period {
        "" => return Ok(vec![None; issues.len()]),
        "24h" | "auto" => (24i64, 3600i64),
        "14d" => (14, 86400),
        _ => {
            return Err(ApiError::bad_field(
                "groupStatsPeriod",
                "Invalid groupStatsPeriod",
            ))
        }
    };
    let label = if period == "auto" { "24h" } else { period };
    let now = unix_now() as i64;
    let end = (now / width + 1) * width;
    let start = end - buckets * width;
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let counts = state.store.issue_hourly_counts(&ids, start as f64).await?;
    Ok(issues
        .iter()
        .map(|issue| {
            let mut series: Vec<[i64; 2]> = (0..buckets).map(|b| [start + b * width, 0]).collect();
            for (_, hour, count) in counts.iter().filter(|(id, _, _)| *id == issue.id) {
                let index = (hour - start) / width;
                if let Some(bucket) = usize::try_from(index).ok().and_then(|i| series.get_mut(i)) {
                    bucket[1] += count;
                }
            }
            Some((label.to_string(), series))
        })
        .collect())
}

/// `statsPeriod` (default 14d, `""` for all time) or `start`/`end`.
fn time_range(params: &[(String, String)]) -> Result<(Option<f64>, Option<f64>), ApiError> {
    let parse = |key: &str| -> Result<Option<f64>, ApiError> {
        match query::first(params, key) {
            None | Some("") => Ok(None),
            Some(s) => vigil_protocol::timestamp::parse_rfc3339(s)
                .map(Some)
                .ok_or_else(|| ApiError::bad_field(key, "Invalid date")),
        }
    };
    let start = parse("start")?;
    let end = parse("end")?;
    if start.is_some() || end.is_some() {
        return Ok((start, end));
    }
    let period = query::first(params, "statsPeriod").unwrap_or("14d");
    if period.is_empty() {
        return Ok((None, None));
    }
    let secs = query::stats_period_secs(period)
        .ok_or_else(|| ApiError::bad_field("statsPeriod", "Invalid statsPeriod"))?;
    Ok((Some(unix_now() - secs), None))
}

/// The body of the status-only bulk update (`triage` hands it the other fields' requests).
#[derive(Debug, Deserialize)]
pub struct IssueUpdate {
    pub status: Option<String>,
    #[serde(flatten)]
    pub _other: serde_json::Map<String, Value>,
}

fn parse_status(update: &IssueUpdate) -> Result<Option<IssueStatus>, ApiError> {
    match update.status.as_deref() {
        None => Ok(None),
        Some("resolved") => Ok(Some(IssueStatus::Resolved)),
        Some("resolvedInNextRelease") => Err(ApiError::bad_field(
            "status",
            "resolvedInNextRelease is not supported: Vigil does not resolve in a release yet; \
             use \"resolved\".",
        )),
        Some(s) => IssueStatus::parse(s).map(Some).ok_or_else(|| {
            ApiError::bad_field("status", format!("\"{s}\" is not a valid choice."))
        }),
    }
}

/// `PUT /api/0/projects/{org}/{project}/issues/?id=1&id=2`: bulk status change; answers only
/// the changed fields, as Sentry does.
pub async fn bulk_update_project_issues(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, project)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
    body: Option<Json<IssueUpdate>>,
) -> Result<Json<Value>, ApiError> {
    let update = json_body(body)?;
    let (org, project) = caller.project(&state, &org, &project).await?;
    let Some(status) = parse_status(&update)? else {
        return Ok(Json(json!({})));
    };
    let mut ids: Vec<i64> = Vec::new();
    for id in query::all(&params, "id") {
        ids.push(
            id.parse()
                .map_err(|_| ApiError::bad_field("id", "Invalid id"))?,
        );
    }
    if ids.is_empty() {
        // `?status=unresolved` (or no filter): every issue of the project matching it.
        let search_text = query::first(&params, "status")
            .map(|s| format!("is:{s}"))
            .unwrap_or_default();
        let search = parse_search(&search_text)
            .map_err(|err| ApiError::bad_field("status", err.to_string()))?;
        let issues = state
            .store
            .search_issues(&IssueQuery {
                organization_id: org.id,
                project_ids: vec![project.id],
                search,
                limit: 1000,
                ..IssueQuery::default()
            })
            .await?;
        ids = issues.iter().map(|i| i.id).collect();
    }
    for id in ids {
        match state.store.issue_by_id(id).await? {
            Some(issue) if issue.project_id == project.id => {
                state.store.set_issue_status(id, status).await?;
            }
            _ => return Err(ApiError::NotFound),
        }
    }
    Ok(Json(
        json!({"status": status.as_str(), "statusDetails": {}}),
    ))
}

/// `GET /api/0/issues/{id}/tags/`: each tag key with its top values.
pub async fn issue_tags(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    let mut values = state.store.issue_tag_values(issue.id).await?;
    values.retain(|value| !vigil_processing::tags::is_search_only_tag(&value.key));
    let mut keys: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let key = &values[i].key;
        let group: Vec<_> = values[i..].iter().take_while(|v| &v.key == key).collect();
        i += group.len();
        let total: i64 = group.iter().map(|v| v.times_seen).sum();
        let top: Vec<Value> = group
            .iter()
            .take(9)
            .map(|v| {
                json!({"key": key, "name": v.value, "value": v.value, "count": v.times_seen,
                       "firstSeen": crate::serialize::iso(v.first_seen), "lastSeen": crate::serialize::iso(v.last_seen)})
            })
            .collect();
        keys.push(json!({"key": key, "name": key, "totalValues": total, "uniqueValues": group.len(), "topValues": top}));
    }
    Ok(Json(Value::Array(keys)))
}
