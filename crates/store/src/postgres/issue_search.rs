//! The issue list in PostgreSQL: the statement [`crate::query::issue_search`] compiles for the
//! PostgreSQL dialect (lists as one array parameter each, so queries of one shape share one
//! text whatever the lists' lengths), prepared once per connection.

use async_trait::async_trait;

use super::sql;
use super::PgStore;
use crate::query::{issue_search, Dialect};
use crate::shared::ISSUE_COLUMNS;
use crate::IssueSearch;
use crate::{Issue, IssueQuery, StoreResult};

#[async_trait]
impl IssueSearch for PgStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let compiled = issue_search::compile(Dialect::Postgres, ISSUE_COLUMNS, query);
        sql::records(
            &self.client().await?,
            &compiled.sql,
            &compiled.postgres_params(),
            "searching issues",
        )
        .await
    }
}
