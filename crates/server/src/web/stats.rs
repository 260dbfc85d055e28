//! The Stats page (Sentry's "Stats → Usage"): for a period, what the organization's projects
//! sent per data category and what became of it — accepted, filtered, rate limited, invalid,
//! discarded by the SDK — with a chart per category of what was accepted and what was dropped.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Html;
use maud::{html, Markup};
use vigil_store::{DataCategory, Outcome, OutcomeQuery, OutcomeRow};

use super::access::ViewerOrg;
use super::charts;
use super::error::WebError;
use super::layout::{count, page, Shell};
use super::selection;
use crate::query::QueryPairs;
use crate::time::unix_now;
use crate::AppState;

/// The periods offered, with their bucket width: hours for a day, days beyond.
const PERIODS: &[(&str, i64, i64)] = &[
    ("24h", 86_400, 3_600),
    ("7d", 7 * 86_400, 86_400),
    ("14d", 14 * 86_400, 86_400),
    ("30d", 30 * 86_400, 86_400),
    ("90d", 90 * 86_400, 86_400),
];
const DEFAULT_PERIOD: &str = "14d";

/// The columns of the table, in Sentry's order.
const COLUMNS: &[(Outcome, &str)] = &[
    (Outcome::Accepted, "Accepted"),
    (Outcome::Filtered, "Filtered"),
    (Outcome::RateLimited, "Rate limited"),
    (Outcome::Invalid, "Invalid"),
    (Outcome::ClientDiscard, "Client discarded"),
];

/// One category's numbers over the period.
#[derive(Default)]
struct CategoryStats {
    /// Per outcome (by id), summed.
    totals: BTreeMap<i64, i64>,
    accepted: Vec<i64>,
    dropped: Vec<i64>,
}

pub async fn show(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
    QueryPairs(params): QueryPairs,
) -> Result<Html<String>, WebError> {
    let asked = crate::query::first(&params, "statsPeriod").unwrap_or(DEFAULT_PERIOD);
    let &(period, length, width) = PERIODS
        .iter()
        .find(|(name, _, _)| *name == asked)
        .unwrap_or(&PERIODS[2]);
    let projects = state.store.list_projects(Some(org.id)).await?;
    let selected = selection::projects(&params);
    let project_ids: Vec<i64> = projects
        .iter()
        .map(|p| p.id)
        .filter(|id| selected.is_empty() || selected.contains(id))
        .collect();
    let buckets = (length / width) as usize;
    let start = charts::series_start(unix_now(), buckets, width) as i64;
    let end = start + length;
    let rows = state
        .store
        .outcomes(&OutcomeQuery {
            project_ids,
            since_hour: start,
            until_hour: end,
            ..OutcomeQuery::default()
        })
        .await?;
    let stats = summarize(&rows, start, width, buckets);

    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/organizations/{}/stats/", org.slug);
    let project_query: String = selected.iter().map(|id| format!("&project={id}")).collect();
    let label = |i: usize| {
        let at = crate::serialize::iso((start + i as i64 * width) as f64);
        if width < 86_400 {
            at[..16].replace('T', " ")
        } else {
            at[..10].to_owned()
        }
    };
    let body = html! {
        h1 { "Stats" }
        p.stats-intro { "What the SDKs sent and what became of it. Attachments and log bytes are counted in bytes." }
        nav.periods {
            @for (name, _, _) in PERIODS {
                @if *name == period {
                    strong { (name) }
                } @else {
                    a href={ (base) "?statsPeriod=" (name) (project_query) } { (name) }
                }
                " "
            }
        }
        @if projects.len() > 1 {
            nav.projects {
                "Projects: "
                @if selected.is_empty() { strong { "all" } } @else { a href={ (base) "?statsPeriod=" (period) } { "all" } }
                @for p in &projects {
                    " "
                    @if selected.contains(&p.id) {
                        strong { (p.slug) }
                    } @else {
                        a href={ (base) "?statsPeriod=" (period) "&project=" (p.id) } { (p.slug) }
                    }
                }
            }
        }
        @if stats.is_empty() {
            p.empty { "Nothing was received in the last " (period) "." }
        } @else {
            table.stats {
                thead { tr {
                    th { "Category" }
                    @for (_, title) in COLUMNS { th { (title) } }
                    th { "Total" }
                } }
                tbody {
                    @for (category, numbers) in &stats {
                        tr data-category=(category) {
                            td { (category) }
                            @for (outcome, _) in COLUMNS {
                                td data-outcome=(outcome.api_name()) {
                                    (count(numbers.totals.get(&outcome.id()).copied().unwrap_or(0)))
                                }
                            }
                            td { (count(numbers.totals.values().sum())) }
                        }
                    }
                }
            }
            @for (category, numbers) in &stats {
                (category_charts(category, numbers, &label))
            }
        }
    };
    Ok(page(Shell::of_org("Stats", &prefix, &viewer, &org), body))
}

fn category_charts(
    category: &str,
    numbers: &CategoryStats,
    label: &dyn Fn(usize) -> String,
) -> Markup {
    html! {
        section.stats-category {
            h2 { (category) }
            p { "Accepted" }
            (charts::bars(&numbers.accepted, 600, 60, label))
            p { "Dropped (filtered, rate limited, invalid, discarded by the SDK)" }
            (charts::bars(&numbers.dropped, 600, 60, label))
        }
    }
}

/// The rows per category as the API names it (`error` for every error category), in name
/// order.
fn summarize(
    rows: &[OutcomeRow],
    start: i64,
    width: i64,
    buckets: usize,
) -> BTreeMap<&'static str, CategoryStats> {
    let mut stats: BTreeMap<&'static str, CategoryStats> = BTreeMap::new();
    for row in rows {
        let name = DataCategory::api_name(row.category);
        let entry = stats.entry(name).or_insert_with(|| CategoryStats {
            accepted: vec![0; buckets],
            dropped: vec![0; buckets],
            ..CategoryStats::default()
        });
        *entry.totals.entry(row.outcome.id()).or_insert(0) += row.quantity;
        let slot = usize::try_from((row.hour - start) / width).unwrap_or(usize::MAX);
        let series = if row.outcome == Outcome::Accepted {
            &mut entry.accepted
        } else {
            &mut entry.dropped
        };
        if let Some(cell) = series.get_mut(slot) {
            *cell += row.quantity;
        }
    }
    stats
}
