//! The performance pages at Sentry's URL shapes: the transactions overview
//! (`/organizations/{org}/performance/`, one row per project and transaction name) and one
//! transaction name's summary (`/organizations/{org}/performance/summary/`), both read from the
//! store's transaction aggregates, plus the small formatting pieces the trace and transaction
//! pages share.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Html;
use maud::{html, Markup};
use vigil_store::{
    Organization, Project, SpanAggregate, TransactionAggregate, TransactionQuery, TransactionSort,
};

use super::access::ViewerOrg;
use super::charts;
use super::error::WebError;
use super::layout::{count, page, pager, time_ago, Shell};
use super::selection::{self, Selection};
use crate::query;
use crate::time::unix_now;
use crate::AppState;

/// Rows per page of the overview.
const PAGE_SIZE: usize = 50;
/// Slowest events listed on a summary.
const SLOWEST: u64 = 10;
/// Bins of a summary's duration histogram.
const HISTOGRAM_BINS: u32 = 20;

/// The periods offered, with the width of a bucket of their charts (about 50 buckets each).
const PERIODS: &[(&str, &str, u64)] = &[
    ("1h", "1 hour", 60),
    ("24h", "24 hours", 1800),
    ("7d", "7 days", 3 * 3600),
    ("14d", "14 days", 12 * 3600),
    ("30d", "30 days", 24 * 3600),
];
const DEFAULT_PERIOD: &str = "24h";

/// Overview columns that sort: `(key, heading, numeric)`.
const COLUMNS: &[(&str, &str)] = &[
    ("project", "Project"),
    ("transaction", "Transaction"),
    ("tpm", "TPM"),
    ("p50", "p50"),
    ("p75", "p75"),
    ("p95", "p95"),
    ("failure_rate", "Failure rate"),
    ("apdex", "Apdex"),
    ("users", "Users"),
];
const DEFAULT_SORT: &str = "-tpm";

/// A duration in the unit a reader expects: `0.42 ms`, `37 ms`, `1.24 s`, `2.5 min`.
pub fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".into();
    }
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

/// Sentry's Apdex: satisfied plus half the tolerated, over all (1 when there are none).
pub fn apdex(agg: &TransactionAggregate) -> f64 {
    if agg.count == 0 {
        return 1.0;
    }
    (agg.satisfied as f64 + agg.tolerated as f64 / 2.0) / agg.count as f64
}

/// Share of transactions whose status counts as a failure.
pub fn failure_rate(agg: &TransactionAggregate) -> f64 {
    if agg.count == 0 {
        return 0.0;
    }
    agg.failures as f64 / agg.count as f64
}

/// Transactions per minute: two decimals, or enough digits to show a quiet endpoint's rate
/// rather than `0.00`.
pub fn tpm(count: u64, minutes: f64) -> String {
    let rate = if minutes > 0.0 {
        count as f64 / minutes
    } else {
        0.0
    };
    if rate == 0.0 || rate >= 0.01 {
        format!("{rate:.2}")
    } else {
        format!("{rate:.1e}")
    }
}

/// `12.5%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The page of one transaction event (Sentry's `{project}:{event_id}` shape).
pub fn transaction_url(prefix: &str, org: &str, project_slug: &str, event_id: &str) -> String {
    format!("{prefix}/organizations/{org}/performance/{project_slug}:{event_id}/")
}

/// The waterfall of a trace.
pub fn trace_url(prefix: &str, org: &str, trace_id: &str) -> String {
    format!("{prefix}/organizations/{org}/performance/trace/{trace_id}/")
}

/// The summary of one transaction name in a project.
pub fn summary_url(prefix: &str, org: &str, project_id: i64, transaction: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("project", &project_id.to_string());
    q.append_pair("transaction", transaction);
    format!(
        "{prefix}/organizations/{org}/performance/summary/?{}",
        q.finish()
    )
}

/// The filters of both pages as given, to build links that change one of them.
#[derive(Debug, Clone)]
pub struct Filters {
    projects: Vec<i64>,
    environments: Vec<String>,
    period: String,
    sort: String,
    page: usize,
    transaction: Option<String>,
}

impl Filters {
    fn from_pairs(pairs: &[(String, String)]) -> Filters {
        let period = query::first(pairs, "statsPeriod")
            .filter(|p| PERIODS.iter().any(|(key, _, _)| key == p))
            .unwrap_or(DEFAULT_PERIOD);
        let sort = query::first(pairs, "sort")
            .filter(|s| {
                let key = s.strip_prefix('-').unwrap_or(s);
                COLUMNS.iter().any(|(k, _)| *k == key)
            })
            .unwrap_or(DEFAULT_SORT);
        Filters {
            projects: selection::projects(pairs),
            environments: selection::environments(pairs),
            period: period.to_string(),
            sort: sort.to_string(),
            page: selection::page(pairs),
            transaction: query::first(pairs, "transaction").map(str::to_owned),
        }
    }

    fn period_secs(&self) -> f64 {
        query::stats_period_secs(&self.period).unwrap_or(86_400.0)
    }

    fn bucket_secs(&self) -> u64 {
        PERIODS
            .iter()
            .find(|(key, _, _)| *key == self.period)
            .map_or(1800, |(_, _, secs)| *secs)
    }

    fn query(&self, org: &Organization, now: f64) -> TransactionQuery {
        TransactionQuery {
            organization_id: org.id,
            project_ids: self.projects.clone(),
            environments: self.environments.clone(),
            transaction: self.transaction.clone(),
            since: Some(now - self.period_secs()),
            until: Some(now),
            conditions: Vec::new(),
        }
    }
}

/// Both pages read their filters from the query string; what is unknown there falls back to
/// the defaults.
impl<S: Send + Sync> FromRequestParts<S> for Filters {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Filters::from_pairs(&query::pairs(parts.uri.query())))
    }
}

impl Selection for Filters {
    fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for p in &self.projects {
            s.append_pair("project", &p.to_string());
        }
        if let Some(t) = &self.transaction {
            s.append_pair("transaction", t);
        }
        for e in &self.environments {
            s.append_pair("environment", e);
        }
        s.append_pair("statsPeriod", &self.period);
        if self.transaction.is_none() {
            s.append_pair("sort", &self.sort);
        }
        if self.page > 0 {
            s.append_pair("page", &self.page.to_string());
        }
        s.finish()
    }

    fn first_page(&mut self) {
        self.page = 0;
    }
}

/// The value an overview column sorts by.
fn sort_value(agg: &TransactionAggregate, key: &str) -> f64 {
    match key {
        "p50" => agg.p50_ms,
        "p75" => agg.p75_ms,
        "p95" => agg.p95_ms,
        "failure_rate" => failure_rate(agg),
        "apdex" => apdex(agg),
        "users" => agg.users as f64,
        _ => agg.count as f64,
    }
}

/// Orders rows by `sort` (`-` first: descending); ties by name, so pages are stable.
fn sort_rows(rows: &mut [TransactionAggregate], sort: &str, projects: &[Project]) {
    let (descending, key) = match sort.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, sort),
    };
    let slug = |id: Option<i64>| {
        projects
            .iter()
            .find(|p| Some(p.id) == id)
            .map_or("", |p| p.slug.as_str())
            .to_string()
    };
    rows.sort_by(|a, b| {
        let name = |x: &TransactionAggregate| x.transaction.clone().unwrap_or_default();
        let order = match key {
            "project" => slug(a.project_id).cmp(&slug(b.project_id)),
            "transaction" => name(a).cmp(&name(b)),
            _ => sort_value(a, key).total_cmp(&sort_value(b, key)),
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| name(a).cmp(&name(b)))
    });
}

/// The project and environment selectors and the period choices, shared by both pages.
fn filter_bar(
    base: &str,
    filters: &Filters,
    projects: &[Project],
    environments: &[String],
) -> Markup {
    html! {
        form.projects-filter method="get" action=(base) {
            @if let Some(t) = &filters.transaction { input type="hidden" name="transaction" value=(t); }
            input type="hidden" name="statsPeriod" value=(filters.period);
            @if filters.transaction.is_none() { input type="hidden" name="sort" value=(filters.sort); }
            label {
                "Project "
                select name="project" data-autosubmit {
                    @if filters.transaction.is_none() { option value="-1" { "All projects" } }
                    @for p in projects {
                        option value=(p.id) selected[filters.projects.contains(&p.id)] { (p.slug) }
                    }
                }
            }
            label {
                " Environment "
                select name="environment" data-autosubmit {
                    option value="" { "All environments" }
                    @for env in environments {
                        option value=(env) selected[filters.environments.contains(env)] { (env) }
                    }
                }
            }
            noscript { button type="submit" { "Show" } }
        }
        nav.tabs aria-label="Period" {
            span.spacer {}
            span.choices {
                "Period: "
                @for (key, label, _) in PERIODS {
                    a href=(filters.with(|f| f.period = key.to_string()))
                        class=(if filters.period == *key { "selected" } else { "" })
                        aria-current=[(filters.period == *key).then_some("true")] { (label) }
                }
            }
        }
    }
}

/// The organization's projects, and for the selector the environments of the selected ones (or
/// all).
async fn projects_and_environments(
    state: &AppState,
    org: &Organization,
    filters: &Filters,
) -> Result<(Vec<Project>, Vec<String>), WebError> {
    let projects = state.store.list_projects(Some(org.id)).await?;
    let known = filters.environments.clone();
    let environments = state
        .web
        .selectable_environments(state.store.as_ref(), &projects, &filters.projects, known)
        .await?;
    Ok((projects, environments))
}

/// What to do when nothing arrived: turn tracing on in the SDK.
fn enable_tracing() -> Markup {
    html! {
        section.perf-empty {
            h2 { "No transactions in this period" }
            p { "Transactions arrive once the SDK samples traces. Set the sample rate when initializing it:" }
            h3 { "Python (Django, Flask, Celery, …)" }
            pre { code { "sentry_sdk.init(\n    dsn=\"…\",\n    traces_sample_rate=1.0,\n)" } }
            h3 { "JavaScript (browser, Node.js)" }
            pre { code { "Sentry.init({\n  dsn: \"…\",\n  tracesSampleRate: 1.0,\n});" } }
            p.muted { "1.0 keeps every transaction; lower it (0.1, 0.01) on busy services." }
        }
    }
}

/// `GET /organizations/{org}/performance/`.
pub async fn overview(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
    mut filters: Filters,
) -> Result<Html<String>, WebError> {
    filters.transaction = None;
    let (projects, environments) = projects_and_environments(&state, &org, &filters).await?;
    let now = unix_now();
    let mut rows = state
        .store
        .aggregate_transactions(&filters.query(&org, now), true)
        .await?;
    sort_rows(&mut rows, &filters.sort, &projects);
    let total = rows.len();
    let shown: Vec<&TransactionAggregate> = rows
        .iter()
        .skip(filters.page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let has_next = total > (filters.page + 1) * PAGE_SIZE;
    let minutes = filters.period_secs() / 60.0;

    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/organizations/{}/performance/", org.slug);
    let body = html! {
        div.page-head { h1 { "Performance" } }
        (filter_bar(&base, &filters, &projects, &environments))
        @if rows.is_empty() {
            (enable_tracing())
        } @else {
            div.table-scroll {
                table.issues.transactions {
                    thead { tr {
                        @for (key, label) in COLUMNS {
                            @let current = filters.sort.strip_prefix('-').unwrap_or(&filters.sort) == *key;
                            @let descending = filters.sort.starts_with('-');
                            // A click on the sorted column flips it; a new column starts with
                            // the biggest (or, for names, A to Z) first.
                            @let next = match (current, descending, *key) {
                                (true, true, _) => key.to_string(),
                                (true, false, _) => format!("-{key}"),
                                (false, _, "project" | "transaction") => key.to_string(),
                                (false, _, _) => format!("-{key}"),
                            };
                            th class=(if matches!(*key, "project" | "transaction") { "" } else { "num" })
                                aria-sort=[current.then_some(if descending { "descending" } else { "ascending" })] {
                                a href=(filters.with(|f| f.sort = next)) {
                                    (label)
                                    @if current { @if descending { " ↓" } @else { " ↑" } }
                                }
                            }
                        }
                    } }
                    tbody {
                        @for agg in &shown {
                            @let project = projects.iter().find(|p| Some(p.id) == agg.project_id);
                            @let name = agg.transaction.as_deref().unwrap_or("");
                            tr.transaction {
                                td { (project.map_or("", |p| p.slug.as_str())) }
                                td.main {
                                    @match project {
                                        Some(p) => a.title href=(summary_url(&prefix, &org.slug, p.id, name)) { (name) },
                                        None => span { (name) },
                                    }
                                    div.seen { (count(agg.count as i64)) @if agg.count == 1 { " event" } @else { " events" } " · last " (time_ago(agg.last_seen, now)) }
                                }
                                td.num { (tpm(agg.count, minutes)) }
                                td.num { (duration(agg.p50_ms)) }
                                td.num { (duration(agg.p75_ms)) }
                                td.num { (duration(agg.p95_ms)) }
                                td.num { (percent(failure_rate(agg))) }
                                td.num { (format!("{:.2}", apdex(agg))) }
                                td.num { (count(agg.users as i64)) }
                            }
                        }
                    }
                }
            }
            (pager(filters.page as u64, has_next, |page| Filters { page: page as usize, ..filters.clone() }.to_query()))
        }
    };
    Ok(page(
        Shell::of_org("Performance", &prefix, &viewer, &org),
        body,
    ))
}

/// `GET /organizations/{org}/performance/summary/?project={id}&transaction={name}`.
pub async fn summary(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
    mut filters: Filters,
) -> Result<Html<String>, WebError> {
    let name = filters.transaction.clone().ok_or(WebError::NotFound)?;
    // One project: a transaction name means something only within its project.
    let project_id = *filters.projects.first().ok_or(WebError::NotFound)?;
    let project = state
        .store
        .project_by_id(project_id)
        .await?
        .filter(|p| p.organization_id == org.id)
        .ok_or(WebError::NotFound)?;
    filters.projects = vec![project.id];
    let (projects, environments) = projects_and_environments(&state, &org, &filters).await?;
    let now = unix_now();
    let query = filters.query(&org, now);
    let store = &state.store;
    let aggregate = store
        .aggregate_transactions(&query, false)
        .await?
        .into_iter()
        .next();
    let histogram = store.duration_histogram(&query, HISTOGRAM_BINS).await?;
    // Buckets on interval boundaries: whole days and hours are read from the rollups.
    let bucket_secs = filters.bucket_secs();
    let series_query = TransactionQuery {
        since: query
            .since
            .map(|since| (since / bucket_secs as f64).floor() * bucket_secs as f64),
        ..query.clone()
    };
    let series = store.transaction_series(&series_query, bucket_secs).await?;
    let slowest = store
        .list_transactions(&query, TransactionSort::Slowest, SLOWEST, 0)
        .await?;
    let ops = store.span_aggregates(&query, false, None, 20).await?;
    let project_query = TransactionQuery {
        transaction: None,
        ..query.clone()
    };
    let queries = store
        .span_aggregates(&project_query, true, Some("db"), 10)
        .await?;
    let settings = store.performance_settings(project.id).await?;

    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/organizations/{}/performance/summary/", org.slug);
    let overview = format!(
        "{prefix}/organizations/{}/performance/?project={}",
        org.slug, project.id
    );
    let bucket = filters.bucket_secs() as f64;
    let minutes = filters.period_secs() / 60.0;
    let body = html! {
        div.crumbs { a href=(overview) { "Performance" } " / " (project.slug) }
        h1.issue-title { (name) }
        (filter_bar(&base, &filters, &projects, &environments))
        @match &aggregate {
            None => { p.empty { "No transactions named " code { (name) } " in this period." } }
            Some(agg) => {
                section.issue-head {
                    dl.counts {
                        div { dt { "Events" } dd { (count(agg.count as i64)) } }
                        div { dt { "TPM" } dd { (tpm(agg.count, minutes)) } }
                        div { dt { "p50" } dd { (duration(agg.p50_ms)) } }
                        div { dt { "p75" } dd { (duration(agg.p75_ms)) } }
                        div { dt { "p95" } dd { (duration(agg.p95_ms)) } }
                        div { dt { "p99" } dd { (duration(agg.p99_ms)) } }
                        div { dt { "Failure rate" } dd { (percent(failure_rate(agg))) } }
                        div { dt { "Apdex" } dd title={ "T = " (duration(settings.apdex_threshold_ms)) } { (format!("{:.2}", apdex(agg))) } }
                        div { dt { "Users" } dd { (count(agg.users as i64)) } }
                    }
                    p.muted {
                        "Apdex threshold " (duration(settings.apdex_threshold_ms)) " · "
                        a href={ (prefix) "/settings/" (org.slug) "/projects/" (project.slug) "/performance/" } { "change" }
                    }
                }
                div.perf-charts {
                    section.perf-chart {
                        h2 { "Duration distribution" }
                        (charts::histogram(&histogram, 420, 90))
                    }
                    section.perf-chart {
                        h2 { "Throughput" }
                        (charts::bars(&series.iter().map(|(_, a)| a.count as i64).collect::<Vec<_>>(), 420, 90,
                            |i| series.get(i).map(|(t, _)| crate::serialize::iso(*t)).unwrap_or_default()))
                        p.muted { "per " (duration(bucket * 1000.0)) }
                    }
                    section.perf-chart {
                        h2 { "p95 duration" }
                        (charts::line(&series.iter().map(|(_, a)| (a.count > 0).then_some(a.p95_ms)).collect::<Vec<_>>(), 420, 90,
                            |i| series.get(i).map(|(t, _)| crate::serialize::iso(*t)).unwrap_or_default(), duration))
                    }
                }
                (slowest_section(&prefix, &org, &project, &slowest, now))
                (ops_section(&ops))
            }
        }
        (queries_section(&project, &queries))
    };
    Ok(page(Shell::of_org(&name, &prefix, &viewer, &org), body))
}

fn slowest_section(
    prefix: &str,
    org: &Organization,
    project: &Project,
    slowest: &[vigil_store::StoredTransaction],
    now: f64,
) -> Markup {
    html! {
        section.perf-table {
            h2 { "Slowest events" }
            div.table-scroll {
                table.events {
                    thead { tr { th { "Event" } th.num { "Duration" } th { "Status" } th { "Time" } th { "User" } th { "Trace" } } }
                    tbody {
                        @for t in slowest {
                            tr {
                                td { a href=(transaction_url(prefix, &org.slug, &project.slug, &t.event_id)) { code { (t.event_id.get(..8).unwrap_or(&t.event_id)) } } }
                                td.num { (duration(t.duration_ms)) }
                                td { span class={ "span-status" @if vigil_store::is_failure_status(&t.status) { " failed" } } { (t.status) } }
                                td { (time_ago(t.start, now)) }
                                td { (t.user_tag.as_deref().unwrap_or("")) }
                                td { a href=(trace_url(prefix, &org.slug, &t.trace_id)) { code { (t.trace_id.get(..8).unwrap_or(&t.trace_id)) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn ops_section(ops: &[SpanAggregate]) -> Markup {
    let total: f64 = ops.iter().map(|o| o.total_ms).sum();
    html! {
        section.perf-table #operations {
            h2 { "Time spent by operation" }
            @if ops.is_empty() {
                p.muted { "These transactions have no spans." }
            } @else {
                table.events {
                    thead { tr { th { "Operation" } th.num { "Total" } th { "Share" } th.num { "Spans" } } }
                    tbody {
                        @for op in ops {
                            @let share = if total > 0.0 { op.total_ms / total } else { 0.0 };
                            tr {
                                td { code { (op.op) } }
                                td.num { (duration(op.total_ms)) }
                                td.share {
                                    span.share-bar { span style={ "width:" (format!("{:.0}", share * 100.0)) "%" } {} }
                                    " " (percent(share))
                                }
                                td.num { (count(op.count as i64)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn queries_section(project: &Project, queries: &[SpanAggregate]) -> Markup {
    html! {
        section.perf-table #queries {
            h2 { "Most expensive queries in " (project.slug) " (all transactions)" }
            @if queries.is_empty() {
                p.muted { "No database spans in this period." }
            } @else {
                div.table-scroll {
                    table.events {
                        thead { tr { th { "Query" } th.num { "Count" } th.num { "Total" } th.num { "Avg" } th.num { "Transactions" } } }
                        tbody {
                            @for q in queries {
                                tr {
                                    td.query { code.sql { (q.group) } br; small.muted { (q.op) } }
                                    td.num { (count(q.count as i64)) }
                                    td.num { (duration(q.total_ms)) }
                                    td.num { (duration(if q.count > 0 { q.total_ms / q.count as f64 } else { 0.0 })) }
                                    td.num { (count(q.transactions as i64)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(name: &str, count: u64, p95: f64) -> TransactionAggregate {
        TransactionAggregate {
            project_id: Some(1),
            transaction: Some(name.into()),
            count,
            p95_ms: p95,
            ..TransactionAggregate::default()
        }
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(duration(0.4216), "0.42 ms");
        assert_eq!(duration(37.4), "37 ms");
        assert_eq!(duration(1240.0), "1.24 s");
        assert_eq!(duration(150_000.0), "2.5 min");
        assert_eq!(duration(f64::NAN), "–");
        assert_eq!(tpm(3, 1440.0), "2.1e-3");
        assert_eq!(tpm(120, 60.0), "2.00");
        assert_eq!(tpm(0, 60.0), "0.00");
    }

    #[test]
    fn apdex_counts_tolerated_as_half() {
        let a = TransactionAggregate {
            count: 4,
            satisfied: 2,
            tolerated: 1,
            ..TransactionAggregate::default()
        };
        assert!((apdex(&a) - 0.625).abs() < 1e-9);
        assert_eq!(apdex(&TransactionAggregate::default()), 1.0);
    }

    #[test]
    fn rows_sort_by_the_chosen_column_either_way() {
        let mut rows = vec![
            agg("/a", 5, 300.0),
            agg("/b", 9, 100.0),
            agg("/c", 1, 900.0),
        ];
        sort_rows(&mut rows, "-tpm", &[]);
        let names = |rows: &[TransactionAggregate]| {
            rows.iter()
                .map(|r| r.transaction.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&rows), ["/b", "/a", "/c"]);
        sort_rows(&mut rows, "p95", &[]);
        assert_eq!(names(&rows), ["/b", "/a", "/c"]);
        sort_rows(&mut rows, "-p95", &[]);
        assert_eq!(names(&rows), ["/c", "/a", "/b"]);
        sort_rows(&mut rows, "transaction", &[]);
        assert_eq!(names(&rows), ["/a", "/b", "/c"]);
    }

    #[test]
    fn unknown_periods_and_sorts_fall_back_to_defaults() {
        let pairs = vec![
            ("statsPeriod".to_string(), "5y".to_string()),
            ("sort".to_string(), "-secret".to_string()),
            ("project".to_string(), "-1".to_string()),
        ];
        let f = Filters::from_pairs(&pairs);
        assert_eq!(f.period, "24h");
        assert_eq!(f.sort, "-tpm");
        assert!(f.projects.is_empty());
    }
}
