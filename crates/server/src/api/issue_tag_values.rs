//! One tag of an issue: Sentry's `GET …/issues/{id}/tags/{key}/` (the key's totals and top
//! values, what the MCP server's `get_issue_tag_values` reads) and `…/tags/{key}/values/` (every
//! value, paginated, what the web UI's tag page and scripts page through).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_store::TagValueCount;

use super::access::IssueAccess;
use super::error::ApiError;
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::serialize::iso;
use crate::AppState;

/// How many values the tag details list, as Sentry's `TagKeySerializer` with `top_values`.
const TOP_VALUES: usize = 9;

#[derive(Deserialize)]
pub struct TagPath {
    key: String,
}

/// The issue's values of `key` (`sentry:user` read as `user`, as Sentry's API accepts both),
/// most seen first; 404 when the issue never had the tag.
async fn values_of(
    state: &AppState,
    issue_id: i64,
    key: &str,
) -> Result<Vec<TagValueCount>, ApiError> {
    let key = key.strip_prefix("sentry:").unwrap_or(key);
    if vigil_processing::tags::is_search_only_tag(key) {
        return Err(ApiError::NotFound);
    }
    let values: Vec<TagValueCount> = state
        .store
        .issue_tag_values(issue_id)
        .await?
        .into_iter()
        .filter(|v| v.key == key)
        .collect();
    if values.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(values)
}

fn value_json(value: &TagValueCount) -> Value {
    json!({
        "key": value.key,
        "name": value.value,
        "value": value.value,
        "count": value.times_seen,
        "firstSeen": iso(value.first_seen),
        "lastSeen": iso(value.last_seen),
    })
}

/// `GET /api/0/issues/{id}/tags/{key}/`: the key with its counts and top values.
pub async fn issue_tag(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
    Path(TagPath { key }): Path<TagPath>,
) -> Result<Json<Value>, ApiError> {
    let values = values_of(&state, issue.id, &key).await?;
    let total: i64 = values.iter().map(|v| v.times_seen).sum();
    let top: Vec<Value> = values.iter().take(TOP_VALUES).map(value_json).collect();
    Ok(Json(json!({
        "key": values[0].key,
        "name": values[0].key,
        "totalValues": total,
        "uniqueValues": values.len(),
        "topValues": top,
    })))
}

/// `GET /api/0/issues/{id}/tags/{key}/values/`: every value, most seen first (`sort=-count`,
/// the default) or most recently seen first (`sort=-last_seen`), a page at a time with Sentry's
/// `Link` cursors.
pub async fn issue_tag_values(
    State(state): State<AppState>,
    IssueAccess { issue, .. }: IssueAccess,
    Path(TagPath { key }): Path<TagPath>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let mut values = values_of(&state, issue.id, &key).await?;
    match query::first(&params, "sort") {
        None | Some("-count" | "count") => {}
        Some("-last_seen" | "last_seen") => {
            values.sort_by(|a, b| b.last_seen.total_cmp(&a.last_seen))
        }
        Some("-first_seen" | "first_seen") => {
            values.sort_by(|a, b| b.first_seen.total_cmp(&a.first_seen))
        }
        Some(other) => {
            return Err(ApiError::bad_field(
                "sort",
                format!(
                    "Vigil cannot sort tag values by {other}; it sorts by -count, -last_seen \
                     or -first_seen"
                ),
            ))
        }
    }
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "limit").or(query::first(&params, "per_page")),
    )?;
    let start = (page.offset as usize).min(values.len());
    let end = start.saturating_add(page.limit as usize).min(values.len());
    let body: Vec<Value> = values[start..end].iter().map(value_json).collect();
    let base = format!(
        "{}/api/0/issues/{}/tags/{}/values/",
        state.config.base_url(),
        issue.id,
        values[0].key
    );
    let has_next = end < values.len();
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}
