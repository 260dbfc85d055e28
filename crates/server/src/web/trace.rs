//! One trace (`/organizations/{org}/performance/trace/{trace_id}/`): every transaction of it,
//! from any project of the organization (a Django request and the Celery task it queued), each
//! under the span that started it, with its spans, and the trace's errors placed at the span
//! that was active when they happened, linking to their issues.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::response::Html;
use maud::html;
use vigil_store::Project;

use super::error::WebError;
use super::layout::{count, page, Shell};
use super::performance::{duration, transaction_url};
use super::session::Viewer;
use super::transaction::{span_row, transaction_row, waterfall, Row, RowKind};
use crate::serialize::iso;
use crate::AppState;

/// A trace id as Sentry writes it: 32 hex digits, lowercase.
fn normalize_trace_id(id: &str) -> Option<String> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// `GET /organizations/{org}/performance/trace/{trace_id}/`.
pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, trace_id)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let org = viewer.organization(&org)?;
    let trace_id = normalize_trace_id(&trace_id).ok_or(WebError::NotFound)?;
    let trace = state.store.trace(org.id, &trace_id).await?;
    if trace.transactions.is_empty() && trace.errors.is_empty() {
        return Err(WebError::NotFound);
    }
    let projects = state.store.list_projects(Some(org.id)).await?;
    let project_of = |id: i64| -> Option<&Project> { projects.iter().find(|p| p.id == id) };
    let prefix = state.config.path_prefix();

    let mut rows: Vec<Row> = Vec::new();
    for t in &trace.transactions {
        let project = project_of(t.project_id);
        let href = project.map(|p| transaction_url(&prefix, &org.slug, &p.slug, &t.event_id));
        rows.push(transaction_row(t, href, project.map(|p| p.slug.clone())));
    }
    // A span whose parent is missing belongs under its own transaction, not at the top.
    let known: HashSet<&str> = trace
        .transactions
        .iter()
        .map(|t| t.span_id.as_str())
        .chain(trace.spans.iter().map(|s| s.span_id.as_str()))
        .collect();
    for span in &trace.spans {
        let mut row = span_row(span);
        if !row.parent.as_deref().is_some_and(|p| known.contains(p)) {
            row.parent = Some(span.segment_id.clone());
        }
        rows.push(row);
    }
    for error in &trace.errors {
        let href = error.issue_id.map(|id| {
            format!(
                "{prefix}/organizations/{}/issues/{id}/?event={}",
                org.slug, error.event_id
            )
        });
        rows.push(Row {
            id: format!("error:{}", error.event_id),
            // At its span when it names one we have; otherwise at the top, in time order.
            parent: error.span_id.clone().filter(|s| known.contains(s.as_str())),
            kind: RowKind::Error,
            start: error.timestamp,
            duration_ms: 0.0,
            op: error.level.clone(),
            description: error.title.clone(),
            status: String::new(),
            href,
            badge: project_of(error.project_id).map(|p| p.slug.clone()),
        });
    }

    let begin = rows.iter().map(|r| r.start).fold(f64::INFINITY, f64::min);
    let end = rows
        .iter()
        .map(|r| r.start + r.duration_ms / 1000.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut services: Vec<&str> = trace
        .transactions
        .iter()
        .filter_map(|t| project_of(t.project_id).map(|p| p.slug.as_str()))
        .collect();
    services.sort_unstable();
    services.dedup();
    let root = trace.transactions.iter().find(|t| {
        !t.parent_span_id
            .as_deref()
            .is_some_and(|p| known.contains(p))
    });
    let title = root.map_or("Trace", |t| t.name.as_str());
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/performance/" } { "Performance" }
            " / trace " code { (trace_id) }
        }
        section.issue-head {
            h1.issue-title { (title) }
            dl.counts {
                div { dt { "Trace" } dd { code { (trace_id) } } }
                div { dt { "Duration" } dd { (duration((end - begin).max(0.0) * 1000.0)) } }
                div { dt { "Started" } dd { (iso(begin)) } }
                div { dt { "Transactions" } dd { (count(trace.transactions.len() as i64)) } }
                div { dt { "Spans" } dd { (count(trace.spans.len() as i64)) } }
                div { dt { "Errors" } dd { (count(trace.errors.len() as i64)) } }
                @if !services.is_empty() { div { dt { "Projects" } dd { (services.join(", ")) } } }
            }
        }
        @if !trace.errors.is_empty() {
            section.trace-errors {
                h2 { "Errors in this trace" }
                ul {
                    @for error in &trace.errors {
                        li {
                            span class={ "level level-" (error.level) } { (error.level) } " "
                            @match error.issue_id {
                                Some(id) => a href={ (prefix) "/organizations/" (org.slug) "/issues/" (id) "/?event=" (error.event_id) } { (error.title) },
                                None => span { (error.title) },
                            }
                            " " span.muted { "+" (duration((error.timestamp - begin) * 1000.0)) }
                        }
                    }
                }
            }
        }
        section.spans #trace {
            h2 { "Waterfall" }
            (waterfall(&rows))
        }
    };
    Ok(page(
        Shell::of_org(
            &format!("Trace {}", trace_id.get(..8).unwrap_or(&trace_id)),
            &prefix,
            &viewer,
            &org,
        ),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_32_hex_digits() {
        assert_eq!(
            normalize_trace_id("0123456789ABCDEF0123456789abcdef").as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(normalize_trace_id("0123"), None);
        assert_eq!(normalize_trace_id("g123456789abcdef0123456789abcdef"), None);
    }
}
