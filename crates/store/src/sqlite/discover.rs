//! Discover's reads on SQLite: the statements of [`crate::query::discover`], run.

use async_trait::async_trait;
use rusqlite::params_from_iter;

use super::events::read_events;
use super::statements::{record, records};
use super::SqliteStore;
use crate::query::discover::{self, BucketRow, GroupRow, SpanRecord};
use crate::query::Dialect;
use crate::{
    Discover, ErrorBucket, ErrorColumn, ErrorGroup, ErrorOrder, ErrorQuery, SpanOrder, SpanQuery,
    SpanRow, StoreResult, StoredEvent,
};

#[async_trait]
impl Discover for SqliteStore {
    async fn error_events(
        &self,
        query: &ErrorQuery,
        order: ErrorOrder,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let statement = discover::error_events(Dialect::Sqlite, query, order, limit, offset)?;
        self.read(move |conn| {
            read_events(
                conn,
                &statement.sql,
                params_from_iter(statement.params.iter()),
                "listing error events",
            )
        })
        .await
    }

    async fn error_groups(
        &self,
        query: &ErrorQuery,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorGroup>> {
        let statement = discover::error_groups(Dialect::Sqlite, query, by)?;
        let rows: Vec<GroupRow> = self
            .read(move |conn| {
                records(
                    conn,
                    &statement.sql,
                    params_from_iter(statement.params.iter()),
                    "grouping error events",
                )
            })
            .await?;
        Ok(discover::groups(rows, by.len()))
    }

    async fn error_series(
        &self,
        query: &ErrorQuery,
        interval_secs: u64,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorBucket>> {
        let statement = discover::error_series(Dialect::Sqlite, query, interval_secs, by)?;
        let rows: Vec<BucketRow> = self
            .read(move |conn| {
                records(
                    conn,
                    &statement.sql,
                    params_from_iter(statement.params.iter()),
                    "counting error events over time",
                )
            })
            .await?;
        Ok(discover::buckets(
            rows,
            query.since,
            interval_secs,
            by.len(),
        ))
    }

    async fn error_tag_key_exists(
        &self,
        organization_id: i64,
        project_ids: &[i64],
        key: &str,
    ) -> StoreResult<bool> {
        let statement =
            discover::tag_key_exists(Dialect::Sqlite, organization_id, project_ids, key);
        let found: discover::Found = self
            .read(move |conn| {
                record(
                    conn,
                    &statement.sql,
                    params_from_iter(statement.params.iter()),
                    "looking up a tag key",
                )
            })
            .await?;
        Ok(found.0 > 0)
    }

    async fn span_rows(
        &self,
        query: &SpanQuery,
        order: SpanOrder,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<SpanRow>> {
        let statement = discover::span_rows(Dialect::Sqlite, query, order, limit, offset)?;
        let rows: Vec<SpanRecord> = self
            .read(move |conn| {
                records(
                    conn,
                    &statement.sql,
                    params_from_iter(statement.params.iter()),
                    "listing spans",
                )
            })
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
