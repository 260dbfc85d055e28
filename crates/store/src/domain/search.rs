//! Sentry's issue search: lists of issues filtered and sorted.

use async_trait::async_trait;

use crate::{Issue, IssueQuery, StoreResult};

/// Sentry's issue search: lists of issues filtered and sorted.
#[async_trait]
pub trait IssueSearch: Send + Sync {
    /// Issues matching the query, sorted, `limit` of them from `offset`.
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>>;
}
