//! Transactions by event id and whole traces: Sentry's `events-trace` tree, in which a
//! transaction is the child of the transaction that holds the span it continues.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use vigil_store::{Project, StoredTransaction, Trace, TraceError};

use super::access::OrgAccess;
use super::auth::Caller;
use super::error::ApiError;
use crate::serialize::issue::short_id;
use crate::serialize::serialize_transaction;
use crate::AppState;

/// The transaction `event_id` of `project` with its spans, as Sentry's event JSON; `None` when
/// no transaction has that id (the caller then answers 404).
pub async fn transaction_event(
    state: &AppState,
    project: &Project,
    event_id: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(transaction) = state
        .store
        .transaction_by_event_id(project.id, event_id)
        .await?
    else {
        return Ok(None);
    };
    let spans = state
        .store
        .segment_spans(project.id, &transaction.trace_id, &transaction.span_id)
        .await?;
    Ok(Some(serialize_transaction(&transaction, &spans)))
}

/// `GET /api/0/organizations/{org}/events/{project_slug}:{event_id}/`: Discover's event link.
pub async fn org_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, slug_and_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (project_slug, event_id) = slug_and_id.split_once(':').ok_or(ApiError::NotFound)?;
    let (_, project) = caller.project(&state, &org, project_slug).await?;
    let event_id = vigil_protocol::ids::normalize_uuid(event_id).ok_or(ApiError::NotFound)?;
    if let Some(body) = transaction_event(&state, &project, &event_id).await? {
        return Ok(Json(body));
    }
    let event = state
        .store
        .event_by_id(project.id, &event_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(crate::serialize::serialize_event(&event)))
}

/// `GET /api/0/organizations/{org}/events-trace/{trace_id}/`:
/// `{"transactions": [root, …], "orphan_errors": […]}`, each transaction with its `children`.
pub async fn trace(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    Path((_, trace_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let trace_id = normalize_trace_id(&trace_id).ok_or(ApiError::NotFound)?;
    let trace = state.store.trace(org.id, &trace_id).await?;
    if trace.transactions.is_empty() && trace.errors.is_empty() {
        return Err(ApiError::NotFound);
    }
    let projects = state.store.list_projects(Some(org.id)).await?;
    let mut short_ids = HashMap::new();
    for error in &trace.errors {
        if let Some(issue_id) = error.issue_id {
            if let Some(issue) = state.store.issue_by_id(issue_id).await? {
                if let Some(project) = projects.iter().find(|p| p.id == issue.project_id) {
                    short_ids.insert(issue_id, short_id(project, issue.short_id));
                }
            }
        }
    }
    Ok(Json(trace_tree(&trace, &projects, &short_ids)))
}

/// 32 lowercase hex (dashes, as in a UUID, are dropped).
fn normalize_trace_id(id: &str) -> Option<String> {
    let id: String = id.chars().filter(|c| *c != '-').collect();
    (id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// Builds Sentry's trace tree. A transaction's parent is the transaction whose own span or
/// one of whose spans is the transaction's `parent_span_id`; an error belongs to the
/// transaction whose span was active (`contexts.trace.span_id`), else it is an orphan.
pub fn trace_tree(trace: &Trace, projects: &[Project], short_ids: &HashMap<i64, String>) -> Value {
    // span id → index of the transaction that holds it.
    let mut holder: HashMap<&str, usize> = HashMap::new();
    for (index, transaction) in trace.transactions.iter().enumerate() {
        holder.insert(transaction.span_id.as_str(), index);
    }
    for span in &trace.spans {
        if let Some(index) = trace
            .transactions
            .iter()
            .position(|t| t.span_id == span.segment_id && t.project_id == span.project_id)
        {
            holder.entry(span.span_id.as_str()).or_insert(index);
        }
    }
    let parent_of: Vec<Option<usize>> = trace
        .transactions
        .iter()
        .enumerate()
        .map(|(index, t)| {
            t.parent_span_id
                .as_deref()
                .and_then(|p| holder.get(p).copied())
                .filter(|parent| *parent != index)
        })
        .collect();
    let mut errors_of: Vec<Vec<&TraceError>> = vec![Vec::new(); trace.transactions.len()];
    let mut orphans = Vec::new();
    for error in &trace.errors {
        match error.span_id.as_deref().and_then(|s| holder.get(s)) {
            Some(&index) => errors_of[index].push(error),
            None => orphans.push(error),
        }
    }
    let tree = Tree {
        transactions: &trace.transactions,
        parent_of: &parent_of,
        errors_of: &errors_of,
        projects,
        short_ids,
    };
    let roots: Vec<Value> = (0..trace.transactions.len())
        .filter(|i| parent_of[*i].is_none())
        .map(|i| tree.node(i, 0, &mut vec![i]))
        .collect();
    json!({
        "transactions": roots,
        "orphan_errors": orphans.iter().map(|e| tree.error(e, None)).collect::<Vec<_>>(),
    })
}

struct Tree<'a> {
    transactions: &'a [StoredTransaction],
    parent_of: &'a [Option<usize>],
    errors_of: &'a [Vec<&'a TraceError>],
    projects: &'a [Project],
    short_ids: &'a HashMap<i64, String>,
}

impl Tree<'_> {
    fn slug(&self, project_id: i64) -> Value {
        json!(self
            .projects
            .iter()
            .find(|p| p.id == project_id)
            .map(|p| p.slug.clone()))
    }

    /// `path` holds the ancestors, so that a cycle of parent ids (possible with bad data)
    /// ends instead of recursing forever.
    fn node(&self, index: usize, generation: u32, path: &mut Vec<usize>) -> Value {
        let t = &self.transactions[index];
        let mut children = Vec::new();
        for child in (0..self.transactions.len()).filter(|c| self.parent_of[*c] == Some(index)) {
            if path.contains(&child) {
                continue;
            }
            path.push(child);
            children.push(self.node(child, generation + 1, path));
            path.pop();
        }
        let parent_event_id = self.parent_of[index].map(|p| self.transactions[p].event_id.clone());
        json!({
            "event_id": t.event_id,
            "span_id": t.span_id,
            "parent_span_id": t.parent_span_id,
            "parent_event_id": parent_event_id,
            "project_id": t.project_id,
            "project_slug": self.slug(t.project_id),
            "transaction": t.name,
            "transaction.op": t.op,
            "transaction.duration": t.duration_ms,
            "transaction.status": t.status,
            "start_timestamp": t.start,
            "timestamp": t.start + t.duration_ms / 1000.0,
            "generation": generation,
            "errors": self.errors_of[index].iter().map(|e| self.error(e, Some(generation))).collect::<Vec<_>>(),
            "performance_issues": [],
            "children": children,
        })
    }

    fn error(&self, error: &TraceError, generation: Option<u32>) -> Value {
        json!({
            "event_id": error.event_id,
            "issue_id": error.issue_id,
            "issue": error.issue_id.and_then(|id| self.short_ids.get(&id)),
            "span": error.span_id,
            "title": error.title,
            "level": error.level,
            "timestamp": error.timestamp,
            "project_id": error.project_id,
            "project_slug": self.slug(error.project_id),
            "generation": generation,
            "event_type": "error",
        })
    }
}

/// What Sentry's `trace/` and `trace-meta/` endpoints take besides the trace id: the period
/// (items outside it are left out), and `project=` which, as in Sentry, is checked but never
/// narrows a trace (a trace spans the organization's projects).
struct TraceRequest {
    trace_id: String,
    since: f64,
    until: f64,
    projects: Vec<Project>,
}

impl TraceRequest {
    async fn from_params(
        state: &AppState,
        org: &vigil_store::Organization,
        trace_id: &str,
        params: &[(String, String)],
    ) -> Result<Option<TraceRequest>, ApiError> {
        let common = super::discover::Common::from_params(state, org.clone(), params).await?;
        match crate::query::first(params, "include_uptime").unwrap_or("0") {
            // Vigil runs no uptime checks, so a trace has none to include.
            "0" | "1" | "" => {}
            other => {
                return Err(ApiError::Invalid(format!(
                    "include_uptime: 0 or 1, not {other}"
                )))
            }
        }
        let Some(trace_id) = normalize_trace_id(trace_id) else {
            return Ok(None);
        };
        Ok(Some(TraceRequest {
            trace_id,
            since: common.since,
            until: common.until,
            projects: common.all,
        }))
    }

    /// The trace's items within the period.
    async fn read(&self, state: &AppState, organization_id: i64) -> Result<Trace, ApiError> {
        let mut trace = state.store.trace(organization_id, &self.trace_id).await?;
        let within = |t: f64| t >= self.since && t < self.until;
        trace.transactions.retain(|t| within(t.start));
        trace.spans.retain(|s| within(s.start));
        trace.errors.retain(|e| within(e.timestamp));
        Ok(trace)
    }
}

/// The issues of a trace's errors, read once each: performance issues are Sentry's
/// occurrences, the rest its errors.
async fn trace_issues(
    state: &AppState,
    trace: &Trace,
) -> Result<HashMap<i64, vigil_store::Issue>, ApiError> {
    let mut issues = HashMap::new();
    for error in &trace.errors {
        if let Some(id) = error.issue_id {
            if let std::collections::hash_map::Entry::Vacant(slot) = issues.entry(id) {
                if let Some(issue) = state.store.issue_by_id(id).await? {
                    slot.insert(issue);
                }
            }
        }
    }
    Ok(issues)
}

fn is_performance(error: &TraceError, issues: &HashMap<i64, vigil_store::Issue>) -> bool {
    error
        .issue_id
        .and_then(|id| issues.get(&id))
        .is_some_and(|issue| {
            issue
                .event_type
                .starts_with(vigil_store::search::IssueKind::PERFORMANCE_PREFIX)
        })
}

/// The spans below segments, without those that repeat a segment's own root span.
fn child_spans(trace: &Trace) -> Vec<&vigil_store::StoredSpan> {
    trace
        .spans
        .iter()
        .filter(|s| {
            !trace
                .transactions
                .iter()
                .any(|t| t.span_id == s.span_id && t.project_id == s.project_id)
        })
        .collect()
}

/// `GET /api/0/organizations/{org}/trace-meta/{trace_id}/`: counts of a trace's spans (by
/// op, and per transaction), errors and performance issues, as Sentry's trace view reads them.
/// A trace with nothing stored is all zeros, as in Sentry.
pub async fn trace_meta(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    Path((_, trace_id)): Path<(String, String)>,
    crate::query::QueryPairs(params): crate::query::QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let request = TraceRequest::from_params(&state, &org, &trace_id, &params)
        .await?
        .ok_or(ApiError::NotFound)?;
    let trace = request.read(&state, org.id).await?;
    let issues = trace_issues(&state, &trace).await?;
    let spans = child_spans(&trace);
    let mut by_op: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for t in &trace.transactions {
        *by_op.entry(t.op.as_str()).or_insert(0) += 1;
    }
    for s in &spans {
        *by_op.entry(s.op.as_str()).or_insert(0) += 1;
    }
    let children: Vec<Value> = trace
        .transactions
        .iter()
        .map(|t| {
            let count = spans
                .iter()
                .filter(|s| s.segment_id == t.span_id && s.project_id == t.project_id)
                .count()
                + 1;
            json!({"transaction.event_id": t.event_id, "count()": count})
        })
        .collect();
    let performance = trace
        .errors
        .iter()
        .filter(|e| is_performance(e, &issues))
        .count();
    let mut body = json!({
        "logs": 0,
        "errors": trace.errors.len() - performance,
        "performance_issues": performance,
        "span_count": trace.transactions.len() + spans.len(),
        "transaction_child_count_map": children,
        "span_count_map": by_op,
    });
    if crate::query::first(&params, "include_uptime") == Some("1") {
        body["uptime_checks"] = json!(0);
    }
    Ok(Json(body))
}

/// One node of Sentry's trace tree before it is nested.
struct SpanNode {
    value: Value,
    span_id: String,
    parent_span_id: Option<String>,
    start: f64,
}

/// `GET /api/0/organizations/{org}/trace/{trace_id}/`: Sentry's trace tree, a list of root
/// spans (each segment's root span and the spans below it, nested by parent span) with the
/// errors that happened in each span, then the errors of no stored span. `limit=` caps the
/// spans (the earliest are kept); `additional_attributes=` adds those keys of each span's
/// data; `errorId=` must be an event id (every error of the trace is returned anyway).
pub async fn trace_spans(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    Path((_, trace_id)): Path<(String, String)>,
    crate::query::QueryPairs(params): crate::query::QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let limit = match crate::query::first(&params, "limit").filter(|l| !l.is_empty()) {
        None => usize::MAX,
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|l| *l > 0)
            .ok_or_else(|| ApiError::Invalid(format!("limit: a positive number, not {limit}")))?,
    };
    if let Some(error_id) = crate::query::first(&params, "errorId") {
        if vigil_protocol::ids::normalize_uuid(error_id).is_none() {
            return Err(ApiError::Invalid(format!(
                "eventId: {error_id} needs to be a valid uuid"
            )));
        }
    }
    let attributes: Vec<&str> = crate::query::all(&params, "additional_attributes");
    let request = TraceRequest::from_params(&state, &org, &trace_id, &params)
        .await?
        .ok_or(ApiError::NotFound)?;
    let trace = request.read(&state, org.id).await?;
    let issues = trace_issues(&state, &trace).await?;
    let slug = |project_id: i64| {
        request
            .projects
            .iter()
            .find(|p| p.id == project_id)
            .map(|p| p.slug.clone())
            .unwrap_or_default()
    };
    let short = |error: &TraceError| {
        error
            .issue_id
            .and_then(|id| issues.get(&id))
            .and_then(|issue| {
                request
                    .projects
                    .iter()
                    .find(|p| p.id == issue.project_id)
                    .map(|p| p.short_id(issue.short_id))
            })
    };
    let pick = |data: &Value| -> Value {
        let mut out = serde_json::Map::new();
        for key in &attributes {
            if let Some(value) = data.get(*key) {
                out.insert((*key).to_owned(), value.clone());
            }
        }
        Value::Object(out)
    };

    let mut nodes: Vec<SpanNode> = Vec::new();
    for t in &trace.transactions {
        let tags: serde_json::Map<String, Value> =
            t.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        nodes.push(SpanNode {
            span_id: t.span_id.clone(),
            parent_span_id: t.parent_span_id.clone(),
            start: t.start,
            value: json!({
                "event_id": t.span_id,
                "span_id": t.span_id,
                "transaction_id": t.event_id,
                "project_id": t.project_id,
                "project_slug": slug(t.project_id),
                "profile_id": null,
                "profiler_id": null,
                "parent_span_id": t.parent_span_id,
                "start_timestamp": t.start,
                "end_timestamp": t.start + t.duration_ms / 1000.0,
                "duration": t.duration_ms,
                "measurements": {},
                "transaction": t.name,
                "is_transaction": true,
                "description": t.name,
                "sdk_name": null,
                "op": t.op,
                "name": t.name,
                "status": t.status,
                "event_type": "span",
                "additional_attributes": pick(&Value::Object(tags)),
                "errors": [],
                "occurrences": [],
                "children": [],
            }),
        });
    }
    for s in child_spans(&trace) {
        let transaction_id = trace
            .transactions
            .iter()
            .find(|t| t.span_id == s.segment_id && t.project_id == s.project_id)
            .map(|t| t.event_id.clone())
            .unwrap_or_default();
        nodes.push(SpanNode {
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            start: s.start,
            value: json!({
                "event_id": s.span_id,
                "span_id": s.span_id,
                "transaction_id": transaction_id,
                "project_id": s.project_id,
                "project_slug": slug(s.project_id),
                "profile_id": null,
                "profiler_id": null,
                "parent_span_id": s.parent_span_id,
                "start_timestamp": s.start,
                "end_timestamp": s.start + s.duration_ms / 1000.0,
                "duration": s.duration_ms,
                "measurements": {},
                "transaction": s.transaction,
                "is_transaction": false,
                "description": s.description,
                "sdk_name": null,
                "op": s.op,
                "name": s.description,
                "status": s.status,
                "event_type": "span",
                "additional_attributes": pick(&s.data),
                "errors": [],
                "occurrences": [],
                "children": [],
            }),
        });
    }
    nodes.sort_by(|a, b| a.start.total_cmp(&b.start));
    nodes.truncate(limit);

    // Errors go on the span that was active; the rest are roots of their own.
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.span_id.clone(), i))
        .collect();
    let mut orphans = Vec::new();
    for error in &trace.errors {
        let performance = is_performance(error, &issues);
        let issue = error.issue_id.and_then(|id| issues.get(&id));
        let node = error.span_id.as_deref().and_then(|s| index.get(s)).copied();
        let transaction = node
            .and_then(|i| nodes[i].value["transaction"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let value = json!({
            "event_id": error.event_id,
            "project_id": error.project_id,
            "project_slug": slug(error.project_id),
            "start_timestamp": error.timestamp,
            "timestamp": error.timestamp,
            "transaction": transaction,
            "description": error.title,
            "title": error.title,
            "level": error.level,
            "issue_id": error.issue_id,
            "event_type": if performance { "occurrence" } else { "error" },
            "culprit": issue.map(|i| i.culprit.clone()).unwrap_or_default(),
            "short_id": short(error),
            "issue_type": issue.map(|i| i.event_type.clone()).unwrap_or_else(|| "error".into()),
        });
        match node {
            Some(i) => {
                let list = if performance { "occurrences" } else { "errors" };
                if let Some(items) = nodes[i].value[list].as_array_mut() {
                    items.push(value);
                }
            }
            None => orphans.push(value),
        }
    }

    // Nest: a node's parent is the node of its parent span; without one it is a root.
    let parent: Vec<Option<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.parent_span_id
                .as_deref()
                .and_then(|p| index.get(p).copied())
                .filter(|p| *p != i)
        })
        .collect();
    let mut values: Vec<Option<Value>> = nodes.into_iter().map(|n| Some(n.value)).collect();
    // Children before parents: deepest first, so each subtree is whole when it is moved.
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(p) = parent[i] {
            d += 1;
            i = p;
            if d > values_len_guard(&parent) {
                break;
            }
        }
        d
    };
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(depth(*i)));
    let mut roots = Vec::new();
    for i in order {
        let Some(value) = values[i].take() else {
            continue;
        };
        match parent[i] {
            Some(p) if values[p].is_some() => {
                if let Some(children) = values[p]
                    .as_mut()
                    .and_then(|v| v["children"].as_array_mut())
                {
                    children.push(value);
                }
            }
            _ => roots.push(value),
        }
    }
    let start = |v: &Value| v["start_timestamp"].as_f64().unwrap_or(0.0);
    roots.sort_by(|a, b| start(a).total_cmp(&start(b)));
    for root in &mut roots {
        sort_children(root);
    }
    roots.extend(orphans);
    Ok(Json(Value::Array(roots)))
}

/// The most steps a parent chain can take: past it there is a cycle (bad data).
fn values_len_guard(parent: &[Option<usize>]) -> usize {
    parent.len()
}

fn sort_children(node: &mut Value) {
    if let Some(children) = node["children"].as_array_mut() {
        let start = |v: &Value| v["start_timestamp"].as_f64().unwrap_or(0.0);
        children.sort_by(|a, b| start(a).total_cmp(&start(b)));
        for child in children {
            sort_children(child);
        }
    }
}
