//! Envelope items kept as they arrived, waiting for pipelines of their own (sessions,
//! check-ins, attachments): kept so that nothing acknowledged is lost and later work can replay
//! them.

use deadpool_postgres::GenericClient;

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
