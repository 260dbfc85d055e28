//! Envelope items kept as they arrived, and the SDKs' client reports.
//!
//! Both wait for pipelines of their own (sessions, transactions, check-ins, outcomes); until
//! then they are kept so that nothing acknowledged is lost and later work can replay them.

use deadpool_postgres::{Client, GenericClient};

use super::error::DbContext;
use super::sql::{self, records};
use crate::rows::RAW_ITEM_COLUMNS;
use crate::{RawItem, StoreResult};

/// All items in one statement (so one transaction); an item whose key is stored already is
/// skipped.
pub(crate) async fn save_items<C: GenericClient>(client: &C, items: &[RawItem]) -> StoreResult<()> {
    let project_ids: Vec<i64> = items.iter().map(|i| i.project_id).collect();
    let item_types: Vec<&str> = items.iter().map(|i| i.item_type.as_str()).collect();
    let event_ids: Vec<Option<&str>> = items.iter().map(|i| i.event_id.as_deref()).collect();
    let received: Vec<f64> = items.iter().map(|i| i.received).collect();
    let headers: Vec<String> = items.iter().map(|i| i.headers.to_string()).collect();
    let payloads: Vec<&[u8]> = items.iter().map(|i| i.payload.as_slice()).collect();
    let dedup_keys: Vec<Option<&str>> = items.iter().map(|i| i.dedup_key.as_deref()).collect();
    sql::execute(
        client,
        "INSERT INTO raw_items (project_id, item_type, event_id, received, headers, payload,
                               dedup_key)
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::DOUBLE PRECISION[],
                              $5::TEXT[], $6::BYTEA[], $7::TEXT[])
         ON CONFLICT (project_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
        &[
            &project_ids,
            &item_types,
            &event_ids,
            &received,
            &headers,
            &payloads,
            &dedup_keys,
        ],
        "saving raw items",
    )
    .await?;
    Ok(())
}

/// Items of one project and type, oldest first.
pub(crate) async fn items<C: GenericClient>(
    client: &C,
    project_id: i64,
    item_type: &str,
) -> StoreResult<Vec<RawItem>> {
    records(
        client,
        &format!(
            "SELECT {RAW_ITEM_COLUMNS} FROM raw_items
             WHERE project_id = $1 AND item_type = $2 ORDER BY received, id"
        ),
        &[&project_id, &item_type],
        "reading raw items",
    )
    .await
}

/// Adds one client-report item's counts, unless its source was added before; whether it was.
pub(crate) async fn add_client_reports(
    client: &mut Client,
    project_id: i64,
    source: &str,
    received: f64,
    counts: &[(String, String, i64)],
) -> StoreResult<bool> {
    let tx = client.transaction().await.db("counting a client report")?;
    let new = sql::execute(
        &tx,
        "INSERT INTO client_report_sources (project_id, source, received) VALUES ($1, $2, $3)
         ON CONFLICT (project_id, source) DO NOTHING",
        &[&project_id, &source, &received],
        "counting a client report",
    )
    .await?
        > 0;
    if new {
        let reasons: Vec<&str> = counts
            .iter()
            .map(|(reason, _, _)| reason.as_str())
            .collect();
        let categories: Vec<&str> = counts
            .iter()
            .map(|(_, category, _)| category.as_str())
            .collect();
        let quantities: Vec<i64> = counts.iter().map(|(_, _, quantity)| *quantity).collect();
        // Summed per (reason, category) first: one row may not be updated twice in a statement.
        sql::execute(
            &tx,
            "INSERT INTO client_reports (project_id, reason, category, quantity)
             SELECT $1, reason, category, sum(quantity)::BIGINT
             FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[]) AS c (reason, category, quantity)
             GROUP BY reason, category
             ON CONFLICT (project_id, reason, category)
             DO UPDATE SET quantity = client_reports.quantity + excluded.quantity",
            &[&project_id, &reasons, &categories, &quantities],
            "counting a client report",
        )
        .await?;
    }
    tx.commit().await.db("counting a client report")?;
    Ok(new)
}

/// `(reason, category, quantity)` of a project, ordered by reason and category.
pub(crate) async fn client_reports<C: GenericClient>(
    client: &C,
    project_id: i64,
) -> StoreResult<Vec<(String, String, i64)>> {
    records(
        client,
        "SELECT reason, category, quantity FROM client_reports WHERE project_id = $1
         ORDER BY reason, category",
        &[&project_id],
        "reading client reports",
    )
    .await
}
