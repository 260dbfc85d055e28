//! The issue list in SQLite: the statement [`crate::query::issue_search`] compiles for the
//! SQLite dialect, run on a reader connection (its statement cache keeps one per query shape).

use rusqlite::{params_from_iter, Connection};

use super::error::DbContext;
use super::issues::{self, COLUMNS};
use super::SqliteStore;
use crate::query::{issue_search, Dialect};
use crate::IssueSearch;
use crate::{Issue, IssueQuery, StoreResult};
use async_trait::async_trait;

/// Runs the search on `conn`.
pub(crate) fn search(conn: &Connection, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
    let compiled = issue_search::compile(Dialect::Sqlite, COLUMNS, query);
    conn.prepare_cached(&compiled.sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(compiled.params.iter()), issues::from_row)?
                .collect()
        })
        .db("searching issues")
}

#[async_trait]
impl IssueSearch for SqliteStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let query = query.clone();
        self.read(move |conn| search(conn, &query)).await
    }
}
