//! Discover's reads on PostgreSQL: the statements of [`crate::query::discover`], run.

use async_trait::async_trait;

use super::events::read_events;
use super::sql;
use super::PgStore;
use crate::query::discover::{self, BucketRow, GroupRow, SpanRecord};
use crate::query::Dialect;
use crate::{
    Discover, ErrorBucket, ErrorColumn, ErrorGroup, ErrorOrder, ErrorQuery, SpanOrder, SpanQuery,
    SpanRow, StoreResult, StoredEvent,
};

#[async_trait]
impl Discover for PgStore {
    async fn error_events(
        &self,
        query: &ErrorQuery,
        order: ErrorOrder,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let statement = discover::error_events(Dialect::Postgres, query, order, limit, offset)?;
        read_events(
            &self.client().await?,
            &statement.sql,
            &statement.postgres_params(),
            "listing error events",
        )
        .await
    }

    async fn error_groups(
        &self,
        query: &ErrorQuery,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorGroup>> {
        let statement = discover::error_groups(Dialect::Postgres, query, by)?;
        let rows: Vec<GroupRow> = sql::records(
            &self.client().await?,
            &statement.sql,
            &statement.postgres_params(),
            "grouping error events",
        )
        .await?;
        Ok(discover::groups(rows, by.len()))
    }

    async fn error_series(
        &self,
        query: &ErrorQuery,
        interval_secs: u64,
        by: &[ErrorColumn],
    ) -> StoreResult<Vec<ErrorBucket>> {
        let statement = discover::error_series(Dialect::Postgres, query, interval_secs, by)?;
        let rows: Vec<BucketRow> = sql::records(
            &self.client().await?,
            &statement.sql,
            &statement.postgres_params(),
            "counting error events over time",
        )
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
            discover::tag_key_exists(Dialect::Postgres, organization_id, project_ids, key);
        let found: discover::Found = sql::record(
            &self.client().await?,
            &statement.sql,
            &statement.postgres_params(),
            "looking up a tag key",
        )
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
        let statement = discover::span_rows(Dialect::Postgres, query, order, limit, offset)?;
        let rows: Vec<SpanRecord> = sql::records(
            &self.client().await?,
            &statement.sql,
            &statement.postgres_params(),
            "listing spans",
        )
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
