//! One transaction event (`/organizations/{org}/performance/{project}:{event_id}/`): its
//! header, its spans as a waterfall, and the request, contexts and tags as the issue page shows
//! an event's. The waterfall drawing is shared with the trace page, and the evidence of a
//! performance issue (the repeated or slow query and its spans) is drawn here too, since it is
//! the spans of one transaction.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{html, Markup, PreEscaped};
use serde_json::Value;
use vigil_store::{
    is_failure_status, Organization, Project, StoredEvent, StoredTransaction, TransactionQuery,
    TransactionSort,
};

use super::error::WebError;
use super::event;
use super::layout::{page, time_ago, Shell};
use super::performance::{duration, summary_url, trace_url, transaction_url};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::serialize::{iso, serialize_event};
use crate::time::unix_now;
use crate::AppState;

/// Nesting of collapsible groups stops here; deeper spans are listed flat inside the deepest
/// group (browsers flatten markup nested much deeper anyway, and a cycle of parents cannot
/// nest forever).
const MAX_NESTING: usize = 48;
/// Offending spans listed on a performance issue before "and N more".
const EVIDENCE_SPANS: usize = 50;

/// What a waterfall row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Transaction,
    Span,
    Error,
}

/// One row of a waterfall: a transaction, a span or an error, placed under its parent.
#[derive(Debug, Clone)]
pub struct Row {
    /// The span id (an error's own key otherwise): what children name as their parent.
    pub id: String,
    pub parent: Option<String>,
    pub kind: RowKind,
    pub start: f64,
    pub duration_ms: f64,
    pub op: String,
    pub description: String,
    pub status: String,
    /// Where the row's name links to.
    pub href: Option<String>,
    /// Shown before the op: a transaction's project.
    pub badge: Option<String>,
}

/// Pre-order of the rows as `(index, depth, has_children)`: children under their parent by
/// start time; rows whose parent is absent are roots. Rows in a cycle of parents, reachable
/// from no root, are listed as roots too, each once.
fn tree_order(rows: &[Row]) -> Vec<(usize, usize, bool)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        index.entry(row.id.as_str()).or_insert(i);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots: Vec<usize> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match row.parent.as_deref().and_then(|p| index.get(p)) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |a: &usize, b: &usize| {
        rows[*a]
            .start
            .total_cmp(&rows[*b].start)
            .then_with(|| a.cmp(b))
    };
    for list in &mut children {
        list.sort_by(by_start);
    }
    roots.sort_by(by_start);
    let mut order = Vec::with_capacity(rows.len());
    let mut seen = vec![false; rows.len()];
    let mut visit = |start: usize, seen: &mut Vec<bool>| {
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let kids: Vec<usize> = children[i].iter().copied().filter(|c| !seen[*c]).collect();
            order.push((i, depth, !kids.is_empty()));
            for &child in kids.iter().rev() {
                stack.push((child, depth + 1));
            }
        }
    };
    for root in roots {
        visit(root, &mut seen);
    }
    for i in 0..rows.len() {
        if !seen[i] {
            visit(i, &mut seen);
        }
    }
    order
}

/// The spans (and transactions, and errors) as a waterfall: each row's bar placed by its start
/// and duration within the whole; rows with children collapse without script (`<details>`).
pub fn waterfall(rows: &[Row]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No spans." } };
    }
    let begin = rows.iter().map(|r| r.start).fold(f64::INFINITY, f64::min);
    let end = rows
        .iter()
        .map(|r| r.start + r.duration_ms.max(0.0) / 1000.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let total_secs = (end - begin).max(1e-6);
    let mut out = String::new();
    // Depths of the groups open now.
    let mut open: Vec<usize> = Vec::new();
    let order = tree_order(rows);
    let nested = |depth: usize| depth < MAX_NESTING;
    for (i, depth, has_children) in order {
        while open.last().is_some_and(|d| *d >= depth) {
            out.push_str("</div></details>");
            open.pop();
        }
        let row = &rows[i];
        let cells = row_cells(row, depth.min(MAX_NESTING), begin, total_secs);
        let class = row_class(row);
        if has_children && nested(depth) {
            let _ = write!(
                out,
                "<details class=\"wf-group\" open><summary class=\"{class}\">{}</summary><div class=\"wf-children\">",
                cells.into_string()
            );
            open.push(depth);
        } else {
            let _ = write!(out, "<div class=\"{class}\">{}</div>", cells.into_string());
        }
    }
    for _ in open {
        out.push_str("</div></details>");
    }
    let span = end - begin;
    html! {
        div.waterfall role="list" {
            div.wf-head aria-hidden="true" {
                span.wf-label { "Operation · description" }
                span.wf-track.wf-scale {
                    span { "0" }
                    span { (duration(span * 500.0)) }
                    span { (duration(span * 1000.0)) }
                }
                span.wf-dur { "Duration" }
            }
            (PreEscaped(out))
        }
    }
}

fn row_class(row: &Row) -> String {
    let kind = match row.kind {
        RowKind::Transaction => "wf-transaction",
        RowKind::Span => "wf-span",
        RowKind::Error => "wf-error",
    };
    let failed = if row.kind != RowKind::Error && is_failure_status(&row.status) {
        " wf-failed"
    } else {
        ""
    };
    let sql = if row.op.starts_with("db") {
        " wf-db"
    } else {
        ""
    };
    format!("wf-row {kind}{failed}{sql}")
}

fn row_cells(row: &Row, depth: usize, begin: f64, total_secs: f64) -> Markup {
    let left = ((row.start - begin) / total_secs * 100.0).clamp(0.0, 100.0);
    let width = (row.duration_ms.max(0.0) / 1000.0 / total_secs * 100.0).clamp(0.0, 100.0 - left);
    let offset_ms = (row.start - begin) * 1000.0;
    html! {
        span.wf-label role="listitem" style={ "padding-left:" (format!("{:.2}", depth as f64 * 0.9)) "rem" } {
            @if let Some(badge) = &row.badge { span.platform { (badge) } " " }
            span.wf-op { (row.op) }
            @if !row.description.is_empty() {
                " "
                @match &row.href {
                    Some(href) => a.wf-desc href=(href) { (row.description) },
                    None => span.wf-desc { (row.description) },
                }
            } @else if let Some(href) = &row.href {
                " " a.wf-desc href=(href) { "open" }
            }
            @if row.kind != RowKind::Error && is_failure_status(&row.status) {
                " " span.span-status.failed { (row.status) }
            }
        }
        span.wf-track {
            span.wf-bar style={ "left:" (format!("{left:.3}")) "%;width:" (format!("{width:.3}")) "%" }
                title={ "starts at +" (duration(offset_ms)) ", takes " (duration(row.duration_ms)) } {}
        }
        span.wf-dur {
            @if row.kind == RowKind::Error { "+" (duration(offset_ms)) } @else { (duration(row.duration_ms)) }
        }
    }
}

/// A transaction's own row: the root of its spans.
pub fn transaction_row(t: &StoredTransaction, href: Option<String>, badge: Option<String>) -> Row {
    Row {
        id: t.span_id.clone(),
        parent: t.parent_span_id.clone(),
        kind: RowKind::Transaction,
        start: t.start,
        duration_ms: t.duration_ms,
        op: t.op.clone(),
        description: t.name.clone(),
        status: t.status.clone(),
        href,
        badge,
    }
}

/// A span's row.
pub fn span_row(s: &vigil_store::StoredSpan) -> Row {
    Row {
        id: s.span_id.clone(),
        parent: s.parent_span_id.clone(),
        kind: RowKind::Span,
        start: s.start,
        duration_ms: s.duration_ms,
        op: s.op.clone(),
        description: s.description.clone(),
        status: s.status.clone(),
        href: None,
        badge: None,
    }
}

/// The transaction as the issue page's event helpers read an event, so request, contexts,
/// tags, user and SDK are shown exactly as there.
fn as_event(t: &StoredTransaction) -> StoredEvent {
    StoredEvent {
        project_id: t.project_id,
        event_id: t.event_id.clone(),
        issue_id: None,
        event_type: "transaction".into(),
        timestamp: t.start + t.duration_ms / 1000.0,
        received: t.received,
        level: "info".into(),
        platform: t.platform.clone(),
        title: t.name.clone(),
        culprit: t.name.clone(),
        environment: t.environment.clone(),
        release: t.release.clone(),
        transaction: Some(t.name.clone()),
        user_tag: t.user_tag.clone(),
        tags: t.tags.clone(),
        data: t.data.clone(),
        size: 0,
    }
}

/// `GET /organizations/{org}/performance/{project}:{event_id}/`.
pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, target)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let (project_slug, event_id) = target.split_once(':').ok_or(WebError::NotFound)?;
    let (org, project) = viewer_project(&state, &viewer, &org, project_slug).await?;
    let event_id = vigil_protocol::ids::normalize_uuid(event_id).ok_or(WebError::NotFound)?;
    let transaction = state
        .store
        .transaction_by_event_id(project.id, &event_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let spans = state
        .store
        .segment_spans(project.id, &transaction.trace_id, &transaction.span_id)
        .await?;

    let prefix = state.config.path_prefix();
    let now = unix_now();
    // Spans whose parent was not sent hang under the transaction rather than float.
    let ids: HashSet<&str> = spans
        .iter()
        .map(|s| s.span_id.as_str())
        .chain([transaction.span_id.as_str()])
        .collect();
    let mut rows = vec![Row {
        parent: None,
        ..transaction_row(&transaction, None, None)
    }];
    for span in &spans {
        let mut row = span_row(span);
        if !row.parent.as_deref().is_some_and(|p| ids.contains(p)) || row.id == transaction.span_id
        {
            row.parent = Some(transaction.span_id.clone());
        }
        rows.push(row);
    }
    let stored = as_event(&transaction);
    let serialized = serialize_event(&stored);
    let t = &transaction;
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/performance/?project=" (project.id) } { "Performance" }
            " / " a href=(summary_url(&prefix, &org.slug, project.id, &t.name)) { (t.name) }
            " / " code { (t.event_id.get(..8).unwrap_or(&t.event_id)) }
        }
        section.issue-head {
            h1.issue-title { (t.name) }
            div.meta {
                span.badge { (t.op) }
                span class={ "span-status" @if is_failure_status(&t.status) { " failed" } } { (t.status) }
                span.project { (project.slug) }
            }
            dl.counts {
                div { dt { "Duration" } dd { (duration(t.duration_ms)) } }
                div { dt { "Started" } dd { (time_ago(t.start, now)) br; small { (iso(t.start)) } } }
                @if let Some(env) = &t.environment { div { dt { "Environment" } dd { (env) } } }
                @if let Some(release) = &t.release { div { dt { "Release" } dd { code { (release) } } } }
                @if let Some(user) = &t.user_tag { div { dt { "User" } dd { (user) } } }
                div { dt { "Spans" } dd { (spans.len()) } }
                div { dt { "Trace" } dd { a href=(trace_url(&prefix, &org.slug, &t.trace_id)) { code { (t.trace_id.get(..8).unwrap_or(&t.trace_id)) } " · view trace" } } }
            }
        }
        div.event-column {
            section.spans #spans {
                h2 { "Spans" }
                (waterfall(&rows))
            }
            (event::render(&serialized, &t.data, &event::FramesView::default()))
        }
    };
    Ok(page(
        Shell::of_org(&transaction.name, &prefix, &viewer, &org),
        body,
    ))
}

fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A span's duration from its v1 JSON (`start_timestamp`, `timestamp`, numbers or RFC 3339).
fn span_duration_ms(span: &Value) -> Option<f64> {
    let time = |key: &str| vigil_protocol::timestamp::parse_timestamp(span.get(key)?);
    Some(((time("timestamp")? - time("start_timestamp")?) * 1000.0).max(0.0))
}

/// The evidence of a performance issue's event (`occurrence.evidence_data` and the offending
/// `spans` it carries): the repeated or slow statement, how often, how long, and the spans.
pub fn problem_evidence(
    data: &Value,
    transaction_href: Option<&str>,
    trace_href: Option<&str>,
) -> Markup {
    let occurrence = data.get("occurrence").unwrap_or(&Value::Null);
    let evidence = occurrence.get("evidence_data").unwrap_or(&Value::Null);
    let title = [str_at(occurrence, "issue_title"), str_at(data, "title")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("Performance issue");
    let ids = |key: &str| -> Vec<&str> {
        evidence
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let offender_ids = ids("offender_span_ids");
    let parent_ids = ids("parent_span_ids");
    let spans: Vec<&Value> = data
        .get("spans")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let offenders: Vec<&Value> = spans
        .iter()
        .copied()
        .filter(|s| offender_ids.is_empty() || offender_ids.contains(&str_at(s, "span_id")))
        .filter(|s| !parent_ids.contains(&str_at(s, "span_id")) || offender_ids.is_empty())
        .collect();
    let parent = spans
        .iter()
        .find(|s| parent_ids.contains(&str_at(s, "span_id")));
    let statement = match evidence.get("repeating_spans") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => str_at(occurrence, "subtitle").to_string(),
    };
    let repeats = match evidence.get("num_repeating_spans") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => offender_ids.len().max(offenders.len()).to_string(),
    };
    let total_ms = evidence
        .get("total_duration_ms")
        .and_then(Value::as_f64)
        .or_else(|| {
            let durations: Vec<f64> = offenders
                .iter()
                .filter_map(|s| span_duration_ms(s))
                .collect();
            (!durations.is_empty()).then(|| durations.iter().sum())
        });
    let transaction_name = [
        str_at(evidence, "transaction_name"),
        str_at(data, "transaction"),
    ]
    .into_iter()
    .find(|s| !s.is_empty());
    html! {
        section.evidence #evidence {
            h2 { (title) }
            dl.counts {
                @if let Some(name) = transaction_name { div { dt { "Transaction" } dd { code { (name) } } } }
                @if !str_at(evidence, "op").is_empty() { div { dt { "Operation" } dd { code { (str_at(evidence, "op")) } } } }
                div { dt { "Offending spans" } dd { (repeats) } }
                @if let Some(total) = total_ms { div { dt { "Total duration" } dd { (duration(total)) } } }
            }
            @if !statement.is_empty() {
                h3 { @if offenders.len() > 1 { "Repeating statement" } @else { "Statement" } }
                pre { code.sql { (statement) } }
            }
            @if let Some(parent) = parent {
                h3 { "Parent span" }
                p { code { (str_at(parent, "op")) } " " (str_at(parent, "description")) }
            }
            @if !offenders.is_empty() {
                h3 { "Offending spans" }
                ol.offenders {
                    @for span in offenders.iter().take(EVIDENCE_SPANS) {
                        li {
                            span.wf-op { (str_at(span, "op")) } " "
                            code.sql { (str_at(span, "description")) }
                            @if let Some(ms) = span_duration_ms(span) { " " span.muted { (duration(ms)) } }
                        }
                    }
                }
                @if offenders.len() > EVIDENCE_SPANS {
                    p.muted { "and " (offenders.len() - EVIDENCE_SPANS) " more" }
                }
            }
            p.evidence-links {
                @if let Some(href) = transaction_href { a href=(href) { "View the transaction" } }
                @if transaction_href.is_some() && trace_href.is_some() { " · " }
                @if let Some(href) = trace_href { a href=(href) { "View the trace" } }
            }
        }
    }
}

/// The trace an event happened in (`contexts.trace.trace_id`), when it names a valid one.
pub fn event_trace_id(data: &Value) -> Option<String> {
    let id = data
        .get("contexts")?
        .get("trace")?
        .get("trace_id")?
        .as_str()?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// The evidence of a performance issue's event, linking to the transaction it was found in
/// (looked up by its trace and root span around its start) and to its trace.
pub async fn issue_evidence(
    state: &AppState,
    org: &Organization,
    project: &Project,
    stored: &StoredEvent,
) -> Markup {
    let prefix = state.config.path_prefix();
    let data = &stored.data;
    let trace_id = event_trace_id(data);
    let span_id = data
        .get("contexts")
        .and_then(|c| c.get("trace"))
        .map(|t| str_at(t, "span_id"))
        .unwrap_or("");
    let start = data
        .get("start_timestamp")
        .and_then(vigil_protocol::timestamp::parse_timestamp);
    let mut transaction_href = data
        .pointer("/occurrence/event_id")
        .and_then(Value::as_str)
        .map(|id| transaction_url(&prefix, &org.slug, &project.slug, id));
    if transaction_href.is_some() {
        // Named by the occurrence: no need to look for it.
    } else if let (Some(trace_id), Some(start), false) = (&trace_id, start, span_id.is_empty()) {
        let query = TransactionQuery {
            organization_id: org.id,
            project_ids: vec![project.id],
            transaction: stored.transaction.clone(),
            since: Some(start - 1.0),
            until: Some(start + 1.0),
            ..TransactionQuery::default()
        };
        // Without the transaction (not stored, or the store cannot say) the trace link stays.
        if let Ok(found) = state
            .store
            .list_transactions(&query, TransactionSort::Newest, 100, 0)
            .await
        {
            transaction_href = found
                .iter()
                .find(|t| &t.trace_id == trace_id && t.span_id == span_id)
                .map(|t| transaction_url(&prefix, &org.slug, &project.slug, &t.event_id));
        }
    }
    let trace_href = trace_id.map(|id| trace_url(&prefix, &org.slug, &id));
    problem_evidence(data, transaction_href.as_deref(), trace_href.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, parent: Option<&str>, start: f64) -> Row {
        Row {
            id: id.into(),
            parent: parent.map(str::to_owned),
            kind: RowKind::Span,
            start,
            duration_ms: 10.0,
            op: "db".into(),
            description: format!("span {id}"),
            status: "ok".into(),
            href: None,
            badge: None,
        }
    }

    #[test]
    fn children_nest_under_parents_by_start() {
        let rows = vec![
            row("c2", Some("root"), 3.0),
            row("root", None, 0.0),
            row("c1", Some("root"), 1.0),
            row("g", Some("c1"), 2.0),
        ];
        let order: Vec<(&str, usize)> = tree_order(&rows)
            .into_iter()
            .map(|(i, depth, _)| (rows[i].id.as_str(), depth))
            .collect();
        assert_eq!(order, [("root", 0), ("c1", 1), ("g", 2), ("c2", 1)]);
    }

    #[test]
    fn a_cycle_of_parents_is_listed_once_and_ends() {
        let rows = vec![
            row("a", Some("b"), 0.0),
            row("b", Some("a"), 1.0),
            row("s", Some("s"), 2.0),
        ];
        let order = tree_order(&rows);
        assert_eq!(order.len(), 3);
        let html = waterfall(&rows).into_string();
        assert_eq!(
            html.matches("<details").count(),
            html.matches("</details>").count()
        );
    }

    #[test]
    fn a_deep_chain_renders_without_unbounded_nesting() {
        let rows: Vec<Row> = (0..2000)
            .map(|i| {
                row(
                    &format!("s{i}"),
                    (i > 0).then(|| format!("s{}", i - 1)).as_deref(),
                    i as f64,
                )
            })
            .collect();
        let html = waterfall(&rows).into_string();
        assert_eq!(html.matches("<details").count(), MAX_NESTING);
        assert_eq!(html.matches("class=\"wf-row").count(), 2000);
    }

    #[test]
    fn bars_sit_where_their_spans_run() {
        let mut root = row("root", None, 100.0);
        root.duration_ms = 1000.0;
        let mut child = row("c", Some("root"), 100.5);
        child.duration_ms = 250.0;
        let html = waterfall(&[root, child]).into_string();
        assert!(html.contains("left:50.000%;width:25.000%"), "{html}");
    }

    #[test]
    fn evidence_shows_the_statement_and_its_spans() {
        let spans: Vec<Value> = (0..12)
            .map(|i| json!({"span_id": format!("{i:016x}"), "op": "db", "parent_span_id": "p",
                            "description": format!("SELECT * FROM book WHERE id = {i}"),
                            "start_timestamp": 10.0 + i as f64 * 0.01, "timestamp": 10.005 + i as f64 * 0.01}))
            .collect();
        let data = json!({"title": "N+1 Query", "spans": spans, "occurrence": {"issue_title": "N+1 Query",
            "evidence_data": {"op": "db", "transaction_name": "/books/", "num_repeating_spans": "12",
                "repeating_spans": "SELECT * FROM book WHERE id = %s",
                "offender_span_ids": (0..12).map(|i| format!("{i:016x}")).collect::<Vec<_>>(),
                "parent_span_ids": []}}});
        let html = problem_evidence(&data, None, Some("/t/")).into_string();
        assert!(
            html.contains("N+1 Query") && html.contains("WHERE id = %s"),
            "{html}"
        );
        assert_eq!(html.matches("<li>").count(), 12);
        assert!(html.contains("60.0 ms") || html.contains("60 ms"), "{html}");
        assert!(html.contains("href=\"/t/\""));
    }
}
