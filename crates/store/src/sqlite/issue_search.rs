//! The issue list in SQLite: the statement [`crate::query::issue_search`] compiles for the
//! SQLite dialect, run on a reader connection (its statement cache keeps one per query shape).

use async_trait::async_trait;
use rusqlite::params_from_iter;

use super::statements::records;
use super::SqliteStore;
use crate::query::{issue_search, Dialect};
use crate::shared::ISSUE_COLUMNS;
use crate::IssueSearch;
use crate::{Issue, IssueQuery, StoreResult};

#[async_trait]
impl IssueSearch for SqliteStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let compiled = issue_search::compile(Dialect::Sqlite, ISSUE_COLUMNS, query);
        self.read(move |conn| {
            records(
                conn,
                &compiled.sql,
                params_from_iter(compiled.params.iter()),
                "searching issues",
            )
        })
        .await
    }
}
