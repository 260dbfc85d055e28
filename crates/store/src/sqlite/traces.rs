//! Transactions, spans and traces in SQLite: rows, rollups and the summaries read from them.
//!
//! A batch writes its new rows and adds what they count to the hourly rollups in the same
//! transaction ([`crate::rollup`] does the arithmetic), so summaries read a few rollup rows per
//! hour and transaction name instead of every transaction. Ranges that do not cover whole hours
//! read their edges from the rows themselves; queries with tag conditions read rows only.
//!
//! The statements of every read and the queries answered from them (list, aggregates,
//! series, histogram, span totals), like saving a batch and reading a transaction or a
//! segment back, are the backend-neutral ones of [`crate::query`], provided by [`Traces`] over
//! [`crate::query::trace_queries::RunReads`]; what SQLite does its own way is what it runs for
//! them: writing ([`writes`]), the reads ([`aggregates`], [`span_aggregates`]), a trace and the
//! thresholds (below).

use async_trait::async_trait;
use rusqlite::params;

use super::error::DbContext;
use super::statements::{record_opt, records};
use super::{events, SqliteStore};
use crate::domain::TraceReads;
use crate::query::performance_settings::{check, select_sql, upsert_sql};
use crate::query::{transaction_reads, Dialect};
use crate::rows::SPAN_COLUMNS;
use crate::{PerformanceSettings, StoreResult, Trace, Traces};

mod aggregates;
mod span_aggregates;
mod writes;

/// Rows a trace read returns at most, per kind.
const MAX_TRACE_ROWS: i64 = 10_000;

/// A transaction's columns but its data (see [`crate::StoredTransaction`]'s reader).
const TRANSACTION_COLUMNS: &str = "t.project_id, t.event_id, t.trace_id, t.span_id, \
     t.parent_span_id, t.name, t.op, t.status, t.start_ts, t.duration_ms, t.received, \
     t.environment, t.release, t.user_tag, t.platform, t.tags";

/// A span's group is its description until the group's normalized text is known.
const SPAN_GROUP: &str = "COALESCE(g.normalized, s.description)";

#[async_trait]
impl Traces for SqliteStore {
    fn trace_reads(&self) -> TraceReads<'_> {
        TraceReads::new(self)
    }

    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace> {
        let trace_id = trace_id.to_owned();
        self.read(move |conn| {
            let transactions = records(
                conn,
                &format!(
                    "SELECT {TRANSACTION_COLUMNS} FROM transactions t
                     JOIN projects p ON p.id = t.project_id
                     WHERE t.trace_id = ?1 AND p.organization_id = ?2
                     ORDER BY t.start_ts LIMIT ?3"
                ),
                params![trace_id, organization_id, MAX_TRACE_ROWS],
                "reading a trace's transactions",
            )?;
            let spans = records(
                conn,
                &format!(
                    "SELECT {SPAN_COLUMNS}, {SPAN_GROUP} FROM spans s
                     JOIN projects p ON p.id = s.project_id
                     LEFT JOIN span_groups g
                         ON g.project_id = s.project_id AND g.group_hash = s.group_hash
                     WHERE s.trace_id = ?1 AND p.organization_id = ?2
                     ORDER BY s.start_ts, s.id LIMIT ?3"
                ),
                params![trace_id, organization_id, MAX_TRACE_ROWS],
                "reading a trace's spans",
            )?;
            let events = events::of_trace(conn, organization_id, &trace_id)?;
            Ok(transaction_reads::trace(transactions, spans, events))
        })
        .await
    }

    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings> {
        let settings: Option<PerformanceSettings> = self
            .read(move |conn| {
                record_opt(
                    conn,
                    &select_sql(Dialect::Sqlite),
                    [project_id],
                    "reading performance settings",
                )
            })
            .await?;
        Ok(settings.unwrap_or_default())
    }

    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()> {
        check(settings)?;
        let s = *settings;
        self.write(move |conn| {
            conn.prepare_cached(&upsert_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        project_id,
                        s.apdex_threshold_ms,
                        s.n_plus_one_min_count,
                        s.n_plus_one_min_total_ms,
                        s.slow_db_query_ms
                    ])
                })
                .db("saving performance settings")?;
            Ok(())
        })
        .await
    }
}
