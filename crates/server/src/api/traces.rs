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
