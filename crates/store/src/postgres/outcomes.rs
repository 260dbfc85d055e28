//! Outcome counts: summed by upsert, one transaction per call.

use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::error::DbContext;
use super::sql::{self, records};
use super::PgStore;
use crate::rows::OUTCOME_COLUMNS;
use crate::{
    merge_outcome_rows, DeliveryOutcomes, OutcomeQuery, OutcomeRow, Outcomes, StoreResult,
};

/// Adds `rows` to the totals in one statement (merged first: one row may not be updated twice
/// by a statement).
async fn upsert(tx: &Transaction<'_>, rows: Vec<OutcomeRow>) -> StoreResult<()> {
    let rows = merge_outcome_rows(rows);
    if rows.is_empty() {
        return Ok(());
    }
    let projects: Vec<i64> = rows.iter().map(|r| r.project_id).collect();
    let hours: Vec<i64> = rows.iter().map(|r| r.hour).collect();
    let categories: Vec<&str> = rows.iter().map(|r| r.category.name()).collect();
    let outcomes: Vec<i64> = rows.iter().map(|r| r.outcome.id()).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let quantities: Vec<i64> = rows.iter().map(|r| r.quantity).collect();
    let times_seen: Vec<i64> = rows.iter().map(|r| r.times_seen).collect();
    sql::execute(
        tx,
        "INSERT INTO outcomes (project_id, hour, category, outcome, reason, quantity, times_seen)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                              $6::BIGINT[], $7::BIGINT[])
         ON CONFLICT (project_id, hour, category, outcome, reason) DO UPDATE SET
             quantity = outcomes.quantity + excluded.quantity,
             times_seen = outcomes.times_seen + excluded.times_seen",
        &[
            &projects,
            &hours,
            &categories,
            &outcomes,
            &reasons,
            &quantities,
            &times_seen,
        ],
        "counting outcomes",
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Outcomes for PgStore {
    async fn add_outcomes(&self, rows: Vec<OutcomeRow>) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("counting outcomes")?;
        upsert(&tx, rows).await?;
        tx.commit().await.db("counting outcomes")
    }

    async fn add_delivery_outcomes(&self, deliveries: Vec<DeliveryOutcomes>) -> StoreResult<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .db("counting a batch's outcomes")?;
        let projects: Vec<i64> = deliveries.iter().map(|d| d.project_id).collect();
        let sources: Vec<&str> = deliveries.iter().map(|d| d.source.as_str()).collect();
        let added = super::now();
        // The sources this call inserted: only their rows count.
        let inserted: Vec<(i64, String)> = records(
            &tx,
            "INSERT INTO outcome_sources (project_id, source, added)
             SELECT project, source, $3::DOUBLE PRECISION
             FROM UNNEST($1::BIGINT[], $2::TEXT[]) AS d (project, source)
             ON CONFLICT (project_id, source) DO NOTHING
             RETURNING project_id, source",
            &[&projects, &sources, &added],
            "counting a batch's outcomes",
        )
        .await?;
        let new = inserted.len();
        let rows = deliveries
            .into_iter()
            .filter(|d| {
                inserted
                    .iter()
                    .any(|(project, source)| *project == d.project_id && *source == d.source)
            })
            .flat_map(|d| d.rows)
            .collect();
        upsert(&tx, rows).await?;
        tx.commit().await.db("counting a batch's outcomes")?;
        Ok(new)
    }

    async fn outcomes(&self, query: &OutcomeQuery) -> StoreResult<Vec<OutcomeRow>> {
        if query.project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let categories: Vec<&str> = query.categories.iter().map(|c| c.name()).collect();
        let outcomes: Vec<i64> = query.outcomes.iter().map(|o| o.id()).collect();
        records(
            &self.client().await?,
            &format!(
                "SELECT {OUTCOME_COLUMNS} FROM outcomes
                 WHERE project_id = ANY($1) AND hour >= $2 AND hour < $3
                   AND (cardinality($4::TEXT[]) = 0 OR category = ANY($4))
                   AND (cardinality($5::BIGINT[]) = 0 OR outcome = ANY($5))
                   AND (cardinality($6::TEXT[]) = 0 OR reason = ANY($6))
                 ORDER BY hour, project_id, category, outcome, reason"
            ),
            &[
                &query.project_ids,
                &query.since_hour,
                &query.until_hour,
                &categories,
                &outcomes,
                &query.reasons,
            ],
            "reading outcomes",
        )
        .await
    }
}
