//! Outcome counts: summed by upsert, one transaction per call.

use async_trait::async_trait;
use rusqlite::{params, Transaction, TransactionBehavior};

use super::error::DbContext;
use super::statements::records;
use super::SqliteStore;
use crate::rows::OUTCOME_COLUMNS;
use crate::{
    merge_outcome_rows, DeliveryOutcomes, OutcomeQuery, OutcomeRow, Outcomes, StoreResult,
};

/// Adds `rows` (merged first) to the totals.
fn upsert(tx: &Transaction<'_>, rows: Vec<OutcomeRow>) -> StoreResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO outcomes (project_id, hour, category, outcome, reason, quantity, times_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (project_id, hour, category, outcome, reason) DO UPDATE SET
                 quantity = quantity + excluded.quantity,
                 times_seen = times_seen + excluded.times_seen",
        )
        .db("counting outcomes")?;
    for row in merge_outcome_rows(rows) {
        stmt.execute(params![
            row.project_id,
            row.hour,
            row.category.name(),
            row.outcome.id(),
            row.reason,
            row.quantity,
            row.times_seen,
        ])
        .db("counting outcomes")?;
    }
    Ok(())
}

/// A JSON array of `values`, for `json_each`.
fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl Outcomes for SqliteStore {
    async fn add_outcomes(&self, rows: Vec<OutcomeRow>) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("counting outcomes")?;
            upsert(&tx, rows)?;
            tx.commit().db("counting outcomes")
        })
        .await
    }

    async fn add_delivery_outcomes(&self, deliveries: Vec<DeliveryOutcomes>) -> StoreResult<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("counting a batch's outcomes")?;
            let mut rows = Vec::new();
            let mut new = 0;
            let added = super::now();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO outcome_sources (project_id, source, added)
                         VALUES (?1, ?2, ?3) ON CONFLICT (project_id, source) DO NOTHING",
                    )
                    .db("counting a batch's outcomes")?;
                for delivery in deliveries {
                    let inserted = stmt
                        .execute(params![delivery.project_id, delivery.source, added])
                        .db("counting a batch's outcomes")?;
                    if inserted > 0 {
                        new += 1;
                        rows.extend(delivery.rows);
                    }
                }
            }
            upsert(&tx, rows)?;
            tx.commit().db("counting a batch's outcomes")?;
            Ok(new)
        })
        .await
    }

    async fn outcomes(&self, query: &OutcomeQuery) -> StoreResult<Vec<OutcomeRow>> {
        if query.project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let projects = json_list(&query.project_ids);
        let categories: Vec<&str> = query.categories.iter().map(|c| c.name()).collect();
        let categories = json_list(&categories);
        let outcomes: Vec<i64> = query.outcomes.iter().map(|o| o.id()).collect();
        let outcomes = json_list(&outcomes);
        let reasons = json_list(&query.reasons);
        let (since, until) = (query.since_hour, query.until_hour);
        self.read(move |conn| {
            records(
                conn,
                &format!(
                    "SELECT {OUTCOME_COLUMNS} FROM outcomes
                     WHERE project_id IN (SELECT value FROM json_each(?1))
                       AND hour >= ?2 AND hour < ?3
                       AND (json_array_length(?4) = 0
                            OR category IN (SELECT value FROM json_each(?4)))
                       AND (json_array_length(?5) = 0
                            OR outcome IN (SELECT value FROM json_each(?5)))
                       AND (json_array_length(?6) = 0
                            OR reason IN (SELECT value FROM json_each(?6)))
                     ORDER BY hour, project_id, category, outcome, reason"
                ),
                params![projects, since, until, categories, outcomes, reasons],
                "reading outcomes",
            )
        })
        .await
    }
}
