//! The issue stream of an organization (`/organizations/{org}/issues/`): Sentry's search,
//! status tabs, sorts, time range, paging, sparklines and bulk status changes. It runs the same
//! store query as `GET /api/0/organizations/{org}/issues/`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use vigil_store::search::{parse_issue_search, parse_search, SearchTerm};
use vigil_store::{Issue, IssueQuery, IssueSort, IssueStatus, Organization, Project};

use super::access::ViewerOrg;
use super::charts;
use super::error::WebError;
use super::issue::org_issue;
use super::layout::{count, csrf_field, level_badge, page, pager, time_ago, Shell};
use super::selection::{self, Selection};
use super::session::{safe_next, Viewer};
use crate::query::{self, QueryPairs};
use crate::serialize::issue::short_id;
use crate::time::unix_now;
use crate::AppState;

/// Issues per page.
pub const PAGE_SIZE: u64 = 25;

const SORTS: &[(&str, &str)] = &[
    ("date", "Last seen"),
    ("new", "First seen"),
    ("freq", "Events"),
    ("user", "Users"),
];

const PERIODS: &[(&str, &str)] = &[
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("14d", "14 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
];

/// The list's parameters as given, to build links that change one of them.
#[derive(Debug, Clone)]
struct ListParams {
    query: String,
    sort: String,
    period: String,
    projects: Vec<i64>,
    /// `environment=` parameters, as Sentry's environment selector sets them.
    environments: Vec<String>,
    page: u64,
    /// `assigned` (to me), `bookmarks` (mine), `review` (for review), or empty: all.
    view: String,
}

impl ListParams {
    fn from_pairs(pairs: &[(String, String)]) -> ListParams {
        ListParams {
            query: query::first(pairs, "query")
                .unwrap_or("is:unresolved")
                .to_string(),
            sort: query::first(pairs, "sort").unwrap_or("date").to_string(),
            period: query::first(pairs, "statsPeriod")
                .unwrap_or("14d")
                .to_string(),
            projects: selection::projects(pairs),
            environments: selection::environments(pairs),
            page: selection::page(pairs),
            view: query::first(pairs, "view").unwrap_or("").to_string(),
        }
    }
}

impl Selection for ListParams {
    fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for p in &self.projects {
            s.append_pair("project", &p.to_string());
        }
        for e in &self.environments {
            s.append_pair("environment", e);
        }
        s.append_pair("query", &self.query);
        s.append_pair("sort", &self.sort);
        s.append_pair("statsPeriod", &self.period);
        if self.page > 0 {
            s.append_pair("page", &self.page.to_string());
        }
        if !self.view.is_empty() {
            s.append_pair("view", &self.view);
        }
        s.finish()
    }

    fn first_page(&mut self) {
        self.page = 0;
    }
}

/// The list's views: (`view=` value, label).
const VIEWS: [(&str, &str); 4] = [
    ("", "All"),
    ("assigned", "Assigned to me"),
    ("bookmarks", "My bookmarks"),
    ("review", "For review"),
];

/// The status an `is:` term of the query selects, for the tabs.
fn selected_status(query: &str) -> Option<IssueStatus> {
    parse_search(query)
        .ok()?
        .terms
        .iter()
        .find_map(|t| match t {
            SearchTerm::Status {
                status,
                negated: false,
            } => Some(*status),
            _ => None,
        })
}

/// The query with its `is:<status>` terms replaced by `is:<status>` of the tab.
fn query_for_status(query: &str, status: IssueStatus) -> String {
    let rest: Vec<&str> = query
        .split_whitespace()
        .filter(|t| {
            !matches!(
                t.strip_prefix("is:"),
                Some("unresolved" | "resolved" | "ignored" | "archived" | "muted")
            )
        })
        .collect();
    let mut out = format!("is:{}", status.as_str());
    for t in rest {
        out.push(' ');
        out.push_str(t);
    }
    out
}

/// `GET /organizations/{org}/issues/`.
pub async fn list(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, WebError> {
    let params = ListParams::from_pairs(&pairs);
    let prefix = state.config.path_prefix();
    // An event id or short id typed alone opens its issue, as Sentry's search box does.
    if let Some(hit) =
        crate::api::issues::direct_hit(&state, org.id, &params.projects, &params.query).await?
    {
        let to = format!("{prefix}/organizations/{}/issues/{}/", org.slug, hit.id);
        return Ok(Redirect::to(&to).into_response());
    }
    let projects = state.store.list_projects(Some(org.id)).await?;
    let environments = state
        .web
        .selectable_environments(
            state.store.as_ref(),
            &projects,
            &params.projects,
            Vec::new(),
        )
        .await?;
    let now = unix_now();

    let (issues, error, status) = match search(&state, &org, &params, viewer.user.id, now).await {
        Ok(issues) => (issues, None, StatusCode::OK),
        Err((status, message)) => (Vec::new(), Some(message), status),
    };
    let has_next = issues.len() as u64 > PAGE_SIZE;
    let issues = &issues[..issues.len().min(PAGE_SIZE as usize)];
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let since = charts::series_start(now, 24, 3600);
    let hourly = state.store.issue_hourly_counts(&ids, since).await?;

    let base = format!("{prefix}/organizations/{}/issues/", org.slug);
    let current = selected_status(&params.query);
    let back = format!("{base}?{}", params.to_query());
    let body = html! {
        div.page-head {
            h1 { "Issues" }
            form.projects-filter method="get" action=(base) {
                input type="hidden" name="query" value=(params.query);
                input type="hidden" name="sort" value=(params.sort);
                input type="hidden" name="statsPeriod" value=(params.period);
                label {
                    "Project "
                    select name="project" data-autosubmit {
                        option value="-1" { "All projects" }
                        @for p in &projects {
                            option value=(p.id) selected[params.projects.contains(&p.id)] { (p.slug) }
                        }
                    }
                }
                label {
                    " Environment "
                    select name="environment" data-autosubmit {
                        option value="" { "All environments" }
                        @for env in &environments {
                            option value=(env) selected[params.environments.contains(env)] { (env) }
                        }
                    }
                }
                noscript { button type="submit" { "Show" } }
            }
        }
        form.search method="get" action=(base) role="search" {
            @for p in &params.projects { input type="hidden" name="project" value=(p); }
            @for e in &params.environments { input type="hidden" name="environment" value=(e); }
            input type="hidden" name="sort" value=(params.sort);
            input type="hidden" name="statsPeriod" value=(params.period);
            input #search type="search" name="query" value=(params.query) aria-label="Search issues"
                placeholder="is:unresolved level:error times_seen:>10 firstSeen:-24h release:[a,b] (x OR y) text, an event id or SHOP-1A";
            button type="submit" { "Search" }
        }
        @if let Some(error) = &error { p.error role="alert" { (error) } }
        nav.tabs aria-label="Status" {
            @for status in [IssueStatus::Unresolved, IssueStatus::Resolved, IssueStatus::Ignored] {
                a href=(params.with(|p| p.query = query_for_status(&p.query, status)))
                    class=(if current == Some(status) { "tab selected" } else { "tab" })
                    aria-current=[(current == Some(status)).then_some("page")] {
                    (title_case(status.as_str()))
                }
            }
            span.spacer {}
            span.choices {
                "View: "
                @for (key, label) in VIEWS {
                    a href=(params.with(|p| p.view = key.to_string()))
                        class=(if params.view == *key { "selected" } else { "" }) { (label) }
                }
            }
            span.choices {
                "Sort: "
                @for (key, label) in SORTS {
                    a href=(params.with(|p| p.sort = key.to_string()))
                        class=(if params.sort == *key { "selected" } else { "" }) { (label) }
                }
            }
            span.choices {
                "Seen in: "
                @for (key, label) in PERIODS {
                    a href=(params.with(|p| p.period = key.to_string()))
                        class=(if params.period == *key { "selected" } else { "" }) { (label) }
                }
            }
        }
        form.bulk #issue-stream data-live="30" method="post" action={ (base) "bulk/" } {
            (csrf_field(&viewer))
            input type="hidden" name="back" value=(back);
            div.bulk-actions {
                label.select-all { input type="checkbox" data-select-all="id"; " Select all" }
                button type="submit" name="status" value="resolved" { "Resolve" }
                button type="submit" name="status" value="ignored" { "Ignore" }
                button type="submit" name="status" value="unresolved" { "Unresolve" }
                button type="submit" name="action" value="merge" { "Merge" }
            }
            @if issues.is_empty() {
                p.empty { "No issues match this search." }
            } @else {
                table.issues {
                    thead { tr {
                        th {} th { "Issue" } th.graph { "Last 24 hours" } th.num { "Events" } th.num { "Users" }
                    } }
                    tbody {
                        @for issue in issues {
                            @if let Some(project) = projects.iter().find(|p| p.id == issue.project_id) {
                                (issue_row(&prefix, &org, project, issue, &hourly, now))
                            }
                        }
                    }
                }
            }
        }
        (pager(params.page, has_next, |page| ListParams { page, ..params.clone() }.to_query()))
    };
    let html = page(Shell::of_org("Issues", &prefix, &viewer, &org), body);
    Ok((status, html).into_response())
}

/// The page of issues the list shows; a search that does not parse is a 400 with its reason.
async fn search(
    state: &AppState,
    org: &Organization,
    params: &ListParams,
    user_id: i64,
    now: f64,
) -> Result<Vec<Issue>, (StatusCode, String)> {
    let invalid = |message: String| (StatusCode::BAD_REQUEST, message);
    let mine = Some(user_id);
    let (assigned_to, bookmarked_by, for_review_by) = match params.view.as_str() {
        "" => (None, None, None),
        "assigned" => (mine, None, None),
        "bookmarks" => (None, mine, None),
        "review" => (None, None, mine),
        _ => return Err(invalid("Unknown view".to_string())),
    };
    let search =
        parse_issue_search(&params.query).map_err(|e| invalid(format!("Invalid search: {e}")))?;
    let sort = IssueSort::parse(&params.sort).ok_or_else(|| invalid("Unknown sort".into()))?;
    let seen_since = query::stats_period_secs(&params.period).map(|secs| now - secs);
    state
        .store
        .search_issues(&IssueQuery {
            organization_id: org.id,
            project_ids: params.projects.clone(),
            search,
            environments: params.environments.clone(),
            seen_since,
            seen_until: None,
            sort,
            viewer: Some(user_id),
            assigned_to,
            bookmarked_by,
            for_review_by,
            offset: params.page * PAGE_SIZE,
            limit: PAGE_SIZE + 1,
        })
        .await
        .map_err(|e| {
            tracing::error!(err = %e, "issue search failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The search could not be run; try again shortly.".to_string(),
            )
        })
}

fn issue_row(
    prefix: &str,
    org: &Organization,
    project: &Project,
    issue: &Issue,
    hourly: &[(i64, i64, i64)],
    now: f64,
) -> Markup {
    let series = charts::bucket_counts(hourly, issue.id, now, 24, 3600);
    let href = format!("{prefix}/organizations/{}/issues/{}/", org.slug, issue.id);
    let value = issue
        .metadata
        .get("value")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    html! {
        tr.issue {
            td.check { input type="checkbox" name="id" value=(issue.id) aria-label={ "Select " (short_id(project, issue.short_id)) }; }
            td.main {
                a.title href=(href) { (issue.title) }
                div.meta {
                    (level_badge(&issue.level))
                    span.short-id { (short_id(project, issue.short_id)) }
                    @if !issue.culprit.is_empty() { span.culprit { (issue.culprit) } }
                    @if issue.is_unhandled { span.badge.unhandled { "Unhandled" } }
                    @if issue.status != IssueStatus::Unresolved { span.badge { (issue.status.as_str()) } }
                }
                @if !value.is_empty() && !issue.title.contains(value) { div.value { (value) } }
                div.seen {
                    "Last seen " (time_ago(issue.last_seen, now)) " · first seen " (time_ago(issue.first_seen, now))
                }
            }
            td.graph { (charts::bars(&series, 120, 28, |i| format!("{} h ago", 23 - i))) }
            td.num { (count(issue.times_seen)) }
            td.num { (count(issue.user_count)) }
        }
    }
}

fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `POST /organizations/{org}/issues/bulk/`: a status for the checked issues.
pub async fn bulk(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(org): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(query::first(&form, "csrf").unwrap_or(""))?;
    let org = viewer.organization(&org)?;
    if query::first(&form, "action") == Some("merge") {
        merge(&state, &viewer, &org, &form).await?;
    } else {
        set_status(&state, &org, &form).await?;
    }
    let prefix = state.config.path_prefix();
    let fallback = format!("{prefix}/organizations/{}/issues/", org.slug);
    let back = query::first(&form, "back")
        .and_then(safe_next)
        .unwrap_or(&fallback);
    Ok(Redirect::to(back).into_response())
}

/// Merges the selected issues (of one project) as the API's bulk merge does.
async fn merge(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    form: &[(String, String)],
) -> Result<(), WebError> {
    let mut selected = Vec::new();
    for id in query::all(form, "id") {
        let id: i64 = id
            .parse()
            .map_err(|_| WebError::BadRequest("invalid issue id".into()))?;
        selected.push(org_issue(state, org, id).await?);
    }
    let Some((project, _)) = selected.first() else {
        return Err(WebError::BadRequest("select the issues to merge".into()));
    };
    if selected.iter().any(|(p, _)| p.id != project.id) {
        return Err(WebError::BadRequest(
            "only issues of one project can be merged".into(),
        ));
    }
    let project = project.clone();
    let issues: Vec<Issue> = selected.into_iter().map(|(_, issue)| issue).collect();
    let mut body = serde_json::Map::new();
    body.insert("merge".into(), serde_json::Value::Bool(true));
    let update = crate::api::triage::parse_update(state, org, &viewer.user, &body)
        .await
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    crate::api::triage::apply(state, &viewer.user, &project, &issues, &update)
        .await
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    Ok(())
}

async fn set_status(
    state: &AppState,
    org: &Organization,
    form: &[(String, String)],
) -> Result<(), WebError> {
    let status = query::first(form, "status")
        .and_then(IssueStatus::parse)
        .ok_or_else(|| WebError::BadRequest("no valid status".into()))?;
    for id in query::all(form, "id") {
        let id: i64 = id
            .parse()
            .map_err(|_| WebError::BadRequest("invalid issue id".into()))?;
        org_issue(state, org, id).await?;
        state.store.set_issue_status(id, status).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_replace_the_status_term_only() {
        assert_eq!(
            query_for_status("is:unresolved level:error boom", IssueStatus::Resolved),
            "is:resolved level:error boom"
        );
        assert_eq!(query_for_status("", IssueStatus::Ignored), "is:ignored");
        assert_eq!(
            selected_status("level:error is:resolved"),
            Some(IssueStatus::Resolved)
        );
        assert_eq!(selected_status("level:error"), None);
    }
}
