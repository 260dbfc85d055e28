//! The issue list in PostgreSQL: the statement [`crate::query::issue_search`] compiles for the
//! PostgreSQL dialect (lists as one array parameter each, so queries of one shape share one
//! text whatever the lists' lengths), prepared once per connection.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::issues::{self, COLUMNS};
use super::sql;
use super::PgStore;
use crate::query::{issue_search, Dialect};
use crate::IssueSearch;
use crate::{Issue, IssueQuery, StoreResult};

/// Runs the search.
pub(crate) async fn search<C: GenericClient>(
    client: &C,
    query: &IssueQuery,
) -> StoreResult<Vec<Issue>> {
    let compiled = issue_search::compile(Dialect::Postgres, COLUMNS, query);
    sql::query(
        client,
        &compiled.sql,
        &compiled.postgres_params(),
        "searching issues",
    )
    .await?
    .iter()
    .map(issues::from_row)
    .collect()
}

#[async_trait]
impl IssueSearch for PgStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        search(&self.client().await?, query).await
    }
}
