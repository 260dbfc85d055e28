//! Envelope items kept as they arrived, waiting for pipelines of their own (sessions,
//! check-ins, attachments): kept so that nothing acknowledged is lost and later work can replay
//! them.

use rusqlite::{params, Connection, TransactionBehavior};

use super::error::DbContext;
use super::statements::records;
use crate::rows::RAW_ITEM_COLUMNS;
use crate::{RawItem, StoreResult};

/// All items in one transaction; an item whose key is stored already is skipped.
pub(crate) fn save_items(conn: &mut Connection, items: &[RawItem]) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("saving raw items")?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO raw_items (project_id, item_type, event_id, received, headers, payload,
                     dedup_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (project_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
            )
            .db("saving raw items")?;
        for item in items {
            stmt.execute(params![
                item.project_id,
                item.item_type,
                item.event_id,
                item.received,
                item.headers.to_string(),
                item.payload,
                item.dedup_key,
            ])
            .db("saving raw items")?;
        }
    }
    tx.commit().db("saving raw items")
}

/// Items of one project and type, oldest first.
pub(crate) fn items(
    conn: &Connection,
    project_id: i64,
    item_type: &str,
) -> StoreResult<Vec<RawItem>> {
    records(
        conn,
        &format!(
            "SELECT {RAW_ITEM_COLUMNS} FROM raw_items
             WHERE project_id = ?1 AND item_type = ?2 ORDER BY received, id"
        ),
        params![project_id, item_type],
        "reading raw items",
    )
}
