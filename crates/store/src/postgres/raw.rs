//! Envelope items kept as they arrived, and the SDKs' client reports.
//!
//! Both wait for pipelines of their own (sessions, transactions, check-ins, outcomes); until
//! then they are kept so that nothing acknowledged is lost and later work can replay them.

use deadpool_postgres::GenericClient;

use super::error::corrupt;
use super::sql::{self, get};
use crate::{RawItem, StoreResult};

/// All items in one statement (so one transaction).
pub(crate) async fn save_items<C: GenericClient>(client: &C, items: &[RawItem]) -> StoreResult<()> {
    let project_ids: Vec<i64> = items.iter().map(|i| i.project_id).collect();
    let item_types: Vec<&str> = items.iter().map(|i| i.item_type.as_str()).collect();
    let event_ids: Vec<Option<&str>> = items.iter().map(|i| i.event_id.as_deref()).collect();
    let received: Vec<f64> = items.iter().map(|i| i.received).collect();
    let headers: Vec<String> = items.iter().map(|i| i.headers.to_string()).collect();
    let payloads: Vec<&[u8]> = items.iter().map(|i| i.payload.as_slice()).collect();
    sql::execute(
        client,
        "INSERT INTO raw_items (project_id, item_type, event_id, received, headers, payload)
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::DOUBLE PRECISION[],
                              $5::TEXT[], $6::BYTEA[])",
        &[
            &project_ids,
            &item_types,
            &event_ids,
            &received,
            &headers,
            &payloads,
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
    sql::query(
        client,
        "SELECT project_id, item_type, event_id, received, headers, payload FROM raw_items
         WHERE project_id = $1 AND item_type = $2 ORDER BY received, id",
        &[&project_id, &item_type],
        "reading raw items",
    )
    .await?
    .iter()
    .map(|row| {
        let headers: String = get(row, 4)?;
        Ok(RawItem {
            project_id: get(row, 0)?,
            item_type: get(row, 1)?,
            event_id: get(row, 2)?,
            received: get(row, 3)?,
            headers: serde_json::from_str(&headers).map_err(|e| corrupt("raw item headers", e))?,
            payload: get(row, 5)?,
        })
    })
    .collect()
}

/// Adds to the counter of one `(reason, category)`.
pub(crate) async fn add_client_report<C: GenericClient>(
    client: &C,
    project_id: i64,
    reason: &str,
    category: &str,
    quantity: i64,
) -> StoreResult<()> {
    sql::execute(
        client,
        "INSERT INTO client_reports (project_id, reason, category, quantity)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (project_id, reason, category)
         DO UPDATE SET quantity = client_reports.quantity + excluded.quantity",
        &[&project_id, &reason, &category, &quantity],
        "counting a client report",
    )
    .await?;
    Ok(())
}

/// `(reason, category, quantity)` of a project, ordered by reason and category.
pub(crate) async fn client_reports<C: GenericClient>(
    client: &C,
    project_id: i64,
) -> StoreResult<Vec<(String, String, i64)>> {
    sql::query(
        client,
        "SELECT reason, category, quantity FROM client_reports WHERE project_id = $1
         ORDER BY reason, category",
        &[&project_id],
        "reading client reports",
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)))
    .collect()
}
