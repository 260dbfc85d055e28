//! Transactions, spans and traces in postgres: rows, rollups and the summaries read from them.
//!
//! The rules are the backend-neutral ones of [`crate::rollup`]: a batch's newly inserted rows
//! (`RETURNING` says which) become a [`crate::rollup::RollupDelta`] that is added to the hourly
//! and daily rollup rows under row locks taken in key order (so nodes writing the same rows
//! wait on each other, never in a cycle), and a summary reads what [`crate::rollup::Plan`]
//! says: the daily rollups for the whole days of its range, the hourly ones for the other whole
//! hours and single rows only for the edges. A query with tag conditions cannot be answered
//! from rollups, so it reads rows.
//!
//! The statements of every read and the queries answered from them (list, aggregates,
//! series, histogram, span totals), like saving a batch and reading a transaction or a
//! segment back, are the backend-neutral ones of [`crate::query`], provided by [`Traces`] over
//! [`crate::query::trace_queries::RunReads`]; what PostgreSQL does its own way is what it runs for
//! them: writing ([`writes`]), the reads ([`aggregates`], [`span_aggregates`]), a trace and the
//! thresholds (below).

use async_trait::async_trait;

use super::{events, sql, PgStore};
use crate::domain::TraceReads;
use crate::query::performance_settings::{check, select_sql, upsert_sql};
use crate::query::{transaction_reads, Dialect};
use crate::rows::SPAN_COLUMNS;
use crate::{PerformanceSettings, StoreResult, Trace, Traces};

mod aggregates;
mod span_aggregates;
mod writes;

/// A transaction's columns but its data (see [`crate::StoredTransaction`]'s reader), `tags` as text.
const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
    t.parent_span_id, t.name, t.op, t.status, t.start_ts, t.duration_ms, t.received, \
    t.environment, t.release, t.user_tag, t.platform, t.tags::TEXT";

/// The spans with their groups' normalized text (empty until it is known).
const SPAN_FROM: &str = "spans s LEFT JOIN span_groups g \
    ON g.project_id = s.project_id AND g.group_hash = s.group_hash";
const SPAN_GROUP: &str = "COALESCE(g.normalized, '')";

/// The projects of organization `$2`.
const IN_ORGANIZATION: &str = "IN (SELECT id FROM projects WHERE organization_id = $2)";

#[async_trait]
impl Traces for PgStore {
    fn trace_reads(&self) -> TraceReads<'_> {
        TraceReads::new(self)
    }

    /// A trace's transactions without `data`, as in a list: a trace can hold many.
    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace> {
        let client = self.client().await?;
        let transactions = sql::records(
            &client,
            &format!(
                "SELECT {TRANSACTION_COLUMNS} FROM transactions t
                 WHERE t.trace_id = $1 AND t.project_id {IN_ORGANIZATION}
                 ORDER BY t.start_ts, t.id"
            ),
            &[&trace_id, &organization_id],
            "reading a trace's transactions",
        )
        .await?;
        let spans = sql::records(
            &client,
            &format!(
                "SELECT {SPAN_COLUMNS}, {SPAN_GROUP} FROM {SPAN_FROM}
                 WHERE s.trace_id = $1 AND s.project_id {IN_ORGANIZATION}
                 ORDER BY s.start_ts, s.id"
            ),
            &[&trace_id, &organization_id],
            "reading a trace's spans",
        )
        .await?;
        let event_rows = sql::query(
            &client,
            &format!(
                "SELECT {} FROM events
                 WHERE trace_id = $1 AND project_id {IN_ORGANIZATION}
                 ORDER BY timestamp, id",
                events::COLUMNS
            ),
            &[&trace_id, &organization_id],
            "reading a trace's errors",
        )
        .await?;
        let events = events::decode(&client, event_rows).await?;
        Ok(transaction_reads::trace(transactions, spans, events))
    }

    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings> {
        let settings: Option<PerformanceSettings> = sql::record_opt(
            &self.client().await?,
            &select_sql(Dialect::Postgres),
            &[&project_id],
            "reading performance settings",
        )
        .await?;
        Ok(settings.unwrap_or_default())
    }

    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()> {
        check(settings)?;
        sql::execute(
            &self.client().await?,
            &upsert_sql(Dialect::Postgres),
            &[
                &project_id,
                &settings.apdex_threshold_ms,
                &i64::from(settings.n_plus_one_min_count),
                &settings.n_plus_one_min_total_ms,
                &settings.slow_db_query_ms,
            ],
            "saving performance settings",
        )
        .await?;
        Ok(())
    }
}
